//! Forgot username: a verified email or phone and the CAPTCHA; the
//! usernames go to that contact. The answer is the same whether or not any
//! account uses it.

use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::json;

use super::{status_of, PageCtx};

/// The reminder form.
#[derive(Deserialize)]
pub(crate) struct RemindForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    captcha_id: String,
    #[serde(default)]
    captcha_answer: String,
}

async fn remind_page(p: &PageCtx, contact: &str, errors: Vec<String>) -> Response {
    let mut extra = p.captcha().await;
    extra["contact"] = json!(contact);
    p.page(status_of(&errors), "remind.html", extra, errors)
}

pub(crate) async fn form(p: PageCtx) -> Response {
    remind_page(&p, "", Vec::new()).await
}

pub(crate) async fn submit(p: PageCtx, Form(f): Form<RemindForm>) -> Response {
    if !p.csrf_ok(&f.csrf) {
        let errors = p.csrf_error();
        return remind_page(&p, &f.contact, errors).await;
    }
    let sent = p
        .app
        .remind_usernames(
            &p.tenant,
            f.contact.trim(),
            Some(f.captcha_id.as_str()).filter(|s| !s.is_empty()),
            Some(f.captcha_answer.as_str()).filter(|s| !s.is_empty()),
            &p.client,
        )
        .await;
    match sent {
        Ok(()) => {
            let login = format!("/t/{}/login", p.tenant.slug);
            p.notice(
                "remind_sent_title",
                "remind_sent_text",
                Some((&login, "log_in")),
            )
        }
        Err(e) => {
            let errors = p.errors_of(&e);
            remind_page(&p, &f.contact, errors).await
        }
    }
}
