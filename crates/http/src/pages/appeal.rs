//! The manual appeal: the form (identifier, a new contact, what happened,
//! evidence, CAPTCHA), the contact's code, and the status page. The
//! appeal's id and status token live in an HttpOnly cookie scoped to
//! `/t/{tenant}/appeal`, so the status can be read again from the same
//! browser and never travels in a URL.

use axum::response::Response;
use axum::Form;
use regain_app::appeals::NewAppeal;
use regain_app::methods::mask_contact;
use regain_store::{Appeal, ContactKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{status_of, when, PageCtx};

const APPEAL_COOKIE: &str = "regain_appeal";
/// How long the browser keeps the appeal's status token.
const COOKIE_SECS: i64 = 30 * 24 * 3600;

/// The appeal form, shown back as typed when it has errors.
#[derive(Deserialize, Serialize, Default)]
pub(crate) struct AppealForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    contact_kind: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    evidence: String,
    #[serde(default, skip_serializing)]
    captcha_id: String,
    #[serde(default, skip_serializing)]
    captcha_answer: String,
}

/// The code form. No `Debug`: it holds the code.
#[derive(Deserialize)]
pub(crate) struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

fn path(p: &PageCtx, step: &str) -> String {
    format!("/t/{}/appeal{step}", p.tenant.slug)
}

/// The id and status token this browser keeps.
fn appeal_of(p: &PageCtx) -> Option<(i64, String)> {
    let (id, token) = p.cookie(APPEAL_COOKIE)?.split_once('.')?;
    Some((id.parse().ok()?, token.to_string()))
}

async fn form_page(p: &PageCtx, f: &AppealForm, errors: Vec<String>) -> Response {
    let mut extra = p.captcha().await;
    extra["f"] = json!(f);
    p.page(status_of(&errors), "appeal.html", extra, errors)
}

pub(crate) async fn form(p: PageCtx) -> Response {
    form_page(&p, &AppealForm::default(), Vec::new()).await
}

pub(crate) async fn submit(mut p: PageCtx, Form(f): Form<AppealForm>) -> Response {
    if !p.csrf_ok(&f.csrf) {
        let errors = p.csrf_error();
        return form_page(&p, &f, errors).await;
    }
    let new = NewAppeal {
        identifier: &f.identifier,
        contact_kind: if f.contact_kind == "phone" {
            ContactKind::Phone
        } else {
            ContactKind::Email
        },
        contact_value: f.contact.trim(),
        description: &f.description,
        evidence: &f.evidence,
    };
    let captcha = (
        Some(f.captcha_id.as_str()).filter(|s| !s.is_empty()),
        Some(f.captcha_answer.as_str()).filter(|s| !s.is_empty()),
    );
    match p.app.file_appeal(&p.tenant, new, captcha, &p.client).await {
        Ok(filed) => {
            let scope = path(&p, "");
            let value = format!("{}.{}", filed.id, filed.status_token);
            p.set_cookie(APPEAL_COOKIE, &value, &scope, COOKIE_SECS);
            p.redirect(&path(&p, "/confirm"))
        }
        Err(e) => {
            let errors = p.errors_of(&e);
            form_page(&p, &f, errors).await
        }
    }
}

/// The appeal behind the cookie, or the form to file one.
async fn current(p: &PageCtx) -> Result<Appeal, Response> {
    let Some((id, token)) = appeal_of(p) else {
        return Err(p.redirect(&path(p, "")));
    };
    p.app
        .appeal_status(&p.tenant, id, &token)
        .await
        .map_err(|_| p.redirect(&path(p, "")))
}

fn code_page(p: &PageCtx, appeal: &Appeal, errors: Vec<String>) -> Response {
    let hint = mask_contact(appeal.contact_kind, &appeal.contact_value);
    p.page(
        status_of(&errors),
        "appeal_code.html",
        json!({ "hint": hint }),
        errors,
    )
}

pub(crate) async fn confirm_form(p: PageCtx) -> Response {
    match current(&p).await {
        Ok(appeal) if appeal.state == "unconfirmed" => code_page(&p, &appeal, Vec::new()),
        Ok(_) => p.redirect(&path(&p, "/status")),
        Err(to) => to,
    }
}

pub(crate) async fn confirm_submit(p: PageCtx, Form(f): Form<CodeForm>) -> Response {
    let appeal = match current(&p).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    if !p.csrf_ok(&f.csrf) {
        let errors = p.csrf_error();
        return code_page(&p, &appeal, errors);
    }
    let token = appeal_of(&p).map(|(_, t)| t).unwrap_or_default();
    match p
        .app
        .confirm_appeal(&p.tenant, appeal.id, &token, f.code.trim(), &p.client)
        .await
    {
        Ok(_) => p.redirect(&path(&p, "/status")),
        Err(e) if e.code() == "appeal_wrong_state" => p.redirect(&path(&p, "/status")),
        Err(e) => {
            let errors = p.errors_of(&e);
            code_page(&p, &appeal, errors)
        }
    }
}

pub(crate) async fn status(p: PageCtx) -> Response {
    let appeal = match current(&p).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    let state = appeal.state.as_str();
    p.page(
        axum::http::StatusCode::OK,
        "appeal_status.html",
        json!({
            "id": appeal.id,
            "state": state,
            "state_text": p.text(&format!("appeal_state_{state}")),
            "next_text": p.text(&format!("appeal_next_{state}")),
            "reason": appeal.reason,
            "updated": when(appeal.updated_at),
        }),
        Vec::new(),
    )
}
