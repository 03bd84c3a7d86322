//! Injected time: the only way domain and services learn "now".

use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds since the Unix epoch, UTC. Storage keeps times in this form on
/// every backend, so comparisons are plain integer comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// This instant moved `secs` seconds forward (or back, if negative).
    pub fn plus_secs(self, secs: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs))
    }

    /// Whole seconds from `self` until `later` (zero when `later` is past).
    pub fn secs_until(self, later: Timestamp) -> i64 {
        (later.0 - self.0).max(0)
    }
}

/// A source of the current time. Production uses the system clock; tests use
/// [`ManualClock`] to move time forward instantly.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock(AtomicI64::new(start.0))
    }

    /// Moves the clock forward by `secs` seconds.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}
