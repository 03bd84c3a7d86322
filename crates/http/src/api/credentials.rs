//! What a logged-in person sets up for a later recovery: security
//! questions and emergency contacts. Only the account itself sets its own,
//! with a recent password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use regain_app::admin::Actor;
use regain_app::methods::emergency::ContactView;
use regain_app::App;
use regain_store::ContactKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AccountId, ActiveSession, ApiJson, ClientInfo, ContactItemId};

pub(super) fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(get_questions, set_questions))
        .routes(routes!(list_emergency_contacts, add_emergency_contact))
        .routes(routes!(confirm_emergency_contact))
        .routes(routes!(remove_emergency_contact))
        .routes(routes!(list_linked_identities, link_identity))
}

/// Where to sign in at the provider.
#[derive(Serialize, ToSchema)]
pub(crate) struct LinkStarted {
    /// Open it; the provider sends the browser back to
    /// `/api/v1/oidc/callback`, which answers `{"result": "linked"}`.
    authorization_url: String,
}

/// A linked external identity.
#[derive(Serialize, ToSchema)]
pub(crate) struct LinkedView {
    /// The provider's issuer.
    issuer: String,
    /// When it was linked (RFC 3339).
    linked_at: String,
}

/// Your linked external identities.
#[derive(Serialize, ToSchema)]
pub(crate) struct LinkedList {
    /// By issuer.
    identities: Vec<LinkedView>,
}

/// Your linked external identities.
#[utoipa::path(get, path = "/api/v1/t/{tenant}/accounts/{id}/external-identities", tag = "credentials",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Your account id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Linked identities", body = LinkedList),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "Not your account", body = ErrorBody),
    ))]
async fn list_linked_identities(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
) -> Result<Json<LinkedList>, ApiError> {
    let linked = app
        .linked_identities(&s.tenant, &Actor::Account(&s.auth), id)
        .await?;
    Ok(Json(LinkedList {
        identities: linked
            .into_iter()
            .map(|l| LinkedView {
                issuer: l.issuer,
                linked_at: super::views::rfc3339(l.linked_at),
            })
            .collect(),
    }))
}

/// Link your external account (the tenant's OpenID Connect provider): its
/// verified identity must match your identity record, or completes it.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/accounts/{id}/external-identities", tag = "credentials",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Your account id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Sign in at the provider", body = LinkStarted),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "Not your account", body = ErrorBody),
        (status = 409, description = "oidc_not_configured", body = ErrorBody),
        (status = 503, description = "provider_unavailable", body = ErrorBody),
    ))]
async fn link_identity(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
) -> Result<Json<LinkStarted>, ApiError> {
    let authorization_url = app
        .start_identity_link(&s.tenant, &Actor::Account(&s.auth), id)
        .await?;
    Ok(Json(LinkStarted { authorization_url }))
}

/// One question with its answer. No `Debug`: answers are secrets.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuestionInput {
    /// The question, from the tenant's list or your own.
    question: String,
    /// The answer; case, width and spacing do not matter later.
    answer: String,
}

/// The full set of questions (it replaces the old one).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuestionsRequest {
    /// At least as many as a recovery asks (2 by default), at most 5.
    questions: Vec<QuestionInput>,
}

/// The questions set (never the answers).
#[derive(Serialize, ToSchema)]
pub(crate) struct QuestionsView {
    /// In order.
    questions: Vec<String>,
}

/// Your security questions (never the answers).
#[utoipa::path(get, path = "/api/v1/t/{tenant}/accounts/{id}/security-questions", tag = "credentials",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Your account id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The questions", body = QuestionsView),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "Not your account", body = ErrorBody),
    ))]
async fn get_questions(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
) -> Result<Json<QuestionsView>, ApiError> {
    let questions = app
        .security_questions(&s.tenant, &Actor::Account(&s.auth), id)
        .await?;
    Ok(Json(QuestionsView { questions }))
}

/// Set your security questions (replaces the old set).
#[utoipa::path(put, path = "/api/v1/t/{tenant}/accounts/{id}/security-questions", tag = "credentials",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Your account id")),
    security(("bearer" = []), ("cookie" = [])),
    request_body = QuestionsRequest,
    responses(
        (status = 200, description = "Set", body = QuestionsView),
        (status = 400, description = "questions_count, question_invalid, question_repeated or answer_invalid", body = ErrorBody),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "Not your account", body = ErrorBody),
        (status = 503, description = "Hashing pool saturated", body = ErrorBody),
    ))]
async fn set_questions(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<QuestionsRequest>,
) -> Result<Json<QuestionsView>, ApiError> {
    let actor = Actor::Account(&s.auth);
    let pairs = req
        .questions
        .into_iter()
        .map(|q| (q.question, q.answer))
        .collect();
    app.set_security_questions(&s.tenant, &actor, id, pairs, &client)
        .await?;
    let questions = app.security_questions(&s.tenant, &actor, id).await?;
    Ok(Json(QuestionsView { questions }))
}

/// A person to name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmergencyContactRequest {
    /// Who they are to you.
    name: String,
    /// `email` or `phone`.
    kind: String,
    /// Their address, or phone number in international form.
    value: String,
}

/// The code the named person received.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmergencyCodeRequest {
    /// Six digits.
    code: String,
}

/// An emergency contact.
#[derive(Serialize, ToSchema)]
pub(crate) struct EmergencyContactView {
    /// Its id.
    id: i64,
    /// The name given.
    name: String,
    /// `email` or `phone`.
    kind: &'static str,
    /// The masked contact.
    hint: String,
    /// Usable in a recovery (its code was entered).
    verified: bool,
}

/// Your emergency contacts.
#[derive(Serialize, ToSchema)]
pub(crate) struct EmergencyContactList {
    /// Oldest first.
    contacts: Vec<EmergencyContactView>,
}

fn contact_view(c: ContactView) -> EmergencyContactView {
    EmergencyContactView {
        id: c.id,
        name: c.name,
        kind: c.kind.as_str(),
        hint: c.hint,
        verified: c.verified,
    }
}

/// Your emergency contacts.
#[utoipa::path(get, path = "/api/v1/t/{tenant}/accounts/{id}/emergency-contacts", tag = "credentials",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Your account id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The contacts", body = EmergencyContactList),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "Not your account", body = ErrorBody),
    ))]
async fn list_emergency_contacts(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
) -> Result<Json<EmergencyContactList>, ApiError> {
    let contacts = app
        .emergency_contacts(&s.tenant, &Actor::Account(&s.auth), id)
        .await?;
    Ok(Json(EmergencyContactList {
        contacts: contacts.into_iter().map(contact_view).collect(),
    }))
}

/// Name an emergency contact (up to five); a code goes to them, and they
/// count once you enter it.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/accounts/{id}/emergency-contacts", tag = "credentials",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Your account id")),
    security(("bearer" = []), ("cookie" = [])),
    request_body = EmergencyContactRequest,
    responses(
        (status = 202, description = "A code is on its way to them", body = EmergencyContactView),
        (status = 400, description = "name_invalid, invalid_contact_kind, invalid_email, invalid_phone or contact_is_own", body = ErrorBody),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "Not your account", body = ErrorBody),
        (status = 409, description = "contact_limit_reached (five already)", body = ErrorBody),
        (status = 429, description = "Too many messages to this contact", body = ErrorBody),
    ))]
async fn add_emergency_contact(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
    ApiJson(req): ApiJson<EmergencyContactRequest>,
) -> Result<(StatusCode, Json<EmergencyContactView>), ApiError> {
    let kind = ContactKind::parse(&req.kind).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_contact_kind",
            "kind is email or phone",
        )
    })?;
    let view = app
        .add_emergency_contact(
            &s.tenant,
            &Actor::Account(&s.auth),
            id,
            &req.name,
            kind,
            &req.value,
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(contact_view(view))))
}

/// Enter the code the contact received.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/accounts/{id}/emergency-contacts/{contact_id}/verify", tag = "credentials",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Your account id"),
           ("contact_id" = i64, Path, description = "The contact")),
    security(("bearer" = []), ("cookie" = [])),
    request_body = EmergencyCodeRequest,
    responses(
        (status = 200, description = "Verified", body = EmergencyContactView),
        (status = 400, description = "code_invalid (with attempts_left), code_expired or no_pending_code", body = ErrorBody),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "Not your account", body = ErrorBody),
        (status = 404, description = "contact_not_found", body = ErrorBody),
    ))]
async fn confirm_emergency_contact(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
    ContactItemId(contact_id): ContactItemId,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<EmergencyCodeRequest>,
) -> Result<Json<EmergencyContactView>, ApiError> {
    let view = app
        .confirm_emergency_contact(
            &s.tenant,
            &Actor::Account(&s.auth),
            id,
            contact_id,
            &req.code,
            &client,
        )
        .await?;
    Ok(Json(contact_view(view)))
}

/// Remove an emergency contact.
#[utoipa::path(delete, path = "/api/v1/t/{tenant}/accounts/{id}/emergency-contacts/{contact_id}", tag = "credentials",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Your account id"),
           ("contact_id" = i64, Path, description = "The contact")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "Not your account", body = ErrorBody),
        (status = 404, description = "contact_not_found", body = ErrorBody),
    ))]
async fn remove_emergency_contact(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
    ContactItemId(contact_id): ContactItemId,
    ClientInfo(client): ClientInfo,
) -> Result<StatusCode, ApiError> {
    app.remove_emergency_contact(&s.tenant, &Actor::Account(&s.auth), id, contact_id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
