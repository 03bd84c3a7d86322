//! Calls from providers: a KYC provider posts the result of a face check,
//! signed (see `docs/kyc-provider.md`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use regain_app::App;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::ClientInfo;

pub(super) fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(kyc_result))
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
