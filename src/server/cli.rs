//! `serve`'s and `admin`'s command line: each setting a flag with its
//! `PADDOCK_*` environment variable (shown by `--help`), turned into
//! `Settings` and checked once at start. Startup errors are one sentence
//! saying what to do. Only `main.rs` reads this; the server runs on `Settings`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, Subcommand};
use uuid::Uuid;

use crate::base::duration::parse as parse_duration;
use crate::server::settings::{Settings, check_database_url, load_secret_key, scm_api_urls};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://paddock.db";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the one port.
    #[arg(long, env = "PADDOCK_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Serve /metrics (Prometheus text format) on this address instead of
    /// the main port, e.g. 127.0.0.1:9090.
    #[arg(long, env = "PADDOCK_METRICS_LISTEN", conflicts_with = "no_metrics")]
    pub metrics_listen: Option<SocketAddr>,
    /// Neither serve /metrics nor count anything for it.
    #[arg(long, env = "PADDOCK_NO_METRICS")]
    pub no_metrics: bool,
    /// File holding the base64 secret key that encrypts stored secrets.
    /// Default: next to the SQLite file (created on first start); paddock.key for PostgreSQL.
    #[arg(long, env = "PADDOCK_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// Ensures an organization admin exists whose bearer token is this value.
    #[arg(long, env = "PADDOCK_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Origin browsers may call from (repeatable, or comma-separated in the
    /// environment); `*` allows any. None by default.
    #[arg(long = "cors-origin", env = "PADDOCK_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// The URL users reach paddock at, e.g. https://paddock.example.com (OAuth
    /// callback URLs are built from it). Default: http://LISTEN.
    #[arg(long, env = "PADDOCK_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Where an SCM host's REST API is, when it is not where the SCM serves it
    /// (repeatable): HOST=URL, e.g. git.example.com=https://git-api.example.com/api/v4.
    #[arg(long = "scm-api-url", env = "PADDOCK_SCM_API_URLS", value_delimiter = ',')]
    pub scm_api_urls: Vec<String>,
    /// How long a verified bearer token is trusted without asking the database
    /// again, e.g. 5s (revocations made through other replicas take this long).
    #[arg(long, env = "PADDOCK_TOKEN_CACHE_TTL", default_value = "5s", value_parser = parse_duration)]
    pub token_cache_ttl: Duration,
    /// Database connections of this replica: PostgreSQL's pool (default 16),
    /// or SQLite's read-only connections beside its one writer (default 4).
    #[arg(long, env = "PADDOCK_DATABASE_POOL_SIZE", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool_size: Option<u32>,
    /// How long a call waits for a PostgreSQL connection (the database
    /// unreachable, or the pool busy) before it answers UNAVAILABLE, e.g. 2s.
    #[arg(long, env = "PADDOCK_DATABASE_TIMEOUT", default_value = "2s", value_parser = parse_duration)]
    pub database_timeout: Duration,
    /// How often runners renew their lease (MarkRunnerActive), e.g. 30s.
    #[arg(long, env = "PADDOCK_RUNNER_LEASE", default_value = "30s", value_parser = parse_duration)]
    pub runner_lease: Duration,
    /// How long past a missed lease a runner still counts as alive, e.g. 15s.
    #[arg(long, env = "PADDOCK_RUNNER_LEASE_GRACE", default_value = "15s", value_parser = parse_duration)]
    pub runner_lease_grace: Duration,
    /// Remove runners INACTIVE (no lease) for longer than this, e.g. 14d,
    /// with everything they own. Off unless set.
    #[arg(long, env = "PADDOCK_RUNNER_GC_AFTER", value_parser = parse_duration)]
    pub runner_gc_after: Option<Duration>,
    /// How long audit log entries are kept, e.g. 365d (older ones are pruned
    /// in small batches).
    #[arg(long, env = "PADDOCK_AUDIT_RETENTION", default_value = "365d", value_parser = parse_duration)]
    pub audit_retention: Duration,
    /// The runner release of a channel (repeatable; `;`-separated in the
    /// environment): CHANNEL=VERSION[,IMAGE], e.g. stable=2026.11.1,ghcr.io/acme/runner:2026.11.1.
    #[arg(long = "runner-release", env = "PADDOCK_RUNNER_RELEASES", value_delimiter = ';')]
    pub runner_releases: Vec<String>,
    /// Failed authentications answered per minute from one client address;
    /// past it, calls without a recently verified token answer
    /// RESOURCE_EXHAUSTED until the budget refills (0: no limit).
    #[arg(long, env = "PADDOCK_FAILED_AUTH_PER_ADDRESS", default_value_t = 60)]
    pub failed_auth_per_address: u32,
    /// Failed authentications answered per minute with one token (0: no limit).
    #[arg(long, env = "PADDOCK_FAILED_AUTH_PER_TOKEN", default_value_t = 10)]
    pub failed_auth_per_token: u32,
    /// ExchangeToken calls per minute from one client address (0: no limit).
    /// Raise it when many runners behind one NAT start at once.
    #[arg(long, env = "PADDOCK_EXCHANGE_PER_ADDRESS", default_value_t = 60)]
    pub exchange_per_address: u32,
    /// ExchangeToken calls per minute with one exchange token (0: no limit).
    #[arg(long, env = "PADDOCK_EXCHANGE_PER_TOKEN", default_value_t = 10)]
    pub exchange_per_token: u32,
    /// A runner INACTIVE for longer than this counts as stale in the fleet
    /// summary (paddock.v1.FleetService), e.g. 7d.
    #[arg(long, env = "PADDOCK_STALE_AFTER", default_value = "7d", value_parser = parse_duration)]
    pub stale_after: Duration,
    /// Watch streams (WatchEvents) one token may hold open at once (0: no limit).
    #[arg(long, env = "PADDOCK_WATCHES_PER_TOKEN", default_value_t = 16)]
    pub watches_per_token: u32,
    /// The largest request message in bytes, after decompression, on every
    /// protocol: e.g. 4194304 or 4MiB (larger ones answer RESOURCE_EXHAUSTED).
    #[arg(long, env = "PADDOCK_MAX_MESSAGE_SIZE", default_value = "4MiB", value_parser = parse_size)]
    pub max_message_size: usize,
    /// The largest request header block in bytes, e.g. 16KiB: larger ones
    /// are refused (HTTP 431 on HTTP/1.1, by the HTTP/2 layer on HTTP/2).
    #[arg(long, env = "PADDOCK_MAX_HEADER_SIZE", default_value = "16KiB", value_parser = parse_header_size)]
    pub max_header_size: u32,
    /// Calls in flight at once on one HTTP/2 connection; further ones wait
    /// in the client until one ends.
    #[arg(long, env = "PADDOCK_STREAMS_PER_CONNECTION", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub streams_per_connection: u32,
    /// A connection with no call in flight is closed after this long without
    /// traffic, e.g. 5m (0: never).
    #[arg(long, env = "PADDOCK_IDLE_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    pub idle_timeout: Duration,
}

impl ServeArgs {
    /// `serve`'s flags, checked: the database URL's form, the secret key,
    /// the SCM API URLs.
    pub fn into_settings(self, database_url: String) -> anyhow::Result<Settings> {
        let args = self;
        check_database_url(&database_url)?;
        if args.audit_retention.is_zero() {
            bail!("--audit-retention must be longer than 0 (e.g. 365d)");
        }
        if args.database_timeout.is_zero() {
            bail!("--database-timeout must be longer than 0 (e.g. 2s)");
        }
        if args.runner_lease.is_zero() || args.runner_lease_grace.is_zero() {
            bail!("--runner-lease and --runner-lease-grace must be longer than 0 (e.g. 30s and 15s)");
        }
        let secret_key = load_secret_key(args.secret_key_file.as_deref(), &database_url)?;
        let public_url = args.public_url.unwrap_or_else(|| format!("http://{}", args.listen));
        Ok(Settings {
            secret_key,
            listen: args.listen,
            metrics_listen: args.metrics_listen,
            metrics: !args.no_metrics,
            admin_token: args.admin_token.filter(|t| !t.is_empty()),
            cors_origins: args.cors_origins,
            public_url: public_url.trim_end_matches('/').to_owned(),
            scm_api_urls: scm_api_urls(&args.scm_api_urls)?,
            token_cache_ttl: args.token_cache_ttl,
            database_pool_size: args.database_pool_size,
            database_timeout: args.database_timeout,
            runner_lease: args.runner_lease,
            runner_lease_grace: args.runner_lease_grace,
            runner_gc_after: args.runner_gc_after.filter(|d| !d.is_zero()),
            audit_retention: args.audit_retention,
            runner_releases: crate::fleet::releases::parse(&args.runner_releases)?,
            stale_after: args.stale_after,
            limits: crate::auth::limits::LimitSettings {
                failed_auth_per_address: args.failed_auth_per_address,
                failed_auth_per_token: args.failed_auth_per_token,
                exchange_per_address: args.exchange_per_address,
                exchange_per_token: args.exchange_per_token,
                watches_per_token: args.watches_per_token,
                max_message_bytes: args.max_message_size,
                max_header_bytes: args.max_header_size,
                streams_per_connection: args.streams_per_connection,
                idle_timeout: args.idle_timeout,
            },
            database_url,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    #[command(subcommand)]
    User(UserCommand),
    #[command(subcommand)]
    Group(GroupCommand),
    /// A runner's credentials: list, revoke, rotate with overlap.
    #[command(subcommand)]
    RunnerToken(RunnerTokenCommand),
    /// The keys ID tokens and runner logs tokens are signed with.
    #[command(subcommand)]
    SigningKey(SigningKeyCommand),
    /// The key stored secrets are encrypted with.
    #[command(subcommand)]
    SecretKey(SecretKeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum SecretKeyCommand {
    /// Encrypt every stored secret with a new key, in one transaction. Stop
    /// every replica first; start them again with the new key file.
    Rotate {
        /// The key in use; default as for `serve`.
        #[arg(long, env = "PADDOCK_SECRET_KEY_FILE")]
        secret_key_file: Option<PathBuf>,
        /// The new key: a file holding 32 random bytes in base64
        /// (`openssl rand -base64 32 > new.key`).
        #[arg(long)]
        new_key_file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunnerTokenCommand {
    /// A runner's tokens (never their values), oldest first.
    List {
        #[arg(long)]
        runner: Uuid,
        /// Also those that no longer work (revoked, expired, traded).
        #[arg(long)]
        all: bool,
    },
    /// Revoke one token of a runner.
    Revoke {
        #[arg(long)]
        token: Uuid,
    },
    /// Issue a runner a new access token (printed once); its current ones
    /// keep working for the grace, e.g. 1h (0s cuts them at once; at most 30d).
    Rotate {
        #[arg(long)]
        runner: Uuid,
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        grace: Duration,
    },
}

#[derive(Debug, Subcommand)]
pub enum SigningKeyCommand {
    /// Make a new signing key and retire the current one; the retired key
    /// stays published while tokens it signed can live (1 h). Replicas sign
    /// with the new key within 10 s.
    Rotate {
        /// The server's secret key file (the new key is sealed with it);
        /// default as for `serve`.
        #[arg(long, env = "PADDOCK_SECRET_KEY_FILE")]
        secret_key_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print their personal access token (shown only once).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        org_admin: bool,
        /// Organization (by name), created when missing.
        #[arg(long, default_value = crate::DEFAULT_ORGANIZATION)]
        organization: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    Create {
        #[arg(long)]
        name: String,
        /// Organization (by name), created when missing.
        #[arg(long, default_value = crate::DEFAULT_ORGANIZATION)]
        organization: String,
    },
    AddMember {
        #[arg(long)]
        group: Uuid,
        #[arg(long)]
        user: Uuid,
    },
}

/// Bytes: `4194304`, `512KiB`, `4MiB`.
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let wrong = || format!("{text:?} is not a size: use e.g. 4194304, 512KiB or 4MiB");
    let number: usize = number.parse().map_err(|_| wrong())?;
    let scale = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1024,
        "MiB" => 1024 * 1024,
        _ => return Err(wrong()),
    };
    match number.checked_mul(scale) {
        Some(0) => Err(format!("{text:?}: a size must be more than 0")),
        Some(bytes) => Ok(bytes),
        None => Err(format!("{text:?} is too large")),
    }
}

/// A header limit: a size that fits HTTP/2's 32-bit setting.
fn parse_header_size(text: &str) -> Result<u32, String> {
    parse_size(text)?
        .try_into()
        .map_err(|_| format!("{text:?} is too large for a header limit"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_operators_write_them() {
        assert_eq!(parse_size("4MiB"), Ok(4 * 1024 * 1024));
        assert_eq!(parse_size("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("0").is_err());
        assert!(parse_size("4GB").is_err());
        assert!(parse_header_size("8MiB").is_ok());
    }
}
