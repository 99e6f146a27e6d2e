//! A fleet of signed-up runners, written through paddock's store layer
//! before any server starts: one organization, `n` Linux-host runners, each
//! ACTIVE with a public key, a fresh lease and its own access token (whose
//! plaintext the load keeps, as each runner keeps its own).

use std::time::Instant;

use anyhow::Context;
use chrono::Utc;
use paddock::auth::{self, Principal, access};
use paddock::base::secrets::SecretKey;
use paddock::protocol::proto::gitpod::v1 as pb;
use paddock::server::{self, admin, settings as config};
use paddock::store::entities::{runner, token};
use paddock::store::runners::{self, NewRunner, phase};

use sea_orm::{ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, TransactionTrait};
use uuid::Uuid;

/// Rows per INSERT: well under SQLite's 32,766 bound parameters.
const BATCH: usize = 500;

/// One runner as its own process would know itself.
#[derive(Clone)]
pub struct Member {
    pub runner_id: String,
    pub bearer: String,
}

pub async fn seed(database_url: &str, key_file: &std::path::Path, n: usize) -> anyhow::Result<(Vec<Member>, f64)> {
    let settings = config::Settings::for_tests(database_url, SecretKey::read_or_create(key_file)?);
    let state = server::prepare(&settings).await?;
    let db = &state.db;
    let started = Instant::now();
    let owner = admin::create_user(db, "fleet", "fleet admin", true).await?;
    let caller = Principal::User {
        id: owner.user_id,
        organization_id: owner.organization_id,
        org_admin: true,
        read_only: false,
    };
    let template = runners::create(
        db,
        &access::create_runner(&caller)?,
        NewRunner {
            name: "fleet template".into(),
            kind: pb::RunnerKind::Local as i32,
            provider: pb::RunnerProvider::LinuxHost as i32,
            runner_manager_id: None,
            desired_phase: pb::RunnerPhase::Active as i32,
            variant: 0,
            configuration: Default::default(),
        },
        auth::tokens::generate(auth::tokens::TokenKind::RunnerExchange)?.hash,
        Utc::now(),
    )
    .await?;
    let now = Utc::now();
    let mut fleet = Vec::with_capacity(n);
    for batch in (0..n).collect::<Vec<_>>().chunks(BATCH) {
        let (mut rows, mut tokens) = (Vec::new(), Vec::new());
        for i in batch {
            let id = Uuid::now_v7();
            let access = auth::tokens::generate(auth::tokens::TokenKind::RunnerAccess)?;
            rows.push(fresh(runner::Model {
                id,
                name: format!("fleet runner {i}"),
                phase: phase::ACTIVE,
                public_key: Some(id.as_bytes().repeat(2)),
                signed_up_at: Some(now),
                lease_renewed_at: Some(now),
                ..template.clone()
            }));
            tokens.push(fresh(token::Model {
                id: Uuid::now_v7(),
                hash: access.hash.to_vec(),
                kind: auth::tokens::TokenKind::RunnerAccess.as_str().into(),
                organization_id: owner.organization_id,
                user_id: None,
                runner_id: Some(id),
                created_at: now,
                expires_at: None,
                used_at: None,
                revoked_at: None,
                description: String::new(),
                read_only: false,
                last_used_at: None,
            }));
            fleet.push(Member {
                runner_id: id.to_string(),
                bearer: format!("Bearer {}", access.plaintext),
            });
        }
        let txn = db.begin().await?;
        runner::Entity::insert_many(rows).exec_without_returning(&txn).await?;
        token::Entity::insert_many(tokens).exec_without_returning(&txn).await?;
        txn.commit().await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        }
        _ => {
            db.execute_unprepared("VACUUM (ANALYZE)").await?;
            let _ = db.execute_unprepared("CHECKPOINT").await;
        }
    }
    state.db.close().await.context("closing the seeding connection")?;
    Ok((fleet, seconds))
}

fn fresh<M: IntoActiveModel<A>, A: ActiveModelTrait>(model: M) -> A {
    model.into_active_model().reset_all()
}
