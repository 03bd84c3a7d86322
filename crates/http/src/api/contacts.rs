//! Binding and unbinding an account's email or phone, with a code.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use regain_app::admin::Actor;
use regain_app::App;
use regain_store::ContactKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::AccountView;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AccountId, ActiveSession, ApiJson, ClientInfo, PathKind};

pub(super) fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(start_binding))
        .routes(routes!(confirm_binding))
        .routes(routes!(unbind))
}

fn kind(raw: &str) -> Result<ContactKind, ApiError> {
    ContactKind::parse(raw).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_contact_kind",
            "kind is email or phone",
        )
    })
}

/// The contact to bind.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BindRequest {
    /// `email` or `phone`.
    kind: String,
    /// The address, or the phone number in international form.
    value: String,
}

/// Where the code went.
#[derive(Serialize, ToSchema)]
pub(crate) struct BindStarted {
    /// `email` or `phone`.
    kind: &'static str,
    /// The masked contact.
    hint: String,
}

/// The code received at the new contact.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmRequest {
    /// `email` or `phone`.
    kind: String,
    /// Six digits.
    code: String,
}

/// Send a code to a new email or phone for yourself or an account you
/// manage (needs a recent password).
#[utoipa::path(post, path = "/api/v1/t/{tenant}/accounts/{id}/contacts", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Account id")),
    security(("bearer" = []), ("cookie" = [])),
    request_body = BindRequest,
    responses(
        (status = 202, description = "A code is on its way to the new contact", body = BindStarted),
        (status = 400, description = "invalid_contact_kind, invalid_email or invalid_phone", body = ErrorBody),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "Neither you nor below you", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 429, description = "Too many messages to this contact", body = ErrorBody),
    ))]
async fn start_binding(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
    ApiJson(req): ApiJson<BindRequest>,
) -> Result<(StatusCode, Json<BindStarted>), ApiError> {
    let kind = kind(&req.kind)?;
    let hint = app
        .start_contact_binding(&s.tenant, &Actor::Account(&s.auth), id, kind, &req.value)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(BindStarted {
            kind: kind.as_str(),
            hint,
        }),
    ))
}

/// Enter the code: the contact is bound as verified, and the contact it
/// replaces is told.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/accounts/{id}/contacts/verify", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Account id")),
    security(("bearer" = []), ("cookie" = [])),
    request_body = ConfirmRequest,
    responses(
        (status = 200, description = "Bound and verified", body = AccountView),
        (status = 400, description = "no_pending_contact, code_invalid (with attempts_left) or code_expired", body = ErrorBody),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "Neither you nor below you", body = ErrorBody),
        (status = 409, description = "contact_limit_reached", body = ErrorBody),
    ))]
async fn confirm_binding(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<ConfirmRequest>,
) -> Result<Json<AccountView>, ApiError> {
    let kind = kind(&req.kind)?;
    let account = app
        .confirm_contact(
            &s.tenant,
            &Actor::Account(&s.auth),
            id,
            kind,
            &req.code,
            Some(&client),
        )
        .await?;
    Ok(Json(AccountView::from(&account)))
}

/// Remove the email or phone of yourself or an account you manage; the
/// removed contact is told.
#[utoipa::path(delete, path = "/api/v1/t/{tenant}/accounts/{id}/contacts/{kind}", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Account id"),
           ("kind" = String, Path, description = "email or phone")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Removed", body = AccountView),
        (status = 400, description = "invalid_contact_kind", body = ErrorBody),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "Neither you nor below you", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
async fn unbind(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
    ClientInfo(client): ClientInfo,
    PathKind(raw): PathKind,
) -> Result<Json<AccountView>, ApiError> {
    let kind = kind(&raw)?;
    let account = app
        .unbind_contact(&s.tenant, &Actor::Account(&s.auth), id, kind, Some(&client))
        .await?;
    Ok(Json(AccountView::from(&account)))
}
