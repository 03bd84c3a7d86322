//! Administration of accounts below the caller: password resets and
//! disabling. Every call is checked with the single rights function and
//! needs a recent proof of the caller's password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use regain_app::admin::{Actor, ResetMode, ResetOutcome};
use regain_app::App;
use regain_domain::password::Password;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AccountId, ActiveSession, ApiJson, ClientInfo};

pub(super) fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(reauthenticate))
        .routes(routes!(reset_account_password))
        .routes(routes!(disable_account))
        .routes(routes!(enable_account))
}

/// The caller's password. No `Debug`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReauthRequest {
    /// The caller's current password.
    password: String,
}

/// Confirm your password; admin actions need it within the last 15 minutes.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/sessions/current/reauth", tag = "sessions",
    params(("tenant" = String, Path, description = "Tenant slug")),
    security(("bearer" = []), ("cookie" = [])),
    request_body = ReauthRequest,
    responses(
        (status = 204, description = "Confirmed"),
        (status = 401, description = "No session, or a wrong password", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords", body = ErrorBody),
    ))]
async fn reauthenticate(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    ApiJson(req): ApiJson<ReauthRequest>,
) -> Result<StatusCode, ApiError> {
    app.reauthenticate(&s.auth, req.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How to reset. No `Debug`: it may hold a password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminResetRequest {
    /// `temporary` (must be changed at next login) or `link` (sent to the
    /// account's verified contacts, single use, 24 hours).
    mode: String,
    /// For `temporary`: the password to set; omitted, one is generated and
    /// returned once.
    #[serde(default)]
    password: Option<String>,
}

/// What the reset did.
#[derive(Serialize, ToSchema)]
pub(crate) struct AdminResetResponse {
    /// `temporary` or `link`.
    mode: &'static str,
    /// The generated temporary password, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    temporary_password: Option<String>,
    /// Where the link went (masked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sent_to: Vec<String>,
}

/// Reset the password of an account below you.
///
/// The target's sessions are revoked, its verified contacts are notified and
/// the action is audited.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/accounts/{id}/password-reset", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Account id")),
    security(("bearer" = []), ("cookie" = [])),
    request_body = AdminResetRequest,
    responses(
        (status = 200, description = "Reset", body = AdminResetResponse),
        (status = 400, description = "Unknown mode or a malformed password", body = ErrorBody),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "The account is not below you", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "no_verified_contact for a link", body = ErrorBody),
        (status = 422, description = "The given temporary password breaks the policy", body = ErrorBody),
    ))]
async fn reset_account_password(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<AdminResetRequest>,
) -> Result<Json<AdminResetResponse>, ApiError> {
    let mode = match (req.mode.as_str(), req.password) {
        ("temporary", password) => ResetMode::Temporary(
            password
                .map(Password::parse)
                .transpose()
                .map_err(regain_app::AppError::from)?,
        ),
        ("link", None) => ResetMode::Link,
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_mode",
                "mode is temporary (with an optional password) or link",
            ))
        }
    };
    let outcome = app
        .admin_reset(&s.tenant, &Actor::Account(&s.auth), id, mode, Some(&client))
        .await?;
    Ok(Json(match outcome {
        ResetOutcome::Temporary { generated } => AdminResetResponse {
            mode: "temporary",
            temporary_password: generated,
            sent_to: Vec::new(),
        },
        ResetOutcome::LinkSent { hints } => AdminResetResponse {
            mode: "link",
            temporary_password: None,
            sent_to: hints,
        },
    }))
}

/// An account's state after enabling or disabling.
#[derive(Serialize, ToSchema)]
pub(crate) struct DisabledView {
    /// Account id.
    id: i64,
    /// Whether it is disabled.
    disabled: bool,
}

async fn set_disabled(
    app: &App,
    s: &crate::extract::AnySession,
    id: i64,
    disabled: bool,
    client: &regain_app::auth::Client,
) -> Result<Json<DisabledView>, ApiError> {
    let account = app
        .set_account_disabled(
            &s.tenant,
            &Actor::Account(&s.auth),
            id,
            disabled,
            Some(client),
        )
        .await?;
    Ok(Json(DisabledView {
        id: account.id,
        disabled: account.disabled,
    }))
}

/// Disable an account below you (its sessions end at once).
#[utoipa::path(post, path = "/api/v1/t/{tenant}/accounts/{id}/disable", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Account id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Disabled", body = DisabledView),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "The account is not below you", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
async fn disable_account(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
    ClientInfo(client): ClientInfo,
) -> Result<Json<DisabledView>, ApiError> {
    set_disabled(&app, &s, id, true, &client).await
}

/// Enable an account below you.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/accounts/{id}/enable", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Account id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Enabled", body = DisabledView),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "The account is not below you", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
async fn enable_account(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
    ClientInfo(client): ClientInfo,
) -> Result<Json<DisabledView>, ApiError> {
    set_disabled(&app, &s, id, false, &client).await
}
