//! The fleets under test, written through paddock's store layer before any
//! server starts: three organizations, each with an admin whose token the
//! load uses —
//! - `small`: `small` runners (GetRunner, the first ListRunners page);
//! - `large`: `large` runners (the last ListRunners page);
//! - `writes`: where CreateRunner adds its runners, so the fleets above stay
//!   the size they are reported as.
//!
//! Every seeded runner has an exchange token, an environment class and a
//! policy for its organization's group, as a real fleet would.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use paddock::auth::{Principal, access};
use paddock::base::secrets::SecretKey;
use paddock::protocol::proto::gitpod::v1 as pb;
use paddock::server::{self, admin, settings as config};
use paddock::store::entities::{environment_class, runner, runner_policy, token};
use paddock::store::environment_classes::{self, NewEnvironmentClass};
use paddock::store::runners::{self, NewRunner};
use paddock::{auth, store};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, TransactionTrait,
};
use uuid::Uuid;

/// Rows per INSERT: well under SQLite's 32,766 bound parameters (a runner
/// has about 40 columns).
const BATCH: usize = 500;

pub struct Fixture {
    pub small_token: String,
    pub large_token: String,
    pub writes_token: String,
    /// A runner of the small fleet (GetRunner's target).
    pub runner_id: Uuid,
    /// A signed-up runner (of the `writes` organization) and its access
    /// token, for heartbeats.
    pub heartbeat_runner_id: Uuid,
    pub heartbeat_token: String,
    pub seconds: f64,
}

/// Creates the schema and the fleets in the database at `database_url`,
/// recording `key_file`'s key as paddock's secret key.
pub async fn seed(database_url: &str, key_file: &Path, small: usize, large: usize) -> anyhow::Result<Fixture> {
    let settings = config::Settings::for_tests(database_url, SecretKey::read_or_create(key_file)?);
    let state = server::prepare(&settings).await?;
    let started = Instant::now();
    let (small_token, runner_id) = fleet(&state.db, "small", small).await?;
    let (large_token, _) = fleet(&state.db, "large", large).await?;
    let (writes_token, heartbeat_runner_id) = fleet(&state.db, "writes", 1).await?;
    let heartbeat_token = sign_up(&state.db, heartbeat_runner_id).await?;
    let seconds = started.elapsed().as_secs_f64();
    // Start from the database a long-running paddock would have: not from a
    // write-ahead log holding the whole seed that every SQLite read must
    // search, nor with PostgreSQL's autovacuum about to work through it.
    match state.db.get_database_backend() {
        DbBackend::Sqlite => {
            state.db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        }
        _ => {
            state.db.execute_unprepared("VACUUM (ANALYZE)").await?;
            // superusers only; without it the first windows share the disk with it
            let _ = state.db.execute_unprepared("CHECKPOINT").await;
        }
    }
    state.db.close().await?;
    Ok(Fixture {
        small_token,
        large_token,
        writes_token,
        runner_id,
        heartbeat_runner_id,
        heartbeat_token,
        seconds,
    })
}

/// Makes a runner ACTIVE and signed up, as its agent would have, with an
/// access token: the token's plaintext.
async fn sign_up(db: &DatabaseConnection, runner_id: Uuid) -> anyhow::Result<String> {
    let now = chrono::Utc::now();
    let row = runner::Entity::find_by_id(runner_id)
        .one(db)
        .await?
        .context("the runner to sign up")?;
    let organization_id = row.organization_id;
    let mut row = row.into_active_model();
    row.phase = sea_orm::Set(runners::phase::ACTIVE);
    row.public_key = sea_orm::Set(Some(runner_id.as_bytes().repeat(2)));
    row.signed_up_at = sea_orm::Set(Some(now));
    row.lease_renewed_at = sea_orm::Set(Some(now));
    row.update(db).await?;
    let access = auth::tokens::generate(auth::tokens::TokenKind::RunnerAccess)?;
    fresh::<_, token::ActiveModel>(token::Model {
        id: Uuid::now_v7(),
        hash: access.hash.to_vec(),
        kind: auth::tokens::TokenKind::RunnerAccess.as_str().into(),
        organization_id,
        user_id: None,
        runner_id: Some(runner_id),
        created_at: now,
        expires_at: None,
        used_at: None,
        revoked_at: None,
        description: String::new(),
        read_only: false,
        last_used_at: None,
    })
    .insert(db)
    .await?;
    Ok(access.plaintext)
}

/// An organization with an admin and `n` Linux-host runners; the admin's
/// token and the first runner's id. The first runner, its exchange token,
/// environment class and policy are made by the store's own functions; the
/// rest are copies of those rows with new ids, inserted in batches.
async fn fleet(db: &DatabaseConnection, name: &str, n: usize) -> anyhow::Result<(String, Uuid)> {
    let admin = admin::create_user(db, name, "bench admin", true).await?;
    let caller = Principal::User {
        id: admin.user_id,
        organization_id: admin.organization_id,
        org_admin: true,
        read_only: false,
    };
    let group = admin::create_group(db, name, "developers").await?;

    let exchange = auth::tokens::generate(auth::tokens::TokenKind::RunnerExchange)?;
    let new = NewRunner {
        name: format!("{name} runner 0"),
        kind: pb::RunnerKind::Local as i32,
        provider: pb::RunnerProvider::LinuxHost as i32,
        runner_manager_id: None,
        desired_phase: pb::RunnerPhase::Active as i32,
        variant: 0,
        configuration: Default::default(),
    };
    let owner = access::create_runner(&caller)?;
    let first = runners::create(db, &owner, new, exchange.hash, chrono::Utc::now()).await?;
    let managed = access::manage_runner(db, &caller, first.id).await?;
    let exchange_row = token::Entity::find()
        .filter(token::Column::RunnerId.eq(first.id))
        .one(db)
        .await?
        .context("the first runner's exchange token")?;
    let class = NewEnvironmentClass {
        display_name: "4 cores, 16 GiB".into(),
        description: "the default machine".into(),
        configuration: vec![("instance_type".into(), "standard".into())],
    };
    let class = environment_classes::create(db, &managed, class).await?;
    let group = access::see_group(db, &caller, group).await?;
    let policy = store::policies::create(db, &managed, &group, pb::RunnerRole::User as i32).await?;

    for batch in (1..n).collect::<Vec<_>>().chunks(BATCH) {
        let (mut runners, mut tokens, mut classes, mut policies) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in batch {
            let id = Uuid::now_v7();
            let hash = auth::tokens::generate(auth::tokens::TokenKind::RunnerExchange)?.hash;
            runners.push(fresh(runner::Model {
                id,
                name: format!("{name} runner {i}"),
                ..first.clone()
            }));
            tokens.push(fresh(token::Model {
                id: Uuid::now_v7(),
                hash: hash.to_vec(),
                runner_id: Some(id),
                ..exchange_row.clone()
            }));
            classes.push(fresh(environment_class::Model {
                id: Uuid::now_v7(),
                runner_id: id,
                ..class.clone()
            }));
            policies.push(fresh(runner_policy::Model {
                runner_id: id,
                id: Uuid::now_v7(),
                ..policy.clone()
            }));
        }
        let txn = db.begin().await?;
        runner::Entity::insert_many(runners)
            .exec_without_returning(&txn)
            .await?;
        token::Entity::insert_many(tokens).exec_without_returning(&txn).await?;
        environment_class::Entity::insert_many(classes)
            .exec_without_returning(&txn)
            .await?;
        runner_policy::Entity::insert_many(policies)
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
    }
    Ok((admin.token, first.id))
}

/// A model as a row to insert: every column set.
fn fresh<M: IntoActiveModel<A>, A: ActiveModelTrait>(model: M) -> A {
    model.into_active_model().reset_all()
}
