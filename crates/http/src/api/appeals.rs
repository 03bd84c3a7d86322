//! The manual appeal: a person files one (with a code to a new contact),
//! adds attachments and reads its status with the status token; support
//! reviewers list the queue, claim, approve or deny.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use regain_app::appeals::{Filed, NewAppeal, Review, MAX_ATTACHMENT_BYTES};
use regain_app::{App, AppError};
use regain_store::{Appeal, Attachment, ContactKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::rfc3339;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{
    ActiveSession, ApiJson, ApiQuery, AttachmentId, ClientInfo, CurrentTenant, ItemId, MaybeSession,
};

/// The header that carries an appeal's status token (never the URL).
const TOKEN_HEADER: &str = "x-appeal-token";

pub(super) fn router() -> OpenApiRouter<App> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(attach))
        // An attachment is larger than any JSON body; the app checks the
        // exact limit and the type.
        .layer(DefaultBodyLimit::max(MAX_ATTACHMENT_BYTES + 1024));
    OpenApiRouter::new()
        .routes(routes!(list_appeals, file_appeal))
        .routes(routes!(get_appeal))
        .routes(routes!(confirm_appeal))
        .routes(routes!(claim_appeal))
        .routes(routes!(approve_appeal))
        .routes(routes!(deny_appeal))
        .routes(routes!(get_attachment))
        .merge(uploads)
}

/// A new appeal. No `Debug`: it holds personal data.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileRequest {
    /// Your username, `root/sub`, email or phone.
    identifier: String,
    /// `email` or `phone`: a contact you can read now.
    contact_kind: String,
    /// The contact; a code goes there.
    contact_value: String,
    /// What happened, and why no method works.
    description: String,
    /// Evidence as text (order numbers, devices, places of login).
    #[serde(default)]
    evidence: String,
    /// From `POST …/captcha` (built-in CAPTCHA).
    #[serde(default)]
    captcha_id: Option<String>,
    /// The text in the image, or the provider's token.
    #[serde(default)]
    captcha_answer: Option<String>,
}

/// A filed appeal: keep the status token, it is shown once.
#[derive(Serialize, ToSchema)]
pub(crate) struct FiledView {
    /// The appeal's id.
    id: i64,
    /// Send it as `X-Appeal-Token` to read the status or attach files.
    status_token: String,
    /// Where the code went (masked).
    contact_hint: String,
    /// `unconfirmed` until the code is entered.
    state: &'static str,
}

/// The code the new contact received.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmRequest {
    /// From filing.
    status_token: String,
    /// Six digits.
    code: String,
}

/// A denial's reason.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DenyRequest {
    /// Shown to the person.
    reason: String,
}

/// An attachment's description.
#[derive(Serialize, ToSchema)]
pub(crate) struct AttachmentView {
    /// Its id.
    id: i64,
    /// The file name given.
    name: String,
    /// `image/png`, `image/jpeg` or `application/pdf`.
    content_type: String,
    /// Size in bytes.
    size: i64,
}

/// An appeal. The person sees its state and a denial's reason; support
/// also sees the evidence.
#[derive(Serialize, ToSchema)]
pub(crate) struct AppealView {
    /// Its id.
    id: i64,
    /// `unconfirmed`, `open`, `claimed`, `approved`, `denied`,
    /// `superseded` (a newer appeal of the account replaced it) or
    /// `abandoned` (the contact code was never entered right).
    state: String,
    /// A denial's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// When it was filed (RFC 3339).
    created_at: String,
    /// When it last changed (RFC 3339).
    updated_at: String,
    /// Support: what the person typed.
    #[serde(skip_serializing_if = "Option::is_none")]
    identifier: Option<String>,
    /// Support: the account it names (`null` when none matched).
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<Option<String>>,
    /// Support: the proven new contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<String>,
    /// Support: the description.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// Support: the evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<String>,
    /// Support: the reviewer holding it.
    #[serde(skip_serializing_if = "Option::is_none")]
    claimed_by: Option<i64>,
    /// Support: the attachments.
    #[serde(skip_serializing_if = "Option::is_none")]
    attachments: Option<Vec<AttachmentView>>,
}

/// The queue.
#[derive(Serialize, ToSchema)]
pub(crate) struct AppealPage {
    /// Oldest first.
    appeals: Vec<AppealView>,
}

/// Which appeals.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueueQuery {
    /// `open` (default), `claimed`, `approved`, `denied`, …
    #[serde(default = "open")]
    state: String,
    /// Only ids above this.
    #[serde(default)]
    after: i64,
}

fn open() -> String {
    "open".into()
}

fn person_view(a: Appeal) -> AppealView {
    AppealView {
        id: a.id,
        state: a.state,
        reason: a.reason,
        created_at: rfc3339(a.created_at),
        updated_at: rfc3339(a.updated_at),
        identifier: None,
        account: None,
        contact: None,
        description: None,
        evidence: None,
        claimed_by: None,
        attachments: None,
    }
}

fn attachment_view(a: Attachment) -> AttachmentView {
    AttachmentView {
        id: a.id,
        name: a.name,
        content_type: a.content_type,
        size: a.size,
    }
}

fn review_view(r: Review) -> AppealView {
    let a = r.appeal;
    AppealView {
        identifier: Some(a.identifier.clone()),
        account: Some(r.account),
        contact: Some(a.contact_value.clone()),
        description: Some(a.description.clone()),
        evidence: Some(a.evidence.clone()),
        claimed_by: a.claimed_by,
        attachments: Some(r.attachments.into_iter().map(attachment_view).collect()),
        ..person_view(a)
    }
}

fn token_of(headers: &HeaderMap) -> String {
    headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// File an appeal when no verification method works.
///
/// Answers the same whether or not the identifier names an account. A code
/// goes to the new contact; the appeal reaches support once it is entered.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/appeals", tag = "appeals",
    params(("tenant" = String, Path, description = "Tenant slug")),
    request_body = FileRequest,
    responses(
        (status = 202, description = "Filed; a code is on its way to the contact", body = FiledView),
        (status = 400, description = "captcha_invalid, description_invalid, evidence_invalid, invalid_contact_kind, a malformed identifier or contact", body = ErrorBody),
        (status = 429, description = "Too many requests, or messages to this contact", body = ErrorBody),
    ))]
async fn file_appeal(
    State(app): State<App>,
    CurrentTenant(tenant): CurrentTenant,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<FileRequest>,
) -> Result<(StatusCode, Json<FiledView>), ApiError> {
    let contact_kind = ContactKind::parse(&req.contact_kind).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_contact_kind",
            "contact_kind is email or phone",
        )
    })?;
    let Filed {
        id,
        status_token,
        contact_hint,
    } = app
        .file_appeal(
            &tenant,
            NewAppeal {
                identifier: &req.identifier,
                contact_kind,
                contact_value: &req.contact_value,
                description: &req.description,
                evidence: &req.evidence,
            },
            (req.captcha_id.as_deref(), req.captcha_answer.as_deref()),
            &client,
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(FiledView {
            id,
            status_token,
            contact_hint,
            state: "unconfirmed",
        }),
    ))
}

/// Enter the code the new contact received: the appeal joins the queue.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/appeals/{id}/confirm", tag = "appeals",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Appeal id")),
    request_body = ConfirmRequest,
    responses(
        (status = 200, description = "In the queue", body = AppealView),
        (status = 400, description = "code_invalid (with attempts_left) or code_expired", body = ErrorBody),
        (status = 404, description = "appeal_not_found (or a wrong status token)", body = ErrorBody),
        (status = 409, description = "appeal_wrong_state", body = ErrorBody),
    ))]
async fn confirm_appeal(
    State(app): State<App>,
    CurrentTenant(tenant): CurrentTenant,
    ItemId(id): ItemId,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<ConfirmRequest>,
) -> Result<Json<AppealView>, ApiError> {
    let appeal = app
        .confirm_appeal(&tenant, id, &req.status_token, &req.code, &client)
        .await?;
    Ok(Json(person_view(appeal)))
}

/// Attach a file (PNG, JPEG or PDF, up to the tenant's limit — 1 MiB by
/// default — five per appeal). The body is the file; `Content-Type` must be
/// its real type.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/appeals/{id}/attachments", tag = "appeals",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Appeal id"),
           ("X-Appeal-Token" = String, Header, description = "The status token"),
           ("X-File-Name" = Option<String>, Header, description = "The file's name")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Attached", body = AttachmentView),
        (status = 400, description = "attachment_type, attachment_size or too_many_attachments", body = ErrorBody),
        (status = 404, description = "appeal_not_found (or a wrong status token)", body = ErrorBody),
        (status = 409, description = "appeal_wrong_state (decided already)", body = ErrorBody),
        (status = 413, description = "Larger than the limit", body = ErrorBody),
    ))]
async fn attach(
    State(app): State<App>,
    CurrentTenant(tenant): CurrentTenant,
    ItemId(id): ItemId,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<AttachmentView>), ApiError> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let name = headers
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("attachment");
    let a = app
        .attach_to_appeal(&tenant, id, &token_of(&headers), name, declared, &body)
        .await?;
    Ok((StatusCode::CREATED, Json(attachment_view(a))))
}

/// The status of an appeal: with its status token (`X-Appeal-Token`), or
/// in full for a support reviewer's session.
#[utoipa::path(get, path = "/api/v1/t/{tenant}/appeals/{id}", tag = "appeals",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Appeal id"),
           ("X-Appeal-Token" = Option<String>, Header, description = "The status token")),
    responses(
        (status = 200, description = "The appeal", body = AppealView),
        (status = 404, description = "appeal_not_found (or a wrong status token)", body = ErrorBody),
    ))]
async fn get_appeal(
    State(app): State<App>,
    CurrentTenant(tenant): CurrentTenant,
    ItemId(id): ItemId,
    MaybeSession(session): MaybeSession,
    headers: HeaderMap,
) -> Result<Json<AppealView>, ApiError> {
    if let Some(s) = session.filter(|_| headers.get(TOKEN_HEADER).is_none()) {
        return Ok(Json(review_view(
            app.review_appeal(&tenant, &s.auth, id).await?,
        )));
    }
    Ok(Json(person_view(
        app.appeal_status(&tenant, id, &token_of(&headers)).await?,
    )))
}

/// The queue, for support reviewers.
#[utoipa::path(get, path = "/api/v1/t/{tenant}/appeals", tag = "appeals",
    params(("tenant" = String, Path, description = "Tenant slug"), QueueQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Appeals in that state", body = AppealPage),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 403, description = "Not support staff", body = ErrorBody),
    ))]
async fn list_appeals(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> Result<Json<AppealPage>, ApiError> {
    let reviews = app
        .appeal_queue(&s.tenant, &s.auth, &q.state, q.after)
        .await?;
    Ok(Json(AppealPage {
        appeals: reviews.into_iter().map(review_view).collect(),
    }))
}

/// Take an open appeal to review it.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/appeals/{id}/claim", tag = "appeals",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Appeal id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Claimed", body = AppealView),
        (status = 403, description = "Not support staff", body = ErrorBody),
        (status = 404, description = "appeal_not_found", body = ErrorBody),
        (status = 409, description = "appeal_wrong_state (not open, or another reviewer's)", body = ErrorBody),
    ))]
async fn claim_appeal(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    ItemId(id): ItemId,
    ClientInfo(client): ClientInfo,
) -> Result<Json<AppealView>, ApiError> {
    Ok(Json(review_view(
        app.claim_appeal(&s.tenant, &s.auth, id, &client).await?,
    )))
}

/// Approve: a reset link goes to the appeal's contact, which is bound to
/// the account once the new password is set.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/appeals/{id}/approve", tag = "appeals",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Appeal id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Approved; the link is on its way", body = AppealView),
        (status = 403, description = "Not support staff", body = ErrorBody),
        (status = 404, description = "appeal_not_found", body = ErrorBody),
        (status = 409, description = "appeal_wrong_state, or appeal_no_account (deny it instead)", body = ErrorBody),
    ))]
async fn approve_appeal(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    ItemId(id): ItemId,
    ClientInfo(client): ClientInfo,
) -> Result<Json<AppealView>, ApiError> {
    Ok(Json(review_view(
        app.decide_appeal(&s.tenant, &s.auth, id, true, None, &client)
            .await?,
    )))
}

/// Deny, with a reason sent to the appeal's contact.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/appeals/{id}/deny", tag = "appeals",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Appeal id")),
    security(("bearer" = []), ("cookie" = [])),
    request_body = DenyRequest,
    responses(
        (status = 200, description = "Denied", body = AppealView),
        (status = 400, description = "reason_required", body = ErrorBody),
        (status = 403, description = "Not support staff", body = ErrorBody),
        (status = 404, description = "appeal_not_found", body = ErrorBody),
        (status = 409, description = "appeal_wrong_state", body = ErrorBody),
    ))]
async fn deny_appeal(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    ItemId(id): ItemId,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<DenyRequest>,
) -> Result<Json<AppealView>, ApiError> {
    Ok(Json(review_view(
        app.decide_appeal(&s.tenant, &s.auth, id, false, Some(&req.reason), &client)
            .await?,
    )))
}

/// An attachment's bytes, for support (served as a download, never
/// rendered in the page).
#[utoipa::path(get, path = "/api/v1/t/{tenant}/appeals/{id}/attachments/{attachment_id}", tag = "appeals",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Appeal id"),
           ("attachment_id" = i64, Path, description = "Attachment id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 403, description = "Not support staff", body = ErrorBody),
        (status = 404, description = "appeal_not_found", body = ErrorBody),
    ))]
async fn get_attachment(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    ItemId(id): ItemId,
    AttachmentId(attachment_id): AttachmentId,
) -> Result<Response, ApiError> {
    let (kind, bytes) = app
        .appeal_attachment(&s.tenant, &s.auth, id, attachment_id)
        .await?;
    let content_type =
        HeaderValue::from_str(&kind).map_err(|_| AppError::internal("a stored type"))?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("sandbox; default-src 'none'"),
            ),
        ],
        bytes,
    )
        .into_response())
}
