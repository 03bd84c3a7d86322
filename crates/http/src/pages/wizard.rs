//! The forgot-password wizard: identifier and CAPTCHA → a method → the
//! code → a new password → done. The flow id and the reset token live in
//! HttpOnly cookies scoped to the wizard's path, never in a URL.

use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use regain_app::recovery::{Evidence, Next};
use regain_domain::policy::PasswordPolicy;
use regain_domain::recovery::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{status_of, PageCtx};

const FLOW_COOKIE: &str = "regain_flow";
const RESET_COOKIE: &str = "regain_reset";

/// Every wizard form; the fields a step does not use stay empty. No
/// `Debug`: it holds codes and passwords.
#[derive(Deserialize)]
pub(crate) struct WizardForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    captcha_id: String,
    #[serde(default)]
    captcha_answer: String,
    #[serde(default)]
    choice: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    flow: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

fn path(p: &PageCtx, step: &str) -> String {
    if step.is_empty() {
        format!("/t/{}/forgot", p.tenant.slug)
    } else {
        format!("/t/{}/forgot/{step}", p.tenant.slug)
    }
}

/// The requirements of `policy` as checklist items the script can test
/// (`rule`, `n`) and the person can read.
pub(crate) fn requirements(p: &PageCtx, policy: &PasswordPolicy) -> Vec<Value> {
    let item = |rule: &str, n: u32, key: &str| json!({"rule": rule, "n": n, "text": p.text(key).replace("{n}", &n.to_string())});
    let mut out = vec![item("min", policy.min_length, "req_min")];
    out.push(item("max", policy.max_length, "req_max"));
    if policy.min_character_classes > 0 {
        out.push(item(
            "classes",
            u32::from(policy.min_character_classes),
            "req_classes",
        ));
    }
    if !policy.allow_spaces {
        out.push(item("no_space", 0, "req_no_space"));
    }
    out.push(item("match", 0, "req_match"));
    out
}

async fn start_page(p: &PageCtx, identifier: &str, errors: Vec<String>) -> Response {
    let mut extra = p.captcha().await;
    extra["identifier"] = json!(identifier);
    p.page(status_of(&errors), "forgot.html", extra, errors)
}

pub(crate) async fn start_form(p: PageCtx) -> Response {
    start_page(&p, "", Vec::new()).await
}

pub(crate) async fn start_submit(mut p: PageCtx, Form(f): Form<WizardForm>) -> Response {
    if !p.csrf_ok(&f.csrf) {
        let errors = p.csrf_error();
        return start_page(&p, &f.identifier, errors).await;
    }
    let started = p
        .app
        .start_recovery(
            &p.tenant,
            &f.identifier,
            Some(f.captcha_id.as_str()).filter(|s| !s.is_empty()),
            Some(f.captcha_answer.as_str()).filter(|s| !s.is_empty()),
            &p.client,
        )
        .await;
    match started {
        Ok(s) if s.next == Next::AskAdministrator => p.notice(
            "ask_admin_title",
            "ask_admin_text",
            Some((&path(&p, ""), "start_again")),
        ),
        Ok(s) => {
            let flow = s.flow_id.unwrap_or_default();
            let scope = path(&p, "");
            p.set_cookie(FLOW_COOKIE, &flow, &scope, 3600);
            p.redirect(&path(&p, "method"))
        }
        Err(e) => {
            let errors = p.errors_of(&e);
            start_page(&p, &f.identifier, errors).await
        }
    }
}

/// The flow of this visitor (without one, the steps send it to the start).
fn flow_of(p: &PageCtx) -> Option<String> {
    p.cookie(FLOW_COOKIE).map(str::to_string)
}

/// An error that ends the flow sends the person back to the start with
/// its message; others re-render the step.
fn ends_flow(e: &regain_app::AppError) -> bool {
    matches!(
        e.code(),
        "flow_failed" | "flow_expired" | "flow_not_found" | "reset_token_invalid"
    )
}

async fn method_page(p: &PageCtx, flow: &str, errors: Vec<String>) -> Response {
    let status = match p.app.recovery_status(&p.tenant, flow).await {
        Ok(s) => s,
        Err(e) => return start_page(p, "", p.errors_of(&e)).await,
    };
    let offers: Vec<Value> = status
        .methods
        .iter()
        .map(|(m, hint)| json!({"label": p.text(&format!("method_{}", m.as_str())), "hint": hint}))
        .collect();
    p.page(
        status_of(&errors),
        "method.html",
        json!({"offers": offers}),
        errors,
    )
}

pub(crate) async fn method_form(p: PageCtx) -> Response {
    match flow_of(&p) {
        Some(flow) => method_page(&p, &flow, Vec::new()).await,
        None => p.redirect(&path(&p, "")),
    }
}

pub(crate) async fn method_submit(p: PageCtx, Form(f): Form<WizardForm>) -> Response {
    let Some(flow) = flow_of(&p) else {
        return p.redirect(&path(&p, ""));
    };
    if !p.csrf_ok(&f.csrf) {
        let errors = p.csrf_error();
        return method_page(&p, &flow, errors).await;
    }
    let offers: Vec<(Method, String)> = match p.app.recovery_status(&p.tenant, &flow).await {
        Ok(s) => s.methods,
        Err(e) => return start_page(&p, "", p.errors_of(&e)).await,
    };
    let Some((method, hint)) = f
        .choice
        .parse::<usize>()
        .ok()
        .and_then(|i| offers.get(i).cloned())
    else {
        return method_page(&p, &flow, vec![p.text("err_other").to_string()]).await;
    };
    match p
        .app
        .challenge_recovery(&p.tenant, &flow, method, Some(&hint), None, &p.client)
        .await
    {
        Ok(_) if method == Method::SecurityQuestions => p.redirect(&path(&p, "answers")),
        Ok(_) if method.has_external_step() => p.redirect(&path(&p, "wait")),
        Ok(_) => p.redirect(&path(&p, "code")),
        Err(e) if ends_flow(&e) => start_page(&p, "", p.errors_of(&e)).await,
        Err(e) => {
            let errors = p.errors_of(&e);
            method_page(&p, &flow, errors).await
        }
    }
}

/// After a successful `verify`: keep the reset token and ask for the new
/// password, or (when the tenant wants one more method after knowledge)
/// go back to the methods.
fn verified(p: &mut PageCtx, v: regain_app::recovery::Verified) -> Response {
    match v.reset_token {
        Some(token) => {
            let scope = path(p, "");
            p.set_cookie(RESET_COOKIE, &token, &scope, 900);
            p.redirect(&path(p, "password"))
        }
        None => p.redirect(&path(p, "method")),
    }
}

async fn code_page(p: &PageCtx, flow: &str, errors: Vec<String>) -> Response {
    let status = match p.app.recovery_status(&p.tenant, flow).await {
        Ok(s) => s,
        Err(e) => return start_page(p, "", p.errors_of(&e)).await,
    };
    let hint = status
        .methods
        .iter()
        .find(|(m, _)| Some(*m) == status.method)
        .map(|(_, h)| h.clone())
        .unwrap_or_default();
    let now = p.app.clock.now();
    let resend_in = status
        .resend_available_at
        .map_or(0, |t| now.secs_until(t).max(0));
    let delivery = status.delivery.map_or(String::new(), |(state, _)| {
        p.text(&format!("delivery_{state}")).to_string()
    });
    p.page(
        status_of(&errors),
        "code.html",
        json!({
            "hint": hint,
            "attempts_left": status.attempts_left,
            "resend_in": resend_in,
            "delivery": delivery,
        }),
        errors,
    )
}

pub(crate) async fn code_form(p: PageCtx) -> Response {
    match flow_of(&p) {
        Some(flow) => code_page(&p, &flow, Vec::new()).await,
        None => p.redirect(&path(&p, "")),
    }
}

pub(crate) async fn code_submit(mut p: PageCtx, Form(f): Form<WizardForm>) -> Response {
    let Some(flow) = flow_of(&p) else {
        return p.redirect(&path(&p, ""));
    };
    if !p.csrf_ok(&f.csrf) {
        let errors = p.csrf_error();
        return code_page(&p, &flow, errors).await;
    }
    let evidence = Evidence {
        code: Some(f.code.as_str()),
        answers: None,
    };
    match p
        .app
        .verify_recovery(&p.tenant, &flow, evidence, &p.client)
        .await
    {
        Ok(v) => verified(&mut p, v),
        Err(e) if ends_flow(&e) => start_page(&p, "", p.errors_of(&e)).await,
        Err(e) => {
            let errors = p.errors_of(&e);
            code_page(&p, &flow, errors).await
        }
    }
}

async fn answers_page(p: &PageCtx, flow: &str, errors: Vec<String>) -> Response {
    let status = match p.app.recovery_status(&p.tenant, flow).await {
        Ok(s) => s,
        Err(e) => return start_page(p, "", p.errors_of(&e)).await,
    };
    p.page(
        status_of(&errors),
        "answers.html",
        json!({"questions": status.questions, "attempts_left": status.attempts_left}),
        errors,
    )
}

pub(crate) async fn answers_form(p: PageCtx) -> Response {
    match flow_of(&p) {
        Some(flow) => answers_page(&p, &flow, Vec::new()).await,
        None => p.redirect(&path(&p, "")),
    }
}

/// The answers come as `answer_0`, `answer_1`, … in the order shown.
pub(crate) async fn answers_submit(
    mut p: PageCtx,
    Form(f): Form<std::collections::HashMap<String, String>>,
) -> Response {
    let Some(flow) = flow_of(&p) else {
        return p.redirect(&path(&p, ""));
    };
    if !p.csrf_ok(f.get("csrf").map(String::as_str).unwrap_or_default()) {
        let errors = p.csrf_error();
        return answers_page(&p, &flow, errors).await;
    }
    let answers: Vec<String> = (0..5)
        .map_while(|i| f.get(&format!("answer_{i}")).cloned())
        .collect();
    let evidence = Evidence {
        code: None,
        answers: Some(&answers),
    };
    match p
        .app
        .verify_recovery(&p.tenant, &flow, evidence, &p.client)
        .await
    {
        Ok(v) => verified(&mut p, v),
        Err(e) if ends_flow(&e) => start_page(&p, "", p.errors_of(&e)).await,
        Err(e) => {
            let mut errors = p.errors_of(&e);
            if e.code() == "code_invalid" {
                errors[0] = p.text("err_answers_invalid").to_string();
            }
            answers_page(&p, &flow, errors).await
        }
    }
}

/// The step that waits for someone else: an administrator's approval, or
/// the person's own visit to the identity service (face check) or to the
/// external account (OpenID Connect), which the page links to.
async fn wait_page(p: &PageCtx, flow: &str, still: bool, errors: Vec<String>) -> Response {
    let status = match p.app.recovery_status(&p.tenant, flow).await {
        Ok(s) => s,
        Err(e) => return start_page(p, "", p.errors_of(&e)).await,
    };
    if status.state == regain_domain::recovery::FlowState::Failed {
        return ended(p, status.reason.as_deref());
    }
    let Some(method) = status.method else {
        return p.redirect(&path(p, "method"));
    };
    let hint = status
        .methods
        .iter()
        .find(|(m, _)| *m == method)
        .map(|(_, h)| h.clone())
        .unwrap_or_default();
    p.page(
        status_of(&errors),
        "wait.html",
        json!({
            "method": method.as_str(),
            "intro": p.text(&format!("wait_{}", method.as_str())),
            "hint": hint,
            "url": status.url,
            "still": still,
            "poll": method == Method::AdminApproval,
        }),
        errors,
    )
}

/// The flow ended without a reset: say why (an administrator's or the
/// check's reason), and offer the appeal.
fn ended(p: &PageCtx, reason: Option<&str>) -> Response {
    p.page(
        StatusCode::OK,
        "ended.html",
        json!({ "reason": reason }),
        Vec::new(),
    )
}

/// The waiting step; once the answer came (the status is free to read,
/// unlike `verify`, which counts against the address's budget), it goes on
/// by itself: the script reloads this page every few seconds.
pub(crate) async fn wait_form(p: PageCtx) -> Response {
    let Some(flow) = flow_of(&p) else {
        return p.redirect(&path(&p, ""));
    };
    match p.app.recovery_status(&p.tenant, &flow).await {
        Ok(s) if s.ready => go_on(p, &flow).await,
        _ => wait_page(&p, &flow, false, Vec::new()).await,
    }
}

/// "Continue": asks whether the answer came.
pub(crate) async fn wait_submit(p: PageCtx, Form(f): Form<WizardForm>) -> Response {
    let Some(flow) = flow_of(&p) else {
        return p.redirect(&path(&p, ""));
    };
    if !p.csrf_ok(&f.csrf) {
        let errors = p.csrf_error();
        return wait_page(&p, &flow, false, errors).await;
    }
    go_on(p, &flow).await
}

/// `verify` after an external step: on to the password, or still waiting.
async fn go_on(mut p: PageCtx, flow: &str) -> Response {
    let flow = flow.to_string();
    let evidence = Evidence {
        code: None,
        answers: None,
    };
    match p
        .app
        .verify_recovery(&p.tenant, &flow, evidence, &p.client)
        .await
    {
        Ok(v) => verified(&mut p, v),
        Err(e) if e.code() == "verification_pending" => {
            wait_page(&p, &flow, true, Vec::new()).await
        }
        Err(e) if ends_flow(&e) => wait_page(&p, &flow, false, p.errors_of(&e)).await,
        Err(e) => {
            let errors = p.errors_of(&e);
            wait_page(&p, &flow, false, errors).await
        }
    }
}

pub(crate) async fn resend(p: PageCtx, Form(f): Form<WizardForm>) -> Response {
    let Some(flow) = flow_of(&p) else {
        return p.redirect(&path(&p, ""));
    };
    if !p.csrf_ok(&f.csrf) {
        let errors = p.csrf_error();
        return code_page(&p, &flow, errors).await;
    }
    match p.app.resend_recovery(&p.tenant, &flow, &p.client).await {
        Ok(_) => p.redirect(&path(&p, "code")),
        Err(e) => {
            let errors = p.errors_of(&e);
            code_page(&p, &flow, errors).await
        }
    }
}

async fn password_page(p: &PageCtx, flow: &str, errors: Vec<String>) -> Response {
    let policy = p
        .app
        .recovery_policy(&p.tenant, flow)
        .await
        .unwrap_or_else(|_| p.tenant.policy.clone());
    p.page(
        status_of(&errors),
        "password.html",
        json!({
            "heading": p.text("new_password_title"),
            "action": path(p, "password"),
            "ask_current": false,
            "requirements": requirements(p, &policy),
        }),
        errors,
    )
}

pub(crate) async fn password_form(p: PageCtx) -> Response {
    match flow_of(&p) {
        Some(flow) => password_page(&p, &flow, Vec::new()).await,
        None => p.redirect(&path(&p, "")),
    }
}

pub(crate) async fn password_submit(mut p: PageCtx, Form(f): Form<WizardForm>) -> Response {
    let Some(flow) = flow_of(&p) else {
        return p.redirect(&path(&p, ""));
    };
    if !p.csrf_ok(&f.csrf) {
        let errors = p.csrf_error();
        return password_page(&p, &flow, errors).await;
    }
    let token = p.cookie(RESET_COOKIE).unwrap_or_default().to_string();
    match p
        .app
        .reset_password(
            &p.tenant,
            &flow,
            &token,
            f.new_password,
            f.confirm_password,
            None,
            &p.client,
        )
        .await
    {
        Ok(()) => {
            let scope = path(&p, "");
            p.set_cookie(FLOW_COOKIE, "", &scope, 0);
            p.set_cookie(RESET_COOKIE, "", &scope, 0);
            p.redirect(&path(&p, "done"))
        }
        Err(e) if ends_flow(&e) => start_page(&p, "", p.errors_of(&e)).await,
        Err(e) => {
            let errors = p.errors_of(&e);
            password_page(&p, &flow, errors).await
        }
    }
}

pub(crate) async fn done(p: PageCtx) -> Response {
    let login = format!("/t/{}/login", p.tenant.slug);
    p.notice("done_title", "done_text", Some((&login, "log_in")))
}

/// The landing page of a reset link (an administrator's, or an approved
/// appeal's): its flow and token are in the URL fragment, which browsers
/// never send; the script posts them once, and the server keeps them in
/// cookies from then on.
pub(crate) async fn link_form(p: PageCtx) -> Response {
    p.page(StatusCode::OK, "reset.html", json!({}), Vec::new())
}

pub(crate) async fn link_submit(mut p: PageCtx, Form(f): Form<WizardForm>) -> Response {
    if !p.csrf_ok(&f.csrf) {
        let errors = p.csrf_error();
        return p.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reset.html",
            json!({}),
            errors,
        );
    }
    // Only a verified flow with a reset token is worth keeping; anything
    // else starts over (the reset itself checks the token).
    let verified = matches!(
        p.app.recovery_status(&p.tenant, &f.flow).await,
        Ok(s) if s.state == regain_domain::recovery::FlowState::Verified
    );
    if !verified || f.token.is_empty() || f.token.len() > 128 {
        let errors = vec![p.text("err_reset_token_invalid").to_string()];
        return start_page(&p, "", errors).await;
    }
    let scope = path(&p, "");
    p.set_cookie(FLOW_COOKIE, &f.flow, &scope, 3600);
    p.set_cookie(RESET_COOKIE, &f.token, &scope, 3600);
    p.redirect(&path(&p, "password"))
}
