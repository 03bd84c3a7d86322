//! The audit log: append-only, each event chained to the previous one by a
//! SHA-256 over its content and the previous hash, so that editing,
//! deleting or reordering rows is detected by [`Store::verify_audit`].

use regain_domain::clock::Timestamp;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;

use crate::rows::{int, opt_int, text};
use crate::write::WriteTx;
use crate::{Backend, Store, StoreError};

/// One security-relevant event. `detail` is a small JSON object that never
/// holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Tenant, if the event belongs to one.
    pub tenant_id: Option<i64>,
    /// What happened, e.g. `password.reset`.
    pub action: String,
    /// Who did it, e.g. `account:12`, `recovery`, `operator`, `anonymous`.
    pub actor: String,
    /// To whom, e.g. `account:12`.
    pub subject: String,
    /// Client address, or `-`.
    pub ip: String,
    /// `success`, `failure`, `denied`…
    pub outcome: String,
    /// Extra facts, as JSON text (`{}` when none).
    pub detail: String,
}

impl AuditEvent {
    /// An event with an empty detail.
    pub fn new(
        tenant_id: Option<i64>,
        action: &str,
        actor: &str,
        subject: &str,
        ip: &str,
        outcome: &str,
    ) -> Self {
        AuditEvent {
            tenant_id,
            action: action.into(),
            actor: actor.into(),
            subject: subject.into(),
            ip: ip.into(),
            outcome: outcome.into(),
            detail: "{}".into(),
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Row id (the order of the chain).
    pub id: i64,
    /// When it happened.
    pub at: Timestamp,
    /// The event.
    pub event: AuditEvent,
    /// Hash of the previous row.
    pub prev_hash: String,
    /// Hash of this row.
    pub hash: String,
}

/// Which events to find.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The tenant.
    pub tenant_id: i64,
    /// Exact subject, e.g. `account:12`.
    pub subject: Option<String>,
    /// Exact actor.
    pub actor: Option<String>,
    /// Exact action, e.g. `login`.
    pub action: Option<String>,
    /// From this time on.
    pub since: Option<Timestamp>,
    /// Before this time.
    pub until: Option<Timestamp>,
}

/// What [`Store::verify_audit`] found wrong, naming the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditProblem {
    /// The row's content no longer matches its hash.
    Edited {
        /// The row.
        id: i64,
    },
    /// The row's predecessor in the chain is missing.
    Deleted {
        /// The row after the gap.
        id: i64,
    },
    /// The row's predecessor exists but elsewhere in the order.
    Reordered {
        /// The misplaced row.
        id: i64,
    },
}

impl std::fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditProblem::Edited { id } => write!(
                f,
                "row {id} was edited: its content does not match its hash"
            ),
            AuditProblem::Deleted { id } => write!(
                f,
                "the row before row {id} was deleted: the chain breaks there"
            ),
            AuditProblem::Reordered { id } => {
                write!(f, "row {id} is out of order: its predecessor is elsewhere")
            }
        }
    }
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
        &e.detail,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends `e` inside the caller's transaction. On SQLite the writer
/// usually knows the chain's last hash already (see [`WriteTx::audit_tail`]).
pub(crate) async fn append(
    tx: &mut WriteTx,
    backend: Backend,
    e: &AuditEvent,
    now: Timestamp,
) -> Result<(), StoreError> {
    if backend == Backend::Postgres {
        // One appender at a time keeps the chain linear.
        sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(7365242)) AS l")
            .fetch_one(&mut **tx)
            .await?;
    }
    let prev_hash = match tx.audit_tail() {
        Some(known) => known.to_string(),
        None => {
            let prev = sqlx::query("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut **tx)
                .await?;
            match prev {
                Some(row) => text(&row, "hash")?,
                None => String::new(),
            }
        }
    };
    let hash = event_hash(&prev_hash, now, e);
    // Nothing in a write reads its own audit rows back: the row goes with
    // the commit.
    tx.run(
        "INSERT INTO audit_events (tenant_id, at, action, actor, subject, ip, outcome, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        vec![
            e.tenant_id.into(),
            now.0.into(),
            e.action.as_str().into(),
            e.actor.as_str().into(),
            e.subject.as_str().into(),
            e.ip.as_str().into(),
            e.outcome.as_str().into(),
            e.detail.as_str().into(),
            prev_hash.as_str().into(),
            hash.as_str().into(),
        ],
    )
    .await?;
    tx.appended_audit(&hash);
    Ok(())
}

const COLUMNS: &str =
    "id, tenant_id, at, action, actor, subject, ip, outcome, detail, prev_hash, hash";

fn row_from(row: &AnyRow) -> Result<AuditRow, StoreError> {
    Ok(AuditRow {
        id: int(row, "id")?,
        at: Timestamp(int(row, "at")?),
        event: AuditEvent {
            tenant_id: opt_int(row, "tenant_id")?,
            action: text(row, "action")?,
            actor: text(row, "actor")?,
            subject: text(row, "subject")?,
            ip: text(row, "ip")?,
            outcome: text(row, "outcome")?,
            detail: text(row, "detail")?,
        },
        prev_hash: text(row, "prev_hash")?,
        hash: text(row, "hash")?,
    })
}

impl Store {
    /// Appends an event in a transaction of its own.
    pub async fn audit(&self, e: &AuditEvent, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        append(&mut tx, self.backend, e, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Events, newest first, optionally of one tenant, before row `before`.
    pub async fn audit_events(
        &self,
        tenant_id: Option<i64>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_events WHERE id < $1 {} ORDER BY id DESC LIMIT $2",
            if tenant_id.is_some() {
                "AND tenant_id = $3"
            } else {
                ""
            }
        );
        let mut q = sqlx::query(&sql)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit);
        if let Some(t) = tenant_id {
            q = q.bind(t);
        }
        let rows = q.fetch_all(&mut *self.read().await?).await?;
        rows.iter().map(row_from).collect()
    }

    /// Events matching `filter`, newest first, with ids below `before`.
    pub async fn find_audit_events(
        &self,
        filter: &AuditFilter,
        before: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let mut clauses = vec!["id < $1".to_string(), "tenant_id = $2".to_string()];
        let mut texts: Vec<&str> = Vec::new();
        for (column, value) in [
            ("subject", &filter.subject),
            ("actor", &filter.actor),
            ("action", &filter.action),
        ] {
            if let Some(v) = value {
                texts.push(v.as_str());
                clauses.push(format!("{column} = ${}", 3 + texts.len()));
            }
        }
        let since_at = 4 + texts.len();
        clauses.push(format!("at >= ${since_at} AND at < ${}", since_at + 1));
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_events WHERE {} ORDER BY id DESC LIMIT $3",
            clauses.join(" AND ")
        );
        let mut q = sqlx::query(&sql)
            .bind(before)
            .bind(filter.tenant_id)
            .bind(limit);
        for t in texts {
            q = q.bind(t);
        }
        q = q
            .bind(filter.since.map_or(i64::MIN, |t| t.0))
            .bind(filter.until.map_or(i64::MAX, |t| t.0));
        let rows = q.fetch_all(&mut *self.read().await?).await?;
        rows.iter().map(row_from).collect()
    }

    /// The most recent events (newest first): `(action, subject, outcome)`.
    pub async fn audit_tail(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        Ok(self
            .audit_events(None, None, limit)
            .await?
            .into_iter()
            .map(|r| (r.event.action, r.event.subject, r.event.outcome))
            .collect())
    }

    /// Walks the whole chain in order and reports every break, naming the
    /// row. Returns the number of events checked. `progress` is told the
    /// total first (`total`, 0 checked), then the count checked so far.
    pub async fn verify_audit(
        &self,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(u64, Vec<AuditProblem>), StoreError> {
        let mut problems = Vec::new();
        let mut checked = 0u64;
        let mut expected_prev = String::new();
        let mut after = 0i64;
        let all_hashes: std::collections::HashSet<String> =
            sqlx::query("SELECT hash FROM audit_events")
                .fetch_all(&mut *self.read().await?)
                .await?
                .iter()
                .map(|r| text(r, "hash"))
                .collect::<Result<_, _>>()?;
        let total = all_hashes.len() as u64;
        progress(total, 0);
        loop {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM audit_events WHERE id > $1 ORDER BY id LIMIT 1000"
            ))
            .bind(after)
            .fetch_all(&mut *self.read().await?)
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let r = row_from(row)?;
                after = r.id;
                checked += 1;
                if event_hash(&r.prev_hash, r.at, &r.event) != r.hash {
                    problems.push(AuditProblem::Edited { id: r.id });
                } else if r.prev_hash != expected_prev {
                    if all_hashes.contains(&r.prev_hash) {
                        problems.push(AuditProblem::Reordered { id: r.id });
                    } else {
                        problems.push(AuditProblem::Deleted { id: r.id });
                    }
                }
                expected_prev = r.hash;
            }
            progress(total, checked);
        }
        Ok((checked, problems))
    }
}
