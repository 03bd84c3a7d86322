//! Calls from providers: a KYC provider posts the result of a face check,
//! signed (see `docs/kyc-provider.md`); an OpenID Connect provider sends
//! the browser back with a code.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use regain_app::App;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::ClientInfo;

pub(super) fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(kyc_result))
        .routes(routes!(oidc_callback))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A KYC provider's result for a session Regain created.
///
/// Signed: `X-Regain-Timestamp` (Unix seconds, within five minutes) and
/// `X-Regain-Signature: sha256=<hex HMAC-SHA256 of "timestamp.body">` under
/// the tenant's webhook secret. Each call is accepted once.
#[utoipa::path(post, path = "/api/v1/webhooks/kyc/{provider}", tag = "webhooks",
    params(("provider" = String, Path, description = "The provider's configured name"),
           ("X-Regain-Timestamp" = String, Header, description = "Unix seconds"),
           ("X-Regain-Signature" = String, Header, description = "sha256=<hex>")),
    request_body(content = String, content_type = "application/json",
        description = r#"{"session_id": "…", "result": "pass" | "fail", "document_number": "…"}"#),
    responses(
        (status = 204, description = "Applied"),
        (status = 400, description = "webhook_invalid", body = ErrorBody),
        (status = 401, description = "webhook_signature_invalid or webhook_stale", body = ErrorBody),
        (status = 404, description = "webhook_session_unknown", body = ErrorBody),
        (status = 409, description = "webhook_replayed", body = ErrorBody),
    ))]
async fn kyc_result(
    State(app): State<App>,
    Path(provider): Path<String>,
    ClientInfo(client): ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    app.kyc_webhook(
        &provider,
        header(&headers, "x-regain-timestamp"),
        header(&headers, "x-regain-signature"),
        &body,
        &client,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an OpenID Connect provider sends back (other parameters, such as
/// `iss` or `session_state`, are ignored).
#[derive(serde::Deserialize, utoipa::IntoParams)]
pub(crate) struct CallbackQuery {
    /// The state Regain sent.
    #[serde(default)]
    state: String,
    /// The authorization code.
    #[serde(default)]
    code: Option<String>,
    /// Set when the provider did not sign the person in.
    #[serde(default)]
    error: Option<String>,
}

/// The result of the external step.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct CallbackView {
    /// `matched` (go back to the recovery and call `verify`),
    /// `mismatched` (the recovery ended), or `linked` (an account linked
    /// its external identity from its settings).
    result: &'static str,
}

/// Where the OpenID Connect provider sends the browser back.
#[utoipa::path(get, path = "/api/v1/oidc/callback", tag = "webhooks",
    params(CallbackQuery),
    responses(
        (status = 200, description = "The identity was compared", body = CallbackView),
        (status = 303, description = "For a browser (`Accept: text/html`): on to the hosted wizard's waiting step, or to the settings after a link"),
        (status = 400, description = "oidc_state_invalid, oidc_provider_error, oidc_exchange_failed, identity_claims_missing, or id_token_invalid (signature, audience, nonce, issuer or expiry)", body = ErrorBody),
        (status = 409, description = "identity_mismatch (a link to someone else's external account)", body = ErrorBody),
        (status = 503, description = "provider_unavailable", body = ErrorBody),
    ))]
async fn oidc_callback(
    State(app): State<App>,
    ClientInfo(client): ClientInfo,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<CallbackQuery>,
) -> Response {
    use regain_app::methods::oidc::CallbackOutcome;
    let result = app
        .oidc_callback(&q.state, q.code.as_deref(), q.error.as_deref(), &client)
        .await;
    // A browser comes back here from the provider: send it on to the
    // hosted pages (the wizard's waiting step, or the settings); API
    // clients get JSON.
    let browser = header(&headers, "accept").is_some_and(|a| a.contains("text/html"));
    match (result, browser) {
        (Ok(done), true) => {
            let to = match done.outcome {
                CallbackOutcome::Linked => {
                    format!("/t/{}/settings?done=identity_linked", done.tenant)
                }
                _ => format!("/t/{}/forgot/wait", done.tenant),
            };
            Redirect::to(&to).into_response()
        }
        (Ok(done), false) => axum::Json(CallbackView {
            result: match done.outcome {
                CallbackOutcome::Matched => "matched",
                CallbackOutcome::Mismatched => "mismatched",
                CallbackOutcome::Linked => "linked",
            },
        })
        .into_response(),
        (Err(e), true) => crate::pages::error_page(&headers, e),
        (Err(e), false) => ApiError::from(e).into_response(),
    }
}
