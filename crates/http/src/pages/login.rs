//! Log on, the signed-in page, log out, and the password change forced
//! after an administrator's reset.

use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use regain_app::auth::Authenticated;
use serde::Deserialize;
use serde_json::{json, Value};

use super::wizard::requirements;
use super::PageCtx;
use crate::SESSION_COOKIE;

/// The log-on form. No `Debug`: it holds a password.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    password: String,
}

/// The change form. No `Debug`: it holds passwords.
#[derive(Deserialize)]
pub(crate) struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// Just the CSRF token.
#[derive(Deserialize)]
pub(crate) struct PlainForm {
    #[serde(default)]
    csrf: String,
}

fn login_page(p: &PageCtx, identifier: &str, errors: Vec<String>) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    p.page(
        status,
        "login.html",
        json!({ "identifier": identifier }),
        errors,
    )
}

pub(crate) async fn form(p: PageCtx) -> Response {
    login_page(&p, "", Vec::new())
}

pub(crate) async fn submit(mut p: PageCtx, Form(f): Form<LoginForm>) -> Response {
    if !p.csrf_ok(&f.csrf) {
        let errors = p.csrf_error();
        return login_page(&p, &f.identifier, errors);
    }
    let result = p
        .app
        .login(&p.tenant.slug, &f.identifier, f.password, &p.client)
        .await;
    let logged_in = match result {
        Ok(l) => l,
        Err(e) => {
            let errors = p.errors_of(&e);
            return login_page(&p, &f.identifier, errors);
        }
    };
    let must_change = p
        .app
        .must_change_password(&p.tenant, &logged_in.account)
        .await
        .unwrap_or(true);
    let max_age = i64::from(p.app.config.session.ttl_minutes) * 60;
    p.set_cookie(SESSION_COOKIE, &logged_in.token, "/", max_age);
    let next = if must_change { "password" } else { "home" };
    p.redirect(&format!("/t/{}/{next}", p.tenant.slug))
}

/// The session behind the cookie, if it is valid.
async fn session(p: &PageCtx) -> Option<Authenticated> {
    let token = p.cookie(SESSION_COOKIE)?;
    p.app.authenticate(&p.tenant, token).await.ok()
}

/// The signed-in account of a page that needs one: without a session the
/// answer is the log-on page, and with a password to change, the change.
pub(crate) async fn signed_in(p: &PageCtx) -> Result<Authenticated, Response> {
    let Some(auth) = session(p).await else {
        return Err(p.redirect(&format!("/t/{}/login", p.tenant.slug)));
    };
    if p.app
        .must_change_password(&p.tenant, &auth.account)
        .await
        .unwrap_or(true)
    {
        return Err(p.redirect(&format!("/t/{}/password", p.tenant.slug)));
    }
    Ok(auth)
}

pub(crate) async fn home(p: PageCtx) -> Response {
    let auth = match signed_in(&p).await {
        Ok(a) => a,
        Err(to) => return to,
    };
    let nav = p.nav(&auth, "home").await;
    p.page(
        StatusCode::OK,
        "home.html",
        json!({ "who": auth.account.qualified_name, "nav": nav }),
        Vec::new(),
    )
}

pub(crate) async fn logout(mut p: PageCtx, Form(f): Form<PlainForm>) -> Response {
    if p.csrf_ok(&f.csrf) {
        if let Some(token) = p.cookie(SESSION_COOKIE).map(str::to_string) {
            let _ = p.app.logout(&p.tenant, &token).await;
        }
        p.set_cookie(SESSION_COOKIE, "", "/", 0);
    }
    p.redirect(&format!("/t/{}/login", p.tenant.slug))
}

async fn change_page(p: &PageCtx, auth: &Authenticated, errors: Vec<String>) -> Response {
    let policy = p
        .app
        .effective_policy(&p.tenant, &auth.account)
        .await
        .map(|r| r.policy)
        .unwrap_or_else(|_| p.tenant.policy.clone());
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let forced = p
        .app
        .must_change_password(&p.tenant, &auth.account)
        .await
        .unwrap_or(true);
    let nav = if forced {
        Value::Null
    } else {
        json!(p.nav(auth, "settings").await)
    };
    p.page(
        status,
        "password.html",
        json!({
            "heading": p.text("change_title"),
            "intro": p.text(if forced { "change_intro" } else { "change_intro_own" }),
            "current_label": p.text(if forced { "current_password" } else { "current_password_own" }),
            "nav": nav,
            "action": format!("/t/{}/password", p.tenant.slug),
            "ask_current": true,
            "requirements": requirements(p, &policy),
        }),
        errors,
    )
}

pub(crate) async fn change_form(p: PageCtx) -> Response {
    match session(&p).await {
        Some(auth) => change_page(&p, &auth, Vec::new()).await,
        None => p.redirect(&format!("/t/{}/login", p.tenant.slug)),
    }
}

pub(crate) async fn change_submit(p: PageCtx, Form(f): Form<ChangeForm>) -> Response {
    let Some(auth) = session(&p).await else {
        return p.redirect(&format!("/t/{}/login", p.tenant.slug));
    };
    if !p.csrf_ok(&f.csrf) {
        let errors = p.csrf_error();
        return change_page(&p, &auth, errors).await;
    }
    if f.new_password != f.confirm_password {
        let errors = vec![p.text("err_passwords_differ").to_string()];
        return change_page(&p, &auth, errors).await;
    }
    match p
        .app
        .change_password(&p.tenant, &auth, f.current_password, f.new_password)
        .await
    {
        Ok(()) => p.redirect(&format!("/t/{}/home", p.tenant.slug)),
        Err(e) => {
            let errors = p.errors_of(&e);
            change_page(&p, &auth, errors).await
        }
    }
}
