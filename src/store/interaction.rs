//! What a runner writes about itself: its sign-up (public key and first
//! environment classes), its leases, its status and its configuration schema.
//! Every write takes `Managed<Itself>`: the runner's own access token.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use super::audit::{self, Change, Pending, subject};
use super::entities::{runner, runner_configuration_schema};
use super::environment_classes::{self, NewEnvironmentClass};
use super::leases;
use super::not_found;
use super::query::Patch;
use super::runners::{GatewayInfo, Itself, phase};
use crate::base::capability::Managed;
use crate::base::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signup {
    /// The key is recorded, the classes created, the runner ACTIVE.
    Registered,
    /// The runner had signed up with this very key: nothing changed.
    AlreadySignedUp,
}

/// Records the runner's public key and first environment classes, once. A
/// second sign-up with the same key changes nothing; another key is
/// FAILED_PRECONDITION until the runner trades a new exchange token.
pub async fn signup(
    db: &(impl ConnectionTrait + TransactionTrait),
    runner: &Managed<Itself>,
    public_key: &[u8],
    classes: Vec<NewEnvironmentClass>,
) -> Result<Signup> {
    let me = &runner.get().0;
    let now = Utc::now();
    let txn = db.begin().await?;
    // the condition makes two concurrent sign-ups (any replica) register once
    let claimed = runner::Entity::update_many()
        .col_expr(runner::Column::PublicKey, Expr::value(public_key.to_vec()))
        .col_expr(runner::Column::SignedUpAt, Expr::value(now))
        .col_expr(runner::Column::LeaseRenewedAt, Expr::value(now))
        .col_expr(runner::Column::Phase, Expr::value(phase::ACTIVE))
        .col_expr(runner::Column::StatusMessage, Expr::value(String::new()))
        .col_expr(runner::Column::UpdatedAt, Expr::value(now))
        .filter(runner::Column::Id.eq(me.id))
        .filter(runner::Column::PublicKey.is_null())
        .filter(runner::Column::Phase.ne(phase::DELETING))
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 1 {
        // a runner signing up again with a new token (and key) keeps its classes
        let mut announced = Pending::default();
        if me.signed_up_at.is_none() {
            for class in classes {
                let class = environment_classes::insert(&txn, me, class).await?;
                // part of the sign-up's entry, but watchers hear of each class
                let event = crate::base::events::Event {
                    operation: crate::base::events::operation::CREATE,
                    resource_type: subject::ENVIRONMENT_CLASS,
                    resource_id: class.id,
                    organization_id: me.organization_id,
                    runner_id: Some(me.id),
                    holder_id: None,
                    actor_id: me.id,
                };
                announced = announced.and(audit::announce(&txn, event).await?);
            }
        }
        let pending = audit::record(
            &txn,
            runner.actor(),
            Change::resource(subject::RUNNER, me.id, "runner.signup"),
        )
        .await?
        .and(announced);
        txn.commit().await?;
        pending.committed();
        return Ok(Signup::Registered);
    }
    let current = runner::Entity::find_by_id(me.id)
        .one(&txn)
        .await?
        .ok_or_else(|| not_found("runner"))?;
    if current.phase == phase::DELETING {
        return Err(Error::FailedPrecondition("the runner is being deleted".into()));
    }
    match current.public_key {
        Some(key) if key == public_key => Ok(Signup::AlreadySignedUp),
        _ => Err(Error::FailedPrecondition(
            "the runner signed up with another key; a new key needs a new runner token (CreateRunnerToken)".into(),
        )),
    }
}

/// A lease written through at once: the runner's first after it went
/// INACTIVE, which makes it ACTIVE again on every replica without waiting
/// for a flush.
pub async fn renew_lease(
    db: &(impl ConnectionTrait + TransactionTrait),
    runner: &Managed<Itself>,
    now: DateTime<Utc>,
) -> Result<()> {
    leases::write(db, &[runner.get().0.id], now).await
}

/// A status report; None leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct StatusReport {
    pub version: Option<String>,
    pub system_details: Option<String>,
    pub region: Option<String>,
    pub log_url: Option<String>,
    pub message: Option<String>,
    pub capabilities: Option<Vec<i32>>,
    pub additional_info: Option<Vec<(String, String)>>,
    pub gateway_info: Option<GatewayInfo>,
    /// ACTIVE or DEGRADED (DELETED goes through `confirm_deleted`).
    pub phase: Option<i32>,
}

fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value).map_err(anyhow::Error::from)?)
}

pub async fn report_status(db: &impl TransactionTrait, runner: &Managed<Itself>, report: StatusReport) -> Result<()> {
    let id = runner.get().0.id;
    audit::audited(db, runner.actor(), async |txn| {
        write_status(txn, id, report).await?;
        Ok(((), Change::resource(subject::RUNNER, id, "runner.update_status")))
    })
    .await
}

async fn write_status(db: &impl ConnectionTrait, id: Uuid, report: StatusReport) -> Result<()> {
    use runner::Column as C;
    let now = Utc::now();
    Patch::<runner::Entity>::new(C::UpdatedAt)
        .set(C::StatusUpdatedAt, Some(now))
        .set(C::StatusVersion, report.version)
        .set(C::StatusSystemDetails, report.system_details)
        .set(C::StatusRegion, report.region)
        .set(C::StatusLogUrl, report.log_url)
        .set(C::StatusMessage, report.message)
        .set(
            C::StatusCapabilities,
            report.capabilities.as_ref().map(json).transpose()?,
        )
        .set(
            C::StatusAdditionalInfo,
            report.additional_info.as_ref().map(json).transpose()?,
        )
        .set(
            C::StatusGatewayInfo,
            report.gateway_info.as_ref().map(json).transpose()?,
        )
        .apply(db, C::Id.eq(id), "runner")
        .await?;
    if let Some(reported) = report.phase {
        // a runner being deleted stays DELETING whatever it reports
        runner::Entity::update_many()
            .col_expr(C::Phase, Expr::value(reported))
            .filter(C::Id.eq(id))
            .filter(C::Phase.is_in([phase::ACTIVE, phase::DEGRADED, phase::INACTIVE]))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The runner reports DELETED after a DeleteRunner: it and everything it
/// owns go. FAILED_PRECONDITION when nobody asked it to delete itself.
pub async fn confirm_deleted(db: &impl TransactionTrait, runner: Managed<Itself>) -> Result<()> {
    let id = runner.get().0.id;
    audit::audited(db, runner.actor(), async |txn| {
        let removed = runner::Entity::delete_many()
            .filter(runner::Column::Id.eq(id))
            .filter(runner::Column::Phase.eq(phase::DELETING))
            .exec(txn)
            .await?;
        if removed.rows_affected == 0 {
            return Err(Error::FailedPrecondition(
                "the runner is not being deleted: RUNNER_PHASE_DELETED answers a DeleteRunner".into(),
            ));
        }
        Ok(((), Change::resource(subject::RUNNER, id, "runner.delete_confirmed")))
    })
    .await
}

/// Publishes the runner's configuration schema (encoded), replacing its
/// provider's built-in one.
pub async fn publish_schema(db: &impl TransactionTrait, runner: &Managed<Itself>, schema: Vec<u8>) -> Result<()> {
    use runner_configuration_schema::Column as C;
    let id = runner.get().0.id;
    let row = runner_configuration_schema::ActiveModel {
        runner_id: Set(id),
        schema: Set(schema),
        updated_at: Set(Utc::now()),
    };
    audit::audited(db, runner.actor(), async |txn| {
        runner_configuration_schema::Entity::insert(row)
            .on_conflict(
                OnConflict::column(C::RunnerId)
                    .update_columns([C::Schema, C::UpdatedAt])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
        Ok((
            (),
            Change::resource(subject::RUNNER, id, "runner.update_configuration_schema"),
        ))
    })
    .await
}

/// Records that the runner was handed a host token's value (sealed to it).
pub async fn record_token_handout(db: &impl ConnectionTrait, runner: &Managed<Itself>, token_id: Uuid) -> Result<()> {
    // a credential handout is no event: nothing to publish
    let _nothing_to_publish = audit::record(
        db,
        runner.actor(),
        Change::credential(
            subject::HOST_AUTHENTICATION_TOKEN,
            token_id,
            "host_authentication_token.read_value",
        ),
    )
    .await?;
    Ok(())
}
