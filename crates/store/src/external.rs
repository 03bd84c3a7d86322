//! External verification steps (an OpenID Connect authorization, a KYC
//! session): a row per step, found by the hash of its key (the OIDC
//! `state`, the provider's session id), used once. Signed webhook calls are
//! remembered by the hash of their signature so a replay is refused.

use regain_domain::clock::Timestamp;

use crate::audit::{self, AuditEvent};
use crate::recovery::{update_flow, FlowRecord};
use crate::rows::{flag, int, text};
use crate::{Store, StoreError};

/// One external step of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalCheck {
    /// Owning tenant.
    pub tenant_id: i64,
    /// The flow waiting for it.
    pub flow_id_hash: String,
    /// `oidc` or `kyc`.
    pub kind: String,
    /// What the step must keep (the OIDC nonce and PKCE verifier), or
    /// empty.
    pub secret: String,
    /// The step's answer was applied.
    pub used: bool,
    /// When it lapses.
    pub expires_at: Timestamp,
}

/// How long a webhook signature is remembered: longer than the window in
/// which its timestamp is accepted.
const REPLAY_MEMORY_SECS: i64 = 15 * 60;

impl Store {
    /// Opens an external step for the flow `r`, saving the flow with it.
    pub async fn open_external_check(
        &self,
        key_hash: &str,
        kind: &str,
        secret: &str,
        expires_at: Timestamp,
        r: &FlowRecord,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO external_checks (key_hash, tenant_id, flow_id_hash, kind, secret, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(key_hash)
        .bind(r.tenant_id)
        .bind(r.id_hash.as_str())
        .bind(kind)
        .bind(secret)
        .bind(now.0)
        .bind(expires_at.0)
        .execute(&mut *tx)
        .await?;
        update_flow(&mut tx, r, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The step with this key hash.
    pub async fn external_check(
        &self,
        key_hash: &str,
    ) -> Result<Option<ExternalCheck>, StoreError> {
        let row = sqlx::query(
            "SELECT tenant_id, flow_id_hash, kind, secret, used, expires_at FROM external_checks WHERE key_hash = $1",
        )
        .bind(key_hash)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        row.map(|row| {
            Ok(ExternalCheck {
                tenant_id: int(&row, "tenant_id")?,
                flow_id_hash: text(&row, "flow_id_hash")?,
                kind: text(&row, "kind")?,
                secret: text(&row, "secret")?,
                used: flag(&row, "used")?,
                expires_at: Timestamp(int(&row, "expires_at")?),
            })
        })
        .transpose()
    }

    /// Applies a step's answer once: marks it used and saves the flow with
    /// the audit event. A step used already is [`StoreError::Conflict`].
    pub async fn finish_external_check(
        &self,
        key_hash: &str,
        r: &FlowRecord,
        event: &AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("UPDATE external_checks SET used = 1 WHERE key_hash = $1 AND used = 0")
                .bind(key_hash)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict("external check"));
        }
        update_flow(&mut tx, r, None).await?;
        audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Remembers a webhook call by its signature hash; `false` when it was
    /// seen before (a replay). Old entries are dropped as it goes.
    pub async fn remember_webhook(
        &self,
        signature_hash: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM webhook_replays WHERE seen_at < $1")
            .bind(now.0 - REPLAY_MEMORY_SECS)
            .execute(&mut *tx)
            .await?;
        // Concurrent deliveries of one call: the key decides, exactly one
        // inserts.
        let inserted = sqlx::query(
            "INSERT INTO webhook_replays (signature_hash, seen_at) VALUES ($1, $2) \
             ON CONFLICT (signature_hash) DO NOTHING",
        )
        .bind(signature_hash)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() != 1 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// A pending link of an external identity to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRequest {
    /// Owning tenant.
    pub tenant_id: i64,
    /// The account linking.
    pub account_id: i64,
    /// The OIDC nonce and PKCE verifier.
    pub secret: String,
    /// When it lapses.
    pub expires_at: Timestamp,
}

/// An external identity linked to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    /// The provider's issuer.
    pub issuer: String,
    /// When it was linked.
    pub linked_at: Timestamp,
}

impl Store {
    /// Opens a link request (the sign-in at the provider in progress).
    pub async fn open_link_request(
        &self,
        key_hash: &str,
        r: &LinkRequest,
    ) -> Result<(), StoreError> {
        let mut w = self.writer().await?;
        sqlx::query(
            "INSERT INTO link_requests (key_hash, tenant_id, account_id, secret, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(key_hash)
        .bind(r.tenant_id)
        .bind(r.account_id)
        .bind(r.secret.as_str())
        .bind(r.expires_at.0)
        .execute(&mut *w)
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Takes a link request once: marks it used and returns it; `None`
    /// when unknown or used already.
    pub async fn take_link_request(
        &self,
        key_hash: &str,
    ) -> Result<Option<LinkRequest>, StoreError> {
        let mut w = self.writer().await?;
        let row = sqlx::query(
            "UPDATE link_requests SET used = 1 WHERE key_hash = $1 AND used = 0 \
             RETURNING tenant_id, account_id, secret, expires_at",
        )
        .bind(key_hash)
        .fetch_optional(&mut *w)
        .await?;
        w.commit().await?;
        row.map(|row| {
            Ok(LinkRequest {
                tenant_id: int(&row, "tenant_id")?,
                account_id: int(&row, "account_id")?,
                secret: text(&row, "secret")?,
                expires_at: Timestamp(int(&row, "expires_at")?),
            })
        })
        .transpose()
    }

    /// Records a linked identity, and the identity record it completes
    /// when the account had none, with the audit event.
    pub async fn link_identity(
        &self,
        account_id: i64,
        issuer: &str,
        subject_hmac: &str,
        record: Option<&crate::IdentityRecord>,
        event: &AuditEvent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM linked_identities WHERE account_id = $1 AND issuer = $2")
            .bind(account_id)
            .bind(issuer)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO linked_identities (account_id, issuer, subject_hmac, linked_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(account_id)
        .bind(issuer)
        .bind(subject_hmac)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        if let Some(r) = record {
            crate::credentials::insert_identity(&mut tx, account_id, r).await?;
        }
        audit::append(&mut tx, self.backend, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The external identities linked to an account.
    pub async fn linked_identities(
        &self,
        account_id: i64,
    ) -> Result<Vec<LinkedIdentity>, StoreError> {
        let rows = sqlx::query(
            "SELECT issuer, linked_at FROM linked_identities WHERE account_id = $1 ORDER BY issuer",
        )
        .bind(account_id)
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(LinkedIdentity {
                    issuer: text(row, "issuer")?,
                    linked_at: Timestamp(int(row, "linked_at")?),
                })
            })
            .collect()
    }
}
