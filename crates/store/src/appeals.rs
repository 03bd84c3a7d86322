//! Manual appeals: the fallback when no method works. An appeal holds the
//! identifier the person gave, a new contact (proven by a code before the
//! appeal reaches the queue), a description, evidence and attachments;
//! support staff claim it and approve (a reset link to the new contact) or
//! deny it with a reason. Each step is one transaction with its audit
//! event.

use regain_domain::clock::Timestamp;
use sqlx::any::AnyRow;

use crate::audit::{self, AuditEvent};
use crate::contacts::ContactKind;
use crate::outbox::{enqueue, NewMessage};
use crate::recovery::{insert_flow, FlowRecord};
use crate::rows::{int, opt_int, opt_text, text};
use crate::{Store, StoreError};

/// A stored appeal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appeal {
    /// Its id.
    pub id: i64,
    /// Owning tenant.
    pub tenant_id: i64,
    /// The account the identifier named, if it named one.
    pub account_id: Option<i64>,
    /// What the person typed to name their account.
    pub identifier: String,
    /// The new contact's kind.
    pub contact_kind: ContactKind,
    /// The new contact.
    pub contact_value: String,
    /// HMAC of the pending contact code.
    pub code_hmac: Option<String>,
    /// Wrong contact codes so far.
    pub code_tries: i64,
    /// The person's account of what happened.
    pub description: String,
    /// Evidence as text.
    pub evidence: String,
    /// `unconfirmed`, `open`, `claimed`, `approved`, `denied`,
    /// `superseded` or `abandoned`.
    pub state: String,
    /// Hash of the status token given to the person.
    pub status_token_hash: String,
    /// The support reviewer who claimed it.
    pub claimed_by: Option<i64>,
    /// A denial's reason.
    pub reason: Option<String>,
    /// When it was filed.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// An attachment's description (its bytes are fetched on their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its id.
    pub id: i64,
    /// The file name given.
    pub name: String,
    /// The checked type.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
}

const COLUMNS: &str = "id, tenant_id, account_id, identifier, contact_kind, contact_value, code_hmac, \
    code_tries, description, evidence, state, status_token_hash, claimed_by, reason, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<Appeal, StoreError> {
    Ok(Appeal {
        id: int(row, "id")?,
        tenant_id: int(row, "tenant_id")?,
        account_id: opt_int(row, "account_id")?,
        identifier: text(row, "identifier")?,
        contact_kind: ContactKind::parse(&text(row, "contact_kind")?)
            .ok_or_else(|| StoreError::Corrupt("appeal contact kind".into()))?,
        contact_value: text(row, "contact_value")?,
        code_hmac: opt_text(row, "code_hmac")?,
        code_tries: int(row, "code_tries")?,
        description: text(row, "description")?,
        evidence: text(row, "evidence")?,
        state: text(row, "state")?,
        status_token_hash: text(row, "status_token_hash")?,
        claimed_by: opt_int(row, "claimed_by")?,
        reason: opt_text(row, "reason")?,
        created_at: Timestamp(int(row, "created_at")?),
        updated_at: Timestamp(int(row, "updated_at")?),
    })
}

impl Store {
    /// Files an appeal (state `unconfirmed`) and queues the code to its
    /// new contact. Returns its id.
    pub async fn create_appeal(
        &self,
        a: &Appeal,
        message: &NewMessage,
        event: &AuditEvent,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "INSERT INTO appeals (tenant_id, account_id, identifier, contact_kind, contact_value, \
             code_hmac, description, evidence, state, status_token_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'unconfirmed', $9, $10, $10) RETURNING id",
        )
        .bind(a.tenant_id)
        .bind(a.account_id)
        .bind(a.identifier.as_str())
        .bind(a.contact_kind.as_str())
        .bind(a.contact_value.as_str())
        .bind(a.code_hmac.as_deref())
        .bind(a.description.as_str())
        .bind(a.evidence.as_str())
        .bind(a.status_token_hash.as_str())
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await?;
        let id = int(&row, "id")?;
        enqueue(&mut tx, message, now).await?;
        let mut event = event.clone();
        event.subject = format!("appeal:{id}");
        audit::append(&mut tx, self.backend, &event, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// One appeal of the tenant.
    pub async fn appeal(&self, tenant_id: i64, id: i64) -> Result<Option<Appeal>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM appeals WHERE id = $1 AND tenant_id = $2"
        ))
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Counts a wrong contact code; the last allowed one abandons the
    /// appeal.
    pub async fn appeal_wrong_code(
        &self,
        id: i64,
        max: i64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut w = self.writer().await?;
        sqlx::query(
            "UPDATE appeals SET code_tries = code_tries + 1, updated_at = $3, \
             state = CASE WHEN code_tries + 1 >= $2 THEN 'abandoned' ELSE state END, \
             code_hmac = CASE WHEN code_tries + 1 >= $2 THEN NULL ELSE code_hmac END \
             WHERE id = $1 AND state = 'unconfirmed'",
        )
        .bind(id)
        .bind(max)
        .bind(now.0)
        .execute(&mut *w)
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// The contact is proven: the appeal joins the queue, and an older
    /// open appeal for the same account is merged into it (superseded), so
    /// the queue holds one per account.
    pub async fn confirm_appeal(
        &self,
        a: &Appeal,
        event: &AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE appeals SET state = 'open', code_hmac = NULL, updated_at = $2 \
             WHERE id = $1 AND state = 'unconfirmed'",
        )
        .bind(a.id)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict("appeal"));
        }
        if let Some(account_id) = a.account_id {
            sqlx::query(
                "UPDATE appeals SET state = 'superseded', updated_at = $3 WHERE account_id = $1 \
                 AND id <> $2 AND state IN ('open', 'claimed')",
            )
            .bind(account_id)
            .bind(a.id)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        }
        audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores an attachment, within `max_count` per appeal.
    pub async fn add_attachment(
        &self,
        appeal_id: i64,
        name: &str,
        content_type: &str,
        data_base64: &str,
        size: i64,
        max_count: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        let count =
            sqlx::query("SELECT COUNT(*) AS n FROM appeal_attachments WHERE appeal_id = $1")
                .bind(appeal_id)
                .fetch_one(&mut *tx)
                .await?;
        if int(&count, "n")? >= max_count {
            return Err(StoreError::Conflict("attachments"));
        }
        let row = sqlx::query(
            "INSERT INTO appeal_attachments (appeal_id, name, content_type, size, data_base64) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(appeal_id)
        .bind(name)
        .bind(content_type)
        .bind(size)
        .bind(data_base64)
        .fetch_one(&mut *tx)
        .await?;
        let id = int(&row, "id")?;
        tx.commit().await?;
        Ok(id)
    }

    /// The attachments of an appeal, without their bytes.
    pub async fn attachments(&self, appeal_id: i64) -> Result<Vec<Attachment>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, content_type, size FROM appeal_attachments WHERE appeal_id = $1 ORDER BY id",
        )
        .bind(appeal_id)
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Attachment {
                    id: int(row, "id")?,
                    name: text(row, "name")?,
                    content_type: text(row, "content_type")?,
                    size: int(row, "size")?,
                })
            })
            .collect()
    }

    /// One attachment's type and bytes (base64).
    pub async fn attachment_data(
        &self,
        appeal_id: i64,
        id: i64,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT content_type, data_base64 FROM appeal_attachments WHERE appeal_id = $1 AND id = $2",
        )
        .bind(appeal_id)
        .bind(id)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(|row| Ok((text(&row, "content_type")?, text(&row, "data_base64")?)))
            .transpose()
    }

    /// Appeals of the tenant in `state`, oldest first, after `after_id`.
    pub async fn appeal_queue(
        &self,
        tenant_id: i64,
        state: &str,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Appeal>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM appeals WHERE tenant_id = $1 AND state = $2 AND id > $3 \
             ORDER BY id LIMIT $4"
        ))
        .bind(tenant_id)
        .bind(state)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// A reviewer takes an open appeal (or one they hold already).
    pub async fn claim_appeal(
        &self,
        id: i64,
        reviewer: i64,
        event: &AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE appeals SET state = 'claimed', claimed_by = $2, updated_at = $3 WHERE id = $1 \
             AND (state = 'open' OR (state = 'claimed' AND claimed_by = $2))",
        )
        .bind(id)
        .bind(reviewer)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict("appeal"));
        }
        audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Decides an appeal the reviewer holds (or an open one): on approval
    /// with the reset-link flow; with the notices and the audit event.
    #[allow(clippy::too_many_arguments)]
    pub async fn decide_appeal(
        &self,
        id: i64,
        approved: bool,
        reason: Option<&str>,
        reviewer: i64,
        flow: Option<&FlowRecord>,
        notices: &[NewMessage],
        event: &AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE appeals SET state = $2, reason = $3, claimed_by = $4, updated_at = $5 WHERE id = $1 \
             AND (state = 'open' OR (state = 'claimed' AND claimed_by = $4))",
        )
        .bind(id)
        .bind(if approved { "approved" } else { "denied" })
        .bind(reason)
        .bind(reviewer)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict("appeal"));
        }
        let mut last = None;
        for m in notices {
            last = Some(enqueue(&mut tx, m, now).await?);
        }
        if let Some(flow) = flow {
            insert_flow(&mut tx, flow, last).await?;
        }
        audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
