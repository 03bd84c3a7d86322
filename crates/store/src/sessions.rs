//! Login sessions, stored by the SHA-256 of their token only.

use regain_domain::clock::Timestamp;
use sqlx::any::AnyRow;

use crate::audit::{self, AuditEvent};
use crate::rows::{int, opt_int, text};
use crate::write::WriteTx;
use crate::{Store, StoreError};

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Hex SHA-256 of the token; the token itself is never stored.
    pub token_hash: String,
    /// Owning tenant.
    pub tenant_id: i64,
    /// The logged-in account.
    pub account_id: i64,
    /// When the session was created.
    pub created_at: Timestamp,
    /// When the account last proved its password in this session.
    pub authenticated_at: Timestamp,
    /// After this the session is dead.
    pub expires_at: Timestamp,
    /// Set when logged out or revoked.
    pub revoked_at: Option<Timestamp>,
    /// Client address at login.
    pub ip: String,
    /// Client's User-Agent at login (truncated).
    pub user_agent: String,
}

/// What is needed to create a session.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// Owning tenant.
    pub tenant_id: i64,
    /// The logged-in account.
    pub account_id: i64,
    /// Expiry.
    pub expires_at: Timestamp,
    /// Client address.
    pub ip: String,
    /// Client's User-Agent.
    pub user_agent: String,
}

const COLUMNS: &str =
    "token_hash, tenant_id, account_id, created_at, authenticated_at, expires_at, revoked_at, ip, user_agent";

fn session_from_row(row: &AnyRow) -> Result<Session, StoreError> {
    Ok(Session {
        token_hash: text(row, "token_hash")?,
        tenant_id: int(row, "tenant_id")?,
        account_id: int(row, "account_id")?,
        created_at: Timestamp(int(row, "created_at")?),
        authenticated_at: Timestamp(int(row, "authenticated_at")?),
        expires_at: Timestamp(int(row, "expires_at")?),
        revoked_at: opt_int(row, "revoked_at")?.map(Timestamp),
        ip: text(row, "ip")?,
        user_agent: text(row, "user_agent")?,
    })
}

impl Store {
    /// Records a new session.
    pub async fn create_session(&self, new: &NewSession, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        insert_session(&mut tx, new, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A successful log-on, in one transaction: the session, the audit
    /// event, and the attempt counters it settles (`clear` forgets a key,
    /// `refund` gives one attempt back).
    pub async fn open_session(
        &self,
        new: &NewSession,
        event: &AuditEvent,
        clear: &[&str],
        refund: &[&str],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        crate::throttles::settle_in(&mut tx, clear, refund).await?;
        insert_session(&mut tx, new, now).await?;
        audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A session that is neither revoked nor expired at `now`.
    pub async fn live_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2"
        ))
        .bind(token_hash)
        .bind(now.0)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// Records that the session's account just proved its password again.
    pub async fn touch_authenticated(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut w = self.writer().await?;
        sqlx::query("UPDATE sessions SET authenticated_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
            .bind(now.0)
            .bind(token_hash)
            .execute(&mut *w)
            .await?;
        w.commit().await?;
        Ok(())
    }

    /// Revokes one session; returns whether a live one was revoked.
    pub async fn revoke_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut w = self.writer().await?;
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(token_hash)
        .execute(&mut *w)
        .await?;
        w.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Revokes every live session of an account; returns how many.
    pub async fn revoke_account_sessions(
        &self,
        account_id: i64,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut w = self.writer().await?;
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(account_id)
        .execute(&mut *w)
        .await?;
        w.commit().await?;
        Ok(done.rows_affected())
    }

    /// The live sessions of an account, newest first (at most 50).
    pub async fn live_sessions(
        &self,
        account_id: i64,
        now: Timestamp,
    ) -> Result<Vec<Session>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE account_id = $1 AND revoked_at IS NULL \
             AND expires_at > $2 ORDER BY created_at DESC, token_hash LIMIT 50"
        ))
        .bind(account_id)
        .bind(now.0)
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter().map(session_from_row).collect()
    }

    /// Revokes every live session of an account but `keep`, with its audit
    /// event, in one transaction; returns how many.
    pub async fn revoke_other_sessions(
        &self,
        account_id: i64,
        keep: &str,
        event: &AuditEvent,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE account_id = $2 AND token_hash <> $3 \
             AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(account_id)
        .bind(keep)
        .execute(&mut *tx)
        .await?;
        audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

/// Inserts a session inside the caller's transaction.
/// Inserts a session with the transaction's commit (nothing in the
/// transaction reads it back).
async fn insert_session(
    tx: &mut WriteTx,
    new: &NewSession,
    now: Timestamp,
) -> Result<(), StoreError> {
    tx.run(
        "INSERT INTO sessions (token_hash, tenant_id, account_id, created_at, authenticated_at, \
         expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
        vec![
            new.token_hash.as_str().into(),
            new.tenant_id.into(),
            new.account_id.into(),
            now.0.into(),
            new.expires_at.0.into(),
            new.ip.as_str().into(),
            new.user_agent.as_str().into(),
        ],
    )
    .await?;
    Ok(())
}
