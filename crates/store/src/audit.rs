//! The audit log: append-only, each event chained to the previous one by a
//! SHA-256 over its content and the previous hash, so that editing or
//! deleting a row breaks every hash after it.

use regain_domain::clock::Timestamp;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::rows::{opt_text, text};
use crate::{Backend, StoreError};

/// One security-relevant event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Tenant, if the event belongs to one.
    pub tenant_id: Option<i64>,
    /// What happened, e.g. `password.reset`.
    pub action: String,
    /// Who did it, e.g. `account:12`, `recovery`, `operator`.
    pub actor: String,
    /// To whom, e.g. `account:12`.
    pub subject: String,
    /// Client address, or `-`.
    pub ip: String,
    /// `success`, `failure`, `denied`…
    pub outcome: String,
}

/// The chained hash of an event.
pub fn event_hash(prev_hash: &str, at: Timestamp, e: &AuditEvent) -> String {
    let mut h = Sha256::new();
    for part in [
        prev_hash,
        &at.0.to_string(),
        &e.tenant_id.map(|t| t.to_string()).unwrap_or_default(),
        &e.action,
        &e.actor,
        &e.subject,
        &e.ip,
        &e.outcome,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends `e` inside the caller's transaction.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    backend: Backend,
    e: &AuditEvent,
    now: Timestamp,
) -> Result<(), StoreError> {
    if backend == Backend::Postgres {
        // One appender at a time keeps the chain linear.
        sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(7365242)) AS l")
            .fetch_one(&mut *conn)
            .await?;
    }
    let prev = sqlx::query("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    let prev_hash = match prev {
        Some(row) => opt_text(&row, "hash")?.unwrap_or_default(),
        None => String::new(),
    };
    let hash = event_hash(&prev_hash, now, e);
    sqlx::query(
        "INSERT INTO audit_events (tenant_id, at, action, actor, subject, ip, outcome, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(e.tenant_id)
    .bind(now.0)
    .bind(e.action.as_str())
    .bind(e.actor.as_str())
    .bind(e.subject.as_str())
    .bind(e.ip.as_str())
    .bind(e.outcome.as_str())
    .bind(prev_hash.as_str())
    .bind(hash.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl crate::Store {
    /// Appends an event in a transaction of its own.
    pub async fn audit(&self, e: &AuditEvent, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        append(&mut tx, self.backend, e, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The most recent events (newest first), for tests and the CLI.
    pub async fn audit_tail(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT action, subject, outcome FROM audit_events ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((text(r, "action")?, text(r, "subject")?, text(r, "outcome")?)))
            .collect()
    }
}
