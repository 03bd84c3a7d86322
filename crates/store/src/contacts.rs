//! Binding an email or phone to an account: a pending verification holds
//! the code's HMAC until the code is entered; then the contact is bound as
//! verified, within the tenant's cap of accounts per contact.

use crate::lite::Conn;
use regain_domain::clock::Timestamp;

use crate::audit::{self, AuditEvent};
use crate::outbox::{enqueue, NewMessage};
use crate::rows::{int, text};
use crate::{Store, StoreError};

/// Which contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    /// The email address.
    Email,
    /// The phone number.
    Phone,
}

impl ContactKind {
    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Email => "email",
            ContactKind::Phone => "phone",
        }
    }

    /// Parses the name.
    pub fn parse(s: &str) -> Option<ContactKind> {
        match s {
            "email" => Some(ContactKind::Email),
            "phone" => Some(ContactKind::Phone),
            _ => None,
        }
    }

    fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            ContactKind::Email => ("email", "email_key", "email_verified"),
            ContactKind::Phone => ("phone", "phone", "phone_verified"),
        }
    }
}

/// A contact waiting for its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingContact {
    /// The contact as it will be bound.
    pub value: String,
    /// HMAC of the code.
    pub code_hmac: String,
    /// Wrong codes so far.
    pub tries: i64,
    /// When the code stops working.
    pub expires_at: Timestamp,
}

impl Store {
    /// Replaces the account's pending verification of `kind` and queues the
    /// code message, in one transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn start_contact_verification(
        &self,
        account_id: i64,
        kind: ContactKind,
        value: &str,
        code_hmac: &str,
        expires_at: Timestamp,
        message: &NewMessage,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM contact_verifications WHERE account_id = $1 AND kind = $2")
            .bind(account_id)
            .bind(kind.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO contact_verifications (account_id, kind, value, code_hmac, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(account_id)
        .bind(kind.as_str())
        .bind(value)
        .bind(code_hmac)
        .bind(expires_at.0)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        enqueue(&mut tx, message, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The pending verification of `kind`, if any.
    pub async fn pending_contact(
        &self,
        account_id: i64,
        kind: ContactKind,
    ) -> Result<Option<PendingContact>, StoreError> {
        let row = sqlx::query(
            "SELECT value, code_hmac, tries, expires_at FROM contact_verifications WHERE account_id = $1 AND kind = $2",
        )
        .bind(account_id)
        .bind(kind.as_str())
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(|r| {
            Ok(PendingContact {
                value: text(&r, "value")?,
                code_hmac: text(&r, "code_hmac")?,
                tries: int(&r, "tries")?,
                expires_at: Timestamp(int(&r, "expires_at")?),
            })
        })
        .transpose()
    }

    /// Counts a wrong code; at `max_tries` the pending verification is dropped.
    pub async fn contact_wrong_try(
        &self,
        account_id: i64,
        kind: ContactKind,
        max_tries: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE contact_verifications SET tries = tries + 1 WHERE account_id = $1 AND kind = $2")
            .bind(account_id)
            .bind(kind.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM contact_verifications WHERE account_id = $1 AND kind = $2 AND tries >= $3",
        )
        .bind(account_id)
        .bind(kind.as_str())
        .bind(max_tries)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Binds `value` as the verified contact of `kind` (or unbinds it when
    /// `None`), all or nothing: the cap of accounts per verified contact,
    /// the pending verification's removal, the notices and the audit event.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_contact(
        &self,
        account_id: i64,
        kind: ContactKind,
        value: Option<(&str, &str)>,
        max_accounts_per_contact: u32,
        notices: &[NewMessage],
        audit_event: &AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        if !bind_in(
            &mut tx,
            self.backend,
            account_id,
            kind,
            value,
            max_accounts_per_contact,
        )
        .await?
        {
            return Err(StoreError::ContactLimit);
        }
        // Binding consumes the pending verification of exactly this value,
        // so a code cannot bind after its pending row was dropped.
        let pending = sqlx::query(
            "DELETE FROM contact_verifications WHERE account_id = $1 AND kind = $2 AND (value = $3 OR $4 = 0)",
        )
        .bind(account_id)
        .bind(kind.as_str())
        .bind(value.map_or("", |(v, _)| v))
        .bind(i64::from(value.is_some()))
        .execute(&mut *tx)
        .await?;
        if value.is_some() && pending.rows_affected() != 1 {
            return Err(StoreError::NotFound("pending contact"));
        }
        for m in notices {
            enqueue(&mut tx, m, now).await?;
        }
        audit::append(&mut tx, self.backend, audit_event, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn update_contact(
    conn: &mut Conn,
    account_id: i64,
    kind: ContactKind,
    value: Option<(&str, &str)>,
    column: &str,
    key_column: &str,
    verified_column: &str,
) -> Result<(), StoreError> {
    let verified = i64::from(value.is_some());
    let done = match kind {
        ContactKind::Email => {
            sqlx::query(&format!(
                "UPDATE accounts SET {column} = $1, {key_column} = $2, {verified_column} = $3 WHERE id = $4"
            ))
            .bind(value.map(|(v, _)| v))
            .bind(value.map(|(_, k)| k))
            .bind(verified)
            .bind(account_id)
            .execute(conn)
            .await?
        }
        // The phone is its own key.
        ContactKind::Phone => {
            sqlx::query(&format!("UPDATE accounts SET {column} = $1, {verified_column} = $2 WHERE id = $3"))
                .bind(value.map(|(v, _)| v))
                .bind(verified)
                .bind(account_id)
                .execute(conn)
                .await?
        }
    };
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("account"));
    }
    Ok(())
}

/// Binds `value` (`(contact, lookup key)`) as the verified contact of
/// `kind`, or removes it with `None`, inside the caller's transaction. A
/// contact bound to `max_accounts_per_contact` other accounts already is
/// not bound: returns `false` and changes nothing.
pub(crate) async fn bind_in(
    tx: &mut crate::lite::Conn,
    backend: crate::Backend,
    account_id: i64,
    kind: ContactKind,
    value: Option<(&str, &str)>,
    max_accounts_per_contact: u32,
) -> Result<bool, StoreError> {
    let (column, key_column, verified_column) = kind.columns();
    if let Some((_, key)) = value {
        let tenant = sqlx::query("SELECT tenant_id FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("account"))?;
        let tenant_id = int(&tenant, "tenant_id")?;
        if backend == crate::Backend::Postgres {
            sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l")
                .bind(tenant_id)
                .fetch_one(&mut *tx)
                .await?;
        }
        let count = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM accounts WHERE tenant_id = $1 AND {key_column} = $2 \
             AND {verified_column} = 1 AND id <> $3"
        ))
        .bind(tenant_id)
        .bind(key)
        .bind(account_id)
        .fetch_one(&mut *tx)
        .await?;
        if int(&count, "n")? >= i64::from(max_accounts_per_contact) {
            return Ok(false);
        }
    }
    update_contact(
        tx,
        account_id,
        kind,
        value,
        column,
        key_column,
        verified_column,
    )
    .await?;
    Ok(true)
}
