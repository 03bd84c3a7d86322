//! Login sessions: log in, see the current session, log out.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use regain_app::App;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::{rfc3339, AccountView};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ActiveSession, AnySession, ApiJson, ClientInfo, CurrentTenant};
use crate::SESSION_COOKIE;

pub(super) fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_session))
        .routes(routes!(get_current_session, delete_current_session))
}

/// Credentials. No `Debug`: the password must never reach a log.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    /// Username, `root/sub`, verified email, or verified phone (E.164).
    identifier: String,
    /// The password.
    password: String,
}

/// A new session.
#[derive(Serialize, ToSchema)]
pub(crate) struct LoginResponse {
    /// Session token for `Authorization: Bearer`; also set as an HttpOnly cookie.
    token: String,
    /// When the session ends (RFC 3339).
    expires_at: String,
    /// If true, only `POST …/password` is allowed until the password is changed.
    must_change_password: bool,
    /// The logged-in account.
    account: AccountView,
}

/// The current session.
#[derive(Serialize, ToSchema)]
pub(crate) struct SessionView {
    /// When the session started (RFC 3339).
    created_at: String,
    /// When it ends (RFC 3339).
    expires_at: String,
    /// The logged-in account.
    account: AccountView,
}

/// Log in with an identifier and a password.
///
/// An unknown account and a wrong password get the same answer (401
/// `invalid_credentials`). Repeated failures per identifier, account or
/// client address are throttled with 429 and Retry-After.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/sessions", tag = "sessions",
    params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = LoginRequest,
    responses(
        (status = 201, description = "Logged in", body = LoginResponse),
        (status = 400, description = "Malformed identifier or body", body = ErrorBody),
        (status = 401, description = "Unknown account or wrong password", body = ErrorBody),
        (status = 403, description = "Account disabled", body = ErrorBody),
        (status = 404, description = "Unknown tenant", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Body not sent as JSON", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
        (status = 503, description = "Hashing pool saturated", body = ErrorBody),
    ))]
async fn create_session(
    State(app): State<App>,
    CurrentTenant(tenant): CurrentTenant,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let logged_in = app
        .login(&tenant.slug, &req.identifier, req.password, &client)
        .await?;
    let must_change = app
        .must_change_password(&tenant, &logged_in.account)
        .await?;
    let max_age = i64::from(app.config.session.ttl_minutes) * 60;
    let cookie = session_cookie(&logged_in.token, max_age, app.config.cookie_secure());
    let body = LoginResponse {
        token: logged_in.token,
        expires_at: rfc3339(logged_in.expires_at),
        must_change_password: must_change,
        account: AccountView::from(&logged_in.account),
    };
    Ok((StatusCode::CREATED, cookie_header(cookie), Json(body)))
}

/// The session of the token presented.
#[utoipa::path(get, path = "/api/v1/t/{tenant}/sessions/current", tag = "sessions",
    params(("tenant" = String, Path, description = "Tenant slug")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The session", body = SessionView),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 403, description = "The password must be changed first", body = ErrorBody),
        (status = 404, description = "Unknown tenant", body = ErrorBody),
    ))]
async fn get_current_session(ActiveSession(s): ActiveSession) -> Json<SessionView> {
    Json(SessionView {
        created_at: rfc3339(s.auth.session.created_at),
        expires_at: rfc3339(s.auth.session.expires_at),
        account: AccountView::from(&s.auth.account),
    })
}

/// Log out: the token stops working at once.
#[utoipa::path(delete, path = "/api/v1/t/{tenant}/sessions/current", tag = "sessions",
    params(("tenant" = String, Path, description = "Tenant slug")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 404, description = "Unknown tenant", body = ErrorBody),
    ))]
async fn delete_current_session(
    State(app): State<App>,
    s: AnySession,
) -> Result<impl IntoResponse, ApiError> {
    app.logout(&s.tenant, &s.token).await?;
    let cookie = session_cookie("", 0, app.config.cookie_secure());
    Ok((StatusCode::NO_CONTENT, cookie_header(cookie)))
}

fn session_cookie(token: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

fn cookie_header(cookie: String) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, value);
    }
    headers
}
