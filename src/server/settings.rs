//! What the server runs on: every setting resolved and checked (by
//! `server::cli` from the command line, or by a test), and where the secret
//! key and the SQLite file live.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;

use crate::base::secrets::SecretKey;
use crate::fleet::releases::Release;

/// Everything `serve` needs, resolved and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub listen: SocketAddr,
    /// Where /metrics is served when not on the main port.
    pub metrics_listen: Option<SocketAddr>,
    /// Whether /metrics is served and counted at all.
    pub metrics: bool,
    pub secret_key: SecretKey,
    /// An organization admin with this bearer token is ensured at start.
    pub admin_token: Option<String>,
    /// Origins browsers may call from; `*` allows any.
    pub cors_origins: Vec<String>,
    /// The URL users reach paddock at (no trailing slash).
    pub public_url: String,
    /// Where a host's REST API is, when not where its SCM serves it.
    pub scm_api_urls: HashMap<String, String>,
    /// How long a verified bearer token is trusted without asking the database again.
    pub token_cache_ttl: Duration,
    /// PostgreSQL's pool size, or SQLite's read-only connections (None: the default).
    pub database_pool_size: Option<u32>,
    /// The longest wait for a PostgreSQL connection.
    pub database_timeout: Duration,
    /// How often runners renew their lease, and the grace past a missed one.
    pub runner_lease: Duration,
    pub runner_lease_grace: Duration,
    /// Runners INACTIVE longer than this are removed; None keeps them.
    pub runner_gc_after: Option<Duration>,
    /// How long audit log entries are kept.
    pub audit_retention: Duration,
    /// The release of each channel (gitpod.v1.RunnerReleaseChannel numbers).
    pub runner_releases: HashMap<i32, Release>,
    /// What one client may ask of the server (see `auth::limits`).
    pub limits: crate::auth::limits::LimitSettings,
    /// INACTIVE longer than this is stale (the fleet summary).
    pub stale_after: Duration,
}

impl Settings {
    /// When a runner stops counting as alive, and when it is forgotten.
    pub fn liveness(&self) -> crate::fleet::liveness::Policy {
        crate::fleet::liveness::Policy {
            lease: self.runner_lease,
            grace: self.runner_lease_grace,
            gc_after: self.runner_gc_after,
        }
    }

    /// Settings for a test or a benchmark: the defaults of every flag, over
    /// `database_url` with `secret_key`.
    pub fn for_tests(database_url: &str, secret_key: SecretKey) -> Settings {
        Settings {
            database_url: database_url.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics_listen: None,
            metrics: true,
            secret_key,
            admin_token: None,
            cors_origins: Vec::new(),
            public_url: "https://paddock.test".into(),
            scm_api_urls: HashMap::new(),
            token_cache_ttl: crate::auth::cache::DEFAULT_TTL,
            database_pool_size: None,
            database_timeout: crate::store::CHECKOUT_TIMEOUT,
            runner_lease: Duration::from_secs(30),
            runner_lease_grace: Duration::from_secs(15),
            runner_gc_after: None,
            audit_retention: Duration::from_secs(365 * 86_400),
            runner_releases: HashMap::new(),
            limits: crate::auth::limits::LimitSettings::default(),
            stale_after: Duration::from_secs(7 * 86_400),
        }
    }
}

/// Reads `HOST=URL` pairs.
pub fn scm_api_urls(pairs: &[String]) -> anyhow::Result<HashMap<String, String>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((host, url)) if !host.is_empty() && (url.starts_with("https://") || url.starts_with("http://")) => {
                Ok((host.trim().to_ascii_lowercase(), url.trim().to_owned()))
            }
            _ => bail!(
                "--scm-api-url {pair:?} is not HOST=URL: write it like git.example.com=https://git.example.com/api/v4"
            ),
        })
        .collect()
}

/// The file a SQLite URL names, if any (None for in-memory databases).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Checks the database URL's form.
pub fn check_database_url(url: &str) -> anyhow::Result<()> {
    if url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(())
    } else {
        bail!("--database-url {url:?} is not supported: use sqlite://FILE, sqlite::memory: or postgres://USER@HOST/DB")
    }
}

/// Where the secret key lives when no --secret-key-file is given: next to the
/// SQLite file; for PostgreSQL, paddock.key in the working directory (give
/// every replica the same key with --secret-key-file).
pub fn default_key_file(database_url: &str) -> Option<PathBuf> {
    if database_url.starts_with("sqlite:") {
        sqlite_file(database_url).map(|db| {
            let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
            name.push(".key");
            db.with_file_name(name)
        })
    } else {
        Some(PathBuf::from("paddock.key"))
    }
}

/// The secret key: from the given file, else the default file (created on
/// first start), else — for in-memory databases — a key for this process only.
pub fn load_secret_key(explicit: Option<&Path>, database_url: &str) -> anyhow::Result<SecretKey> {
    match explicit {
        Some(path) => SecretKey::read(path),
        None => match default_key_file(database_url) {
            Some(path) => SecretKey::read_or_create(&path),
            None => SecretKey::generate(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_files() {
        assert_eq!(sqlite_file("sqlite://paddock.db"), Some(PathBuf::from("paddock.db")));
        assert_eq!(
            sqlite_file("sqlite:///abs/p.db?mode=rwc"),
            Some(PathBuf::from("/abs/p.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(
            default_key_file("sqlite:///abs/p.db"),
            Some(PathBuf::from("/abs/p.db.key"))
        );
        assert!(check_database_url("mysql://x").is_err());
    }
}
