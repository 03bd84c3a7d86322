//! The logged-in account changes its own password.

use axum::extract::State;
use axum::http::StatusCode;
use regain_app::App;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AnySession, ApiJson};

pub(super) fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(change_password))
}

/// Current and new password. No `Debug`: passwords never reach a log.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangePasswordRequest {
    /// The password in force now.
    current_password: String,
    /// The new password; it must meet the policy in force.
    new_password: String,
}

/// Change your password.
///
/// The one call allowed to an account that must change its password. Every
/// other session of the account is revoked; this one stays.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/password", tag = "password",
    params(("tenant" = String, Path, description = "Tenant slug")),
    security(("bearer" = []), ("cookie" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Malformed body, or a new password that is empty, over 1024 bytes or has control characters", body = ErrorBody),
        (status = 401, description = "No session, or the current password is wrong", body = ErrorBody),
        (status = 404, description = "Unknown tenant", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Body not sent as JSON", body = ErrorBody),
        (status = 422, description = "The new password breaks the policy; every violation is listed", body = ErrorBody),
        (status = 429, description = "Too many wrong current passwords", body = ErrorBody),
        (status = 503, description = "Hashing pool saturated", body = ErrorBody),
    ))]
async fn change_password(
    State(app): State<App>,
    s: AnySession,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    app.change_password(&s.tenant, &s.auth, req.current_password, req.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
