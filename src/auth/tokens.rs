//! Bearer tokens: 256 random bits, prefixed by kind, shown once, stored as
//! SHA-256 hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

pub use crate::store::tokens::TokenKind;

/// Makes a leaked token recognizable (e.g. by secret scanners) and tells its
/// kind at a glance.
fn prefix(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::PersonalAccess => "pdk_pat_",
        TokenKind::RunnerAccess => "pdk_rat_",
        TokenKind::RunnerExchange => "pdk_rex_",
    }
}

/// A freshly minted token: the plaintext to show once, the hash to store.
pub struct NewToken {
    pub plaintext: String,
    pub hash: [u8; 32],
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewToken(..)")
    }
}

pub fn generate(kind: TokenKind) -> anyhow::Result<NewToken> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let plaintext = format!("{}{}", prefix(kind), URL_SAFE_NO_PAD.encode(random));
    let hash = hash(&plaintext);
    Ok(NewToken { plaintext, hash })
}

pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let a = generate(TokenKind::RunnerExchange).unwrap();
        let b = generate(TokenKind::RunnerExchange).unwrap();
        assert!(a.plaintext.starts_with("pdk_rex_"));
        assert_ne!(a.plaintext, b.plaintext);
        assert_eq!(a.plaintext.len(), "pdk_rex_".len() + 43);
        assert_eq!(hash(&a.plaintext), a.hash);
        assert_eq!(
            TokenKind::parse(TokenKind::RunnerAccess.as_str()),
            Some(TokenKind::RunnerAccess)
        );
    }
}
