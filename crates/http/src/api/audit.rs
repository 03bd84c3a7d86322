//! Reading the audit log: an account sees the events about itself and the
//! accounts it manages.

use axum::extract::State;
use axum::Json;
use regain_app::admin::Actor;
use regain_app::App;
use regain_store::AuditFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::rfc3339;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ActiveSession, ApiQuery};

pub(super) fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// Filters and paging.
#[derive(Deserialize, IntoParams)]
pub(crate) struct AuditQuery {
    /// Exact subject, e.g. `account:12`.
    subject: Option<String>,
    /// Exact actor, e.g. `account:3`, `operator`, `anonymous`.
    actor: Option<String>,
    /// Exact action, e.g. `login`, `password.reset`.
    action: Option<String>,
    /// From this Unix time on.
    since: Option<i64>,
    /// Before this Unix time.
    until: Option<i64>,
    /// Continue below this event id (the previous page's `next_before`).
    before: Option<i64>,
    /// Page size, 1 to 500.
    limit: Option<i64>,
}

/// One event.
#[derive(Serialize, ToSchema)]
pub(crate) struct AuditView {
    /// Event id (the order of the hash chain).
    id: i64,
    /// When (RFC 3339).
    at: String,
    /// What happened.
    action: String,
    /// Who did it.
    actor: String,
    /// To whom.
    subject: String,
    /// Client address.
    ip: String,
    /// `success`, `failure`, `denied`…
    outcome: String,
    /// Extra facts (never a secret).
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

/// A page of events.
#[derive(Serialize, ToSchema)]
pub(crate) struct AuditPage {
    /// Newest first.
    events: Vec<AuditView>,
    /// Pass as `before` for older events; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<i64>,
}

/// Audit events about you and the accounts you manage, newest first.
#[utoipa::path(get, path = "/api/v1/t/{tenant}/audit", tag = "audit",
    params(("tenant" = String, Path, description = "Tenant slug"), AuditQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of events", body = AuditPage),
        (status = 400, description = "A malformed filter", body = ErrorBody),
        (status = 401, description = "No session", body = ErrorBody),
    ))]
async fn list_audit(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let filter = AuditFilter {
        tenant_id: s.tenant.id,
        subject: q.subject,
        actor: q.actor,
        action: q.action,
        since: q.since.map(regain_domain::clock::Timestamp),
        until: q.until.map(regain_domain::clock::Timestamp),
    };
    let (rows, next_before) = app
        .read_audit(&s.tenant, &Actor::Account(&s.auth), filter, q.before, limit)
        .await?;
    Ok(Json(AuditPage {
        events: rows
            .into_iter()
            .map(|r| AuditView {
                id: r.id,
                at: rfc3339(r.at),
                action: r.event.action,
                actor: r.event.actor,
                subject: r.event.subject,
                ip: r.event.ip,
                outcome: r.event.outcome,
                detail: serde_json::from_str(&r.event.detail).unwrap_or_default(),
            })
            .collect(),
        next_before,
    }))
}
