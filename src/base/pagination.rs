//! Keyset pagination: page sizes, and opaque page tokens that carry the last
//! key of the previous page, signed so that a tampered token is refused and a
//! token cannot be replayed against another list or another filter.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::base::error::{Error, Result};
use crate::base::secrets::Secrets;

pub const DEFAULT_PAGE_SIZE: u64 = 25;
pub const MAX_PAGE_SIZE: i32 = 100;
const MAC_LEN: usize = 16;

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Entries strictly after this key; None for the first page.
    pub after: Option<Uuid>,
    pub size: u64,
}

/// Signs and checks page tokens for one list (`scope`) under one filter.
pub struct PageTokens<'a> {
    secrets: &'a Secrets,
    scope: &'a str,
    filter: Vec<u8>,
}

impl<'a> PageTokens<'a> {
    /// `filter` is any stable encoding of the request's filter: a token only
    /// continues the listing it came from.
    pub fn new(secrets: &'a Secrets, scope: &'a str, filter: impl Into<Vec<u8>>) -> Self {
        PageTokens {
            secrets,
            scope,
            filter: filter.into(),
        }
    }

    fn mac(&self, key: &Uuid) -> [u8; MAC_LEN] {
        let full = self.secrets.mac(&[self.scope.as_bytes(), &self.filter, key.as_bytes()]);
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    pub fn encode(&self, last: Uuid) -> String {
        let mut raw = Vec::with_capacity(16 + MAC_LEN);
        raw.extend_from_slice(last.as_bytes());
        raw.extend_from_slice(&self.mac(&last));
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Reads `pagination.page_size` (validated elsewhere to be 0..=100) and
    /// `pagination.token`.
    pub fn page(&self, page_size: i32, token: &str) -> Result<Page> {
        let size = if page_size <= 0 {
            DEFAULT_PAGE_SIZE
        } else {
            page_size.min(MAX_PAGE_SIZE) as u64
        };
        if token.is_empty() {
            return Ok(Page { after: None, size });
        }
        let bad = || Error::invalid("pagination.token", "not a page token of this list");
        let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
        if raw.len() != 16 + MAC_LEN {
            return Err(bad());
        }
        let (key, mac) = raw.split_at(16);
        let key = Uuid::from_slice(key).map_err(|_| bad())?;
        // Constant-time comparison is not needed: the MAC guards integrity, not a secret.
        if self.mac(&key) != mac {
            return Err(bad());
        }
        Ok(Page { after: Some(key), size })
    }

    /// The next_token for a page fetched with one extra row: empty when the
    /// extra row is absent (this was the last page).
    pub fn next_token<T>(&self, rows: &mut Vec<T>, page: Page, key: impl Fn(&T) -> Uuid) -> String {
        if rows.len() as u64 > page.size {
            rows.truncate(page.size as usize);
            rows.last().map(|r| self.encode(key(r))).unwrap_or_default()
        } else {
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::secrets::SecretKey;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let secrets = Secrets::new(&SecretKey::from_bytes([1; 32]));
        let tokens = PageTokens::new(&secrets, "runners", b"f".to_vec());
        let id = Uuid::now_v7();
        let token = tokens.encode(id);
        assert_eq!(
            tokens.page(0, &token).unwrap(),
            Page {
                after: Some(id),
                size: 25
            }
        );
        assert_eq!(tokens.page(7, "").unwrap(), Page { after: None, size: 7 });

        let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        raw[3] ^= 1;
        assert!(tokens.page(0, &URL_SAFE_NO_PAD.encode(raw)).is_err());
        assert!(tokens.page(0, "garbage!").is_err());
        let other_filter = PageTokens::new(&secrets, "runners", b"g".to_vec());
        assert!(other_filter.page(0, &token).is_err());
    }
}
