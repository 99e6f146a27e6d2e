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
        if let Err(e) = store::leases::write(db, &ids, earliest).await {
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

/// When a runner stops counting as alive, and when it is forgotten.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub lease: Duration,
    pub grace: Duration,
    /// INACTIVE runners are removed after this long without a lease.
    pub gc_after: Option<Duration>,
}

impl Policy {
    pub fn from_settings(settings: &crate::config::Settings) -> Policy {
        Policy {
            lease: settings.runner_lease,
            grace: settings.runner_lease_grace,
            gc_after: settings.runner_gc_after,
        }
    }

    /// How often the sweep runs: a third of the grace, between 50 ms and 5 s,
    /// so a runner is INACTIVE at most that long after lease + grace.
    pub fn sweep_interval(&self) -> Duration {
        (self.grace / 3).clamp(Duration::from_millis(50), Duration::from_secs(5))
    }

    fn before(now: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
        chrono::Duration::from_std(span)
            .ok()
            .and_then(|span| now.checked_sub_signed(span))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Leases older than this have run out.
    pub fn expiry_cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        Self::before(now, self.lease + self.grace)
    }

    /// INACTIVE runners with no lease since this are removed.
    pub fn gc_cutoff(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.gc_after
            .map(|after| Self::before(now, self.lease + self.grace + after))
    }
}

/// One sweep: runners whose lease ran out become INACTIVE, and (when set)
/// long-INACTIVE runners are removed. Safe to run on every replica at once.
pub async fn sweep(db: &Db, policy: &Policy) -> crate::error::Result<()> {
    let now = Utc::now();
    for expired in store::leases::expire(db, policy.expiry_cutoff(now), now).await? {
        tracing::info!(
            runner_id = %expired.runner_id,
            last_lease = %expired.last_lease,
            "runner INACTIVE: no heartbeat within lease and grace"
        );
    }
    if let Some(cutoff) = policy.gc_cutoff(now) {
        for runner_id in store::leases::collect(db, cutoff).await? {
            tracing::info!(%runner_id, "runner removed: INACTIVE for longer than --runner-gc-after");
        }
    }
    Ok(())
}

/// Sweeps every `policy.sweep_interval()` until `stop` resolves.
pub async fn run_sweeper(db: Db, policy: Policy, stop: impl std::future::Future<Output = ()>) {
    let mut ticks = tokio::time::interval(policy.sweep_interval());
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut stop => return,
        }
        if let Err(e) = sweep(&db, &policy).await {
            tracing::warn!(error = %e, "the runner liveness sweep failed; retrying at the next tick");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_runs_out_after_lease_and_grace_and_is_collected_after_gc() {
        let policy = Policy {
            lease: Duration::from_secs(30),
            grace: Duration::from_secs(15),
            gc_after: Some(Duration::from_secs(3600)),
        };
        let now = Utc::now();
        assert_eq!(now - policy.expiry_cutoff(now), chrono::Duration::seconds(45));
        assert_eq!(
            policy.gc_cutoff(now).map(|c| now - c),
            Some(chrono::Duration::seconds(3645))
        );
        assert_eq!(policy.sweep_interval(), Duration::from_secs(5));
        let off = Policy {
            gc_after: None,
            ..policy
        };
        assert_eq!(off.gc_cutoff(now), None);
    }
}
