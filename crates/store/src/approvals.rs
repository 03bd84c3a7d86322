//! Approval requests: a person in recovery asks an administrator to vouch
//! for them. The request, the flow's step, the notice and the audit event
//! change together; a decision applies once (a pending request only).

use regain_domain::clock::Timestamp;
use sqlx::any::AnyRow;

use crate::audit::{self, AuditEvent};
use crate::outbox::{enqueue, NewMessage};
use crate::recovery::{update_flow, FlowRecord};
use crate::rows::{int, opt_int, opt_text, text};
use crate::{Store, StoreError};

/// A stored approval request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// Its id.
    pub id: i64,
    /// Owning tenant.
    pub tenant_id: i64,
    /// The recovery flow waiting for it.
    pub flow_id_hash: String,
    /// The account being recovered.
    pub account_id: i64,
    /// The administrator asked.
    pub approver_id: i64,
    /// `pending`, `approved` or `denied`.
    pub state: String,
    /// A denial's reason.
    pub reason: Option<String>,
    /// Who decided.
    pub decided_by: Option<i64>,
    /// When it was asked.
    pub created_at: Timestamp,
    /// When it lapses.
    pub expires_at: Timestamp,
}

const COLUMNS: &str = "id, tenant_id, flow_id_hash, account_id, approver_id, state, reason, \
    decided_by, created_at, expires_at";

fn from_row(row: &AnyRow) -> Result<Approval, StoreError> {
    Ok(Approval {
        id: int(row, "id")?,
        tenant_id: int(row, "tenant_id")?,
        flow_id_hash: text(row, "flow_id_hash")?,
        account_id: int(row, "account_id")?,
        approver_id: int(row, "approver_id")?,
        state: text(row, "state")?,
        reason: opt_text(row, "reason")?,
        decided_by: opt_int(row, "decided_by")?,
        created_at: Timestamp(int(row, "created_at")?),
        expires_at: Timestamp(int(row, "expires_at")?),
    })
}

impl Store {
    /// Opens a request to `approver_id` for the flow `r` (whose progress
    /// gets the request's id), with the notice to the approver and the
    /// audit event. Earlier pending requests of the flow lapse.
    #[allow(clippy::too_many_arguments)]
    pub async fn request_approval(
        &self,
        r: &mut FlowRecord,
        approver_id: i64,
        expires_at: Timestamp,
        notice: impl FnOnce(i64) -> Vec<NewMessage>,
        event: &AuditEvent,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE approvals SET state = 'lapsed' WHERE flow_id_hash = $1 AND state = 'pending'",
        )
        .bind(r.id_hash.as_str())
        .execute(&mut *tx)
        .await?;
        let account_id = r
            .account_id
            .ok_or_else(|| StoreError::Corrupt("an approval needs an account".into()))?;
        let row = sqlx::query(
            "INSERT INTO approvals (tenant_id, flow_id_hash, account_id, approver_id, state, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6) RETURNING id",
        )
        .bind(r.tenant_id)
        .bind(r.id_hash.as_str())
        .bind(account_id)
        .bind(approver_id)
        .bind(now.0)
        .bind(expires_at.0)
        .fetch_one(&mut *tx)
        .await?;
        let id = int(&row, "id")?;
        r.flow.progress.reference = Some(id.to_string());
        let mut last = None;
        for m in notice(id) {
            last = Some(enqueue(&mut tx, &m, now).await?);
        }
        update_flow(&mut tx, r, last).await?;
        audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// One request of the tenant.
    pub async fn approval(&self, tenant_id: i64, id: i64) -> Result<Option<Approval>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM approvals WHERE id = $1 AND tenant_id = $2"
        ))
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Pending, unexpired requests of the tenant whose approver is one of
    /// `approver_ids`, oldest first.
    pub async fn pending_approvals(
        &self,
        tenant_id: i64,
        approver_ids: &[i64],
        now: Timestamp,
    ) -> Result<Vec<Approval>, StoreError> {
        if approver_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM approvals WHERE tenant_id = $1 AND state = 'pending' \
             AND expires_at > $2 AND approver_id IN ({}) ORDER BY id",
            crate::sql::placeholders(3, approver_ids.len())
        );
        let mut query = sqlx::query(&sql).bind(tenant_id).bind(now.0);
        for id in approver_ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&mut *self.read().await?).await?;
        rows.iter().map(from_row).collect()
    }

    /// Records a decision on a pending request, with the flow's new state,
    /// the notices and the audit event. A request decided already (or by
    /// a concurrent call) is [`StoreError::Conflict`].
    #[allow(clippy::too_many_arguments)]
    pub async fn decide_approval(
        &self,
        id: i64,
        approved: bool,
        reason: Option<&str>,
        decided_by: i64,
        flow: &FlowRecord,
        notices: &[NewMessage],
        event: &AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE approvals SET state = $1, reason = $2, decided_by = $3, decided_at = $4 \
             WHERE id = $5 AND state = 'pending'",
        )
        .bind(if approved { "approved" } else { "denied" })
        .bind(reason)
        .bind(decided_by)
        .bind(now.0)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict("approval"));
        }
        let mut last = None;
        for m in notices {
            last = Some(enqueue(&mut tx, m, now).await?);
        }
        update_flow(&mut tx, flow, last).await?;
        audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
