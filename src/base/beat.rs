//! Background work on a beat: the lease flusher, the liveness sweep and
//! audit pruning all run as `while beat.next(&mut stop).await { … }`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub struct Beat {
    ticks: tokio::time::Interval,
}

impl Beat {
    /// A beat every `every`; the first comes at once. Work that runs long
    /// delays the next beat rather than making beats bunch up.
    pub fn new(every: Duration) -> Beat {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Beat { ticks }
    }

    /// Waits for the next beat: true, or false once `stop` has resolved.
    pub async fn next<S: Future<Output = ()>>(&mut self, stop: &mut Pin<&mut S>) -> bool {
        tokio::select! {
            _ = self.ticks.tick() => true,
            _ = stop.as_mut() => false,
        }
    }
}

/// Work kept in memory and written in batches (leases, token use): `flush`
/// on every beat of `every` until `stop` resolves, then once more, so that
/// nothing noted before the shutdown is lost. A failed flush is retried with
/// the next beat (the book keeps what it could not write).
pub async fn flush_on_beat<F, Fut, T, E>(what: &str, every: Duration, stop: impl Future<Output = ()>, mut flush: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut beat = Beat::new(every);
    tokio::pin!(stop);
    while beat.next(&mut stop).await {
        if let Err(e) = flush().await {
            tracing::warn!(error = %e, "{what} failed; retrying at the next beat");
        }
    }
    if let Err(e) = flush().await {
        tracing::warn!(error = %e, "{what} at shutdown failed");
    }
}
