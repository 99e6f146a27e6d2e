//! Settings from flags and environment, validated once at start.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::secrets::SecretKey;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://paddock.db";

/// Everything `serve` needs, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub secret_key: SecretKey,
    /// PADDOCK_ADMIN_TOKEN: an organization admin with this bearer token is
    /// ensured at start.
    pub admin_token: Option<String>,
    /// The URL users reach paddock at (`--public-url`).
    pub public_url: String,
    /// `--scm-api-url HOST=URL`: where a host's REST API is, when not where its SCM serves it.
    pub scm_api_urls: std::collections::HashMap<String, String>,
    /// How long a verified bearer token is trusted without asking the
    /// database again (revocations by other replicas take this long).
    pub token_cache_ttl: std::time::Duration,
}

/// Reads `HOST=URL` pairs.
pub fn scm_api_urls(pairs: &[String]) -> anyhow::Result<std::collections::HashMap<String, String>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((host, url)) if !host.is_empty() && (url.starts_with("https://") || url.starts_with("http://")) => {
                Ok((host.trim().to_ascii_lowercase(), url.trim().to_owned()))
            }
            _ => bail!("bad --scm-api-url {pair:?}: use HOST=https://api.example.com"),
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
        bail!("unsupported --database-url {url:?}: use sqlite://FILE, sqlite::memory: or postgres://USER@HOST/DB")
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
            Some(path) => SecretKey::read_or_create(&path).context("the default secret key file"),
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
