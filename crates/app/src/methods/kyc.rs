//! The `face` method through a KYC/liveness provider (protocol in
//! `docs/kyc-provider.md`). The challenge creates a session at the provider
//! and hands the person its URL; the provider later posts the result to
//! `POST /api/v1/webhooks/kyc/{name}`, signed with HMAC-SHA256 over
//! `timestamp.body`. Calls older than five minutes, badly signed or seen
//! before are refused and audited. A pass whose document number matches
//! the owner (individual) or the legal representative (enterprise) lets the
//! flow verify; anything else ends it.

use std::time::Duration;

use regain_domain::account::{AccountKind, Position};
use regain_domain::recovery::Method;
use regain_store::{Account, AuditEvent, FlowRecord, StoreError, Tenant};
use serde::Deserialize;

use crate::auth::Client;
use crate::keys::same;
use crate::tokens::token_hash;
use crate::{App, AppError};

/// Oldest (and furthest in the future) a webhook timestamp may be.
pub const WEBHOOK_WINDOW_SECS: i64 = 5 * 60;
/// How long a KYC session may take.
const SESSION_SECS: i64 = 30 * 60;

/// Whose face a check is of.
pub(crate) fn subject_of(account: &Account) -> &'static str {
    match account.position {
        Position::Root(AccountKind::Enterprise) => "legal_representative",
        _ => "owner",
    }
}

#[derive(Deserialize)]
struct SessionAnswer {
    session_id: String,
    url: String,
}

#[derive(Deserialize)]
struct WebhookBody {
    session_id: String,
    /// `pass` or `fail`.
    result: String,
    /// The document number of the person whose face was checked.
    #[serde(default)]
    document_number: Option<String>,
}

/// Why a webhook call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookRefusal {
    /// Not JSON of the documented shape.
    Malformed,
    /// No such session (or of another provider).
    UnknownSession,
    /// The timestamp is missing or outside the window.
    Stale,
    /// The signature does not match.
    BadSignature,
    /// This call was seen before, or the session was answered already.
    Replayed,
}

impl WebhookRefusal {
    fn error(self) -> AppError {
        match self {
            WebhookRefusal::Malformed => AppError::Invalid {
                code: "webhook_invalid",
                message: "the body is not a KYC result".into(),
            },
            WebhookRefusal::UnknownSession => AppError::NotFound {
                code: "webhook_session_unknown",
                message: "no such verification session",
            },
            WebhookRefusal::Stale => AppError::Unauthorized {
                code: "webhook_stale",
                message: "the timestamp is missing or more than five minutes away",
            },
            WebhookRefusal::BadSignature => AppError::Unauthorized {
                code: "webhook_signature_invalid",
                message: "the signature does not match",
            },
            WebhookRefusal::Replayed => AppError::WrongState {
                code: "webhook_replayed",
                message: "this call was received before",
            },
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            WebhookRefusal::Malformed => "malformed",
            WebhookRefusal::UnknownSession => "unknown_session",
            WebhookRefusal::Stale => "stale",
            WebhookRefusal::BadSignature => "bad_signature",
            WebhookRefusal::Replayed => "replayed",
        }
    }
}

impl App {
    /// Creates the provider session of a `face` challenge.
    pub(crate) async fn start_face(
        &self,
        tenant: &Tenant,
        mut r: FlowRecord,
        client: &Client,
    ) -> Result<(), AppError> {
        let provider = tenant.settings.kyc.as_ref().ok_or(AppError::Recovery(
            regain_domain::recovery::FlowError::MethodNotOffered,
        ))?;
        let account = match r.account_id {
            Some(id) => self.store.account(tenant.id, id).await?,
            None => None,
        }
        .ok_or_else(AppError::account_not_found)?;
        let record = self
            .store
            .identity_record(account.id)
            .await?
            .ok_or(AppError::Recovery(
                regain_domain::recovery::FlowError::MethodNotOffered,
            ))?;
        let subject = subject_of(&account);
        let name = match subject {
            "legal_representative" => record.representative_name.unwrap_or_default(),
            _ => record.verified_name,
        };
        let callback = format!(
            "{}/api/v1/webhooks/kyc/{}",
            self.config.effective_public_url(),
            provider.name
        );
        let unavailable = |what: String| {
            tracing::warn!(tenant = %tenant.slug, problem = %what, "KYC provider unavailable");
            AppError::Unavailable {
                code: "provider_unavailable",
                message: "the identity provider cannot be reached; try again later or choose another method",
            }
        };
        let answer: SessionAnswer = self
            .http
            .post(&provider.session_url)
            .bearer_auth(&provider.api_key)
            .timeout(Duration::from_secs(10))
            .json(&serde_json::json!({
                "subject": subject,
                "name": name,
                "callback_url": callback,
            }))
            .send()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?
            .error_for_status()
            .map_err(|e| unavailable(e.without_url().to_string()))?
            .json()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        if answer.session_id.is_empty() || answer.session_id.len() > 200 {
            return Err(unavailable("a session id of an unusable length".into()));
        }
        let now = self.clock.now();
        r.flow.progress.reference = Some(answer.session_id.clone());
        r.flow.progress.url = Some(answer.url);
        self.store
            .open_external_check(
                &token_hash(&answer.session_id),
                "kyc",
                "",
                now.plus_secs(SESSION_SECS),
                &r,
                now,
            )
            .await?;
        self.audit_event(
            tenant,
            "recovery.kyc_session",
            "anonymous",
            &format!("account:{}", account.id),
            client,
            "success",
        )
        .await?;
        Ok(())
    }

    /// Handles a provider's signed result. Every refusal is audited.
    pub async fn kyc_webhook(
        &self,
        provider_name: &str,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        client: &Client,
    ) -> Result<(), AppError> {
        match self
            .kyc_webhook_inner(provider_name, timestamp, signature, body, client)
            .await
        {
            Ok(()) => Ok(()),
            Err(Ok((refusal, tenant_id))) => {
                let mut event = AuditEvent::new(
                    tenant_id,
                    "webhook.rejected",
                    &format!("kyc:{}", crate::log_safe::LogSafe(provider_name)),
                    "webhook",
                    &client.ip.to_string(),
                    refusal.as_str(),
                );
                event.detail = serde_json::json!({ "reason": refusal.as_str() }).to_string();
                self.store.audit(&event, self.clock.now()).await?;
                tracing::warn!(reason = refusal.as_str(), "KYC webhook refused");
                Err(refusal.error())
            }
            Err(Err(e)) => Err(e),
        }
    }

    #[allow(clippy::type_complexity)]
    async fn kyc_webhook_inner(
        &self,
        provider_name: &str,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        client: &Client,
    ) -> Result<(), Result<(WebhookRefusal, Option<i64>), AppError>> {
        let refuse = |r, tenant: Option<i64>| Err(Ok((r, tenant)));
        let Ok(parsed) = serde_json::from_slice::<WebhookBody>(body) else {
            return refuse(WebhookRefusal::Malformed, None);
        };
        let key = token_hash(&parsed.session_id);
        let check = self
            .store
            .external_check(&key)
            .await
            .map_err(|e| Err(e.into()))?;
        let Some(check) = check.filter(|c| c.kind == "kyc") else {
            return refuse(WebhookRefusal::UnknownSession, None);
        };
        let tenant = self
            .store
            .tenant_by_id(check.tenant_id)
            .await
            .map_err(|e| Err(e.into()))?;
        let Some((tenant, provider)) = tenant.and_then(|t| {
            let p = t.settings.kyc.clone()?;
            Some((t, p))
        }) else {
            return refuse(WebhookRefusal::UnknownSession, Some(check.tenant_id));
        };
        if provider.name != provider_name {
            return refuse(WebhookRefusal::UnknownSession, Some(tenant.id));
        }
        let now = self.clock.now();
        let ts = timestamp.unwrap_or_default();
        let fresh = ts
            .parse::<i64>()
            .is_ok_and(|t| (now.0 - t).abs() <= WEBHOOK_WINDOW_SECS);
        if !fresh {
            return refuse(WebhookRefusal::Stale, Some(tenant.id));
        }
        // The same signature scheme as Regain's own calls to an SMS
        // gateway: one thing for providers to implement.
        let expected = regain_delivery::senders::sign(provider.webhook_secret.as_bytes(), ts, body);
        let given = signature.unwrap_or_default().trim();
        if expected.is_empty() || !same(&expected, given) {
            return refuse(WebhookRefusal::BadSignature, Some(tenant.id));
        }
        let first = self
            .store
            .remember_webhook(&token_hash(&expected), now)
            .await
            .map_err(|e| Err(e.into()))?;
        if !first || check.used {
            return refuse(WebhookRefusal::Replayed, Some(tenant.id));
        }
        let applied = self
            .apply_kyc_result(&tenant, &check.flow_id_hash, &key, &parsed, client)
            .await;
        match applied {
            Err(AppError::Conflict(_)) => refuse(WebhookRefusal::Replayed, Some(tenant.id)),
            other => other.map_err(Err),
        }
    }

    async fn apply_kyc_result(
        &self,
        tenant: &Tenant,
        flow_id_hash: &str,
        key: &str,
        result: &WebhookBody,
        client: &Client,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        let mut r = self
            .store
            .flow(tenant.id, flow_id_hash)
            .await?
            .ok_or_else(AppError::account_not_found)?;
        let account = match r.account_id {
            Some(id) => self.store.account(tenant.id, id).await?,
            None => None,
        }
        .ok_or_else(AppError::account_not_found)?;
        let record = self.store.identity_record(account.id).await?;
        let expected = record.and_then(|rec| match subject_of(&account) {
            "legal_representative" => rec.representative_document_hmac,
            _ => Some(rec.document_hmac),
        });
        let given = result
            .document_number
            .as_deref()
            .map(|d| self.document_hmac(d));
        let matched = result.result == "pass"
            && matches!((&expected, &given), (Some(e), Some(g)) if same(e, g));
        let current = r.flow.method == Some(Method::Face)
            && r.flow.progress.reference.as_deref() == Some(result.session_id.as_str());
        let outcome = if !current {
            "stale_session"
        } else if matched {
            r.flow.pass(now).map_err(AppError::Recovery)?;
            "success"
        } else {
            r.flow
                .deny("the identity check did not match this account", now)
                .map_err(AppError::Recovery)?;
            "failure"
        };
        let event = AuditEvent::new(
            Some(tenant.id),
            "recovery.kyc_result",
            "kyc",
            &format!("account:{}", account.id),
            &client.ip.to_string(),
            outcome,
        );
        self.store
            .finish_external_check(key, &r, &event, now)
            .await
            .map_err(|e| match e {
                StoreError::Conflict("external check") => AppError::Conflict("webhook"),
                other => other.into(),
            })
    }
}
