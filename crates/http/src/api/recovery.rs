//! Self-service recovery: start, status, challenge, resend, verify, reset.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use regain_app::recovery::{Evidence, Next, Status};
use regain_app::App;
use regain_domain::recovery::Method;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::rfc3339;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ClientInfo, CurrentTenant, FlowId};

pub(super) fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(start_recovery))
        .routes(routes!(get_recovery))
        .routes(routes!(challenge_recovery))
        .routes(routes!(resend_recovery))
        .routes(routes!(verify_recovery))
        .routes(routes!(reset_password))
}

/// Who wants to recover, behind a CAPTCHA.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartRequest {
    /// Username, `root/sub`, email or phone (E.164).
    identifier: String,
    /// From `POST …/captcha` (built-in CAPTCHA).
    #[serde(default)]
    captcha_id: Option<String>,
    /// The text in the image, or the provider's token.
    #[serde(default)]
    captcha_answer: Option<String>,
}

/// One offered method.
#[derive(Serialize, ToSchema)]
pub(crate) struct MethodView {
    /// `sms_code`, `email_code`, `security_questions`, `emergency_contact`,
    /// `admin_approval`, `external_identity` or `face`.
    method: &'static str,
    /// What tells offers apart: the masked contact (`138****1234`), the
    /// masked administrator (`acme/o***n`), or for questions how many are
    /// asked of how many set (`2/3`). Pass it back as `hint` to choose
    /// among several offers of one method.
    hint: String,
}

/// A started recovery. Unknown identifiers get the same shape.
#[derive(Serialize, ToSchema)]
pub(crate) struct StartResponse {
    /// The flow's id: keep it private, it authorizes the next steps.
    /// `null` when `next` is `ask_administrator`.
    flow_id: Option<String>,
    /// When the flow ends (RFC 3339).
    expires_at: Option<String>,
    /// The methods this account supports, with masked hints.
    methods: Vec<MethodView>,
    /// `choose_method`, or `ask_administrator` when the account has no
    /// self-service method (no bound, verified email or phone): its
    /// administrator can reset the password.
    next: &'static str,
}

/// Where a recovery stands.
#[derive(Serialize, ToSchema)]
pub(crate) struct StatusView {
    /// `started`, `challenged`, `verified`, `completed`, `failed` or `expired`.
    state: &'static str,
    /// The chosen method.
    method: Option<&'static str>,
    /// The methods offered.
    methods: Vec<MethodView>,
    /// Wrong codes left before the flow fails.
    attempts_left: u32,
    /// When another code may be requested (RFC 3339).
    resend_available_at: Option<String>,
    /// When the flow ends (RFC 3339).
    expires_at: String,
    /// The last message's delivery, so "why didn't I get the code?" has an
    /// answer.
    delivery: Option<DeliveryView>,
    /// `security_questions`: the questions to answer, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    questions: Vec<String>,
    /// Methods passed already, when the tenant asks for a second one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    proven: Vec<&'static str>,
    /// Why the flow ended, when someone said no (an administrator's
    /// denial).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// `face`, `external_identity`: open this page to take the external
    /// step, then check the status and call `verify`.
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect_url: Option<String>,
}

/// Delivery of the last message.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    /// `queued`, `sent` or `failed`.
    state: String,
    /// For a retry or a failure: `unreachable`, `timeout`, `rejected`,
    /// `invalid_recipient` or `configuration`.
    reason: Option<String>,
}

/// Choose a method.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChallengeRequest {
    /// One of the offered methods.
    method: String,
    /// The hint of the chosen offer, among several of one method (which
    /// emergency contact, which administrator); the first when absent.
    #[serde(default)]
    hint: Option<String>,
    /// The full phone or email behind the hint, when the tenant requires it.
    #[serde(default)]
    contact: Option<String>,
}

/// The evidence of the chosen method. No `Debug`: codes and answers must
/// never reach a log.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyRequest {
    /// Six digits (a code method or an emergency contact's relayed code).
    #[serde(default)]
    code: Option<String>,
    /// `security_questions`: the answers, in the order of the questions.
    #[serde(default)]
    answers: Option<Vec<String>>,
}

/// A verified recovery, or the request for one more method.
#[derive(Serialize, ToSchema)]
pub(crate) struct VerifyResponse {
    /// `reset_password`, or `choose_another_method` when the tenant asks
    /// for a second method after security questions.
    next: &'static str,
    /// Authorizes one password reset; single use.
    #[serde(skip_serializing_if = "Option::is_none")]
    reset_token: Option<String>,
    /// When it stops working (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    /// The methods left, for `choose_another_method`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    methods: Vec<MethodView>,
    /// For a recovery started from an email or phone bound to several
    /// accounts: the accounts to choose from (pass `account_id` to reset).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    accounts: Vec<AccountChoice>,
}

/// An account bound to the verified contact.
#[derive(Serialize, ToSchema)]
pub(crate) struct AccountChoice {
    /// Pass as `account_id`.
    id: i64,
    /// `root/sub/…`.
    qualified_name: String,
}

/// The new password. No `Debug`: it must never reach a log.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetRequest {
    /// From `verify`.
    reset_token: String,
    /// The new password; it must meet the account's policy.
    new_password: String,
    /// The same again.
    confirm_password: String,
    /// Which account, for a recovery started from a shared contact.
    #[serde(default)]
    account_id: Option<i64>,
}

/// A completed reset.
#[derive(Serialize, ToSchema)]
pub(crate) struct ResetResponse {
    /// `password_changed`.
    status: &'static str,
    /// `log_in`: the reset does not log anyone in.
    next: &'static str,
}

fn methods(list: Vec<(Method, String)>) -> Vec<MethodView> {
    list.into_iter()
        .map(|(m, hint)| MethodView {
            method: m.as_str(),
            hint,
        })
        .collect()
}

fn status_view(s: Status) -> StatusView {
    StatusView {
        state: s.state.as_str(),
        method: s.method.map(Method::as_str),
        methods: methods(s.methods),
        attempts_left: s.attempts_left,
        resend_available_at: s.resend_available_at.map(rfc3339),
        expires_at: rfc3339(s.expires_at),
        delivery: s
            .delivery
            .map(|(state, reason)| DeliveryView { state, reason }),
        questions: s.questions,
        proven: s.proven.into_iter().map(Method::as_str).collect(),
        reason: s.reason,
        redirect_url: s.url,
    }
}

fn parse_method(m: &str) -> Result<Method, ApiError> {
    Method::parse(m).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "method_not_available",
            "unknown method; use one of those the recovery offered",
        )
    })
}

/// Start a recovery.
///
/// Answers the same shape whether or not the account exists. A wrong or
/// reused CAPTCHA is 400 `captcha_invalid` and consumes the challenge.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/recovery", tag = "recovery",
    params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = StartRequest,
    responses(
        (status = 201, description = "Started (or a decoy, indistinguishably), or ask_administrator", body = StartResponse),
        (status = 400, description = "captcha_invalid, or a malformed identifier", body = ErrorBody),
        (status = 404, description = "Unknown tenant", body = ErrorBody),
        (status = 429, description = "Too many requests from this address or for this identifier", body = ErrorBody),
    ))]
async fn start_recovery(
    State(app): State<App>,
    CurrentTenant(tenant): CurrentTenant,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<StartRequest>,
) -> Result<(StatusCode, Json<StartResponse>), ApiError> {
    let started = app
        .start_recovery(
            &tenant,
            &req.identifier,
            req.captcha_id.as_deref(),
            req.captcha_answer.as_deref(),
            &client,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(StartResponse {
            flow_id: started.flow_id,
            expires_at: started.expires_at.map(rfc3339),
            methods: methods(started.methods),
            next: match started.next {
                Next::ChooseMethod => "choose_method",
                Next::AskAdministrator => "ask_administrator",
            },
        }),
    ))
}

/// Where a recovery stands, and the delivery of its last message.
#[utoipa::path(get, path = "/api/v1/t/{tenant}/recovery/{flow_id}", tag = "recovery",
    params(("tenant" = String, Path, description = "Tenant slug"), ("flow_id" = String, Path, description = "Flow id")),
    responses(
        (status = 200, description = "The flow", body = StatusView),
        (status = 404, description = "Unknown tenant or flow", body = ErrorBody),
    ))]
async fn get_recovery(
    State(app): State<App>,
    CurrentTenant(tenant): CurrentTenant,
    FlowId(flow_id): FlowId,
) -> Result<Json<StatusView>, ApiError> {
    Ok(Json(status_view(
        app.recovery_status(&tenant, &flow_id).await?,
    )))
}

/// Choose a method: a code is sent (to a bound contact, or to an
/// emergency contact who relays it), the questions are picked, or the
/// administrator is asked.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/recovery/{flow_id}/challenge", tag = "recovery",
    params(("tenant" = String, Path, description = "Tenant slug"), ("flow_id" = String, Path, description = "Flow id")),
    request_body = ChallengeRequest,
    responses(
        (status = 200, description = "Started: a code is on its way, the questions are listed, or the administrator was asked", body = StatusView),
        (status = 400, description = "method_not_available, or contact_mismatch (a wrong try)", body = ErrorBody),
        (status = 404, description = "Unknown tenant or flow", body = ErrorBody),
        (status = 409, description = "flow_wrong_state", body = ErrorBody),
        (status = 410, description = "flow_expired or flow_failed", body = ErrorBody),
        (status = 429, description = "resend_cooldown or too_many_messages (Retry-After)", body = ErrorBody),
    ))]
async fn challenge_recovery(
    State(app): State<App>,
    CurrentTenant(tenant): CurrentTenant,
    FlowId(flow_id): FlowId,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<ChallengeRequest>,
) -> Result<Json<StatusView>, ApiError> {
    let method = parse_method(&req.method)?;
    let status = app
        .challenge_recovery(
            &tenant,
            &flow_id,
            method,
            req.hint.as_deref(),
            req.contact.as_deref(),
            &client,
        )
        .await?;
    Ok(Json(status_view(status)))
}

/// Get a new code (after the cooldown). Wrong tries are not reset.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/recovery/{flow_id}/resend", tag = "recovery",
    params(("tenant" = String, Path, description = "Tenant slug"), ("flow_id" = String, Path, description = "Flow id")),
    responses(
        (status = 200, description = "A new code is on its way", body = StatusView),
        (status = 404, description = "Unknown tenant or flow", body = ErrorBody),
        (status = 409, description = "No method chosen yet", body = ErrorBody),
        (status = 410, description = "flow_expired or flow_failed", body = ErrorBody),
        (status = 429, description = "resend_cooldown or too_many_messages (Retry-After)", body = ErrorBody),
    ))]
async fn resend_recovery(
    State(app): State<App>,
    CurrentTenant(tenant): CurrentTenant,
    FlowId(flow_id): FlowId,
    ClientInfo(client): ClientInfo,
) -> Result<Json<StatusView>, ApiError> {
    Ok(Json(status_view(
        app.resend_recovery(&tenant, &flow_id, &client).await?,
    )))
}

/// Give the evidence (a code, or the answers); get a reset token. For an
/// administrator's approval, call it once the status says it was given.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/recovery/{flow_id}/verify", tag = "recovery",
    params(("tenant" = String, Path, description = "Tenant slug"), ("flow_id" = String, Path, description = "Flow id")),
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "Verified", body = VerifyResponse),
        (status = 400, description = "code_invalid (with attempts_left) or code_expired", body = ErrorBody),
        (status = 404, description = "Unknown tenant or flow", body = ErrorBody),
        (status = 409, description = "flow_wrong_state, or verification_pending (an approval not given yet)", body = ErrorBody),
        (status = 410, description = "flow_failed (too many wrong codes, or denied) or flow_expired", body = ErrorBody),
    ))]
async fn verify_recovery(
    State(app): State<App>,
    CurrentTenant(tenant): CurrentTenant,
    FlowId(flow_id): FlowId,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Json<VerifyResponse>, ApiError> {
    let evidence = Evidence {
        code: req.code.as_deref(),
        answers: req.answers.as_deref(),
    };
    let v = app
        .verify_recovery(&tenant, &flow_id, evidence, &client)
        .await?;
    Ok(Json(VerifyResponse {
        next: if v.reset_token.is_some() {
            "reset_password"
        } else {
            "choose_another_method"
        },
        reset_token: v.reset_token,
        expires_at: v.expires_at.map(rfc3339),
        methods: methods(v.methods),
        accounts: v
            .accounts
            .into_iter()
            .map(|(id, qualified_name)| AccountChoice { id, qualified_name })
            .collect(),
    }))
}

/// Set the new password with the reset token. Does not log in.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/recovery/{flow_id}/reset", tag = "recovery",
    params(("tenant" = String, Path, description = "Tenant slug"), ("flow_id" = String, Path, description = "Flow id")),
    request_body = ResetRequest,
    responses(
        (status = 200, description = "Password changed; every session was signed out", body = ResetResponse),
        (status = 400, description = "passwords_differ, reset_token_invalid, account_required, or a malformed password", body = ErrorBody),
        (status = 404, description = "Unknown tenant or flow", body = ErrorBody),
        (status = 422, description = "The password breaks the policy; every violation is listed", body = ErrorBody),
        (status = 429, description = "too_many_attempts: the address's recovery budget is spent (refused resets count against it); Retry-After", body = ErrorBody),
        (status = 503, description = "Hashing pool saturated", body = ErrorBody),
    ))]
async fn reset_password(
    State(app): State<App>,
    CurrentTenant(tenant): CurrentTenant,
    FlowId(flow_id): FlowId,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<ResetRequest>,
) -> Result<Json<ResetResponse>, ApiError> {
    app.reset_password(
        &tenant,
        &flow_id,
        &req.reset_token,
        req.new_password,
        req.confirm_password,
        req.account_id,
        &client,
    )
    .await?;
    Ok(Json(ResetResponse {
        status: "password_changed",
        next: "log_in",
    }))
}
