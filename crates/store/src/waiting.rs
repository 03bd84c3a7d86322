//! How many callers are inside a wait right now, counted by a guard: the
//! count holds also when a waiting future is dropped half-way (a request
//! cancelled while it waited).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts its holder in `count` for as long as it lives.
#[must_use = "the holder is counted only while this lives"]
pub struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    /// Adds one to `count` until the guard is dropped.
    pub fn enter(count: &'a AtomicUsize) -> Waiting<'a> {
        count.fetch_add(1, Ordering::AcqRel);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_while_held() {
        let count = AtomicUsize::new(0);
        let a = Waiting::enter(&count);
        let b = Waiting::enter(&count);
        assert_eq!(count.load(Ordering::Acquire), 2);
        drop(a);
        assert_eq!(count.load(Ordering::Acquire), 1);
        drop(b);
        assert_eq!(count.load(Ordering::Acquire), 0);
    }
}
