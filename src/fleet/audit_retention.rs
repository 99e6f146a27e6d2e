//! Audit log retention: entries older than `--audit-retention` are deleted
//! in batches of a thousand, a short transaction each, so pruning a year of
//! history never holds the database for long. Every replica may run it.

use std::time::Duration;

use chrono::Utc;

use crate::store::{self, Db};

const BATCH: u64 = 1_000;

/// Batches per tick: a backlog of millions goes over several ticks, so a
/// shutdown never waits for all of it.
const BATCHES_PER_TICK: u32 = 100;

/// Deletes entries older than `retention`, at most `BATCHES_PER_TICK`
/// batches of them; how many went.
pub async fn prune(db: &Db, retention: Duration) -> crate::base::error::Result<u64> {
    let Some(before) = chrono::Duration::from_std(retention)
        .ok()
        .and_then(|r| Utc::now().checked_sub_signed(r))
    else {
        return Ok(0);
    };
    let mut removed = 0;
    for _ in 0..BATCHES_PER_TICK {
        let batch = store::audit::prune(db, before, BATCH).await?;
        removed += batch;
        if batch < BATCH {
            return Ok(removed);
        }
        // let other writers in between batches (SQLite has one writer)
        tokio::task::yield_now().await;
    }
    Ok(removed)
}

/// Prunes every `every` until `stop` resolves.
pub async fn run_pruner(db: Db, retention: Duration, every: Duration, stop: impl std::future::Future<Output = ()>) {
    let mut beat = crate::base::beat::Beat::new(every);
    tokio::pin!(stop);
    while beat.next(&mut stop).await {
        match prune(&db, retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "pruned audit log entries older than --audit-retention"),
            Err(e) => tracing::warn!(error = %e, "pruning the audit log failed; retrying at the next tick"),
        }
    }
}
