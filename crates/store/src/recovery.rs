//! Recovery flows, stored by the hash of their id. Every change is a
//! compare-and-set on a version number, so two concurrent steps of one flow
//! cannot both count (or both skip) a wrong try; a message caused by a step
//! is queued in the same transaction.

use regain_domain::clock::Timestamp;
use regain_domain::recovery::{Flow, FlowState, Method};
use sqlx::any::AnyRow;

use crate::accounts::set_password_in;
use crate::audit::{self, AuditEvent};
use crate::contacts::ContactKind;
use crate::outbox::{enqueue, NewMessage};
use crate::rows::{flag, int, opt_int, opt_text, text, to_json};
use crate::throttles::{count_in, Counted, ThrottleRule};
use crate::write::{Bind, WriteTx};
use crate::{Store, StoreError};

/// A stored flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    /// Hash of the flow id (the id is a capability; only its hash is kept).
    pub id_hash: String,
    /// Owning tenant.
    pub tenant_id: i64,
    /// The account being recovered; `None` for a decoy, or for a flow
    /// started from a contact bound to several accounts (the person picks
    /// one after proving the contact).
    pub account_id: Option<i64>,
    /// For a contact flow: the contact whose accounts may be picked.
    pub contact: Option<String>,
    /// The state machine's data.
    pub flow: Flow,
    /// HMAC of the current code.
    pub code_hmac: Option<String>,
    /// The last message this flow queued.
    pub last_message_id: Option<i64>,
    /// Hash of the reset token, once verified.
    pub reset_token_hash: Option<String>,
    /// Compare-and-set version.
    pub version: i64,
    /// Creation time.
    pub created_at: Timestamp,
    /// The account's locale, read with the flow by [`Store::flow`] so a
    /// step that sends a message needs no second read; never saved.
    pub account_locale: Option<String>,
}

const COLUMNS: &str = "id_hash, tenant_id, account_id, contact, decoy, offers, state, method, destination, \
    code_hmac, code_expires_at, wrong_tries, messages_sent, last_sent_at, last_message_id, reset_token_hash, \
    reset_expires_at, version, created_at, expires_at, progress";

fn flow_from_row(row: &AnyRow) -> Result<FlowRecord, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("recovery flow {what}"));
    let state = FlowState::parse(&text(row, "state")?).ok_or_else(|| corrupt("state"))?;
    let method = opt_text(row, "method")?
        .map(|m| Method::parse(&m).ok_or_else(|| corrupt("method")))
        .transpose()?;
    let offers = serde_json::from_str(&text(row, "offers")?).map_err(|_| corrupt("offers"))?;
    let count = |col: &str| -> Result<u32, StoreError> {
        u32::try_from(int(row, col)?).map_err(|_| corrupt(col))
    };
    Ok(FlowRecord {
        id_hash: text(row, "id_hash")?,
        tenant_id: int(row, "tenant_id")?,
        account_id: opt_int(row, "account_id")?,
        contact: opt_text(row, "contact")?,
        flow: Flow {
            state,
            decoy: flag(row, "decoy")?,
            offers,
            method,
            destination: opt_text(row, "destination")?,
            code_expires_at: opt_int(row, "code_expires_at")?.map(Timestamp),
            wrong_tries: count("wrong_tries")?,
            messages_sent: count("messages_sent")?,
            last_sent_at: opt_int(row, "last_sent_at")?.map(Timestamp),
            expires_at: Timestamp(int(row, "expires_at")?),
            reset_expires_at: opt_int(row, "reset_expires_at")?.map(Timestamp),
            progress: serde_json::from_str(&text(row, "progress")?)
                .map_err(|_| corrupt("progress"))?,
        },
        code_hmac: opt_text(row, "code_hmac")?,
        last_message_id: opt_int(row, "last_message_id")?,
        reset_token_hash: opt_text(row, "reset_token_hash")?,
        version: int(row, "version")?,
        created_at: Timestamp(int(row, "created_at")?),
        account_locale: None,
    })
}

/// Everything a redeemed reset changes, in one transaction.
#[derive(Debug, Clone)]
pub struct CompletedReset {
    /// The flow's id hash.
    pub id_hash: String,
    /// Hash of the presented reset token.
    pub token_hash: String,
    /// The account whose password changes.
    pub account_id: i64,
    /// The new Argon2id hash.
    pub new_hash: String,
    /// History entries to keep.
    pub keep_history: u32,
    /// "Your password was changed" notices.
    pub notices: Vec<NewMessage>,
    /// Attempt counters to forget with the old password: the login locks
    /// of the account's identifiers, its password-change counter.
    pub clear_throttles: Vec<String>,
    /// The audit event.
    pub audit: AuditEvent,
    /// A contact to bind as verified with the new password (an approved
    /// appeal's new contact): kind, value, lookup key, and the tenant's cap
    /// of accounts per contact (over it, the contact is not bound).
    pub bind_contact: Option<(ContactKind, String, String, u32)>,
}

impl Store {
    /// Records a new flow with its audit event, after counting `attempts`
    /// in the same transaction; a refusal writes only the counts.
    pub async fn create_flow(
        &self,
        attempts: &[(&str, ThrottleRule)],
        r: &FlowRecord,
        event: &AuditEvent,
    ) -> Result<Counted<()>, StoreError> {
        let mut tx = self.begin().await?;
        if let Some((index, until)) = count_in(&mut tx, attempts, r.created_at).await? {
            tx.commit().await?;
            return Ok(Counted::Refused { index, until });
        }
        insert_flow(&mut tx, r, r.last_message_id).await?;
        audit::append(&mut tx, self.backend, event, r.created_at).await?;
        tx.commit().await?;
        Ok(Counted::Done(()))
    }

    /// A flow of the tenant by its id hash.
    pub async fn flow(
        &self,
        tenant_id: i64,
        id_hash: &str,
    ) -> Result<Option<FlowRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, (SELECT locale FROM accounts WHERE id = recovery_flows.account_id) \
             AS account_locale FROM recovery_flows WHERE id_hash = $1 AND tenant_id = $2"
        ))
        .bind(id_hash)
        .bind(tenant_id)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut record = flow_from_row(&row)?;
        record.account_locale = opt_text(&row, "account_locale")?;
        Ok(Some(record))
    }

    /// Saves `r` if nobody changed the flow since it was read (its
    /// `version`), queueing `message` and appending `event` in the same
    /// transaction. Returns the new message's id. A lost race is
    /// [`StoreError::Conflict`].
    pub async fn save_flow(
        &self,
        r: &FlowRecord,
        message: Option<&NewMessage>,
        event: Option<&AuditEvent>,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        match self.save_flow_counted(&[], r, message, event, now).await? {
            Counted::Done(id) => Ok(id),
            Counted::Refused { .. } => Err(StoreError::Conflict("throttle")),
        }
    }

    /// [`Store::save_flow`] after counting `attempts` in the same
    /// transaction; a refusal writes only the counts.
    pub async fn save_flow_counted(
        &self,
        attempts: &[(&str, ThrottleRule)],
        r: &FlowRecord,
        message: Option<&NewMessage>,
        event: Option<&AuditEvent>,
        now: Timestamp,
    ) -> Result<Counted<Option<i64>>, StoreError> {
        let mut tx = self.begin().await?;
        if let Some((index, until)) = count_in(&mut tx, attempts, now).await? {
            tx.commit().await?;
            return Ok(Counted::Refused { index, until });
        }
        let message_id = match message {
            Some(m) => Some(enqueue(&mut tx, m, now).await?),
            None => None,
        };
        update_flow(&mut tx, r, message_id).await?;
        if let Some(event) = event {
            audit::append(&mut tx, self.backend, event, now).await?;
        }
        tx.commit().await?;
        Ok(Counted::Done(message_id))
    }

    /// Issues an administrator's reset link, all or nothing: the flow that
    /// holds the link's token, its messages, the revocation of the target's
    /// sessions and the audit event.
    pub async fn issue_reset_link(
        &self,
        r: &FlowRecord,
        target_account_id: i64,
        messages: &[NewMessage],
        audit_event: &AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(target_account_id)
        .execute(&mut *tx)
        .await?;
        let mut last = None;
        for m in messages {
            last = Some(enqueue(&mut tx, m, now).await?);
        }
        insert_flow(&mut tx, r, last).await?;
        audit::append(&mut tx, self.backend, audit_event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a password chosen by someone else (an administrator or an
    /// operator), all or nothing: the hash with its history entry, the
    /// must-change flag, the revocation of every session, the notices and
    /// the audit event.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_password_by_admin(
        &self,
        account_id: i64,
        hash: &str,
        must_change: bool,
        keep_history: u32,
        notices: &[NewMessage],
        audit_event: &AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        set_password_in(
            &mut tx,
            account_id,
            hash,
            must_change,
            keep_history,
            None,
            now,
        )
        .await?;
        for m in notices {
            enqueue(&mut tx, m, now).await?;
        }
        audit::append(&mut tx, self.backend, audit_event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Redeems a reset token and applies the reset, all or nothing: the
    /// flow completes (only if it is verified, unexpired and the token
    /// matches — so of concurrent redemptions exactly one wins), the
    /// password and its history change, every session is revoked, the
    /// notices are queued and the audit event written. Returns whether this
    /// call redeemed the token.
    pub async fn complete_reset(
        &self,
        reset: &CompletedReset,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let redeemed = sqlx::query(
            "UPDATE recovery_flows SET state = 'completed', reset_token_hash = NULL, version = version + 1 \
             WHERE id_hash = $1 AND reset_token_hash = $2 AND state = 'verified' \
               AND reset_expires_at > $3 AND expires_at > $3",
        )
        .bind(reset.id_hash.as_str())
        .bind(reset.token_hash.as_str())
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        if redeemed.rows_affected() != 1 {
            return Ok(false);
        }
        set_password_in(
            &mut tx,
            reset.account_id,
            &reset.new_hash,
            false,
            reset.keep_history,
            None,
            now,
        )
        .await?;
        for notice in &reset.notices {
            crate::outbox::enqueue(&mut tx, notice, now).await?;
        }
        let clear: Vec<&str> = reset.clear_throttles.iter().map(String::as_str).collect();
        crate::throttles::settle_in(&mut tx, &clear, &[]).await?;
        if let Some((kind, value, key, cap)) = &reset.bind_contact {
            let bound = crate::contacts::bind_in(
                &mut tx,
                self.backend,
                reset.account_id,
                *kind,
                Some((value, key)),
                *cap,
            )
            .await?;
            if !bound {
                tracing::warn!(
                    account = reset.account_id,
                    "appeal contact not bound: over the cap"
                );
            }
        }
        audit::append(&mut tx, self.backend, &reset.audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Writes `r` over the stored flow if its version is still `r.version`
/// (else [`StoreError::Conflict`]), with `message_id` as its newest message.
///
/// Only what a step can change is written. A flow's account is fixed when
/// it is created, and its last message and reset token are only ever set,
/// never cleared, by a step; they are named only when this save sets them,
/// because SQLite checks a foreign key and rewrites an index for every
/// column an `UPDATE` names, whatever its value.
pub(crate) async fn update_flow(
    conn: &mut crate::lite::Conn,
    r: &FlowRecord,
    message_id: Option<i64>,
) -> Result<(), StoreError> {
    let f = &r.flow;
    let mut sql = String::from(
        "UPDATE recovery_flows SET state = $3, method = $4, destination = $5, code_hmac = $6, \
         code_expires_at = $7, wrong_tries = $8, messages_sent = $9, last_sent_at = $10, \
         expires_at = $11, offers = $12, progress = $13, version = version + 1",
    );
    let mut next = 14;
    if message_id.is_some() {
        sql.push_str(&format!(", last_message_id = ${next}"));
        next += 1;
    }
    if r.reset_token_hash.is_some() {
        sql.push_str(&format!(
            ", reset_token_hash = ${next}, reset_expires_at = ${}",
            next + 1
        ));
    }
    sql.push_str(" WHERE id_hash = $1 AND version = $2");
    let mut q = sqlx::query(&sql)
        .bind(r.id_hash.as_str())
        .bind(r.version)
        .bind(f.state.as_str())
        .bind(f.method.map(Method::as_str))
        .bind(f.destination.as_deref())
        .bind(r.code_hmac.as_deref())
        .bind(f.code_expires_at.map(|t| t.0))
        .bind(i64::from(f.wrong_tries))
        .bind(i64::from(f.messages_sent))
        .bind(f.last_sent_at.map(|t| t.0))
        .bind(f.expires_at.0)
        .bind(to_json(&f.offers)?)
        .bind(to_json(&f.progress)?);
    if let Some(id) = message_id {
        q = q.bind(id);
    }
    if let Some(hash) = r.reset_token_hash.as_deref() {
        q = q.bind(hash).bind(f.reset_expires_at.map(|t| t.0));
    }
    let done = q.execute(conn).await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict("recovery flow"));
    }
    Ok(())
}

/// Inserts `r` on `conn`, with `last_message_id` as its last message.
/// Inserts a new flow with the transaction's commit (nothing in the
/// transaction reads it back).
pub(crate) async fn insert_flow(
    tx: &mut WriteTx,
    r: &FlowRecord,
    last_message_id: Option<i64>,
) -> Result<(), StoreError> {
    let f = &r.flow;
    let binds: Vec<Bind> = vec![
        r.id_hash.as_str().into(),
        r.tenant_id.into(),
        r.account_id.into(),
        r.contact.as_deref().into(),
        i64::from(f.decoy).into(),
        to_json(&f.offers)?.into(),
        f.state.as_str().into(),
        f.method.map(Method::as_str).into(),
        f.destination.as_deref().into(),
        r.code_hmac.as_deref().into(),
        f.code_expires_at.map(|t| t.0).into(),
        i64::from(f.wrong_tries).into(),
        i64::from(f.messages_sent).into(),
        f.last_sent_at.map(|t| t.0).into(),
        last_message_id.into(),
        r.reset_token_hash.as_deref().into(),
        f.reset_expires_at.map(|t| t.0).into(),
        r.version.into(),
        r.created_at.0.into(),
        f.expires_at.0.into(),
        to_json(&f.progress)?.into(),
    ];
    tx.run(INSERT_FLOW.as_str(), binds).await?;
    Ok(())
}

static INSERT_FLOW: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO recovery_flows ({COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
    )
});
