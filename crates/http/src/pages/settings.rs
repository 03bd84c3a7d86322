//! The account's own settings: password (a link to the change form),
//! security questions, emergency contacts, linked external identities and
//! active sessions. Every form posts back here and the page re-renders,
//! with a line saying what was done.

use std::collections::HashMap;

use axum::extract::Query;
use axum::response::Response;
use axum::Form;
use regain_app::admin::Actor;
use regain_app::auth::Authenticated;
use regain_app::methods::questions::MAX_QUESTIONS;
use regain_store::ContactKind;
use serde_json::{json, Value};

use super::login::signed_in;
use super::{status_of, when, PageCtx};

/// What the last form did, for the line at the top (`?done=`).
const DONE: [&str; 6] = [
    "identity_linked",
    "questions_saved",
    "contact_added",
    "contact_confirmed",
    "contact_removed",
    "sessions_ended",
];

fn here(p: &PageCtx) -> String {
    format!("/t/{}/settings", p.tenant.slug)
}

async fn settings_page(
    p: &PageCtx,
    auth: &Authenticated,
    done: Option<&str>,
    errors: Vec<String>,
) -> Response {
    let actor = Actor::Account(auth);
    let id = auth.account.id;
    let questions = p
        .app
        .security_questions(&p.tenant, &actor, id)
        .await
        .unwrap_or_default();
    let contacts: Vec<Value> = p
        .app
        .emergency_contacts(&p.tenant, &actor, id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| json!({"id": c.id, "name": c.name, "hint": c.hint, "verified": c.verified}))
        .collect();
    let identities: Vec<Value> = p
        .app
        .linked_identities(&p.tenant, &actor, id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|l| json!({"issuer": l.issuer, "linked": when(l.linked_at)}))
        .collect();
    let sessions: Vec<Value> = p
        .app
        .own_sessions(auth)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            json!({
                "started": when(s.created_at),
                "ip": s.ip,
                "agent": s.user_agent,
                "this": s.token_hash == auth.session.token_hash,
            })
        })
        .collect();
    let needed = p.tenant.settings.recovery.methods.questions_asked.max(2) as usize;
    let rows = needed.max(questions.len()).min(MAX_QUESTIONS);
    let nav = p.nav(auth, "settings").await;
    p.page(
        status_of(&errors),
        "settings.html",
        json!({
            "nav": nav,
            "wide": true,
            "done": done.filter(|d| DONE.contains(d)).map(|d| p.text(&format!("done_{d}"))),
            "questions_set": questions.len(),
            "question_rows": (0..rows).map(|i| json!({"i": i, "q": questions.get(i)})).collect::<Vec<_>>(),
            "questions_needed": p.text("questions_needed").replace("{n}", &needed.to_string()),
            "contacts": contacts,
            "identities": identities,
            "provider": p.tenant.settings.oidc.as_ref().map(|o| o.name.clone()),
            "sessions": sessions,
        }),
        errors,
    )
}

pub(crate) async fn show(p: PageCtx, Query(q): Query<HashMap<String, String>>) -> Response {
    match signed_in(&p).await {
        Ok(auth) => settings_page(&p, &auth, q.get("done").map(String::as_str), Vec::new()).await,
        Err(to) => to,
    }
}

/// The session and the CSRF token of a settings form; without them the
/// answer is the log-on page or the page with the CSRF error.
async fn checked(p: &PageCtx, form: &HashMap<String, String>) -> Result<Authenticated, Response> {
    let auth = signed_in(p).await?;
    if !p.csrf_ok(field(form, "csrf")) {
        return Err(settings_page(p, &auth, None, p.csrf_error()).await);
    }
    Ok(auth)
}

/// Success goes back to the page saying `done`; an error re-renders it.
async fn finish(
    p: &PageCtx,
    auth: &Authenticated,
    result: Result<(), regain_app::AppError>,
    done: &str,
) -> Response {
    match result {
        Ok(()) => p.redirect(&format!("{}?done={done}", here(p))),
        Err(e) => settings_page(p, auth, None, p.errors_of(&e)).await,
    }
}

fn field<'a>(form: &'a HashMap<String, String>, name: &str) -> &'a str {
    form.get(name).map(String::as_str).unwrap_or_default()
}

fn id_field(form: &HashMap<String, String>) -> i64 {
    field(form, "id").parse().unwrap_or(0)
}

/// Questions come as `question_0`/`answer_0`, …; rows left blank are
/// skipped.
pub(crate) async fn questions(p: PageCtx, Form(f): Form<HashMap<String, String>>) -> Response {
    let pairs: Vec<(String, String)> = (0..MAX_QUESTIONS)
        .map(|i| {
            (
                field(&f, &format!("question_{i}")).to_string(),
                field(&f, &format!("answer_{i}")).to_string(),
            )
        })
        .filter(|(q, a)| !q.trim().is_empty() || !a.trim().is_empty())
        .collect();
    let auth = match checked(&p, &f).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    let id = auth.account.id;
    let r = p
        .app
        .set_security_questions(&p.tenant, &Actor::Account(&auth), id, pairs, &p.client)
        .await
        .map(|_| ());
    finish(&p, &auth, r, "questions_saved").await
}

pub(crate) async fn add_contact(p: PageCtx, Form(f): Form<HashMap<String, String>>) -> Response {
    let kind = if field(&f, "contact_kind") == "phone" {
        ContactKind::Phone
    } else {
        ContactKind::Email
    };
    let auth = match checked(&p, &f).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    let r = p
        .app
        .add_emergency_contact(
            &p.tenant,
            &Actor::Account(&auth),
            auth.account.id,
            field(&f, "name"),
            kind,
            field(&f, "contact").trim(),
        )
        .await
        .map(|_| ());
    finish(&p, &auth, r, "contact_added").await
}

pub(crate) async fn confirm_contact(
    p: PageCtx,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let auth = match checked(&p, &f).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    let r = p
        .app
        .confirm_emergency_contact(
            &p.tenant,
            &Actor::Account(&auth),
            auth.account.id,
            id_field(&f),
            field(&f, "code").trim(),
            &p.client,
        )
        .await
        .map(|_| ());
    finish(&p, &auth, r, "contact_confirmed").await
}

pub(crate) async fn remove_contact(p: PageCtx, Form(f): Form<HashMap<String, String>>) -> Response {
    let auth = match checked(&p, &f).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    let r = p
        .app
        .remove_emergency_contact(
            &p.tenant,
            &Actor::Account(&auth),
            auth.account.id,
            id_field(&f),
            &p.client,
        )
        .await;
    finish(&p, &auth, r, "contact_removed").await
}

pub(crate) async fn end_other_sessions(
    p: PageCtx,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let auth = match checked(&p, &f).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    let r = p
        .app
        .sign_out_other_sessions(&p.tenant, &auth, &p.client)
        .await
        .map(|_| ());
    finish(&p, &auth, r, "sessions_ended").await
}

/// Linking starts at the provider: a page with the link to it (a redirect
/// after a form post to another site would break the pages' CSP), and the
/// provider sends the browser back to the callback, then here.
pub(crate) async fn link_identity(p: PageCtx, Form(f): Form<HashMap<String, String>>) -> Response {
    let auth = match checked(&p, &f).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    match p
        .app
        .start_identity_link(&p.tenant, &Actor::Account(&auth), auth.account.id)
        .await
    {
        Ok(url) => p.page(
            axum::http::StatusCode::OK,
            "message.html",
            json!({
                "heading": p.text("identities_title"),
                "text": p.text("identity_link_text"),
                "link": url,
                "link_text": p.text("identity_link_go"),
            }),
            Vec::new(),
        ),
        Err(e) => settings_page(&p, &auth, None, p.errors_of(&e)).await,
    }
}
