//! Runner leases without a durable write per heartbeat: MarkRunnerActive of a
//! runner that is already ACTIVE lands in this replica's `LeaseBook`, and one
//! statement every flush interval writes all of them. A crash loses at most
//! one interval of lease timestamps (never a status report, never a phase).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::base::beat::{Beat, flush_on_beat};
use crate::store::{self, Db};

/// Leases received on this replica and not yet written.
#[derive(Debug, Default)]
pub struct LeaseBook {
    pending: Mutex<HashMap<Uuid, DateTime<Utc>>>,
    /// When writing leases last failed: the sweep holds back meanwhile, so a
    /// database outage does not turn into a fleet marked INACTIVE.
    last_failure: Mutex<Option<std::time::Instant>>,
}

impl LeaseBook {
    /// Notes a lease; the latest unwritten one of a runner is what counts.
    pub fn record(&self, runner_id: Uuid, at: DateTime<Utc>) {
        if let Ok(mut pending) = self.pending.lock() {
            let entry = pending.entry(runner_id).or_insert(at);
            *entry = (*entry).max(at);
        }
    }

    /// The runner's lease received here and not yet written.
    pub fn pending(&self, runner_id: Uuid) -> Option<DateTime<Utc>> {
        self.pending.lock().ok()?.get(&runner_id).copied()
    }

    /// Writes every pending lease: one statement per `granularity` slice of
    /// lease times (usually one), each stamped with the earliest lease in it,
    /// so no lease is recorded as later than it came nor more than a slice
    /// earlier.
    pub async fn flush(&self, db: &Db, granularity: Duration) -> crate::base::error::Result<usize> {
        let batch: Vec<(Uuid, DateTime<Utc>)> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return Ok(0),
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let slice = (granularity.as_millis() as i64).max(1);
        let mut slices: BTreeMap<i64, (DateTime<Utc>, Vec<Uuid>)> = BTreeMap::new();
        for (id, at) in &batch {
            let (earliest, ids) = slices
                .entry(at.timestamp_millis().div_euclid(slice))
                .or_insert((*at, Vec::new()));
            *earliest = (*earliest).min(*at);
            ids.push(*id);
        }
        for (earliest, ids) in slices.values() {
            if let Err(e) = store::leases::write(db, ids, *earliest).await {
                // keep them for the next flush rather than lose them (a newer
                // lease of the same runner, recorded meanwhile, wins)
                if let Ok(mut pending) = self.pending.lock() {
                    for (id, at) in batch {
                        let entry = pending.entry(id).or_insert(at);
                        *entry = (*entry).max(at);
                    }
                }
                self.failed();
                return Err(e);
            }
        }
        Ok(batch.len())
    }

    fn failed(&self) {
        if let Ok(mut last) = self.last_failure.lock() {
            *last = Some(std::time::Instant::now());
        }
    }

    /// Whether writing leases failed within `span`.
    pub fn failed_within(&self, span: Duration) -> bool {
        self.last_failure
            .lock()
            .ok()
            .and_then(|last| *last)
            .is_some_and(|at| at.elapsed() < span)
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
    flush_on_beat("writing runner leases", every, stop, || book.flush(&db, every)).await
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
        Self::before(now, self.lease.saturating_add(self.grace))
    }

    /// Runners INACTIVE since before the first, or DELETING with no lease
    /// since before the second, are removed; None when GC is off.
    pub fn gc_cutoffs(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.gc_after.map(|after| {
            (
                Self::before(now, after),
                Self::before(now, self.lease.saturating_add(self.grace).saturating_add(after)),
            )
        })
    }

    /// How long the sweep holds back after this replica starts or fails to
    /// write: every runner gets a whole lease and grace to be heard again.
    pub fn hold_back(&self) -> Duration {
        self.lease.saturating_add(self.grace)
    }
}

/// One sweep: runners whose lease ran out become INACTIVE, and (when set)
/// long-INACTIVE runners are removed. Safe to run on every replica at once.
pub async fn sweep(db: &Db, policy: &Policy) -> crate::base::error::Result<()> {
    let now = Utc::now();
    for expired in store::leases::expire(db, policy.expiry_cutoff(now), now).await? {
        tracing::info!(
            runner_id = %expired.runner_id,
            last_lease = %expired.last_lease,
            "runner INACTIVE: no heartbeat within lease and grace"
        );
    }
    if let Some((inactive, lease)) = policy.gc_cutoffs(now) {
        for runner_id in store::leases::collect(db, inactive, lease).await? {
            tracing::info!(%runner_id, "runner removed: INACTIVE (or DELETING and silent) for longer than --runner-gc-after");
        }
    }
    Ok(())
}

/// Sweeps every `policy.sweep_interval()` until `stop` resolves. Nothing
/// expires during the first lease + grace after start, nor within lease +
/// grace of a failed sweep or lease write: after an outage of the replicas
/// or the database, runners are first given the time to be heard again.
pub async fn run_sweeper(
    db: Db,
    book: std::sync::Arc<LeaseBook>,
    policy: Policy,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut quiet_until = tokio::time::Instant::now() + policy.hold_back();
    let mut beat = Beat::new(policy.sweep_interval());
    tokio::pin!(stop);
    while beat.next(&mut stop).await {
        if tokio::time::Instant::now() < quiet_until || book.failed_within(policy.hold_back()) {
            continue;
        }
        if let Err(e) = sweep(&db, &policy).await {
            quiet_until = tokio::time::Instant::now() + policy.hold_back();
            tracing::warn!(error = %e, "the runner liveness sweep failed; holding back for a lease and grace");
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
            policy
                .gc_cutoffs(now)
                .map(|(inactive, lease)| (now - inactive, now - lease)),
            Some((chrono::Duration::seconds(3600), chrono::Duration::seconds(3645)))
        );
        assert_eq!(policy.sweep_interval(), Duration::from_secs(5));
        assert_eq!(policy.hold_back(), Duration::from_secs(45));
        let off = Policy {
            gc_after: None,
            ..policy
        };
        assert_eq!(off.gc_cutoffs(now), None);
        let forever = Policy {
            gc_after: Some(Duration::MAX),
            ..policy
        };
        assert!(forever.gc_cutoffs(now).is_some(), "no overflow");
    }
}

#[cfg(test)]
mod book_tests {
    use super::*;

    #[test]
    fn a_runner_keeps_its_latest_lease() {
        let book = LeaseBook::default();
        let id = Uuid::now_v7();
        let now = Utc::now();
        book.record(id, now);
        book.record(id, now - chrono::Duration::seconds(5));
        let pending = book.pending.lock().unwrap();
        assert_eq!(pending.get(&id), Some(&now));
    }
}
