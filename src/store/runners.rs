//! Runners: creation (with their first exchange token), reads, keyset-paged
//! lists, partial updates and deletion.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::audit::{self, Change, subject};
use super::entities::{runner, runner_policy};
use super::not_found;
use super::query::{Patch, keyset_scoped};
use super::tokens::{self, NewToken, TokenKind};
use crate::base::capability::Managed;
use crate::base::error::Result;
use crate::base::pagination::Page;

pub use runner::Model as Runner;

/// gitpod.v1.RunnerPhase numbers the store itself writes.
pub mod phase {
    pub const CREATED: i32 = 1;
    pub const INACTIVE: i32 = 2;
    pub const ACTIVE: i32 = 3;
    pub const DELETING: i32 = 4;
    pub const DELETED: i32 = 5;
    pub const DEGRADED: i32 = 6;
}

#[derive(Debug, Clone, Default)]
pub struct Metrics {
    pub enabled: bool,
    pub url: String,
    pub username: String,
    pub password_encrypted: Option<Vec<u8>>,
    pub managed_enabled: bool,
    pub include_verbose: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Configuration {
    pub region: String,
    pub release_channel: i32,
    pub auto_update: bool,
    pub metrics: Metrics,
    pub log_level: i32,
    pub devcontainer_image_cache_enabled: bool,
    pub update_window: UpdateWindow,
    pub honeycomb_api_key_encrypted: Option<Vec<u8>>,
    pub continuous_profiling: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpdateWindow {
    pub start_hour: Option<i32>,
    pub end_hour: Option<i32>,
}

/// Who a new runner belongs to: what `auth::access::create_runner` lets a
/// caller create runners as.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    pub organization_id: Uuid,
    pub creator_id: Uuid,
    pub creator_principal: i32,
}

/// A runner calling about itself, with its own access token: what the
/// runner's own writes (sign-up, lease, status, schema) take, as
/// `Managed<Itself>` from `auth::access::runner_itself`.
#[derive(Debug, Clone)]
pub struct Itself(pub Runner);

#[derive(Debug, Clone)]
pub struct NewRunner {
    pub name: String,
    pub kind: i32,
    pub provider: i32,
    pub runner_manager_id: Option<Uuid>,
    pub desired_phase: i32,
    pub variant: i32,
    pub configuration: Configuration,
}

/// Creates a runner and its first exchange token in one transaction.
pub async fn create(
    db: &(impl ConnectionTrait + TransactionTrait),
    owner_capability: &Managed<Owner>,
    new: NewRunner,
    exchange_hash: [u8; 32],
    exchange_expires_at: DateTime<Utc>,
) -> Result<Runner> {
    let now = Utc::now();
    let c = new.configuration;
    let owner = owner_capability.get();
    let row = runner::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(owner.organization_id),
        name: Set(new.name),
        kind: Set(new.kind),
        provider: Set(new.provider),
        runner_manager_id: Set(new.runner_manager_id),
        creator_id: Set(owner.creator_id),
        creator_principal: Set(owner.creator_principal),
        created_at: Set(now),
        updated_at: Set(now),
        desired_phase: Set(new.desired_phase),
        variant: Set(new.variant),
        region: Set(c.region),
        release_channel: Set(c.release_channel),
        auto_update: Set(c.auto_update),
        metrics_enabled: Set(c.metrics.enabled),
        metrics_url: Set(c.metrics.url),
        metrics_username: Set(c.metrics.username),
        metrics_password_encrypted: Set(c.metrics.password_encrypted),
        metrics_managed_enabled: Set(c.metrics.managed_enabled),
        metrics_include_verbose: Set(c.metrics.include_verbose),
        log_level: Set(c.log_level),
        devcontainer_image_cache_enabled: Set(c.devcontainer_image_cache_enabled),
        update_window_start_hour: Set(c.update_window.start_hour),
        update_window_end_hour: Set(c.update_window.end_hour),
        honeycomb_api_key_encrypted: Set(c.honeycomb_api_key_encrypted),
        continuous_profiling: Set(c.continuous_profiling),
        phase: Set(phase::CREATED),
        status_updated_at: Set(None),
        status_version: Set(String::new()),
        status_system_details: Set(String::new()),
        status_log_url: Set(String::new()),
        status_message: Set(String::new()),
        status_region: Set(String::new()),
        status_additional_info: Set("[]".into()),
        status_capabilities: Set("[]".into()),
        status_gateway_info: Set(String::new()),
        status_llm_url: Set(String::new()),
        status_support_bundle_url: Set(String::new()),
        public_key: Set(None),
        signed_up_at: Set(None),
        lease_renewed_at: Set(None),
        inactive_since: Set(None),
    };
    let txn = db.begin().await?;
    let runner = runner::Entity::insert(row).exec_with_returning(&txn).await?;
    tokens::insert(&txn, exchange_token(&runner, exchange_hash, exchange_expires_at)).await?;
    let pending = audit::record(
        &txn,
        owner_capability.actor(),
        Change::resource(subject::RUNNER, runner.id, "runner.create"),
    )
    .await?;
    txn.commit().await?;
    pending.committed();
    Ok(runner)
}

pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Runner>> {
    Ok(runner::Entity::find_by_id(id).one(db).await?)
}

/// What a list may show: one organization's runners, optionally narrowed.
#[derive(Debug, Clone, Default)]
pub struct RunnerFilter {
    pub organization_id: Uuid,
    /// Only this runner (a runner principal sees only itself).
    pub only: Option<Uuid>,
    pub creator_ids: Vec<Uuid>,
    pub kinds: Vec<i32>,
    pub providers: Vec<i32>,
}

/// One page in creation order (ids are UUIDv7), plus one extra row when a
/// further page exists.
pub async fn list(db: &impl ConnectionTrait, filter: &RunnerFilter, page: Page) -> Result<Vec<Runner>> {
    Ok(list_query(filter, page).all(db).await?)
}

/// The query behind `list` (tests check its plan uses an index).
pub fn list_query(filter: &RunnerFilter, page: Page) -> sea_orm::Select<runner::Entity> {
    let mut query = runner::Entity::find().filter(runner::Column::OrganizationId.eq(filter.organization_id));
    if let Some(id) = filter.only {
        query = query.filter(runner::Column::Id.eq(id));
    }
    if !filter.creator_ids.is_empty() {
        query = query.filter(runner::Column::CreatorId.is_in(filter.creator_ids.iter().copied()));
    }
    if !filter.kinds.is_empty() {
        query = query.filter(runner::Column::Kind.is_in(filter.kinds.iter().copied()));
    }
    if !filter.providers.is_empty() {
        query = query.filter(runner::Column::Provider.is_in(filter.providers.iter().copied()));
    }
    keyset_scoped(
        query,
        runner::Column::OrganizationId,
        filter.organization_id,
        runner::Column::Id,
        page,
    )
}

/// A partial update: None leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RunnerChanges {
    pub name: Option<String>,
    pub desired_phase: Option<i32>,
    pub release_channel: Option<i32>,
    pub auto_update: Option<bool>,
    pub metrics_enabled: Option<bool>,
    pub metrics_url: Option<String>,
    pub metrics_username: Option<String>,
    /// Some(None) clears the password.
    pub metrics_password_encrypted: Option<Option<Vec<u8>>>,
    pub metrics_managed_enabled: Option<bool>,
    pub metrics_include_verbose: Option<bool>,
    pub log_level: Option<i32>,
    pub devcontainer_image_cache_enabled: Option<bool>,
    pub update_window: Option<UpdateWindow>,
    /// Some(None) clears the key.
    pub honeycomb_api_key_encrypted: Option<Option<Vec<u8>>>,
    pub continuous_profiling: Option<bool>,
}

/// Applies `changes` and moves updated_at; NOT_FOUND when the runner is gone.
pub async fn update(db: &impl TransactionTrait, runner: &Managed<Runner>, changes: RunnerChanges) -> Result<()> {
    use runner::Column as C;
    let c = changes;
    let window = c.update_window;
    let id = runner.get().id;
    let patch = Patch::<runner::Entity>::new(C::UpdatedAt)
        .set(C::Name, c.name)
        .set(C::DesiredPhase, c.desired_phase)
        .set(C::ReleaseChannel, c.release_channel)
        .set(C::AutoUpdate, c.auto_update)
        .set(C::MetricsEnabled, c.metrics_enabled)
        .set(C::MetricsUrl, c.metrics_url)
        .set(C::MetricsUsername, c.metrics_username)
        .set(C::MetricsPasswordEncrypted, c.metrics_password_encrypted)
        .set(C::MetricsManagedEnabled, c.metrics_managed_enabled)
        .set(C::MetricsIncludeVerbose, c.metrics_include_verbose)
        .set(C::LogLevel, c.log_level)
        .set(C::DevcontainerImageCacheEnabled, c.devcontainer_image_cache_enabled)
        .set(C::UpdateWindowStartHour, window.map(|w| w.start_hour))
        .set(C::UpdateWindowEndHour, window.map(|w| w.end_hour))
        .set(C::HoneycombApiKeyEncrypted, c.honeycomb_api_key_encrypted)
        .set(C::ContinuousProfiling, c.continuous_profiling);
    audit::audited(db, runner.actor(), async |txn| {
        patch.apply(txn, C::Id.eq(id), "runner").await?;
        Ok(((), Change::resource(subject::RUNNER, id, "runner.update")))
    })
    .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// The row is gone, with its tokens and policies.
    Removed,
    /// The runner is DELETING until it confirms (its access token keeps
    /// working for that); its exchange tokens are revoked, its policies removed.
    Deleting,
}

/// Deletes a runner: at once when forced or when the runner never signed up
/// (nobody is there to clean up), otherwise by marking it DELETING.
pub async fn delete(
    db: &(impl ConnectionTrait + TransactionTrait),
    runner: Managed<Runner>,
    force: bool,
) -> Result<Deletion> {
    let id = runner.get().id;
    let now = Utc::now();
    let txn = db.begin().await?;
    let current = runner::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| not_found("runner"))?;
    let outcome = if force || current.signed_up_at.is_none() {
        // tokens and policies go by ON DELETE CASCADE
        runner::Entity::delete_by_id(id).exec(&txn).await?;
        Deletion::Removed
    } else {
        runner::Entity::update_many()
            .col_expr(runner::Column::Phase, Expr::value(phase::DELETING))
            .col_expr(runner::Column::DesiredPhase, Expr::value(phase::DELETED))
            .col_expr(runner::Column::UpdatedAt, Expr::value(now))
            .filter(runner::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        tokens::revoke_exchange_tokens(&txn, id, now).await?;
        runner_policy::Entity::delete_many()
            .filter(runner_policy::Column::RunnerId.eq(id))
            .exec(&txn)
            .await?;
        Deletion::Deleting
    };
    let change = Change::resource(subject::RUNNER, id, "runner.delete");
    // a runner being deleted is still there, DELETING, until it confirms
    let change = match outcome {
        Deletion::Removed => change,
        Deletion::Deleting => change.heard_as(crate::base::events::operation::UPDATE_STATUS),
    };
    let pending = audit::record(&txn, runner.actor(), change).await?;
    txn.commit().await?;
    pending.committed();
    Ok(outcome)
}

/// Issues another exchange token for a runner; earlier ones stay valid.
pub async fn add_exchange_token(
    db: &impl TransactionTrait,
    runner: &Managed<Runner>,
    hash: [u8; 32],
    expires_at: DateTime<Utc>,
) -> Result<()> {
    let id = runner.get().id;
    audit::audited(db, runner.actor(), async |txn| {
        tokens::insert(txn, exchange_token(runner.get(), hash, expires_at)).await?;
        Ok(((), Change::credential(subject::RUNNER, id, "runner.create_token")))
    })
    .await
}

fn exchange_token(runner: &Runner, hash: [u8; 32], expires_at: DateTime<Utc>) -> NewToken {
    NewToken {
        hash,
        kind: TokenKind::RunnerExchange,
        organization_id: runner.organization_id,
        user_id: None,
        runner_id: Some(runner.id),
        expires_at: Some(expires_at),
        description: String::new(),
        read_only: false,
    }
}

/// The gateway a runner reported, as stored in `status_gateway_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayInfo {
    pub name: String,
    pub url: String,
    pub region: String,
    pub latency_ms: Option<i64>,
}

/// Decoders of the runner's JSON status columns. A damaged column reads as
/// empty rather than failing the whole runner.
impl runner::Model {
    pub fn additional_info(&self) -> Vec<(String, String)> {
        serde_json::from_str(&self.status_additional_info).unwrap_or_default()
    }

    pub fn capabilities(&self) -> Vec<i32> {
        serde_json::from_str(&self.status_capabilities).unwrap_or_default()
    }

    pub fn gateway_info(&self) -> Option<GatewayInfo> {
        if self.status_gateway_info.is_empty() {
            return None;
        }
        serde_json::from_str(&self.status_gateway_info).ok()
    }
}

/// Records that a logs token of the runner was handed out (the token itself
/// is signed, not stored).
pub async fn record_logs_token(db: &impl TransactionTrait, runner: &Managed<Runner>) -> Result<()> {
    let id = runner.get().id;
    audit::audited(db, runner.actor(), async |_txn| {
        Ok(((), Change::credential(subject::RUNNER, id, "runner.create_logs_token")))
    })
    .await
}

/// How many runners there are in each phase (for `/metrics`), in one
/// grouped query over the phase index.
pub async fn count_by_phase(db: &impl ConnectionTrait) -> Result<Vec<(i32, i64)>> {
    use sea_orm::{FromQueryResult, QuerySelect};
    #[derive(FromQueryResult)]
    struct Count {
        phase: i32,
        count: i64,
    }
    let counts = runner::Entity::find()
        .select_only()
        .column(runner::Column::Phase)
        .column_as(runner::Column::Id.count(), "count")
        .group_by(runner::Column::Phase)
        .into_model::<Count>()
        .all(db)
        .await?;
    Ok(counts.into_iter().map(|c| (c.phase, c.count)).collect())
}
