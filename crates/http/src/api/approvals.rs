//! Administrators answer approval requests from people recovering an
//! account of their organization.

use axum::extract::State;
use axum::Json;
use regain_app::methods::approval::PendingApproval;
use regain_app::App;
use regain_store::Approval;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::rfc3339;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ActiveSession, ApiJson, ClientInfo, ItemId};

pub(super) fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_approvals))
        .routes(routes!(approve))
        .routes(routes!(deny))
}

/// One approval request.
#[derive(Serialize, ToSchema)]
pub(crate) struct ApprovalView {
    /// Its id.
    id: i64,
    /// `pending`, `approved` or `denied`.
    state: String,
    /// The account asking, by qualified name.
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    /// The administrator asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    approver: Option<String>,
    /// A denial's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// When it was asked (RFC 3339).
    created_at: String,
    /// When it lapses (RFC 3339).
    expires_at: String,
}

/// Requests waiting for you (or for an administrator below you).
#[derive(Serialize, ToSchema)]
pub(crate) struct ApprovalList {
    /// Oldest first.
    approvals: Vec<ApprovalView>,
}

/// A decision's reason.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionRequest {
    /// Required to deny: shown to the person.
    #[serde(default)]
    reason: Option<String>,
}

fn view(a: Approval, account: Option<String>, approver: Option<String>) -> ApprovalView {
    ApprovalView {
        id: a.id,
        state: a.state,
        account,
        approver,
        reason: a.reason,
        created_at: rfc3339(a.created_at),
        expires_at: rfc3339(a.expires_at),
    }
}

/// Pending requests you may decide.
#[utoipa::path(get, path = "/api/v1/t/{tenant}/approvals", tag = "approvals",
    params(("tenant" = String, Path, description = "Tenant slug")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Pending requests", body = ApprovalList),
        (status = 401, description = "No session", body = ErrorBody),
    ))]
async fn list_approvals(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
) -> Result<Json<ApprovalList>, ApiError> {
    let pending = app.pending_approvals(&s.tenant, &s.auth).await?;
    Ok(Json(ApprovalList {
        approvals: pending
            .into_iter()
            .map(
                |PendingApproval {
                     approval,
                     account,
                     approver,
                 }| { view(approval, Some(account), Some(approver)) },
            )
            .collect(),
    }))
}

/// Approve: the person's recovery can go on to a new password.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/approvals/{id}/approve", tag = "approvals",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Request id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Approved", body = ApprovalView),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 403, description = "Neither the administrator asked nor above them", body = ErrorBody),
        (status = 404, description = "approval_not_found", body = ErrorBody),
        (status = 409, description = "approval_decided", body = ErrorBody),
        (status = 410, description = "approval_expired, or the recovery ended", body = ErrorBody),
    ))]
async fn approve(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    ItemId(id): ItemId,
    ClientInfo(client): ClientInfo,
) -> Result<Json<ApprovalView>, ApiError> {
    let a = app
        .decide_approval(&s.tenant, &s.auth, id, true, None, &client)
        .await?;
    Ok(Json(view(a, None, None)))
}

/// Deny, with a reason the person will see; their recovery ends.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/approvals/{id}/deny", tag = "approvals",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Request id")),
    security(("bearer" = []), ("cookie" = [])),
    request_body = DecisionRequest,
    responses(
        (status = 200, description = "Denied", body = ApprovalView),
        (status = 400, description = "reason_required", body = ErrorBody),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 403, description = "Neither the administrator asked nor above them", body = ErrorBody),
        (status = 404, description = "approval_not_found", body = ErrorBody),
        (status = 409, description = "approval_decided", body = ErrorBody),
        (status = 410, description = "approval_expired, or the recovery ended", body = ErrorBody),
    ))]
async fn deny(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    ItemId(id): ItemId,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<DecisionRequest>,
) -> Result<Json<ApprovalView>, ApiError> {
    let a = app
        .decide_approval(
            &s.tenant,
            &s.auth,
            id,
            false,
            req.reason.as_deref(),
            &client,
        )
        .await?;
    Ok(Json(view(a, None, None)))
}
