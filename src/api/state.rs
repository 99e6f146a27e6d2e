//! What every request handler shares.

use std::sync::Arc;

use crate::base::secrets::Secrets;
use crate::store::Db;

#[derive(Clone, Debug)]
pub struct AppState {
    /// Writes, and reads that decide a write (the only connection to SQLite).
    pub db: Db,
    /// Plain reads: concurrent SQLite readers, or `db` itself.
    pub read_db: Db,
    pub secrets: Arc<Secrets>,
    /// The keys ID tokens and logs tokens are signed with (see `auth::signing`).
    pub signing: Arc<crate::auth::signing::KeyRing>,
    /// Bearer tokens verified in the last seconds (see `auth::cache`).
    pub token_cache: Arc<crate::auth::cache::TokenCache>,
    /// Tokens used lately, not yet recorded (see `auth::usage`).
    pub token_usage: Arc<crate::auth::usage::UsageBook>,
    /// Where users reach this server (OAuth callbacks are built from it).
    pub public_url: String,
    /// REST API base URLs of SCM hosts, where they are not the SCM's default
    /// (`--scm-api-url HOST=URL`).
    pub scm_api_urls: std::collections::HashMap<String, String>,
    /// Leases of ACTIVE runners not yet written (see `fleet::liveness`).
    pub leases: Arc<crate::fleet::liveness::LeaseBook>,
    /// How often runners renew their lease.
    pub runner_lease: std::time::Duration,
    /// The release of each channel, for GetLatestVersion.
    pub runner_releases: Arc<std::collections::HashMap<i32, crate::fleet::releases::Release>>,
    /// Turns true when the server begins to shut down: open watch streams
    /// end then, rather than hold the shutdown for its whole grace.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
    /// This server's id among the replicas (for its event listener's notices).
    pub replica: uuid::Uuid,
    /// INACTIVE longer than this is stale (the fleet summary).
    pub stale_after: std::time::Duration,
    /// Rate limits and stream counts (see `auth::limits`).
    pub limits: Arc<crate::auth::limits::Limits>,
}
