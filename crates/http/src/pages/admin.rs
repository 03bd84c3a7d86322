//! The admin console: the accounts below the signed-in administrator
//! (filter, open a sub-tree, create, disable, reset a password by a
//! temporary one shown once or by a link), the approval requests waiting
//! for it, the sub-tree's password policy, and the audit log it may read.
//! Rights are the use cases' own (`can_manage`): the console only shows
//! what they allow and reports what they refuse.

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use regain_app::accounts::AccountSpec;
use regain_app::admin::{Actor, ResetMode, ResetOutcome};
use regain_app::auth::Authenticated;
use regain_app::AppError;
use regain_domain::account::{Position, Role};
use regain_domain::policy::overrides::{PolicyOverride, Source};
use regain_store::{Account, AuditFilter};
use serde_json::{json, Map, Value};

use super::login::signed_in;
use super::{status_of, when, PageCtx};

/// Form and query fields, all optional.
type Fields = HashMap<String, String>;

fn field<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.get(name).map(String::as_str).unwrap_or_default().trim()
}

fn id_of(f: &Fields, name: &str) -> Option<i64> {
    field(f, name).parse().ok()
}

/// The account whose sub-accounts the console shows first: a root
/// account's own, an admin's parent's (the tree it administers).
fn top_of(account: &Account) -> i64 {
    match account.position {
        Position::Root(_) => account.id,
        Position::Sub(_) => account.parent_id.unwrap_or(account.id),
    }
}

/// What the page shows once after an action (never a URL: a generated
/// password must not land in history or logs).
#[derive(Default)]
struct Outcome {
    done: Option<String>,
    secret: Option<String>,
    /// The action needs the password again (`reauth_required`).
    reauth: bool,
}

fn role_text(p: &PageCtx, a: &Account) -> &'static str {
    match a.position {
        Position::Root(_) => p.text("role_root"),
        Position::Sub(Role::Admin) => p.text("role_admin"),
        Position::Sub(Role::Member) => p.text("role_member"),
    }
}

async fn console_page(
    p: &PageCtx,
    auth: &Authenticated,
    under: Option<i64>,
    filter: &str,
    outcome: Outcome,
    errors: Vec<String>,
) -> Response {
    let actor = Actor::Account(auth);
    let top = top_of(&auth.account);
    let under = under.unwrap_or(top);
    let node = match p.app.visible_account(&p.tenant, &actor, under).await {
        Ok(n) => n,
        Err(e) => return p.notice_error(&e),
    };
    let needle = filter.to_lowercase();
    let accounts: Vec<Value> = p
        .app
        .list_children(&p.tenant, &actor, under, 0, 500)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|a| {
            needle.is_empty()
                || a.qualified_name.contains(&needle)
                || a.email.as_deref().is_some_and(|e| e.contains(&needle))
                || a.display_name
                    .as_deref()
                    .is_some_and(|d| d.to_lowercase().contains(&needle))
        })
        .map(|a| {
            json!({
                "id": a.id,
                "name": a.qualified_name,
                "role": role_text(p, &a),
                "email": a.email,
                "phone": a.phone,
                "disabled": a.disabled,
                "must_change": a.must_change_password,
            })
        })
        .collect();
    let approvals: Vec<Value> = p
        .app
        .pending_approvals(&p.tenant, auth)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            json!({
                "id": a.approval.id,
                "account": a.account,
                "approver": a.approver,
                "asked": when(a.approval.created_at),
            })
        })
        .collect();
    let nav = p.nav(auth, "admin").await;
    p.page(
        status_of(&errors),
        "admin.html",
        json!({
            "nav": nav,
            "wide": true,
            "under": under,
            "under_name": node.qualified_name,
            "up": (under != top).then_some(node.parent_id).flatten(),
            "filter": filter,
            "accounts": accounts,
            "approvals": approvals,
            "done": outcome.done,
            "secret": outcome.secret,
            "reauth": outcome.reauth,
        }),
        errors,
    )
}

pub(crate) async fn show(p: PageCtx, Query(q): Query<Fields>) -> Response {
    match signed_in(&p).await {
        Ok(auth) => {
            console_page(
                &p,
                &auth,
                id_of(&q, "under"),
                field(&q, "q"),
                Outcome::default(),
                Vec::new(),
            )
            .await
        }
        Err(to) => to,
    }
}

/// The session and CSRF token of a console form.
async fn checked(p: &PageCtx, f: &Fields) -> Result<Authenticated, Response> {
    let auth = signed_in(p).await?;
    if !p.csrf_ok(field(f, "csrf")) {
        return Err(console_page(
            p,
            &auth,
            id_of(f, "under"),
            "",
            Outcome::default(),
            p.csrf_error(),
        )
        .await);
    }
    Ok(auth)
}

/// After an action: the console again, saying what happened or why not.
/// `reauth_required` asks for the password, then the action can be redone.
async fn after(
    p: &PageCtx,
    auth: &Authenticated,
    f: &Fields,
    result: Result<Outcome, AppError>,
) -> Response {
    let under = id_of(f, "under");
    match result {
        Ok(outcome) => console_page(p, auth, under, "", outcome, Vec::new()).await,
        Err(e) => {
            let outcome = Outcome {
                reauth: e.code() == "reauth_required",
                ..Outcome::default()
            };
            console_page(p, auth, under, "", outcome, p.errors_of(&e)).await
        }
    }
}

pub(crate) async fn create(p: PageCtx, Form(f): Form<Fields>) -> Response {
    let auth = match checked(&p, &f).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    let result = create_account(&p, &auth, &f).await;
    after(&p, &auth, &f, result).await
}

/// Creates the sub-account, then gives it a generated temporary password
/// to change at the first log-on (shown once here).
async fn create_account(
    p: &PageCtx,
    auth: &Authenticated,
    f: &Fields,
) -> Result<Outcome, AppError> {
    let actor = Actor::Account(auth);
    let under = id_of(f, "under").unwrap_or_else(|| top_of(&auth.account));
    let optional = |name: &str| Some(field(f, name).to_string()).filter(|v| !v.is_empty());
    let spec = AccountSpec {
        parent: None,
        kind: None,
        role: Some(if field(f, "role") == "admin" {
            Role::Admin
        } else {
            Role::Member
        }),
        username: field(f, "username").to_string(),
        display_name: optional("display_name"),
        email: optional("email"),
        phone: optional("phone"),
        password: None,
        must_change_password: true,
        locale: None,
        contacts_verified: false,
    };
    let created = p
        .app
        .create_sub_account(&p.tenant, &actor, under, spec, Some(&p.client))
        .await?;
    let reset = p
        .app
        .admin_reset(
            &p.tenant,
            &actor,
            created.id,
            ResetMode::Temporary(None),
            Some(&p.client),
        )
        .await?;
    let secret = match reset {
        ResetOutcome::Temporary { generated } => generated,
        ResetOutcome::LinkSent { .. } => None,
    };
    Ok(Outcome {
        done: Some(format!(
            "{} {}",
            p.text("done_created"),
            created.qualified_name
        )),
        secret,
        ..Outcome::default()
    })
}

pub(crate) async fn reset(p: PageCtx, Form(f): Form<Fields>) -> Response {
    let auth = match checked(&p, &f).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    let mode = if field(&f, "mode") == "link" {
        ResetMode::Link
    } else {
        ResetMode::Temporary(None)
    };
    let result = p
        .app
        .admin_reset(
            &p.tenant,
            &Actor::Account(&auth),
            id_of(&f, "id").unwrap_or(0),
            mode,
            Some(&p.client),
        )
        .await
        .map(|outcome| match outcome {
            ResetOutcome::Temporary { generated } => Outcome {
                done: Some(p.text("done_reset_temporary").to_string()),
                secret: generated,
                ..Outcome::default()
            },
            ResetOutcome::LinkSent { hints } => Outcome {
                done: Some(format!(
                    "{} {}",
                    p.text("done_reset_link"),
                    hints.join(", ")
                )),
                ..Outcome::default()
            },
        });
    after(&p, &auth, &f, result).await
}

pub(crate) async fn disable(p: PageCtx, Form(f): Form<Fields>) -> Response {
    let auth = match checked(&p, &f).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    let disabled = field(&f, "disabled") == "1";
    let result = p
        .app
        .set_account_disabled(
            &p.tenant,
            &Actor::Account(&auth),
            id_of(&f, "id").unwrap_or(0),
            disabled,
            Some(&p.client),
        )
        .await
        .map(|a| Outcome {
            done: Some(format!(
                "{} {}",
                p.text(if disabled {
                    "done_disabled"
                } else {
                    "done_enabled"
                }),
                a.qualified_name
            )),
            ..Outcome::default()
        });
    after(&p, &auth, &f, result).await
}

pub(crate) async fn reauth(p: PageCtx, Form(f): Form<Fields>) -> Response {
    let auth = match checked(&p, &f).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    // Not trimmed: a password is taken as typed.
    let password = f.get("password").cloned().unwrap_or_default();
    let result = p
        .app
        .reauthenticate(&auth, password)
        .await
        .map(|()| Outcome {
            done: Some(p.text("done_reauth").to_string()),
            ..Outcome::default()
        });
    // The session's `authenticated_at` changed: read it again.
    let auth = signed_in(&p).await.unwrap_or(auth);
    after(&p, &auth, &f, result).await
}

pub(crate) async fn decide(p: PageCtx, Form(f): Form<Fields>) -> Response {
    let auth = match checked(&p, &f).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    let approve = field(&f, "decision") == "approve";
    let reason = Some(field(&f, "reason")).filter(|r| !r.is_empty());
    let result = p
        .app
        .decide_approval(
            &p.tenant,
            &auth,
            id_of(&f, "id").unwrap_or(0),
            approve,
            reason,
            &p.client,
        )
        .await
        .map(|_| Outcome {
            done: Some(
                p.text(if approve {
                    "done_approved"
                } else {
                    "done_denied"
                })
                .to_string(),
            ),
            ..Outcome::default()
        });
    after(&p, &auth, &f, result).await
}

/// The policy fields a console may override: name and input kind.
const POLICY_FIELDS: [(&str, &str); 11] = [
    ("min_length", "number"),
    ("max_length", "number"),
    ("min_character_classes", "number"),
    ("allow_spaces", "switch"),
    ("forbid_username", "switch"),
    ("forbid_email", "switch"),
    ("weak_keywords", "list"),
    ("history_depth", "number"),
    ("max_age_days", "number"),
    ("reject_common", "switch"),
    ("min_strength_score", "number"),
];

async fn policy_page(
    p: &PageCtx,
    auth: &Authenticated,
    under: Option<i64>,
    done: bool,
    errors: Vec<String>,
) -> Response {
    let under = under.unwrap_or_else(|| top_of(&auth.account));
    let actor = Actor::Account(auth);
    let (resolved, own) = match p.app.subtree_policy(&p.tenant, &actor, under).await {
        Ok(r) => r,
        Err(e) => return p.notice_error(&e),
    };
    let name = p
        .app
        .visible_account(&p.tenant, &actor, under)
        .await
        .map(|a| a.qualified_name)
        .unwrap_or_default();
    let effective = serde_json::to_value(&resolved.policy).unwrap_or_default();
    let own = serde_json::to_value(own.unwrap_or_default()).unwrap_or_default();
    let shown = |v: &Value| match v {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Bool(b) => p.text(if *b { "on" } else { "off" }).to_string(),
        Value::Null => String::new(),
        other => other.to_string().trim_matches('"').to_string(),
    };
    let fields: Vec<Value> = POLICY_FIELDS
        .iter()
        .map(|(name, kind)| {
            let source = match resolved.sources.get(name) {
                Some(Source::Account { account_id }) if *account_id == under => {
                    p.text("source_here")
                }
                Some(Source::Account { .. }) => p.text("source_above"),
                _ => p.text("source_tenant"),
            };
            let set = &own[*name];
            json!({
                "name": name,
                "label": p.text(&format!("policy_{name}")),
                "kind": kind,
                "effective": shown(&effective[*name]),
                "source": source,
                "value": match (kind, set) {
                    (_, Value::Null) => String::new(),
                    (&"switch", Value::Bool(b)) => if *b { "on" } else { "off" }.to_string(),
                    _ => shown(set),
                },
            })
        })
        .collect();
    let nav = p.nav(auth, "admin").await;
    p.page(
        status_of(&errors),
        "admin_policy.html",
        json!({
            "nav": nav, "wide": true, "under": under, "under_name": name,
            "fields": fields, "done": done.then(|| p.text("done_policy")),
        }),
        errors,
    )
}

pub(crate) async fn policy(p: PageCtx, Query(q): Query<Fields>) -> Response {
    match signed_in(&p).await {
        Ok(auth) => policy_page(&p, &auth, id_of(&q, "under"), false, Vec::new()).await,
        Err(to) => to,
    }
}

/// The override from the form: blank fields inherit.
fn override_of(f: &Fields) -> Result<Option<PolicyOverride>, AppError> {
    let mut set = Map::new();
    for (name, kind) in POLICY_FIELDS {
        let raw = field(f, name);
        if raw.is_empty() {
            continue;
        }
        let value = match kind {
            "number" => json!(raw.parse::<u64>().map_err(|_| invalid_policy())?),
            "switch" => json!(raw == "on"),
            _ => json!(raw
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()),
        };
        set.insert(name.to_string(), value);
    }
    let parsed: PolicyOverride =
        serde_json::from_value(Value::Object(set)).map_err(|_| invalid_policy())?;
    Ok(Some(parsed).filter(|o| !o.is_empty()))
}

fn invalid_policy() -> AppError {
    AppError::Invalid {
        code: "invalid_policy",
        message: "a policy field holds a value out of range".into(),
    }
}

pub(crate) async fn policy_submit(p: PageCtx, Form(f): Form<Fields>) -> Response {
    let auth = match signed_in(&p).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    let under = id_of(&f, "under");
    if !p.csrf_ok(field(&f, "csrf")) {
        return policy_page(&p, &auth, under, false, p.csrf_error()).await;
    }
    let target = under.unwrap_or_else(|| top_of(&auth.account));
    let result = match override_of(&f) {
        Ok(o) => {
            p.app
                .put_subtree_policy(&p.tenant, &Actor::Account(&auth), target, o)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => policy_page(&p, &auth, under, true, Vec::new()).await,
        Err(e) => policy_page(&p, &auth, under, false, p.errors_of(&e)).await,
    }
}

pub(crate) async fn audit(p: PageCtx, Query(q): Query<Fields>) -> Response {
    let auth = match signed_in(&p).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    // Actions are codes such as `password.reset_by_admin`: anything else
    // cannot match, and dropping it keeps the "older" link's query plain.
    let action: String = field(&q, "action")
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '_')
        .take(64)
        .collect();
    let filter = AuditFilter {
        tenant_id: p.tenant.id,
        action: Some(action.clone()).filter(|a| !a.is_empty()),
        ..AuditFilter::default()
    };
    let before = id_of(&q, "before");
    let (rows, next) = match p
        .app
        .read_audit(&p.tenant, &Actor::Account(&auth), filter, before, 50)
        .await
    {
        Ok(r) => r,
        Err(e) => return p.notice_error(&e),
    };
    let events: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({
                "at": when(r.at), "action": r.event.action, "actor": r.event.actor,
                "subject": r.event.subject, "ip": r.event.ip, "outcome": r.event.outcome,
            })
        })
        .collect();
    let nav = p.nav(&auth, "admin").await;
    p.page(
        StatusCode::OK,
        "admin_audit.html",
        json!({
            "nav": nav, "wide": true, "events": events, "next": next,
            "action": action,
        }),
        Vec::new(),
    )
}
