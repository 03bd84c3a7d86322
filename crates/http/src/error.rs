//! The one error type of the HTTP edge: a stable code, a human message, the
//! right status, and `Retry-After` where waiting helps. Internal details go
//! to the log, never to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use regain_app::AppError;
use regain_domain::recovery::FlowError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    violations: Vec<ViolationBody>,
    retry_after: Option<i64>,
    attempts_left: Option<u32>,
}

/// The JSON body of every error.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code, e.g. `invalid_credentials`.
    code: &'static str,
    /// Human-readable message (English).
    message: String,
    /// For `password_policy_violation`: every broken rule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    violations: Vec<ViolationBody>,
    /// For 429 and 503: seconds to wait (also in the Retry-After header).
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<i64>,
    /// For a wrong code or contact: tries left before the recovery fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts_left: Option<u32>,
}

/// One broken password rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ViolationBody {
    /// Stable code, e.g. `too_short`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            violations: Vec::new(),
            retry_after: None,
            attempts_left: None,
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl ApiError {
    /// The HTTP status of the answer.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let status = match &e {
            AppError::NotFound { .. } => StatusCode::NOT_FOUND,
            AppError::Invalid { .. } => StatusCode::BAD_REQUEST,
            AppError::InvalidCredentials | AppError::Unauthenticated | AppError::ReauthRequired => {
                StatusCode::UNAUTHORIZED
            }
            AppError::NoVerifiedContact | AppError::WrongState { .. } => StatusCode::CONFLICT,
            AppError::Gone { .. } => StatusCode::GONE,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            AppError::PasswordChangeRequired | AppError::AccountDisabled | AppError::Forbidden => {
                StatusCode::FORBIDDEN
            }
            AppError::Policy(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) | AppError::ContactLimit | AppError::Concurrent => {
                StatusCode::CONFLICT
            }
            AppError::CaptchaInvalid | AppError::ResetTokenInvalid => StatusCode::BAD_REQUEST,
            AppError::DestinationLimit { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Recovery(f) => match f {
                FlowError::Expired | FlowError::Failed => StatusCode::GONE,
                FlowError::WrongState | FlowError::Pending => StatusCode::CONFLICT,
                FlowError::Cooldown { .. } | FlowError::TooManyMessages => {
                    StatusCode::TOO_MANY_REQUESTS
                }
                FlowError::MethodNotOffered
                | FlowError::ContactMismatch { .. }
                | FlowError::WrongCode { .. }
                | FlowError::CodeExpired => StatusCode::BAD_REQUEST,
            },
            AppError::Internal(detail) => {
                tracing::error!(detail = %detail, "internal error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut api = ApiError::new(status, e.code(), e.to_string());
        match e {
            AppError::Policy(violations) => {
                api.violations = violations
                    .iter()
                    .map(|v| ViolationBody {
                        code: v.code(),
                        message: v.message(),
                    })
                    .collect();
            }
            AppError::Throttled { retry_after } | AppError::DestinationLimit { retry_after } => {
                api.retry_after = Some(retry_after)
            }
            AppError::Recovery(FlowError::Cooldown { retry_after }) => {
                api.retry_after = Some(retry_after)
            }
            AppError::Recovery(FlowError::TooManyMessages) => api.retry_after = Some(3600),
            AppError::Recovery(
                FlowError::WrongCode { tries_left } | FlowError::ContactMismatch { tries_left },
            ) => api.attempts_left = Some(tries_left),
            AppError::Busy => api.retry_after = Some(1),
            _ => {}
        }
        api
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after;
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                violations: self.violations,
                retry_after,
                attempts_left: self.attempts_left,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}
