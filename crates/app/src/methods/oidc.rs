//! The `external_identity` method: OpenID Connect authorization code flow
//! with PKCE, state and nonce against the tenant's provider. The challenge
//! answers with the provider's authorization URL; the provider sends the
//! browser back to `/api/v1/oidc/callback`, where the code is exchanged and
//! the ID token verified (signature from the JWKS, issuer, audience,
//! expiry, nonce). Its identity claim (compared as a keyed hash) and
//! account-type claim must match the account's identity record: a personal
//! external account for an individual, an enterprise one for an
//! enterprise.

use std::collections::BTreeMap;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields,
    IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, StandardErrorResponse,
    StandardTokenResponse, TokenResponse,
};
use regain_domain::recovery::Method;
use regain_domain::tenant::OidcProvider;
use regain_store::{AuditEvent, FlowRecord, Tenant};
use serde::{Deserialize, Serialize};

use crate::auth::Client;
use crate::keys::same;
use crate::tokens::token_hash;
use crate::{App, AppError};

/// How long the person has at the provider.
const AUTHORIZATION_SECS: i64 = 10 * 60;

/// The claims beyond the standard ones, by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExtraClaims(BTreeMap<String, serde_json::Value>);

impl AdditionalClaims for ExtraClaims {}

type IdFields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

type OidcClient = openidconnect::Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<IdFields, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What the callback keeps until the provider answers.
#[derive(Serialize, Deserialize)]
struct Pending {
    nonce: String,
    pkce_verifier: String,
}

/// The callback's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The external identity matches: the person can call `verify`.
    Matched,
    /// It does not: the recovery ended.
    Mismatched,
    /// An account linked its external identity from its settings.
    Linked,
}

/// The outcome of a callback and the tenant it belongs to (the pages send
/// the browser back into that tenant's wizard or settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// What happened.
    pub outcome: CallbackOutcome,
    /// The tenant's slug.
    pub tenant: String,
}

fn rejected(message: &'static str) -> AppError {
    AppError::Invalid {
        code: "id_token_invalid",
        message: message.into(),
    }
}

fn state_invalid() -> AppError {
    AppError::Invalid {
        code: "oidc_state_invalid",
        message: "this sign-in is unknown, used or expired; choose the method again".into(),
    }
}

fn unavailable(tenant: &Tenant, problem: &str) -> AppError {
    tracing::warn!(tenant = %tenant.slug, problem = %problem, "identity provider unavailable");
    AppError::Unavailable {
        code: "provider_unavailable",
        message:
            "the identity provider cannot be reached; try again later or choose another method",
    }
}

/// Why an ID token was refused, for the person and the audit log.
fn verification_failure(e: &ClaimsVerificationError) -> (&'static str, &'static str) {
    match e {
        ClaimsVerificationError::InvalidAudience(_) => (
            "audience",
            "the ID token was not issued to Regain (wrong audience)",
        ),
        ClaimsVerificationError::InvalidNonce(_) => (
            "nonce",
            "the ID token belongs to another sign-in (wrong nonce)",
        ),
        ClaimsVerificationError::Expired(_) => ("expired", "the ID token has expired"),
        ClaimsVerificationError::InvalidIssuer(_) => {
            ("issuer", "the ID token comes from another issuer")
        }
        ClaimsVerificationError::SignatureVerification(_) => (
            "signature",
            "the ID token's signature does not verify with the provider's keys",
        ),
        _ => ("other", "the ID token could not be verified"),
    }
}

fn claim_text(claims: &ExtraClaims, name: &str) -> Option<String> {
    match claims.0.get(name)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl App {
    fn oidc_http(&self) -> Result<reqwest::Client, AppError> {
        // No redirects: a provider's answer is taken as it is (SSRF).
        reqwest::ClientBuilder::new()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| AppError::internal(format!("HTTP client: {e}")))
    }

    fn oidc_callback_url(&self) -> String {
        format!(
            "{}/api/v1/oidc/callback",
            self.config.effective_public_url()
        )
    }

    async fn oidc_client(
        &self,
        tenant: &Tenant,
        p: &OidcProvider,
        http: &reqwest::Client,
    ) -> Result<OidcClient, AppError> {
        let issuer = IssuerUrl::new(p.issuer.clone())
            .map_err(|e| unavailable(tenant, &format!("issuer URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, http)
            .await
            .map_err(|e| unavailable(tenant, &format!("discovery: {e}")))?;
        let redirect = RedirectUrl::new(self.oidc_callback_url())
            .map_err(|e| AppError::internal(format!("callback URL: {e}")))?;
        Ok(OidcClient::from_provider_metadata(
            metadata,
            ClientId::new(p.client_id.clone()),
            Some(ClientSecret::new(p.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// An authorization URL with PKCE, state and nonce: the URL, the state
    /// (its hash finds the request at the callback) and what the callback
    /// needs kept (nonce and PKCE verifier, as JSON).
    async fn authorization(
        &self,
        tenant: &Tenant,
        provider: &OidcProvider,
    ) -> Result<(String, String, String), AppError> {
        let http = self.oidc_http()?;
        let oidc = self.oidc_client(tenant, provider, &http).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = oidc
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .url();
        let pending = serde_json::to_string(&Pending {
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
        .map_err(|e| AppError::internal(e.to_string()))?;
        Ok((url.to_string(), state.secret().clone(), pending))
    }

    /// Sends the person to the provider: the authorization URL with PKCE,
    /// state and nonce; the state's hash finds the flow at the callback.
    pub(crate) async fn start_external_identity(
        &self,
        tenant: &Tenant,
        mut r: FlowRecord,
        client: &Client,
    ) -> Result<(), AppError> {
        let provider = tenant.settings.oidc.as_ref().ok_or(AppError::Recovery(
            regain_domain::recovery::FlowError::MethodNotOffered,
        ))?;
        let (url, state, pending) = self.authorization(tenant, provider).await?;
        let now = self.clock.now();
        r.flow.progress.reference = Some(provider.name.clone());
        r.flow.progress.url = Some(url);
        self.store
            .open_external_check(
                &token_hash(&state),
                "oidc",
                &pending,
                now.plus_secs(AUTHORIZATION_SECS),
                &r,
                now,
            )
            .await?;
        self.audit_event(
            tenant,
            "recovery.oidc_started",
            "anonymous",
            &format!("account:{}", r.account_id.unwrap_or_default()),
            client,
            "success",
        )
        .await?;
        Ok(())
    }

    /// Starts linking the actor's own account to its external identity at
    /// the tenant's provider; answers the authorization URL.
    pub async fn start_identity_link(
        &self,
        tenant: &Tenant,
        actor: &crate::admin::Actor<'_>,
        account_id: i64,
    ) -> Result<String, AppError> {
        let account = self.own_account(tenant, actor, account_id).await?;
        let provider = tenant.settings.oidc.as_ref().ok_or(AppError::WrongState {
            code: "oidc_not_configured",
            message: "this tenant has no external identity provider",
        })?;
        let (url, state, secret) = self.authorization(tenant, provider).await?;
        self.store
            .open_link_request(
                &token_hash(&state),
                &regain_store::LinkRequest {
                    tenant_id: tenant.id,
                    account_id: account.id,
                    secret,
                    expires_at: self.clock.now().plus_secs(AUTHORIZATION_SECS),
                },
            )
            .await?;
        Ok(url)
    }

    /// The external identities linked to the actor's own account: issuer
    /// and time.
    pub async fn linked_identities(
        &self,
        tenant: &Tenant,
        actor: &crate::admin::Actor<'_>,
        account_id: i64,
    ) -> Result<Vec<regain_store::LinkedIdentity>, AppError> {
        let account = self.own_account(tenant, actor, account_id).await?;
        Ok(self.store.linked_identities(account.id).await?)
    }

    /// The provider's answer to a link: the verified identity must match
    /// the account's record, or, when the account has none yet, becomes
    /// it (the provider verified it).
    async fn finish_link(
        &self,
        link: regain_store::LinkRequest,
        code: Option<&str>,
        provider_error: Option<&str>,
        client: &Client,
    ) -> Result<CallbackOutcome, AppError> {
        let now = self.clock.now();
        let tenant = self
            .store
            .tenant_by_id(link.tenant_id)
            .await?
            .ok_or_else(state_invalid)?;
        let account = self
            .store
            .account(tenant.id, link.account_id)
            .await?
            .ok_or_else(state_invalid)?;
        let subject = format!("account:{}", account.id);
        let audit = |action: &str, outcome: &str| {
            let mut event = AuditEvent::new(
                Some(tenant.id),
                action,
                &subject,
                &subject,
                &client.ip.to_string(),
                outcome,
            );
            event.detail = serde_json::json!({ "reason": outcome }).to_string();
            event
        };
        let provider = match tenant.settings.oidc.clone() {
            Some(p) if now < link.expires_at => p,
            _ => {
                self.store
                    .audit(&audit("oidc.rejected", "state_invalid"), now)
                    .await?;
                return Err(state_invalid());
            }
        };
        let (extra, external_subject) = match self
            .verify_sign_in(&tenant, &provider, code, provider_error, &link.secret)
            .await?
        {
            Ok(signed_in) => signed_in,
            Err((reason, error)) => {
                self.store
                    .audit(&audit("oidc.rejected", reason), now)
                    .await?;
                return Err(error);
            }
        };
        let own_kind = match account.position {
            regain_domain::account::Position::Root(kind) => kind.as_str(),
            regain_domain::account::Position::Sub(_) => "individual",
        };
        let identity = claim_text(&extra, &provider.identity_claim);
        let kind = claim_text(&extra, &provider.type_claim);
        let (Some(identity), Some(kind)) = (identity, kind) else {
            self.store
                .audit(&audit("oidc.rejected", "claims_missing"), now)
                .await?;
            return Err(AppError::Invalid {
                code: "identity_claims_missing",
                message: "the provider did not share the verified identity".into(),
            });
        };
        let document = self.document_hmac(&identity);
        let existing = self.store.identity_record(account.id).await?;
        let matches = match &existing {
            Some(rec) => {
                same(&rec.document_hmac, &document) && kind.eq_ignore_ascii_case(&rec.subject_type)
            }
            None => kind.eq_ignore_ascii_case(own_kind),
        };
        if !matches {
            self.store
                .audit(&audit("credentials.external_identity", "mismatch"), now)
                .await?;
            return Err(AppError::WrongState {
                code: "identity_mismatch",
                message: "the external account's verified identity is not this account's",
            });
        }
        let record = existing.is_none().then(|| regain_store::IdentityRecord {
            subject_type: own_kind.to_string(),
            verified_name: claim_text(&extra, "name").unwrap_or_default(),
            document_hmac: document,
            representative_name: None,
            representative_document_hmac: None,
            verified_at: now,
        });
        let subject_hmac = crate::keys::hmac_hex(
            &self.secret,
            &[
                b"oidc-subject",
                provider.issuer.as_bytes(),
                external_subject.as_bytes(),
            ],
        );
        self.store
            .link_identity(
                account.id,
                &provider.issuer,
                &subject_hmac,
                record.as_ref(),
                &audit("credentials.external_identity", "success"),
                now,
            )
            .await?;
        Ok(CallbackOutcome::Linked)
    }

    /// Exchanges the code (with the PKCE verifier kept in `pending`) and
    /// verifies the ID token. The inner error is a refusal to audit: its
    /// reason and the answer for the person.
    #[allow(clippy::type_complexity)]
    async fn verify_sign_in(
        &self,
        tenant: &Tenant,
        provider: &OidcProvider,
        code: Option<&str>,
        provider_error: Option<&str>,
        pending: &str,
    ) -> Result<Result<(ExtraClaims, String), (&'static str, AppError)>, AppError> {
        if provider_error.is_some() {
            return Ok(Err((
                "provider_error",
                AppError::Invalid {
                    code: "oidc_provider_error",
                    message: "the identity provider did not sign you in".into(),
                },
            )));
        }
        let pending: Pending =
            serde_json::from_str(pending).map_err(|_| AppError::internal("oidc state"))?;
        let http = self.oidc_http()?;
        let oidc = self.oidc_client(tenant, provider, &http).await?;
        let exchange = match oidc
            .exchange_code(AuthorizationCode::new(code.unwrap_or_default().to_string()))
        {
            Ok(request) => {
                request
                    .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
                    .request_async(&http)
                    .await
            }
            Err(e) => return Err(unavailable(tenant, &format!("token endpoint: {e}"))),
        };
        let tokens = match exchange {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(problem = %e, "code exchange refused");
                return Ok(Err((
                    "exchange_failed",
                    AppError::Invalid {
                        code: "oidc_exchange_failed",
                        message: "the identity provider refused the sign-in code".into(),
                    },
                )));
            }
        };
        let Some(id_token) = tokens.id_token() else {
            return Ok(Err((
                "no_id_token",
                rejected("the provider sent no ID token"),
            )));
        };
        let verifier = oidc.id_token_verifier();
        match id_token.claims(&verifier, &Nonce::new(pending.nonce.clone())) {
            Ok(c) => Ok(Ok((
                c.additional_claims().clone(),
                c.subject().as_str().to_string(),
            ))),
            Err(e) => {
                let (reason, message) = verification_failure(&e);
                Ok(Err((reason, rejected(message))))
            }
        }
    }

    /// The provider's redirect back: checks the state, exchanges the code,
    /// verifies the ID token and compares the identity. Refusals are
    /// audited.
    pub async fn oidc_callback(
        &self,
        state: &str,
        code: Option<&str>,
        provider_error: Option<&str>,
        client: &Client,
    ) -> Result<Callback, AppError> {
        let key = token_hash(state);
        let well_formed = !state.is_empty() && state.len() <= 256;
        if well_formed {
            if let Some(link) = self.store.take_link_request(&key).await? {
                let tenant = self
                    .store
                    .tenant_by_id(link.tenant_id)
                    .await?
                    .ok_or_else(state_invalid)?;
                let outcome = self.finish_link(link, code, provider_error, client).await?;
                return Ok(Callback {
                    outcome,
                    tenant: tenant.slug,
                });
            }
        }
        let check = if well_formed {
            self.store.external_check(&key).await?
        } else {
            None
        };
        let now = self.clock.now();
        let Some(check) = check.filter(|c| c.kind == "oidc" && !c.used && now < c.expires_at)
        else {
            let event = AuditEvent::new(
                None,
                "oidc.rejected",
                "oidc",
                "-",
                &client.ip.to_string(),
                "state_invalid",
            );
            self.store.audit(&event, now).await?;
            return Err(state_invalid());
        };
        let tenant = self
            .store
            .tenant_by_id(check.tenant_id)
            .await?
            .ok_or_else(state_invalid)?;
        let mut r = self
            .store
            .flow(tenant.id, &check.flow_id_hash)
            .await?
            .ok_or_else(state_invalid)?;
        let account_id = r.account_id.ok_or_else(state_invalid)?;
        let subject = format!("account:{account_id}");
        // Every answer uses the state up: refused or not, it is not
        // accepted twice.
        let refuse = |reason: &'static str, error: AppError, r: &FlowRecord| {
            let mut event = AuditEvent::new(
                Some(tenant.id),
                "oidc.rejected",
                "oidc",
                &subject,
                &client.ip.to_string(),
                reason,
            );
            event.detail = serde_json::json!({ "reason": reason }).to_string();
            let r = r.clone();
            let key = key.clone();
            async move {
                self.store
                    .finish_external_check(&key, &r, &event, now)
                    .await?;
                tracing::warn!(reason, "OpenID Connect answer refused");
                Err::<Callback, AppError>(error)
            }
        };
        let Some(provider) = tenant.settings.oidc.clone() else {
            return refuse("not_configured", state_invalid(), &r).await;
        };
        let signed_in = self
            .verify_sign_in(&tenant, &provider, code, provider_error, &check.secret)
            .await?;
        let extra = match signed_in {
            Ok((extra, _subject)) => extra,
            Err((reason, error)) => return refuse(reason, error, &r).await,
        };
        let extra = &extra;
        let record = self.store.identity_record(account_id).await?;
        let identity = claim_text(extra, &provider.identity_claim).map(|v| self.document_hmac(&v));
        let kind = claim_text(extra, &provider.type_claim);
        let matched = match (&record, &identity, &kind) {
            (Some(rec), Some(id), Some(kind)) => {
                same(&rec.document_hmac, id) && kind.eq_ignore_ascii_case(&rec.subject_type)
            }
            _ => false,
        };
        let current = r.flow.method == Some(Method::ExternalIdentity);
        let outcome = if current && matched {
            r.flow.pass(now)?;
            CallbackOutcome::Matched
        } else {
            if current {
                r.flow.deny(
                    "the external account's verified identity does not match this account",
                    now,
                )?;
            }
            CallbackOutcome::Mismatched
        };
        let event = AuditEvent::new(
            Some(tenant.id),
            "recovery.oidc_result",
            "oidc",
            &subject,
            &client.ip.to_string(),
            if outcome == CallbackOutcome::Matched {
                "success"
            } else {
                "failure"
            },
        );
        self.store
            .finish_external_check(&key, &r, &event, now)
            .await
            .map_err(|e| match e {
                regain_store::StoreError::Conflict(_) => state_invalid(),
                other => other.into(),
            })?;
        Ok(Callback {
            outcome,
            tenant: tenant.slug.clone(),
        })
    }
}
