//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): a
//! secret is `whsec_` and the base64 of its key; a request carries
//! `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`:
//! `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`, one per secret
//! in force, space-separated — so that while a secret is rotated the old
//! one keeps signing beside the new and receivers holding either verify.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a secret as receivers are given it.
pub const PREFIX: &str = "whsec_";
/// Random bytes in a secret paddock makes (the spec allows 24 to 64).
pub const KEY_BYTES: usize = 32;

/// A webhook's signing key. Never printed: its `Debug` names no byte.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("webhook secret (redacted)")
    }
}

/// Why a text is not a webhook secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with whsec_")]
    Prefix,
    #[error("a webhook secret is whsec_ and base64")]
    Base64,
    #[error("a webhook secret's key is 24 to 64 bytes")]
    Length,
}

impl Secret {
    /// A new random secret.
    pub fn generate() -> anyhow::Result<Secret> {
        let mut key = vec![0; KEY_BYTES];
        getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        Ok(Secret(key))
    }

    /// A secret as receivers write it (`whsec_…`).
    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        let encoded = text.strip_prefix(PREFIX).ok_or(SecretError::Prefix)?;
        let key = STANDARD.decode(encoded).map_err(|_| SecretError::Base64)?;
        Secret::from_key(key)
    }

    /// A secret from its key's bytes (as stored, after unsealing).
    pub fn from_key(key: Vec<u8>) -> Result<Secret, SecretError> {
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::Length);
        }
        Ok(Secret(key))
    }

    /// The key's bytes, to be sealed before they are stored.
    pub fn key(&self) -> &[u8] {
        &self.0
    }

    /// The secret as it is shown, once, to whoever made it.
    pub fn reveal(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// `v1,` and the signature of one request.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // an HMAC takes a key of any length
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header of a request: one signature per secret in
/// force (the current first), space-separated.
pub fn header(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification, which its
    /// libraries test against.
    #[test]
    fn signs_as_the_specification_does() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn each_secret_in_force_signs_once_the_current_first() {
        let (new, old) = (Secret::generate().unwrap(), Secret::generate().unwrap());
        let header = header(&[new.clone(), old.clone()], "msg_1", 1, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts, [new.sign("msg_1", 1, b"{}"), old.sign("msg_1", 1, b"{}")]);
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn a_secret_reads_back_as_itself_and_malformed_ones_are_refused() {
        let secret = Secret::generate().unwrap();
        assert_eq!(secret.key().len(), KEY_BYTES);
        assert!(secret.reveal().starts_with(PREFIX));
        assert_eq!(Secret::parse(&secret.reveal()).unwrap(), secret);
        assert_eq!(
            Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::Prefix)
        );
        assert_eq!(Secret::parse("whsec_not base64!"), Err(SecretError::Base64));
        assert_eq!(Secret::parse("whsec_c2hvcnQ="), Err(SecretError::Length));
        assert_eq!(Secret::from_key(vec![0; 65]), Err(SecretError::Length));
        assert!(!format!("{secret:?}").contains(&secret.reveal()[PREFIX.len()..]));
    }
}
