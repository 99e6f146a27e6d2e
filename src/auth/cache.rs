//! A bounded cache of verified bearer tokens, so that authenticating a call
//! does not cost database round trips every time. An entry is trusted for at
//! most `ttl` (5 s by default): a token revoked by another replica stops
//! working within that; revocations on this replica take effect at once
//! (`forget_runner`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::base::principal::Principal;

pub const DEFAULT_TTL: Duration = Duration::from_secs(5);
pub const DEFAULT_CAPACITY: usize = 10_000;

struct Entry {
    principal: Principal,
    verified: Instant,
    expires_at: Option<DateTime<Utc>>,
}

pub struct TokenCache {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    ttl: Duration,
    capacity: usize,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::new(DEFAULT_TTL, DEFAULT_CAPACITY)
    }
}

impl TokenCache {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        TokenCache {
            entries: Mutex::new(HashMap::new()),
            ttl,
            capacity,
        }
    }

    /// The principal of a token verified less than `ttl` ago and not expired.
    pub fn get(&self, hash: &[u8; 32]) -> Option<Principal> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(hash)?;
        let fresh = entry.verified.elapsed() < self.ttl && entry.expires_at.is_none_or(|e| e > Utc::now());
        fresh.then(|| entry.principal.clone())
    }

    pub fn put(&self, hash: [u8; 32], principal: Principal, expires_at: Option<DateTime<Utc>>) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= self.capacity {
            // drop what is stale; if everything is fresh, start over rather than grow
            let ttl = self.ttl;
            entries.retain(|_, e| e.verified.elapsed() < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(
            hash,
            Entry {
                principal,
                verified: Instant::now(),
                expires_at,
            },
        );
    }

    /// Forgets one token (it was revoked here).
    pub fn forget(&self, hash: &[u8; 32]) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(hash);
        }
    }

    /// Forgets a token by its hash as stored (a revoked row's `hash`).
    pub fn forget_stored(&self, hash: &[u8]) {
        if let Ok(hash) = <[u8; 32]>::try_from(hash) {
            self.forget(&hash);
        }
    }

    /// Forgets every token of a runner (it was deleted here).
    pub fn forget_runner(&self, runner_id: Uuid) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, e| !matches!(e.principal, Principal::Runner { id, .. } if id == runner_id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(id: Uuid) -> Principal {
        Principal::Runner {
            id,
            organization_id: Uuid::nil(),
        }
    }

    #[test]
    fn entries_expire_are_bounded_and_forgotten() {
        let cache = TokenCache::new(Duration::from_millis(50), 2);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        cache.put([1; 32], runner(a), None);
        assert_eq!(cache.get(&[1; 32]), Some(runner(a)));
        cache.forget_runner(a);
        assert_eq!(cache.get(&[1; 32]), None);

        cache.put([2; 32], runner(b), Some(Utc::now() - chrono::Duration::seconds(1)));
        assert_eq!(cache.get(&[2; 32]), None, "an expired token is not served");

        cache.put([3; 32], runner(b), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get(&[3; 32]), None, "older than the TTL: verify again");

        for i in 0..10u8 {
            cache.put([i; 32], runner(b), None);
        }
        assert!(cache.entries.lock().unwrap().len() <= 2);
    }
}
