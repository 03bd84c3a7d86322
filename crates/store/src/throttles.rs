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
use crate::write::WriteTx;
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

/// A write that first counts attempts on some keys: done, or refused at
/// the first key over its limit (the attempts before it are counted and
/// nothing else is written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted<T> {
    /// Counted and written.
    Done(T),
    /// `index` is the refused key; it is locked `until`.
    Refused {
        /// Which key of the list.
        index: usize,
        /// The end of its lock.
        until: Timestamp,
    },
}

/// Counts `attempts` inside the caller's transaction; the first refusal
/// (the keys after it are not counted).
pub(crate) async fn count_in(
    tx: &mut WriteTx,
    attempts: &[(&str, ThrottleRule)],
    now: Timestamp,
) -> Result<Option<(usize, Timestamp)>, StoreError> {
    for (i, (key, rule)) in attempts.iter().enumerate() {
        let row = count_one(tx, key, *rule, now).await?;
        if let Some(until) = judge(tx, key, *rule, now, &row).await? {
            return Ok(Some((i, until)));
        }
    }
    Ok(None)
}

/// Settles a success's counters inside the caller's transaction: forgets
/// the `clear` keys and gives one attempt of each `refund` key back, with
/// the commit (nothing after a success reads its counters again).
pub(crate) async fn settle_in(
    tx: &mut WriteTx,
    clear: &[&str],
    refund: &[&str],
) -> Result<(), StoreError> {
    for key in clear {
        tx.run(CLEAR, vec![(*key).into()]).await?;
    }
    for key in refund {
        tx.run(REFUND, vec![(*key).into()]).await?;
    }
    Ok(())
}

impl Store {
    /// Counts one attempt on `key`; returns `Some(until)` when the attempt
    /// is refused (the key is locked, or this attempt went over the limit
    /// and locked it).
    pub async fn throttle_attempt(
        &self,
        key: &str,
        rule: ThrottleRule,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        Ok(self
            .throttle_attempts(&[(key, rule)], now)
            .await?
            .map(|(_, until)| until))
    }

    /// Counts one attempt on each key in order, in one transaction, and
    /// stops at the first refusal: `Some((index, until))` names it (the
    /// keys after it are not counted).
    pub async fn throttle_attempts(
        &self,
        keys: &[(&str, ThrottleRule)],
        now: Timestamp,
    ) -> Result<Option<(usize, Timestamp)>, StoreError> {
        let mut tx = self.begin().await?;
        let refused = count_in(&mut tx, keys, now).await?;
        tx.commit().await?;
        Ok(refused)
    }

    /// Gives one attempt back (a success that should not count).
    pub async fn throttle_refund(&self, key: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        refund_in(&mut tx, key).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the attempts of `key` and lifts its lock.
    pub async fn throttle_clear(&self, key: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        clear_in(&mut tx, key).await?;
        tx.commit().await?;
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
                .fetch_optional(&mut *self.read().await?)
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

/// One attempt on `$1`, at `$2`, in a window of `$3` seconds. The upsert
/// locks the row (PostgreSQL) or the database (SQLite, BEGIN IMMEDIATE)
/// until commit, so concurrent attempts serialize.
const UPSERT: &str =
    "INSERT INTO throttles (key, failures, window_start, locked_until) VALUES ($1, 1, $2, 0) \
     ON CONFLICT (key) DO UPDATE SET \
       failures = CASE WHEN throttles.locked_until > $2 THEN throttles.failures \
                       WHEN throttles.window_start + $3 <= $2 THEN 1 \
                       ELSE throttles.failures + 1 END, \
       window_start = CASE WHEN throttles.locked_until > $2 THEN throttles.window_start \
                           WHEN throttles.window_start + $3 <= $2 THEN $2 \
                           ELSE throttles.window_start END";

const CLEAR: &str = "DELETE FROM throttles WHERE key = $1";

const REFUND: &str =
    "UPDATE throttles SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END WHERE key = $1";

/// Counts one attempt on `key` and returns its row (`failures`,
/// `locked_until`): with `RETURNING` on PostgreSQL, read back on SQLite
/// (see [`crate::lite::Conn::is_lite`]; the writer holds the database, so
/// the row read is the one just written).
async fn count_one(
    conn: &mut crate::lite::Conn,
    key: &str,
    rule: ThrottleRule,
    now: Timestamp,
) -> Result<sqlx::any::AnyRow, StoreError> {
    let lite = conn.is_lite();
    let sql = conn.returning(UPSERT, "failures, locked_until");
    let q = sqlx::query(&sql)
        .bind(key)
        .bind(now.0)
        .bind(rule.window_secs);
    if !lite {
        return Ok(q.fetch_one(&mut *conn).await?);
    }
    q.execute(&mut *conn).await?;
    Ok(
        sqlx::query("SELECT failures, locked_until FROM throttles WHERE key = $1")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Whether the counted attempt `row` of `key` is refused: the key is
/// locked, or this attempt went over the limit and locks it.
async fn judge(
    conn: &mut crate::lite::Conn,
    key: &str,
    rule: ThrottleRule,
    now: Timestamp,
    row: &sqlx::any::AnyRow,
) -> Result<Option<Timestamp>, StoreError> {
    let locked_until = int(row, "locked_until")?;
    let attempts = int(row, "failures")?;
    if locked_until > now.0 {
        return Ok(Some(Timestamp(locked_until)));
    }
    if attempts > i64::from(rule.max_attempts.max(1)) {
        let until = now.plus_secs(rule.lock_secs);
        sqlx::query(
            "UPDATE throttles SET failures = 0, window_start = $1, locked_until = $2 WHERE key = $3",
        )
        .bind(now.0)
        .bind(until.0)
        .bind(key)
        .execute(&mut *conn)
        .await?;
        return Ok(Some(until));
    }
    Ok(None)
}

/// Forgets `key` inside the caller's transaction.
pub(crate) async fn clear_in(conn: &mut crate::lite::Conn, key: &str) -> Result<(), StoreError> {
    sqlx::query(CLEAR).bind(key).execute(&mut *conn).await?;
    Ok(())
}

/// Gives one attempt of `key` back inside the caller's transaction.
pub(crate) async fn refund_in(conn: &mut crate::lite::Conn, key: &str) -> Result<(), StoreError> {
    sqlx::query(REFUND).bind(key).execute(&mut *conn).await?;
    Ok(())
}
