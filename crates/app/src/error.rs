//! The errors of the use cases: each has a stable code; the HTTP layer picks
//! the status, the CLI prints the message. Internal failures carry detail for
//! the log only.

use regain_domain::identifiers::IdentifierError;
use regain_domain::password::PasswordInputError;
use regain_domain::policy::Violation;
use regain_store::StoreError;

use crate::hashing::HashError;

/// A use case failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Something named does not exist (`code` e.g. `tenant_not_found`).
    #[error("{message}")]
    NotFound {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: &'static str,
    },
    /// The input is malformed.
    #[error("{message}")]
    Invalid {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: String,
    },
    /// Unknown account or wrong password: deliberately the same answer.
    #[error("the identifier or the password is wrong")]
    InvalidCredentials,
    /// Too many failures: wait `retry_after` seconds.
    #[error("too many failed attempts; try again later")]
    Throttled {
        /// Seconds until the lock ends.
        retry_after: i64,
    },
    /// The hashing pool is saturated.
    #[error("the service is busy; try again shortly")]
    Busy,
    /// No valid session.
    #[error("log in first")]
    Unauthenticated,
    /// The account must change its password before doing anything else.
    #[error("you must change your password before continuing")]
    PasswordChangeRequired,
    /// The account is disabled.
    #[error("this account is disabled; contact your administrator")]
    AccountDisabled,
    /// Not allowed for this actor.
    #[error("you are not allowed to do this")]
    Forbidden,
    /// The new password breaks the policy in force.
    #[error("the password does not meet the policy")]
    Policy(Vec<Violation>),
    /// A unique value is taken (e.g. "username").
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// A contact is bound to as many accounts as the tenant allows.
    #[error("this email or phone is already bound to the maximum number of accounts")]
    ContactLimit,
    /// The CAPTCHA answer is missing, wrong, expired or used.
    #[error("the CAPTCHA answer is wrong or expired; get a new one")]
    CaptchaInvalid,
    /// A recovery step was refused.
    #[error("{0}")]
    Recovery(regain_domain::recovery::FlowError),
    /// One destination got as many messages as it may this hour.
    #[error("too many messages to this contact; try again later")]
    DestinationLimit {
        /// Seconds to wait.
        retry_after: i64,
    },
    /// The reset token is wrong, used or expired.
    #[error("this reset link or token is invalid, used or expired; start again")]
    ResetTokenInvalid,
    /// Two steps of one flow raced; the loser may retry.
    #[error("the recovery changed meanwhile; try again")]
    Concurrent,
    /// The action needs a recent proof of the actor's password.
    #[error("confirm your password to continue")]
    ReauthRequired,
    /// A reset link needs a verified contact to go to.
    #[error("the account has no verified email or phone to send a link to")]
    NoVerifiedContact,
    /// Something that existed has ended (an expired request).
    #[error("{message}")]
    Gone {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: &'static str,
    },
    /// The step does not apply in the thing's current state (a request
    /// decided already).
    #[error("{message}")]
    WrongState {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: &'static str,
    },
    /// A credential of a caller that is not a session (a webhook's
    /// signature) is missing or wrong.
    #[error("{message}")]
    Unauthorized {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: &'static str,
    },
    /// A provider Regain depends on did not answer.
    #[error("{message}")]
    Unavailable {
        /// Stable code.
        code: &'static str,
        /// Human message.
        message: &'static str,
    },
    /// Anything else: logged in full, answered generically.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound { code, .. }
            | AppError::Invalid { code, .. }
            | AppError::Gone { code, .. }
            | AppError::WrongState { code, .. }
            | AppError::Unauthorized { code, .. }
            | AppError::Unavailable { code, .. } => code,
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::Throttled { .. } => "too_many_attempts",
            AppError::Busy => "busy",
            AppError::Unauthenticated => "unauthenticated",
            AppError::PasswordChangeRequired => "password_change_required",
            AppError::AccountDisabled => "account_disabled",
            AppError::Forbidden => "forbidden",
            AppError::Policy(_) => "password_policy_violation",
            AppError::Conflict(_) => "conflict",
            AppError::ContactLimit => "contact_limit_reached",
            AppError::CaptchaInvalid => "captcha_invalid",
            AppError::Recovery(e) => recovery_code(e),
            AppError::DestinationLimit { .. } => "too_many_messages",
            AppError::ResetTokenInvalid => "reset_token_invalid",
            AppError::Concurrent => "concurrent_update",
            AppError::ReauthRequired => "reauth_required",
            AppError::NoVerifiedContact => "no_verified_contact",
            AppError::Internal(_) => "internal_error",
        }
    }

    /// An internal error with detail for the log.
    pub fn internal(detail: impl Into<String>) -> AppError {
        AppError::Internal(detail.into())
    }

    /// The tenant in the path does not exist.
    pub fn tenant_not_found() -> AppError {
        AppError::NotFound {
            code: "tenant_not_found",
            message: "no such tenant",
        }
    }

    /// The account does not exist (only where existence is not a secret).
    pub fn account_not_found() -> AppError {
        AppError::NotFound {
            code: "account_not_found",
            message: "no such account",
        }
    }
}

fn recovery_code(e: &regain_domain::recovery::FlowError) -> &'static str {
    use regain_domain::recovery::FlowError;
    match e {
        FlowError::Expired => "flow_expired",
        FlowError::Failed => "flow_failed",
        FlowError::WrongState => "flow_wrong_state",
        FlowError::MethodNotOffered => "method_not_available",
        FlowError::ContactMismatch { .. } => "contact_mismatch",
        FlowError::Cooldown { .. } => "resend_cooldown",
        FlowError::TooManyMessages => "too_many_messages",
        FlowError::WrongCode { .. } => "code_invalid",
        FlowError::CodeExpired => "code_expired",
        FlowError::Pending => "verification_pending",
    }
}

impl From<regain_domain::recovery::FlowError> for AppError {
    fn from(e: regain_domain::recovery::FlowError) -> Self {
        AppError::Recovery(e)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict("recovery flow") => AppError::Concurrent,
            StoreError::Conflict(what) => AppError::Conflict(what),
            StoreError::NotFound("parent account") => AppError::NotFound {
                code: "parent_not_found",
                message: "the parent account does not exist",
            },
            StoreError::NotFound(_) => AppError::account_not_found(),
            StoreError::ContactLimit => AppError::ContactLimit,
            other => AppError::Internal(format!("storage: {other:?}")),
        }
    }
}

impl From<HashError> for AppError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => AppError::Busy,
            HashError::Failed(detail) => AppError::Internal(detail),
        }
    }
}

impl From<IdentifierError> for AppError {
    fn from(e: IdentifierError) -> Self {
        AppError::Invalid {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<PasswordInputError> for AppError {
    fn from(e: PasswordInputError) -> Self {
        let code = match e {
            PasswordInputError::Empty => "password_empty",
            PasswordInputError::TooLong => "password_too_long",
            PasswordInputError::ControlCharacter => "password_invalid_character",
        };
        AppError::Invalid {
            code,
            message: e.to_string(),
        }
    }
}
