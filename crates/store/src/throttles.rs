//! Attempt counters with lockouts, shared by every server process through
//! the database: "at most 5 attempts in 15 minutes, then a 15-minute lock".
//!
//! An attempt is counted *before* the slow check it guards (a password
//! verification takes milliseconds), so a burst of parallel guesses cannot
//! slip past the limit while the first ones are still being checked. A
//! success then gives its attempts back ([`Store::throttle_clear`] or
//! [`Store::throttle_refund`]).

use regain_domain::clock::Timestamp;

use crate::rows::int;
use crate::{Store, StoreError};

/// When a key gets locked, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRule {
    /// Attempts allowed within `window_secs`; the next one is refused and locks.
    pub max_attempts: u32,
    /// Length of the counting window.
    pub window_secs: i64,
    /// Length of the lock.
    pub lock_secs: i64,
}

impl Store {
    /// Counts one attempt for `key`. Returns `Some(until)` when the attempt
    /// is refused: the key is locked, or this attempt exceeded the limit and
    /// locked it.
    pub async fn throttle_attempt(
        &self,
        key: &str,
        rule: ThrottleRule,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        let mut tx = self.begin().await?;
        // The upsert locks the row (PostgreSQL) or the database (SQLite,
        // BEGIN IMMEDIATE) until commit, so concurrent attempts serialize.
        let row = sqlx::query(
            "INSERT INTO throttles (key, failures, window_start, locked_until) VALUES ($1, 1, $2, 0) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN throttles.locked_until > $2 THEN throttles.failures \
                               WHEN throttles.window_start + $3 <= $2 THEN 1 \
                               ELSE throttles.failures + 1 END, \
               window_start = CASE WHEN throttles.locked_until > $2 THEN throttles.window_start \
                                   WHEN throttles.window_start + $3 <= $2 THEN $2 \
                                   ELSE throttles.window_start END \
             RETURNING failures, locked_until",
        )
        .bind(key)
        .bind(now.0)
        .bind(rule.window_secs)
        .fetch_one(&mut *tx)
        .await?;
        let locked_until = int(&row, "locked_until")?;
        let attempts = int(&row, "failures")?;
        let refused = if locked_until > now.0 {
            Some(Timestamp(locked_until))
        } else if attempts > i64::from(rule.max_attempts.max(1)) {
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
        Ok(refused)
    }

    /// Gives one attempt back (a success that should not count).
    pub async fn throttle_refund(&self, key: &str) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "UPDATE throttles SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END WHERE key = $1",
        )
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the attempts of `key` and lifts its lock.
    pub async fn throttle_clear(&self, key: &str) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        sqlx::query("DELETE FROM throttles WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

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

    /// Deletes what has expired: counters idle for a day and not locked,
    /// and dead CAPTCHA challenges. Keeps the tables from growing without
    /// bound under identifier spraying.
    pub async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let throttles =
            sqlx::query("DELETE FROM throttles WHERE locked_until <= $1 AND window_start <= $2")
                .bind(now.0)
                .bind(now.plus_secs(-86_400).0)
                .execute(&mut *tx)
                .await?;
        let captchas = sqlx::query("DELETE FROM captchas WHERE expires_at <= $1")
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        // Finished messages a week old, and flows a day past their end.
        let week_ago = now.plus_secs(-7 * 86_400).0;
        let day_ago = now.plus_secs(-86_400).0;
        let flows = sqlx::query("DELETE FROM recovery_flows WHERE expires_at <= $1")
            .bind(day_ago)
            .execute(&mut *tx)
            .await?;
        let messages = sqlx::query(
            "DELETE FROM outbox WHERE state IN ('sent', 'failed') AND created_at <= $1 \
             AND id NOT IN (SELECT last_message_id FROM recovery_flows WHERE last_message_id IS NOT NULL)",
        )
        .bind(week_ago)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(throttles.rows_affected()
            + captchas.rows_affected()
            + flows.rows_affected()
            + messages.rows_affected())
    }
}
