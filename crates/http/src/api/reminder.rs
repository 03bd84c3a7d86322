//! Forgot username.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use regain_app::App;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ClientInfo, CurrentTenant};

pub(super) fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(remind_username))
}

/// The contact to send usernames to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReminderRequest {
    /// A verified email or phone (E.164).
    contact: String,
    /// From `POST …/captcha`.
    #[serde(default)]
    captcha_id: Option<String>,
    /// The CAPTCHA answer or provider token.
    #[serde(default)]
    captcha_answer: Option<String>,
}

/// Always the same answer.
#[derive(Serialize, ToSchema)]
pub(crate) struct Accepted {
    /// `accepted`.
    status: &'static str,
}

/// Send every username bound to a verified contact to that contact.
///
/// The answer is 202 whether or not anything is bound to it.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/username-reminder", tag = "recovery",
    params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = ReminderRequest,
    responses(
        (status = 202, description = "If accounts are bound to the contact, their usernames are on their way", body = Accepted),
        (status = 400, description = "captcha_invalid, or not an email or phone", body = ErrorBody),
        (status = 404, description = "Unknown tenant", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
    ))]
async fn remind_username(
    State(app): State<App>,
    CurrentTenant(tenant): CurrentTenant,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<ReminderRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    app.remind_usernames(
        &tenant,
        &req.contact,
        req.captcha_id.as_deref(),
        req.captcha_answer.as_deref(),
        &client,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { status: "accepted" })))
}
