//! The server's secret key: sealing secrets the server must keep (AEAD,
//! XChaCha20-Poly1305 with random nonces) and keying the MACs of page tokens.

use std::io::Write;
use std::path::Path;

use anyhow::bail;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a sealed value is for; bound to its ciphertext, so that a value sealed
/// for one purpose never opens as another.
pub mod purpose {
    pub const HOST_TOKEN: &str = "host_token.token";
    pub const HOST_TOKEN_REFRESH: &str = "host_token.refresh_token";
    pub const SCM_CLIENT_SECRET: &str = "scm_integration.oauth_client_secret";
    pub const LLM_API_KEY: &str = "llm_integration.api_key";
    pub const RUNNER_HONEYCOMB_KEY: &str = "runner.honeycomb_api_key";
    pub const RUNNER_METRICS_PASSWORD: &str = "runner.metrics.password";
    pub const SIGNING_KEY: &str = "jwt-signing-key";
    pub const KEY_CHECK: &str = "secret_key_check";
}

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
/// First byte of every sealed value: lets the format change later.
const FORMAT_V1: u8 = 1;

/// A 256-bit key. Debug never prints it.
#[derive(Clone)]
pub struct SecretKey([u8; KEY_LEN]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    pub fn generate() -> anyhow::Result<Self> {
        let mut key = [0u8; KEY_LEN];
        getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        Ok(SecretKey(key))
    }

    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        SecretKey(bytes)
    }

    /// Reads a key file: the key as base64 (e.g. `openssl rand -base64 32`).
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        const HOW: &str = "give --secret-key-file a file holding 32 random bytes in base64, \
                           e.g. made with `openssl rand -base64 32 > paddock.key`";
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read the secret key file {} ({e}): {HOW}", path.display()))?;
        let key: Option<[u8; KEY_LEN]> = STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok());
        key.map(SecretKey).ok_or_else(|| {
            anyhow::anyhow!(
                "the secret key file {} does not hold 32 bytes in base64: {HOW}",
                path.display()
            )
        })
    }

    /// Reads the key file, or creates it (mode 0600) with a new key when it
    /// does not exist yet.
    pub fn read_or_create(path: &Path) -> anyhow::Result<Self> {
        if path.exists() {
            return Self::read(path);
        }
        let key = Self::generate()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| {
            anyhow::anyhow!(
                "cannot create the secret key file {} ({e}): make its directory writable, or give --secret-key-file",
                path.display()
            )
        })?;
        writeln!(file, "{}", STANDARD.encode(key.0))?;
        file.sync_all()?;
        tracing::info!(path = %path.display(), "generated a new secret key");
        Ok(key)
    }
}

/// Seals and opens secrets, and signs opaque tokens, with one server key.
#[derive(Clone)]
pub struct Secrets {
    aead: XChaCha20Poly1305,
    mac_key: [u8; 32],
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

type HmacSha256 = Hmac<Sha256>;

impl Secrets {
    pub fn new(key: &SecretKey) -> Self {
        // Separate keys for separate jobs, both derived from the one server key.
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac = <HmacSha256 as Mac>::new_from_slice(&key.0).expect("HMAC takes any key length");
            mac.update(label);
            mac.finalize().into_bytes().into()
        };
        let aead_key = derive(b"paddock/aead/v1");
        Secrets {
            aead: XChaCha20Poly1305::new(&aead_key.into()),
            mac_key: derive(b"paddock/mac/v1"),
        }
    }

    /// Encrypts `plaintext`; `purpose` is bound to the ciphertext so a value
    /// sealed for one column cannot be replayed into another.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let ciphertext = self
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    pub fn open(&self, purpose: &str, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != FORMAT_V1 {
            bail!("not a sealed value");
        }
        let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
        self.aead
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("cannot decrypt: wrong secret key or damaged value"))
    }

    /// A MAC over `parts` (length-prefixed, so part boundaries are unambiguous).
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.mac_key).expect("HMAC takes any key length");
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

/// Seals `plaintext` to a runner's X25519 public key as a NaCl anonymous
/// sealed box (crypto_box_seal): only the holder of the private key opens it,
/// and not even paddock can once it is sealed.
pub fn seal_to(public_key: &[u8], plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
    let key: [u8; 32] = public_key
        .try_into()
        .map_err(|_| anyhow::anyhow!("a runner's public key is 32 bytes"))?;
    crypto_box::PublicKey::from(key)
        .seal(&mut crypto_box::aead::OsRng, plaintext)
        .map_err(|_| anyhow::anyhow!("sealing to the runner's key failed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_purpose() {
        let secrets = Secrets::new(&SecretKey::from_bytes([7; 32]));
        let sealed = secrets.seal("a", b"hunter2").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(secrets.open("a", &sealed).unwrap(), b"hunter2");
        assert!(secrets.open("b", &sealed).is_err());
        let other = Secrets::new(&SecretKey::from_bytes([8; 32]));
        assert!(other.open("a", &sealed).is_err());
        assert!(secrets.open("a", &sealed[..10]).is_err());
    }
}
