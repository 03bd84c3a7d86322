//! The manual appeal: the form (identifier, a new contact, what happened,
//! evidence, CAPTCHA), the contact's code, and the status page. The
//! appeal's id and status token live in an HttpOnly cookie scoped to
//! `/t/{tenant}/appeal`, so the status can be read again from the same
//! browser and never travels in a URL.

use axum::extract::Multipart;
use axum::response::Response;
use axum::Form;
use regain_app::appeals::NewAppeal;
use regain_app::methods::mask_contact;
use regain_app::AppError;
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
    match current(&p).await {
        Ok(appeal) => status_page(&p, &appeal, false, Vec::new()).await,
        Err(to) => to,
    }
}

async fn status_page(p: &PageCtx, appeal: &Appeal, added: bool, errors: Vec<String>) -> Response {
    let state = appeal.state.as_str();
    let token = appeal_of(p).map(|(_, t)| t).unwrap_or_default();
    let files: Vec<_> = p
        .app
        .appeal_files(&p.tenant, appeal.id, &token)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|f| json!({"name": f.name, "size_kib": (f.size + 1023) / 1024}))
        .collect();
    p.page(
        status_of(&errors),
        "appeal_status.html",
        json!({
            "files": files,
            "can_attach": matches!(state, "unconfirmed" | "open" | "claimed"),
            "added": added,
            "id": appeal.id,
            "state": state,
            "state_text": p.text(&format!("appeal_state_{state}")),
            "next_text": p.text(&format!("appeal_next_{state}")),
            "reason": appeal.reason,
            "updated": when(appeal.updated_at),
        }),
        errors,
    )
}

/// A file of evidence (a picture or a PDF), posted as
/// `multipart/form-data` with the CSRF token; the type and size are
/// checked by the use case, from the file's bytes.
pub(crate) async fn attach(p: PageCtx, mut form: Multipart) -> Response {
    let appeal = match current(&p).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    let (mut csrf, mut file) = (String::new(), None);
    loop {
        match form.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("csrf") => csrf = field.text().await.unwrap_or_default(),
                Some("file") => {
                    let name = field.file_name().unwrap_or("attachment").to_string();
                    let kind = field.content_type().unwrap_or_default().to_string();
                    match field.bytes().await {
                        Ok(data) => file = Some((name, kind, data)),
                        Err(_) => {
                            let e = AppError::Invalid {
                                code: "attachment_size",
                                message: "the file is too large".into(),
                            };
                            return status_page(&p, &appeal, false, p.errors_of(&e)).await;
                        }
                    }
                }
                _ => {}
            },
            Ok(None) => break,
            Err(_) => {
                let e = AppError::Invalid {
                    code: "attachment_size",
                    message: "the upload could not be read whole".into(),
                };
                return status_page(&p, &appeal, false, p.errors_of(&e)).await;
            }
        }
    }
    if !p.csrf_ok(&csrf) {
        return status_page(&p, &appeal, false, p.csrf_error()).await;
    }
    let Some((name, kind, data)) = file.filter(|(_, _, d)| !d.is_empty()) else {
        let e = AppError::Invalid {
            code: "attachment_type",
            message: "choose a file".into(),
        };
        return status_page(&p, &appeal, false, p.errors_of(&e)).await;
    };
    let token = appeal_of(&p).map(|(_, t)| t).unwrap_or_default();
    let result = p
        .app
        .attach_to_appeal(&p.tenant, appeal.id, &token, &name, &kind, &data)
        .await;
    match result {
        Ok(_) => status_page(&p, &appeal, true, Vec::new()).await,
        Err(e) => status_page(&p, &appeal, false, p.errors_of(&e)).await,
    }
}
