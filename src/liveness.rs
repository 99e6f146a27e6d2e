//! Runner leases without a durable write per heartbeat: MarkRunnerActive of a
//! runner that is already ACTIVE lands in this replica's `LeaseBook`, and one
//! statement every flush interval writes all of them. A crash loses at most
//! one interval of lease timestamps (never a status report, never a phase).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::store::{self, Db};

/// Leases received on this replica and not yet written.
#[derive(Debug, Default)]
pub struct LeaseBook {
    pending: Mutex<HashMap<Uuid, DateTime<Utc>>>,
}

impl LeaseBook {
    /// Notes a lease; the earliest unwritten one of a runner is what counts.
    pub fn record(&self, runner_id: Uuid, at: DateTime<Utc>) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.entry(runner_id).or_insert(at);
        }
    }

    /// Writes every pending lease in one statement, stamped with the earliest
    /// of them (a lease is never recorded as later than it came).
    pub async fn flush(&self, db: &Db) -> crate::error::Result<usize> {
        let batch: Vec<(Uuid, DateTime<Utc>)> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return Ok(0),
        };
        let Some(earliest) = batch.iter().map(|(_, at)| *at).min() else {
            return Ok(0);
        };
        let ids: Vec<Uuid> = batch.iter().map(|(id, _)| *id).collect();
        if let Err(e) = store::interaction::write_leases(db, &ids, earliest).await {
            // keep them for the next flush rather than lose them
            if let Ok(mut pending) = self.pending.lock() {
                for (id, at) in batch {
                    pending.entry(id).or_insert(at);
                }
            }
            return Err(e);
        }
        Ok(ids.len())
    }
}

/// How often pending leases are written: a quarter of the lease, at most 2 s.
pub fn flush_interval(lease: Duration) -> Duration {
    (lease / 4).clamp(Duration::from_millis(50), Duration::from_secs(2))
}

/// Flushes the book every interval until `stop` resolves, then once more.
pub async fn run_flusher(
    book: std::sync::Arc<LeaseBook>,
    db: Db,
    every: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut stop => break,
        }
        if let Err(e) = book.flush(&db).await {
            tracing::warn!(error = %e, "writing runner leases failed; retrying at the next flush");
        }
    }
    if let Err(e) = book.flush(&db).await {
        tracing::warn!(error = %e, "writing runner leases at shutdown failed");
    }
}
