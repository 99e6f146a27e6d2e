//! The agent's state file: its runner's access token and X25519 key pair,
//! kept so that a restart resumes the same runner instead of spending (and
//! failing on) the exchange token again. Written 0600, atomically.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Clone, Serialize, Deserialize)]
pub struct AgentState {
    /// The runner's id, once Signup answered it.
    #[serde(default)]
    pub runner_id: Option<String>,
    /// The runner's access token (a bearer secret: the file is 0600).
    pub access_token: String,
    /// The X25519 private key secrets are sealed to, base64.
    pub private_key: String,
    /// SHA-256 of the exchange token this state came from, hex: a different
    /// token on the command line means "start over with a new key".
    pub exchange_token_sha256: String,
}

// the state holds secrets: never print them
impl std::fmt::Debug for AgentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentState")
            .field("runner_id", &self.runner_id)
            .finish_non_exhaustive()
    }
}

impl AgentState {
    pub fn secret_key(&self) -> anyhow::Result<crypto_box::SecretKey> {
        let bytes: [u8; 32] = B64
            .decode(&self.private_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .context("the state file's private_key is not a base64 32-byte key")?;
        Ok(crypto_box::SecretKey::from(bytes))
    }

    pub fn came_from(&self, exchange_token: &str) -> bool {
        self.exchange_token_sha256 == token_digest(exchange_token)
    }
}

pub fn encode_key(key: &crypto_box::SecretKey) -> String {
    B64.encode(key.to_bytes())
}

pub fn token_digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads the state file; None when there is none yet.
pub fn load(path: &Path) -> anyhow::Result<Option<AgentState>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading the state file {}", path.display())),
    };
    let state = serde_json::from_str(&text).with_context(|| {
        format!(
            "the state file {} is not an agent state (remove it to start over)",
            path.display()
        )
    })?;
    Ok(Some(state))
}

/// Writes the state to a 0600 temporary file next to `path`, then renames it
/// over `path`: a crash leaves the old state or the new, never half of one.
pub fn save(path: &Path, state: &AgentState) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(state)?;
    let tmp = temporary_next_to(path)?;
    write_private(&tmp, text.as_bytes()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing the state file {}", path.display()))?;
    // the rename itself must survive a power cut: the exchange token is spent
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing {}", dir.display()))?;
    }
    Ok(())
}

/// Removes the state file (its runner is gone).
pub fn remove(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing the state file {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn temporary_next_to(path: &Path) -> anyhow::Result<PathBuf> {
    let Some(name) = path.file_name() else {
        bail!("--state-file {} names no file", path.display());
    };
    let mut tmp = name.to_os_string();
    tmp.push(".tmp");
    Ok(path.with_file_name(tmp))
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // a leftover (or planted) file or symlink is never written through:
    // remove it, then create a new file that only the owner can read
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_a_private_file() {
        let dir = std::env::temp_dir().join(format!("paddock-agent-state-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        assert!(load(&path).unwrap().is_none());
        let key = crypto_box::SecretKey::from([7u8; 32]);
        let state = AgentState {
            runner_id: Some("r".into()),
            access_token: "secret".into(),
            private_key: encode_key(&key),
            exchange_token_sha256: token_digest("exchange"),
        };
        save(&path, &state).unwrap();
        let back = load(&path).unwrap().unwrap();
        assert_eq!(back.secret_key().unwrap().to_bytes(), key.to_bytes());
        assert!(back.came_from("exchange") && !back.came_from("other"));
        assert!(!format!("{back:?}").contains("secret"), "Debug hides the token");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        remove(&path).unwrap();
        assert!(load(&path).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
