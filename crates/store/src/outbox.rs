//! The transactional outbox: messages are queued in the same transaction as
//! the change that causes them, then claimed by a delivery worker under a
//! lease, so several server processes never send one message twice and a
//! crashed send is retried once its lease runs out.

use regain_domain::clock::Timestamp;
use sqlx::any::AnyRow;

use crate::lite::Conn;
use crate::rows::{int, opt_text, text};
use crate::sql::placeholders;
use crate::{Backend, Store, StoreError};

/// A delivery channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Email.
    Email,
    /// SMS.
    Sms,
}

impl Channel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }

    fn parse(s: &str) -> Result<Channel, StoreError> {
        match s {
            "email" => Ok(Channel::Email),
            "sms" => Ok(Channel::Sms),
            other => Err(StoreError::Corrupt(format!("outbox channel {other:?}"))),
        }
    }
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for the worker (first try or a retry).
    Queued,
    /// Claimed by a worker.
    Sending,
    /// Accepted by the next hop.
    Sent,
    /// Given up on.
    Failed,
}

impl DeliveryState {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sending => "sending",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<DeliveryState, StoreError> {
        match s {
            "queued" => Ok(DeliveryState::Queued),
            "sending" => Ok(DeliveryState::Sending),
            "sent" => Ok(DeliveryState::Sent),
            "failed" => Ok(DeliveryState::Failed),
            other => Err(StoreError::Corrupt(format!("outbox state {other:?}"))),
        }
    }
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Owning tenant.
    pub tenant_id: i64,
    /// Channel.
    pub channel: Channel,
    /// Email address or E.164 phone.
    pub recipient: String,
    /// Email subject (empty for SMS).
    pub subject: String,
    /// Text.
    pub body: String,
    /// Unique key a receiver can use to drop duplicates.
    pub idempotency_key: String,
}

/// A claimed message, ready to send.
#[derive(Clone)]
pub struct OutboxMessage {
    /// Row id.
    pub id: i64,
    /// Channel.
    pub channel: Channel,
    /// Email address or E.164 phone.
    pub recipient: String,
    /// Email subject.
    pub subject: String,
    /// Text (may hold a code: never log it).
    pub body: String,
    /// Unique key a receiver can use to drop duplicates.
    pub idempotency_key: String,
    /// Tries so far, this one included.
    pub attempts: i64,
    /// When it was queued.
    pub created_at: Timestamp,
}

impl std::fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("id", &self.id)
            .field("channel", &self.channel)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

fn message_from_row(row: &AnyRow) -> Result<OutboxMessage, StoreError> {
    Ok(OutboxMessage {
        id: int(row, "id")?,
        channel: Channel::parse(&text(row, "channel")?)?,
        recipient: text(row, "recipient")?,
        subject: text(row, "subject")?,
        body: text(row, "body")?,
        idempotency_key: text(row, "idempotency_key")?,
        attempts: int(row, "attempts")?,
        created_at: Timestamp(int(row, "created_at")?),
    })
}

/// Queues `m` on `conn`, inside the caller's transaction. Returns its id.
pub(crate) async fn enqueue(
    conn: &mut Conn,
    m: &NewMessage,
    now: Timestamp,
) -> Result<i64, StoreError> {
    // SQLite: the new row id, without a RETURNING clause (see
    // `Conn::is_lite`).
    let lite = conn.is_lite();
    let sql = conn.returning(ENQUEUE, "id");
    let q = sqlx::query(&sql)
        .bind(m.idempotency_key.as_str())
        .bind(m.tenant_id)
        .bind(m.channel.as_str())
        .bind(m.recipient.as_str())
        .bind(m.subject.as_str())
        .bind(m.body.as_str())
        .bind(now.0);
    if lite {
        let done = q.execute(conn).await?;
        return done
            .last_insert_id()
            .ok_or_else(|| StoreError::Corrupt("outbox: no id for a queued message".into()));
    }
    int(&q.fetch_one(conn).await?, "id")
}

const ENQUEUE: &str =
    "INSERT INTO outbox (idempotency_key, tenant_id, channel, recipient, subject, body, \
     state, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $7)";

impl Store {
    /// Queues messages in a transaction of their own.
    pub async fn enqueue_messages(
        &self,
        messages: &[NewMessage],
        now: Timestamp,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.begin().await?;
        let mut ids = Vec::with_capacity(messages.len());
        for m in messages {
            ids.push(enqueue(&mut tx, m, now).await?);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Claims up to `limit` of the oldest due messages for `lease_secs`,
    /// oldest first. A message whose lease ran out (its sender crashed) is
    /// due again. One write for the lot: on SQLite every write waits its
    /// turn at the single writer, behind the requests that queue messages.
    pub async fn claim_messages(
        &self,
        now: Timestamp,
        lease_secs: i64,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        // The due messages are taken in the order of `outbox_due` (queued
        // before lease-expired, each oldest due first), which the index
        // gives without sorting the whole backlog. The outer conditions are
        // checked again on each row: a message another process claimed in
        // between is skipped, not taken twice. SQLite, which keeps no
        // statistics, would walk `outbox_due` over every queued message to
        // find the few ids picked; `NOT INDEXED` makes it look them up by id
        // (a claim of 32 from a backlog of 3,000: 2.9 ms → 0.2 ms).
        let target = if self.backend == Backend::Sqlite {
            "outbox NOT INDEXED"
        } else {
            "outbox"
        };
        let sql = format!(
            "UPDATE {target} SET state = 'sending', lease_until = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE state IN ('queued', 'sending') \
                          AND next_attempt_at <= $2 AND lease_until <= $2 \
                          ORDER BY state, next_attempt_at, id LIMIT $3) \
               AND state IN ('queued', 'sending') AND lease_until <= $2 \
             RETURNING id, channel, recipient, subject, body, idempotency_key, attempts, created_at"
        );
        let mut tx = self.begin().await?;
        let rows = sqlx::query(&sql)
            .bind(now.plus_secs(lease_secs).0)
            .bind(now.0)
            .bind(i64::from(limit.max(1)))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut claimed = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    /// Records delivered messages, in one write.
    pub async fn messages_sent(&self, ids: &[i64], now: Timestamp) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        // The body may hold a code: once delivered it is no longer kept.
        let sql = format!(
            "UPDATE outbox SET state = 'sent', sent_at = $1, lease_until = 0, last_error = NULL, \
             subject = '', body = '' WHERE id IN ({})",
            placeholders(2, ids.len())
        );
        let mut q = sqlx::query(&sql).bind(now.0);
        for id in ids {
            q = q.bind(*id);
        }
        let mut w = self.writer().await?;
        q.execute(&mut *w).await?;
        w.commit().await?;
        Ok(())
    }

    /// Hands claimed messages back unsent, due at once and their attempt
    /// not counted: a sender that ran short of its lease stops before it
    /// could be taken over while still sending.
    pub async fn release_messages(&self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE outbox SET state = 'queued', lease_until = 0, attempts = attempts - 1 \
             WHERE state = 'sending' AND id IN ({})",
            placeholders(1, ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(*id);
        }
        let mut w = self.writer().await?;
        q.execute(&mut *w).await?;
        w.commit().await?;
        Ok(())
    }

    /// Puts a message back in the queue until `next_attempt_at`.
    pub async fn message_retry(
        &self,
        id: i64,
        next_attempt_at: Timestamp,
        error_class: &str,
    ) -> Result<(), StoreError> {
        let mut w = self.writer().await?;
        sqlx::query(
            "UPDATE outbox SET state = 'queued', next_attempt_at = $1, lease_until = 0, last_error = $2 WHERE id = $3",
        )
        .bind(next_attempt_at.0)
        .bind(error_class)
        .bind(id)
        .execute(&mut *w)
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Gives up on a message.
    pub async fn message_failed(&self, id: i64, error_class: &str) -> Result<(), StoreError> {
        let mut w = self.writer().await?;
        sqlx::query(
            "UPDATE outbox SET state = 'failed', lease_until = 0, last_error = $1, subject = '', body = '' \
             WHERE id = $2",
        )
        .bind(error_class)
        .bind(id)
        .execute(&mut *w)
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// A message's state and the class of its last error.
    pub async fn message_status(
        &self,
        id: i64,
    ) -> Result<Option<(DeliveryState, Option<String>)>, StoreError> {
        let row = sqlx::query("SELECT state, last_error FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        row.map(|r| {
            Ok((
                DeliveryState::parse(&text(&r, "state")?)?,
                opt_text(&r, "last_error")?,
            ))
        })
        .transpose()
    }

    /// Messages waiting to be delivered (for the queue-depth gauge).
    pub async fn outbox_depth(&self) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE state IN ('queued', 'sending')")
                .fetch_one(&mut *self.read().await?)
                .await?;
        int(&row, "n")
    }

    /// How many messages went to `recipient` since `since`.
    pub async fn messages_to_since(
        &self,
        recipient: &str,
        since: Timestamp,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM outbox WHERE recipient = $1 AND created_at > $2",
        )
        .bind(recipient)
        .bind(since.0)
        .fetch_one(&mut *self.read().await?)
        .await?;
        int(&row, "n")
    }
}
