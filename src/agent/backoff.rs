//! Retry delays when the server cannot be reached: exponential with full
//! jitter, so a fleet that lost its control plane does not come back in
//! one synchronized wave.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff { base, cap, attempt: 0 }
    }

    /// The next delay: uniformly random in [0, min(cap, base·2^attempt)].
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        ceiling.mul_f64(random_fraction())
    }

    /// A call went through: the next failure starts from `base` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// `span` less up to `fraction` of it, at random: spreads periodic calls of
/// many agents started at the same moment.
pub fn jittered(span: Duration, fraction: f64) -> Duration {
    span.mul_f64(1.0 - fraction * random_fraction())
}

/// A random number in [0, 1).
fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    // without randomness the delay is the ceiling: still correct, only less spread
    if getrandom::fill(&mut bytes).is_err() {
        return 0.999;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_reset() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let ceilings = [100, 200, 400, 800, 1600, 2000, 2000];
        for ceiling in ceilings {
            let delay = backoff.next_delay();
            assert!(delay <= Duration::from_millis(ceiling), "{delay:?} > {ceiling}ms");
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
        for _ in 0..100 {
            backoff.next_delay();
        }
        assert!(backoff.next_delay() <= Duration::from_secs(2));
    }

    #[test]
    fn jitter_only_shortens() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(30), 0.1);
            assert!(d <= Duration::from_secs(30) && d >= Duration::from_secs(27));
        }
    }
}
