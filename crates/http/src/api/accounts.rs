//! Administration of accounts below the caller: password resets and
//! disabling. Every call is checked with the single rights function and
//! needs a recent proof of the caller's password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use regain_app::admin::{Actor, ResetMode, ResetOutcome};
use regain_app::App;
use regain_domain::password::Password;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use regain_app::accounts::AccountSpec;
use regain_domain::account::Role;
use regain_domain::policy::overrides::PolicyOverride;
use utoipa::IntoParams;

use super::views::AccountView;
use crate::extract::{
    AccountId, ActiveSession, ApiJson, ApiQuery, ClientInfo, CurrentTenant, MaybeSession,
};

pub(super) fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(reauthenticate))
        .routes(routes!(reset_account_password))
        .routes(routes!(disable_account))
        .routes(routes!(enable_account))
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(show_account))
        .routes(routes!(get_account_policy, put_account_policy))
        .routes(routes!(set_account_role))
        .routes(routes!(get_policy))
}

/// Which account's policy.
#[derive(Deserialize, IntoParams)]
pub(crate) struct PolicyQuery {
    /// An account id: yourself or one you manage (needs a session). Without
    /// it, the tenant's default policy (public).
    account: Option<i64>,
}

/// The password policy a given account must meet, for the pages to show
/// live; without `account`, the tenant's default.
#[utoipa::path(get, path = "/api/v1/t/{tenant}/policy", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug"), PolicyQuery),
    responses(
        (status = 200, description = "The policy", body = PolicyView),
        (status = 401, description = "account given without a session", body = ErrorBody),
        (status = 403, description = "Neither you nor below you", body = ErrorBody),
        (status = 404, description = "Unknown tenant or account", body = ErrorBody),
    ))]
async fn get_policy(
    State(app): State<App>,
    CurrentTenant(tenant): CurrentTenant,
    ApiQuery(q): ApiQuery<PolicyQuery>,
    MaybeSession(session): MaybeSession,
) -> Result<Json<PolicyView>, ApiError> {
    match q.account {
        None => {
            let resolved = regain_domain::policy::overrides::resolve(&tenant.policy, &[]);
            Ok(Json(policy_view(&resolved, None)))
        }
        Some(id) => {
            let s = session.ok_or(regain_app::AppError::Unauthenticated)?;
            let (resolved, own) = app
                .subtree_policy(&s.tenant, &Actor::Account(&s.auth), id)
                .await?;
            Ok(Json(policy_view(&resolved, own.as_ref())))
        }
    }
}

/// The new role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleRequest {
    /// `admin` or `member`.
    role: String,
}

/// Change the role of a sub-account you manage. Audited.
#[utoipa::path(put, path = "/api/v1/t/{tenant}/accounts/{id}/role", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Account id")),
    security(("bearer" = []), ("cookie" = [])),
    request_body = RoleRequest,
    responses(
        (status = 200, description = "The account with its new role", body = AccountView),
        (status = 400, description = "invalid_role, or not_a_sub_account", body = ErrorBody),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "The account is not below you", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
async fn set_account_role(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<RoleRequest>,
) -> Result<Json<AccountView>, ApiError> {
    let role = Role::parse(&req.role).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_role",
            "role is admin or member",
        )
    })?;
    let account = app
        .set_role(&s.tenant, &Actor::Account(&s.auth), id, role, Some(&client))
        .await?;
    Ok(Json(AccountView::from(&account)))
}

/// Paging and filter of the account list.
#[derive(Deserialize, IntoParams)]
pub(crate) struct ListQuery {
    /// The parent whose children to list.
    parent: i64,
    /// Continue after this id (the previous page's `next_after`).
    #[serde(default)]
    after: i64,
    /// Page size, 1 to 500.
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    100
}

/// A page of accounts.
#[derive(Serialize, ToSchema)]
pub(crate) struct AccountPage {
    /// The accounts, by id.
    accounts: Vec<AccountView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_after: Option<i64>,
}

/// List the children of an account that you may manage.
#[utoipa::path(get, path = "/api/v1/t/{tenant}/accounts", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug"), ListQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page", body = AccountPage),
        (status = 400, description = "Missing or malformed parent", body = ErrorBody),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 403, description = "The parent is neither you nor below you", body = ErrorBody),
        (status = 404, description = "No such parent", body = ErrorBody),
    ))]
async fn list_accounts(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<AccountPage>, ApiError> {
    let limit = q.limit.clamp(1, 500);
    let accounts = app
        .list_children(
            &s.tenant,
            &Actor::Account(&s.auth),
            q.parent,
            q.after,
            limit,
        )
        .await?;
    let next_after = (accounts.len() as i64 == limit)
        .then(|| accounts.last().map(|a| a.id))
        .flatten();
    Ok(Json(AccountPage {
        accounts: accounts.iter().map(AccountView::from).collect(),
        next_after,
    }))
}

/// A new sub-account. No `Debug`: it may hold a password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateAccountRequest {
    /// The parent: you, or an account you manage.
    parent_id: i64,
    /// Name among its siblings.
    username: String,
    /// `admin` or `member`.
    role: String,
    /// Human name.
    #[serde(default)]
    display_name: Option<String>,
    /// Email, bound unverified until its code is entered (`…/contacts`).
    #[serde(default)]
    email: Option<String>,
    /// Phone (E.164), bound unverified until its code is entered.
    #[serde(default)]
    phone: Option<String>,
    /// Initial password; it must meet the policy in force.
    #[serde(default)]
    password: Option<String>,
    /// Require a change at first login.
    #[serde(default)]
    must_change_password: bool,
    /// `en` or `zh-CN`.
    #[serde(default)]
    locale: Option<String>,
}

/// Create a sub-account under you or an account you manage.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/accounts", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug")),
    security(("bearer" = []), ("cookie" = [])),
    request_body = CreateAccountRequest,
    responses(
        (status = 201, description = "Created", body = AccountView),
        (status = 400, description = "A malformed field", body = ErrorBody),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "The parent is neither you nor below you", body = ErrorBody),
        (status = 404, description = "No such parent", body = ErrorBody),
        (status = 409, description = "The username is taken among the siblings, or the contact is bound to too many accounts", body = ErrorBody),
        (status = 422, description = "The password breaks the policy", body = ErrorBody),
    ))]
async fn create_account(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<CreateAccountRequest>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let role = Role::parse(&req.role).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_role",
            "role is admin or member",
        )
    })?;
    let password = req
        .password
        .map(Password::parse)
        .transpose()
        .map_err(regain_app::AppError::from)?;
    let spec = AccountSpec {
        parent: None,
        kind: None,
        role: Some(role),
        username: req.username,
        display_name: req.display_name,
        email: req.email,
        phone: req.phone,
        password,
        must_change_password: req.must_change_password,
        locale: req.locale,
        // The administrator's word is not proof of control: the contacts
        // become verified through their codes (`…/contacts`).
        contacts_verified: false,
    };
    let account = app
        .create_sub_account(
            &s.tenant,
            &Actor::Account(&s.auth),
            req.parent_id,
            spec,
            Some(&client),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(AccountView::from(&account))))
}

/// Show yourself or an account you manage.
#[utoipa::path(get, path = "/api/v1/t/{tenant}/accounts/{id}", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Account id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 403, description = "Neither you nor below you", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
async fn show_account(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
) -> Result<Json<AccountView>, ApiError> {
    let account = app
        .visible_account(&s.tenant, &Actor::Account(&s.auth), id)
        .await?;
    Ok(Json(AccountView::from(&account)))
}

/// A subtree's policy.
#[derive(Serialize, ToSchema)]
pub(crate) struct PolicyView {
    /// The policy the account must meet.
    #[schema(value_type = Object)]
    policy: serde_json::Value,
    /// Field → where its value was set (`tenant`, or the overriding account).
    #[schema(value_type = Object)]
    sources: serde_json::Value,
    /// This account's own override for its subtree (`null` when none).
    #[serde(rename = "override")]
    #[schema(value_type = Object)]
    own_override: serde_json::Value,
}

/// The override to store. `null` removes it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutPolicyRequest {
    /// Only the fields to override, e.g. `{"min_length": 12, "weak_keywords": ["acme"]}`.
    #[serde(rename = "override")]
    #[schema(value_type = Object)]
    own_override: Option<PolicyOverride>,
}

fn policy_view(
    resolved: &regain_domain::policy::overrides::Resolved,
    own: Option<&PolicyOverride>,
) -> PolicyView {
    PolicyView {
        policy: serde_json::to_value(&resolved.policy).unwrap_or_default(),
        sources: serde_json::to_value(&resolved.sources).unwrap_or_default(),
        own_override: serde_json::to_value(own).unwrap_or_default(),
    }
}

/// The policy in force for yourself or an account you manage, with the
/// origin of every field, and its own subtree override.
#[utoipa::path(get, path = "/api/v1/t/{tenant}/accounts/{id}/policy", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Account id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The policy", body = PolicyView),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 403, description = "Neither you nor below you", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
async fn get_account_policy(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
) -> Result<Json<PolicyView>, ApiError> {
    let (resolved, own) = app
        .subtree_policy(&s.tenant, &Actor::Account(&s.auth), id)
        .await?;
    Ok(Json(policy_view(&resolved, own.as_ref())))
}

/// Set (or remove) the policy override of your subtree or of one you
/// manage, e.g. a mail domain's weak keywords. Audited.
#[utoipa::path(put, path = "/api/v1/t/{tenant}/accounts/{id}/policy", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Account id")),
    security(("bearer" = []), ("cookie" = [])),
    request_body = PutPolicyRequest,
    responses(
        (status = 200, description = "The policy now in force", body = PolicyView),
        (status = 400, description = "invalid_policy: no password could meet it, or an unknown field", body = ErrorBody),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "Neither you nor below you", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
async fn put_account_policy(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
    ApiJson(req): ApiJson<PutPolicyRequest>,
) -> Result<Json<PolicyView>, ApiError> {
    let resolved = app
        .put_subtree_policy(
            &s.tenant,
            &Actor::Account(&s.auth),
            id,
            req.own_override.clone(),
        )
        .await?;
    Ok(Json(policy_view(&resolved, req.own_override.as_ref())))
}

/// The caller's password. No `Debug`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReauthRequest {
    /// The caller's current password.
    password: String,
}

/// Confirm your password; admin actions need it within the last 15 minutes.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/sessions/current/reauth", tag = "sessions",
    params(("tenant" = String, Path, description = "Tenant slug")),
    security(("bearer" = []), ("cookie" = [])),
    request_body = ReauthRequest,
    responses(
        (status = 204, description = "Confirmed"),
        (status = 401, description = "No session, or a wrong password", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords", body = ErrorBody),
    ))]
async fn reauthenticate(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    ApiJson(req): ApiJson<ReauthRequest>,
) -> Result<StatusCode, ApiError> {
    app.reauthenticate(&s.auth, req.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How to reset. No `Debug`: it may hold a password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminResetRequest {
    /// `temporary` (must be changed at next login) or `link` (sent to the
    /// account's verified contacts, single use, 24 hours).
    mode: String,
    /// For `temporary`: the password to set; omitted, one is generated and
    /// returned once.
    #[serde(default)]
    password: Option<String>,
}

/// What the reset did.
#[derive(Serialize, ToSchema)]
pub(crate) struct AdminResetResponse {
    /// `temporary` or `link`.
    mode: &'static str,
    /// The generated temporary password, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    temporary_password: Option<String>,
    /// Where the link went (masked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sent_to: Vec<String>,
}

/// Reset the password of an account below you.
///
/// The target's sessions are revoked, its verified contacts are notified and
/// the action is audited.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/accounts/{id}/password-reset", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Account id")),
    security(("bearer" = []), ("cookie" = [])),
    request_body = AdminResetRequest,
    responses(
        (status = 200, description = "Reset", body = AdminResetResponse),
        (status = 400, description = "Unknown mode or a malformed password", body = ErrorBody),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "The account is not below you", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "no_verified_contact for a link", body = ErrorBody),
        (status = 422, description = "The given temporary password breaks the policy", body = ErrorBody),
    ))]
async fn reset_account_password(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
    ClientInfo(client): ClientInfo,
    ApiJson(req): ApiJson<AdminResetRequest>,
) -> Result<Json<AdminResetResponse>, ApiError> {
    let mode = match (req.mode.as_str(), req.password) {
        ("temporary", password) => ResetMode::Temporary(
            password
                .map(Password::parse)
                .transpose()
                .map_err(regain_app::AppError::from)?,
        ),
        ("link", None) => ResetMode::Link,
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_mode",
                "mode is temporary (with an optional password) or link",
            ))
        }
    };
    let outcome = app
        .admin_reset(&s.tenant, &Actor::Account(&s.auth), id, mode, Some(&client))
        .await?;
    Ok(Json(match outcome {
        ResetOutcome::Temporary { generated } => AdminResetResponse {
            mode: "temporary",
            temporary_password: generated,
            sent_to: Vec::new(),
        },
        ResetOutcome::LinkSent { hints } => AdminResetResponse {
            mode: "link",
            temporary_password: None,
            sent_to: hints,
        },
    }))
}

/// An account's state after enabling or disabling.
#[derive(Serialize, ToSchema)]
pub(crate) struct DisabledView {
    /// Account id.
    id: i64,
    /// Whether it is disabled.
    disabled: bool,
}

async fn set_disabled(
    app: &App,
    s: &crate::extract::AnySession,
    id: i64,
    disabled: bool,
    client: &regain_app::auth::Client,
) -> Result<Json<DisabledView>, ApiError> {
    let account = app
        .set_account_disabled(
            &s.tenant,
            &Actor::Account(&s.auth),
            id,
            disabled,
            Some(client),
        )
        .await?;
    Ok(Json(DisabledView {
        id: account.id,
        disabled: account.disabled,
    }))
}

/// Disable an account below you (its sessions end at once).
#[utoipa::path(post, path = "/api/v1/t/{tenant}/accounts/{id}/disable", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Account id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Disabled", body = DisabledView),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "The account is not below you", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
async fn disable_account(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
    ClientInfo(client): ClientInfo,
) -> Result<Json<DisabledView>, ApiError> {
    set_disabled(&app, &s, id, true, &client).await
}

/// Enable an account below you.
#[utoipa::path(post, path = "/api/v1/t/{tenant}/accounts/{id}/enable", tag = "accounts",
    params(("tenant" = String, Path, description = "Tenant slug"), ("id" = i64, Path, description = "Account id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Enabled", body = DisabledView),
        (status = 401, description = "No session, or reauth_required", body = ErrorBody),
        (status = 403, description = "The account is not below you", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
async fn enable_account(
    State(app): State<App>,
    ActiveSession(s): ActiveSession,
    AccountId(id): AccountId,
    ClientInfo(client): ClientInfo,
) -> Result<Json<DisabledView>, ApiError> {
    set_disabled(&app, &s, id, false, &client).await
}
