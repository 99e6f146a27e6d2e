//! The database: SeaORM entities and the queries and transactions over them, never a tonic type.
//! May import: base.
//!
//! Store functions take `&impl ConnectionTrait`, so they run on the pool or inside a transaction unchanged.

pub mod audit;
pub mod entities;
pub mod environment_classes;
pub mod fleet;
pub mod groups;
pub mod host_tokens;
pub mod identity;
pub mod interaction;
pub mod leases;
pub mod llm_integrations;
pub mod members;
pub mod org_roles;
pub mod organizations;
pub mod personal_tokens;
pub mod policies;
pub mod query;
pub mod runner_tokens;
pub mod runners;
pub mod schemas;
pub mod scm_integrations;
pub mod secret_key;
pub mod signing_keys;
pub mod tokens;

use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, SqlErr};

pub use sea_orm::DatabaseConnection as Db;

use crate::base::error::Error;

/// Opens the database named by `url` and brings its schema up to date.
///
/// SQLite: the file is created when missing, with WAL and foreign keys on. The
/// pool has one connection, so writers never race each other into SQLITE_BUSY.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    connect_pooled(url, POSTGRES_POOL, CHECKOUT_TIMEOUT).await
}

/// How long a call waits for a PostgreSQL connection before it answers
/// UNAVAILABLE (the database unreachable, or every connection busy).
pub const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(2);

/// PostgreSQL connections per replica unless told otherwise.
pub const POSTGRES_POOL: u32 = 16;
/// SQLite's read-only connections unless told otherwise.
pub const SQLITE_READERS: u32 = 4;

/// `connect`, with a PostgreSQL pool of `pool` connections (SQLite writes
/// through one connection whatever `pool` says).
/// `checkout` bounds the wait for a PostgreSQL connection; SQLite's writer
/// waits up to 30 s, behind other writes rather than for a network.
pub async fn connect_pooled(url: &str, pool: u32, checkout: Duration) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false).acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        // The one connection is never recycled: an in-memory database lives
        // exactly as long as its connection (sqlx would renew it after 30 min).
        let forever = Duration::from_secs(100 * 365 * 24 * 3600);
        options.max_lifetime(forever).idle_timeout(forever);
        // a local file needs no liveness probe before each query (a probe is
        // a round trip to the connection's worker thread, as costly as a read)
        options.test_before_acquire(false);
        options.max_connections(1).min_connections(1).map_sqlx_sqlite_opts(|o| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
        });
    } else {
        options
            .max_connections(pool.max(1))
            .min_connections(1)
            .acquire_timeout(checkout)
            .connect_timeout(checkout);
    }
    let db = Database::connect(options)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    let pending = Migrator::get_pending_migrations(&db)
        .await
        .context("reading the migrations applied")?
        .len();
    Migrator::up(&db, None).await.context("running migrations")?;
    if pending > 0 {
        tracing::info!("database migrated: {pending} migrations applied");
    }
    Ok(db)
}

/// Readers for a SQLite file: WAL lets them read while the one writer writes,
/// so reads need not queue behind the writer's single connection. None for
/// PostgreSQL (its pool already serves reads concurrently) and in-memory
/// SQLite (a second connection would see another, empty database).
pub async fn connect_readers(url: &str, connections: u32) -> anyhow::Result<Option<DatabaseConnection>> {
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(None);
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(30))
        .max_connections(connections)
        .min_connections(1)
        .test_before_acquire(false)
        .map_sqlx_sqlite_opts(|o| {
            o.read_only(true)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
        });
    let db = Database::connect(options)
        .await
        .with_context(|| format!("opening readers of {}", redact(url)))?;
    Ok(Some(db))
}

/// The URL without a password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// A row that belongs to one runner (an environment class, an integration):
/// who may see or change it follows from its runner.
pub trait RunnerOwned {
    fn runner_id(&self) -> uuid::Uuid;
}

macro_rules! runner_owned {
    ($($model:ty),*) => {
        $(impl RunnerOwned for $model {
            fn runner_id(&self) -> uuid::Uuid {
                self.runner_id
            }
        })*
    };
}
runner_owned!(
    entities::environment_class::Model,
    entities::scm_integration::Model,
    entities::llm_integration::Model
);

/// Whether a database error is a unique-key conflict.
pub(crate) fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

pub(crate) fn not_found(what: &str) -> Error {
    Error::NotFound(format!("{what} not found"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_hides_passwords() {
        assert_eq!(super::redact("postgres://u:secret@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }
}
