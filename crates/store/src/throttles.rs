//! Failure counters with lockouts, shared by every server process through
//! the database: "5 failures in 15 minutes locks for 15 minutes".

use regain_domain::clock::Timestamp;

use crate::rows::int;
use crate::{Store, StoreError};

/// When a key gets locked, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRule {
    /// Failures within `window_secs` that trigger a lock.
    pub max_failures: u32,
    /// Length of the counting window.
    pub window_secs: i64,
    /// Length of the lock.
    pub lock_secs: i64,
}

impl Store {
    /// If `key` is locked at `now`, until when.
    pub async fn throttle_locked_until(
        &self,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        let row =
            sqlx::query("SELECT locked_until FROM throttles WHERE key = $1 AND locked_until > $2")
                .bind(key)
                .bind(now.0)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| int(&r, "locked_until").map(Timestamp))
            .transpose()
    }

    /// Counts one failure for `key`; returns the lock's end if this failure
    /// triggered one. The count restarts after a lock or an expired window.
    pub async fn throttle_failure(
        &self,
        key: &str,
        rule: ThrottleRule,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "INSERT INTO throttles (key, failures, window_start, locked_until) VALUES ($1, 1, $2, 0) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN throttles.window_start + $3 <= $2 THEN 1 ELSE throttles.failures + 1 END, \
               window_start = CASE WHEN throttles.window_start + $3 <= $2 THEN $2 ELSE throttles.window_start END \
             RETURNING failures",
        )
        .bind(key)
        .bind(now.0)
        .bind(rule.window_secs)
        .fetch_one(&mut *tx)
        .await?;
        let failures = int(&row, "failures")?;
        let locked = if failures >= i64::from(rule.max_failures.max(1)) {
            let until = now.plus_secs(rule.lock_secs);
            sqlx::query("UPDATE throttles SET failures = 0, window_start = $1, locked_until = $2 WHERE key = $3")
                .bind(now.0)
                .bind(until.0)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            Some(until)
        } else {
            None
        };
        tx.commit().await?;
        Ok(locked)
    }

    /// Forgets the failures of `key` (after a success).
    pub async fn throttle_clear(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM throttles WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
