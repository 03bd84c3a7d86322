//! Extractors that turn a request into domain input, answering bad input
//! with an [`ApiError`] that carries a stable code.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use regain_app::auth::{Authenticated, Client};
use regain_app::{App, AppError};
use regain_store::Tenant;
use serde::de::DeserializeOwned;

use crate::client_ip::client_ip;
use crate::error::ApiError;
use crate::SESSION_COOKIE;

/// A JSON body whose rejections are [`ApiError`]s. Messages name the missing
/// field but never echo a submitted value (it might be a password).
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::JsonSyntaxError(_) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body is not valid JSON",
        ),
        JsonRejection::JsonDataError(e) => {
            let text = e.body_text();
            let message = match text.split_once("missing field `") {
                Some((_, rest)) => {
                    let field = rest.split('`').next().unwrap_or_default();
                    format!("the field `{field}` is required")
                }
                None => "a field is missing, of the wrong type, or not allowed here".to_string(),
            };
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
        }
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            )
        }
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the request body could not be read",
        ),
    }
}

/// A query string whose rejections are [`ApiError`]s.
pub(crate) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "a query parameter is missing or malformed",
                )
            })
    }
}

/// The calling client: address (trusted-proxy aware) and User-Agent.
pub(crate) struct ClientInfo(pub Client);

impl FromRequestParts<App> for ClientInfo {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| {
                ApiError::from(AppError::internal("no peer address on the connection"))
            })?;
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Ok(ClientInfo(Client {
            ip: client_ip(&app.config, peer, &parts.headers),
            user_agent,
        }))
    }
}

/// One named segment of the URL path (empty when the route has none).
async fn path_param(parts: &mut Parts, app: &App, name: &str) -> Result<String, ApiError> {
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, app)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_path",
                "the URL path is malformed",
            )
        })?;
    Ok(params.get(name).cloned().unwrap_or_default())
}

/// The tenant named by the `{tenant}` path segment.
pub(crate) struct CurrentTenant(pub Tenant);

impl FromRequestParts<App> for CurrentTenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let slug = path_param(parts, app, "tenant").await?;
        Ok(CurrentTenant(app.tenant(&slug).await?))
    }
}

/// The session token from `Authorization: Bearer …` or the session cookie.
fn session_token(parts: &Parts) -> Option<String> {
    if let Some(bearer) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_string());
    }
    cookies(&parts.headers)
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
}

/// The `name=value` pairs of the request's `Cookie` headers.
pub(crate) fn cookies(headers: &axum::http::HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
}

/// A valid session, even one whose account must change its password: only
/// the password change and logout accept this.
pub(crate) struct AnySession {
    pub tenant: Tenant,
    pub auth: Authenticated,
    pub token: String,
}

impl FromRequestParts<App> for AnySession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let CurrentTenant(tenant) = CurrentTenant::from_request_parts(parts, app).await?;
        let token = session_token(parts).ok_or(AppError::Unauthenticated)?;
        let auth = app.authenticate(&tenant, &token).await?;
        Ok(AnySession {
            tenant,
            auth,
            token,
        })
    }
}

/// A valid session of an account free to act: one flagged "must change
/// password" gets 403 `password_change_required` everywhere else.
pub(crate) struct ActiveSession(pub AnySession);

impl FromRequestParts<App> for ActiveSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let session = AnySession::from_request_parts(parts, app).await?;
        if app
            .must_change_password(&session.tenant, &session.auth.account)
            .await?
        {
            return Err(AppError::PasswordChangeRequired.into());
        }
        Ok(ActiveSession(session))
    }
}

/// The `{flow_id}` path segment of a recovery.
pub(crate) struct FlowId(pub String);

impl FromRequestParts<App> for FlowId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        Ok(FlowId(path_param(parts, app, "flow_id").await?))
    }
}

/// The `{id}` path segment of an account.
pub(crate) struct AccountId(pub i64);

impl FromRequestParts<App> for AccountId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        path_param(parts, app, "id")
            .await?
            .parse()
            .ok()
            .map(AccountId)
            .ok_or_else(|| ApiError::from(AppError::account_not_found()))
    }
}

/// Numeric path segments naming things other than accounts; a malformed
/// number is answered like an unknown one.
macro_rules! number_param {
    ($(#[$doc:meta])* $name:ident, $segment:literal) => {
        $(#[$doc])*
        pub(crate) struct $name(pub i64);

        impl FromRequestParts<App> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
                path_param(parts, app, $segment)
                    .await?
                    .parse()
                    .ok()
                    .map($name)
                    .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such item"))
            }
        }
    };
}

number_param!(
    /// The `{contact_id}` segment of an emergency contact.
    ContactItemId,
    "contact_id"
);
number_param!(
    /// The `{attachment_id}` segment of an appeal's attachment.
    AttachmentId,
    "attachment_id"
);
number_param!(
    /// The `{id}` segment of an approval request or an appeal.
    ItemId,
    "id"
);

/// The `{kind}` path segment (of a contact).
pub(crate) struct PathKind(pub String);

impl FromRequestParts<App> for PathKind {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        Ok(PathKind(path_param(parts, app, "kind").await?))
    }
}

/// A session if the request carries a valid one (even one that must change
/// its password); anything else is `None`, for endpoints that are public
/// unless they are asked about an account.
pub(crate) struct MaybeSession(pub Option<AnySession>);

impl FromRequestParts<App> for MaybeSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        if session_token(parts).is_none() {
            return Ok(MaybeSession(None));
        }
        Ok(MaybeSession(
            AnySession::from_request_parts(parts, app).await.ok(),
        ))
    }
}
