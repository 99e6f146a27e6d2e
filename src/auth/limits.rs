//! Limits on what one client may ask of the server: token buckets for the
//! calls a guesser or a broken client repeats (failed authentication, token
//! exchange), and a count of the watch streams each token holds open.
//!
//! Each replica counts on its own: with N replicas behind a balancer a client
//! gets up to N times the rate. That is the price of needing no shared store,
//! and the limits exist to make guessing hopeless and floods cheap to refuse,
//! not to meter anyone exactly.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys a bucket map holds at most; past it, a new key is not tracked (its
/// calls pass). The per-address buckets still hold a flood of fresh tokens,
/// and a client cannot grow the server's memory without bound.
const MAX_KEYS: usize = 100_000;

/// The limits a server enforces (0 turns one off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// Failed authentications allowed per minute from one client address.
    pub failed_auth_per_address: u32,
    /// Failed authentications allowed per minute with one token.
    pub failed_auth_per_token: u32,
    /// ExchangeToken calls allowed per minute from one client address.
    pub exchange_per_address: u32,
    /// ExchangeToken calls allowed per minute with one exchange token.
    pub exchange_per_token: u32,
    /// Watch streams one token may hold open at once.
    pub watches_per_token: u32,
    /// The largest request message, in bytes (after decompression).
    pub max_message_bytes: usize,
    /// The largest request header block, in bytes (each header counted as
    /// its name, its value and 32 bytes, as HTTP/2 counts them).
    pub max_header_bytes: u32,
    /// Calls in flight at once on one HTTP/2 connection.
    pub streams_per_connection: u32,
    /// A connection with no call in flight closes after this long without
    /// traffic (zero: never).
    pub idle_timeout: Duration,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            failed_auth_per_address: 60,
            failed_auth_per_token: 10,
            exchange_per_address: 60,
            exchange_per_token: 10,
            watches_per_token: 16,
            max_message_bytes: 4 * 1024 * 1024,
            max_header_bytes: 16 * 1024,
            streams_per_connection: 100,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// A caller was refused for going over a limit; it may try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverLimit {
    pub retry_after: Duration,
}

/// Token buckets, one per key: `per_minute` calls at once, refilled evenly
/// over a minute.
#[derive(Debug)]
pub struct RateLimiter<K> {
    per_minute: u32,
    buckets: Mutex<HashMap<K, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refill_rate(&self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> Bucket {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        Bucket {
            tokens: (bucket.tokens + elapsed * self.refill_rate()).min(f64::from(self.per_minute)),
            at: now,
        }
    }

    fn wait_for_one(&self, bucket: Bucket) -> OverLimit {
        let missing = (1.0 - bucket.tokens).max(0.0);
        OverLimit {
            retry_after: Duration::from_secs_f64(missing / self.refill_rate()).max(Duration::from_millis(1)),
        }
    }

    /// Refused when `key` has no call left, without spending one.
    pub fn check(&self, key: &K) -> Result<(), OverLimit> {
        self.check_at(key, Instant::now())
    }

    /// Spends one call of `key`'s; refused when none is left.
    pub fn spend(&self, key: &K) -> Result<(), OverLimit> {
        self.spend_at(key, Instant::now())
    }

    fn check_at(&self, key: &K, now: Instant) -> Result<(), OverLimit> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match buckets.get(key) {
            Some(bucket) => {
                let bucket = self.refilled(*bucket, now);
                if bucket.tokens >= 1.0 {
                    Ok(())
                } else {
                    Err(self.wait_for_one(bucket))
                }
            }
            None => Ok(()),
        }
    }

    fn spend_at(&self, key: &K, now: Instant) -> Result<(), OverLimit> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let full = Bucket {
            tokens: f64::from(self.per_minute),
            at: now,
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !buckets.contains_key(key) && buckets.len() >= MAX_KEYS {
            self.forget_full(&mut buckets, now);
            if buckets.len() >= MAX_KEYS {
                return Ok(());
            }
        }
        let bucket = buckets.entry(key.clone()).or_insert(full);
        *bucket = self.refilled(*bucket, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(self.wait_for_one(*bucket))
        }
    }

    /// Drops the buckets that have refilled: a full bucket is the same as none.
    fn forget_full(&self, buckets: &mut HashMap<K, Bucket>, now: Instant) {
        let cap = f64::from(self.per_minute);
        buckets.retain(|_, bucket| self.refilled(*bucket, now).tokens < cap);
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or_default()
    }
}

/// The open watch streams of each token.
#[derive(Debug, Default)]
pub struct WatchCounter {
    open: Mutex<HashMap<[u8; 32], u32>>,
}

/// One open watch stream; dropping it (the stream ends) frees its place.
pub struct WatchSlot {
    counter: Arc<WatchCounter>,
    token: [u8; 32],
}

impl WatchCounter {
    /// A place for one more stream of `token`'s, when it holds fewer than `max`.
    pub fn open(self: &Arc<Self>, token: [u8; 32], max: u32) -> Option<WatchSlot> {
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let held = open.entry(token).or_default();
        if max != 0 && *held >= max {
            return None;
        }
        *held += 1;
        Some(WatchSlot {
            counter: self.clone(),
            token,
        })
    }

    #[cfg(test)]
    fn held(&self, token: &[u8; 32]) -> u32 {
        self.open
            .lock()
            .map(|o| o.get(token).copied().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut open = self
            .counter
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(held) = open.get_mut(&self.token) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                open.remove(&self.token);
            }
        }
    }
}

/// The address a call came from, as the connection it arrived on tells it.
/// Behind a proxy or a load balancer that is the proxy's: limit there too.
pub fn client_address(extensions: &http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<crate::protocol::connection::ConnectionInfo>()
        .and_then(|info| info.remote_addr)
        .map(|address| address.ip())
}

/// Every limit's state, shared by the calls of one server.
#[derive(Debug)]
pub struct Limits {
    pub settings: LimitSettings,
    pub failed_auth_by_address: RateLimiter<IpAddr>,
    pub failed_auth_by_token: RateLimiter<[u8; 32]>,
    pub exchange_by_address: RateLimiter<IpAddr>,
    pub exchange_by_token: RateLimiter<[u8; 32]>,
    pub watches: Arc<WatchCounter>,
}

impl Limits {
    pub fn new(settings: LimitSettings) -> Self {
        Limits {
            settings,
            failed_auth_by_address: RateLimiter::new(settings.failed_auth_per_address),
            failed_auth_by_token: RateLimiter::new(settings.failed_auth_per_token),
            exchange_by_address: RateLimiter::new(settings.exchange_per_address),
            exchange_by_token: RateLimiter::new(settings.exchange_per_token),
            watches: Arc::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_until_it_refills() {
        let limiter = RateLimiter::new(60); // one a second
        let start = Instant::now();
        for _ in 0..60 {
            assert_eq!(limiter.spend_at(&"a", start), Ok(()));
        }
        let refused = limiter.spend_at(&"a", start).unwrap_err();
        assert!(refused.retry_after > Duration::from_millis(900) && refused.retry_after <= Duration::from_secs(1));
        assert!(limiter.check_at(&"a", start).is_err(), "checking sees the empty bucket");
        // another key has its own bucket
        assert_eq!(limiter.spend_at(&"b", start), Ok(()));
        // a second later there is one call again, and only one
        let later = start + Duration::from_secs(1);
        assert_eq!(limiter.check_at(&"a", later), Ok(()));
        assert_eq!(limiter.spend_at(&"a", later), Ok(()));
        assert!(limiter.spend_at(&"a", later).is_err());
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limiter = RateLimiter::new(0);
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(limiter.spend_at(&1u8, now), Ok(()));
        }
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn the_map_forgets_refilled_buckets_and_never_grows_past_its_bound() {
        let limiter = RateLimiter::new(60);
        let start = Instant::now();
        for key in 0..MAX_KEYS {
            assert_eq!(limiter.spend_at(&key, start), Ok(()));
        }
        // full: a new key passes untracked rather than growing the map
        assert_eq!(limiter.spend_at(&usize::MAX, start), Ok(()));
        assert_eq!(limiter.tracked(), MAX_KEYS);
        // once the old buckets have refilled they are forgotten to make room
        let later = start + Duration::from_secs(2);
        assert_eq!(limiter.spend_at(&usize::MAX, later), Ok(()));
        assert_eq!(limiter.tracked(), 1);
    }

    #[test]
    fn watch_slots_are_given_back_when_dropped() {
        let counter = Arc::new(WatchCounter::default());
        let token = [7u8; 32];
        let first = counter.open(token, 2).expect("first");
        let second = counter.open(token, 2).expect("second");
        assert!(counter.open(token, 2).is_none(), "a third is over the limit");
        assert!(counter.open([8u8; 32], 2).is_some(), "another token has its own count");
        drop(first);
        assert_eq!(counter.held(&token), 1);
        let third = counter.open(token, 2).expect("a place was freed");
        drop((second, third));
        assert_eq!(counter.held(&token), 0);
    }
}
