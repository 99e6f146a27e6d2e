//! When each token was last used, kept cheaply: authenticating a call never
//! writes. A token verified from the database (at most once per cache TTL
//! per replica) whose recorded last use is over a minute old is noted here,
//! and the notes are written in batches — one statement per 500 tokens —
//! every few seconds (`flush_interval`). `last_used` is therefore accurate to about a minute.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::base::beat::flush_on_beat;
use crate::store::{self, Db};

/// A recorded last use younger than this is left as it is.
pub const PRECISION: Duration = Duration::from_secs(60);
/// How often the notes are written: as often as a cached token is checked
/// again (`--token-cache-ttl`), between 100 ms and 10 s.
pub fn flush_interval(token_cache_ttl: Duration) -> Duration {
    token_cache_ttl.clamp(Duration::from_millis(100), Duration::from_secs(10))
}

#[derive(Debug, Default)]
pub struct UsageBook {
    used: Mutex<HashSet<Uuid>>,
}

impl UsageBook {
    /// Notes a use of `token_id` if its recorded last use is stale.
    pub fn note(&self, token_id: Uuid, recorded: Option<DateTime<Utc>>, now: DateTime<Utc>) {
        let stale = recorded.is_none_or(|at| now.signed_duration_since(at).to_std().is_ok_and(|age| age >= PRECISION));
        if stale && let Ok(mut used) = self.used.lock() {
            used.insert(token_id);
        }
    }

    fn take(&self) -> Vec<Uuid> {
        self.used
            .lock()
            .map(|mut used| used.drain().collect())
            .unwrap_or_default()
    }

    /// Writes the notes taken since the last flush, as used now.
    pub async fn flush(&self, db: &Db) -> crate::base::error::Result<()> {
        let ids = self.take();
        if ids.is_empty() {
            return Ok(());
        }
        let written = store::tokens::mark_used(db, &ids, Utc::now()).await;
        if written.is_err()
            && let Ok(mut used) = self.used.lock()
        {
            // kept for the next beat, as the lease book keeps its leases
            used.extend(ids);
        }
        written
    }
}

/// Flushes every `every` until `stop`, and once more then.
pub async fn run_flusher(
    book: std::sync::Arc<UsageBook>,
    db: Db,
    every: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    flush_on_beat("recording token use", every, stop, || book.flush(&db)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stale_uses_are_noted_once() {
        let book = UsageBook::default();
        let now = Utc::now();
        let (fresh, stale, never) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        book.note(fresh, Some(now - chrono::Duration::seconds(5)), now);
        book.note(stale, Some(now - chrono::Duration::seconds(61)), now);
        book.note(never, None, now);
        book.note(never, None, now);
        let mut taken = book.take();
        taken.sort();
        let mut expected = vec![stale, never];
        expected.sort();
        assert_eq!(taken, expected);
        assert!(book.take().is_empty());
    }
}
