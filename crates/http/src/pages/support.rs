//! The support console: the appeal queue with each appeal's evidence and
//! attachments; claim one, then approve it (a reset link goes to the
//! proven new contact) or deny it with a reason. Only tenant staff with
//! the `support` role get anything but a refusal.

use std::collections::HashMap;

use axum::extract::Query;
use axum::response::Response;
use axum::Form;
use regain_app::appeals::Review;
use regain_app::auth::Authenticated;
use regain_app::AppError;
use serde_json::{json, Value};

use super::login::signed_in;
use super::{status_of, when, PageCtx};

/// The queue's views, by appeal state.
const STATES: [&str; 4] = ["open", "claimed", "approved", "denied"];

type Fields = HashMap<String, String>;

fn field<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.get(name).map(String::as_str).unwrap_or_default().trim()
}

fn review_view(p: &PageCtx, r: Review, me: i64) -> Value {
    let a = r.appeal;
    let attachments: Vec<Value> = r
        .attachments
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "size_kib": (f.size + 1023) / 1024,
                "href": format!("/api/v1/t/{}/appeals/{}/attachments/{}", p.tenant.slug, a.id, f.id),
            })
        })
        .collect();
    json!({
        "id": a.id,
        "identifier": a.identifier,
        "account": r.account,
        "contact": a.contact_value,
        "description": a.description,
        "evidence": a.evidence,
        "state": a.state,
        "state_text": p.text(&format!("appeal_state_{}", a.state)),
        "mine": a.claimed_by == Some(me),
        "open": matches!(a.state.as_str(), "open" | "claimed"),
        "reason": a.reason,
        "filed": when(a.created_at),
        "attachments": attachments,
    })
}

async fn queue_page(
    p: &PageCtx,
    auth: &Authenticated,
    state: &str,
    done: Option<&str>,
    errors: Vec<String>,
) -> Response {
    let state = STATES
        .iter()
        .find(|s| **s == state)
        .copied()
        .unwrap_or("open");
    let appeals = match p.app.appeal_queue(&p.tenant, auth, state, 0).await {
        Ok(list) => list,
        Err(e) => return p.notice_error(&e),
    };
    let appeals: Vec<Value> = appeals
        .into_iter()
        .map(|r| review_view(p, r, auth.account.id))
        .collect();
    let tabs: Vec<Value> = STATES
        .iter()
        .map(|s| json!({"state": s, "text": p.text(&format!("appeal_state_{s}")), "current": *s == state}))
        .collect();
    let nav = p.nav(auth, "support").await;
    p.page(
        status_of(&errors),
        "support.html",
        json!({
            "nav": nav, "wide": true, "state": state, "tabs": tabs,
            "appeals": appeals, "done": done.map(|d| p.text(d)),
        }),
        errors,
    )
}

pub(crate) async fn show(p: PageCtx, Query(q): Query<Fields>) -> Response {
    match signed_in(&p).await {
        Ok(auth) => queue_page(&p, &auth, field(&q, "state"), None, Vec::new()).await,
        Err(to) => to,
    }
}

/// Claim, approve or deny: `action` is `claim`, `approve` or `deny`.
pub(crate) async fn act(p: PageCtx, Form(f): Form<Fields>) -> Response {
    let auth = match signed_in(&p).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    let state = field(&f, "state");
    if !p.csrf_ok(field(&f, "csrf")) {
        return queue_page(&p, &auth, state, None, p.csrf_error()).await;
    }
    let id: i64 = field(&f, "id").parse().unwrap_or(0);
    let reason = Some(field(&f, "reason")).filter(|r| !r.is_empty());
    let result: Result<&str, AppError> = match field(&f, "action") {
        "claim" => p
            .app
            .claim_appeal(&p.tenant, &auth, id, &p.client)
            .await
            .map(|_| "done_claimed"),
        decision @ ("approve" | "deny") => p
            .app
            .decide_appeal(
                &p.tenant,
                &auth,
                id,
                decision == "approve",
                reason,
                &p.client,
            )
            .await
            .map(|_| {
                if decision == "approve" {
                    "done_appeal_approved"
                } else {
                    "done_appeal_denied"
                }
            }),
        _ => Err(AppError::Invalid {
            code: "invalid_action",
            message: "action is claim, approve or deny".into(),
        }),
    };
    match result {
        Ok(done) => queue_page(&p, &auth, state, Some(done), Vec::new()).await,
        Err(e) => queue_page(&p, &auth, state, None, p.errors_of(&e)).await,
    }
}
