//! The hosted pages under `/t/{tenant}/…`: log on, the forced password
//! change, the forgot-password wizard (codes and security questions),
//! forgot username, the manual appeal and its status, the account's
//! settings, the admin console and the support console, in English and
//! Simplified Chinese, with the tenant's accent colour and logo. They call the same use cases as the JSON API; forms post and
//! re-render without JavaScript, which only enhances (`static/regain.js`).
//!
//! Security: a CSRF token (a cookie compared with a hidden field) on every
//! form; cookies HttpOnly and SameSite=Lax (Secure unless the public URL is
//! plain http on loopback); a CSP without inline script, `frame-ancestors
//! 'none'` and no referrer. No flow id, code or token ever travels in a URL:
//! the wizard keeps its flow id and reset token in HttpOnly cookies.

mod admin;
mod appeal;
mod catalog;
mod login;
mod remind;
mod render;
mod settings;
mod support;
mod wizard;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use regain_app::appeals::MAX_ATTACHMENT_BYTES;
use regain_app::App;
use tower_http::set_header::SetResponseHeaderLayer;

pub(crate) use render::{error_page, status_of, when, PageCtx};

/// The pages' policy: scripts and styles from this origin only, pictures
/// also as data URLs (the CAPTCHA), no framing, forms back to this origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub(crate) fn router() -> Router<App> {
    Router::new()
        .route("/static/regain.css", get(render::css))
        .route("/static/regain.js", get(render::js))
        .route("/", get(render::index))
        .route("/t/{tenant}/theme.css", get(render::theme))
        .route(
            "/t/{tenant}/forgot-username",
            get(remind::form).post(remind::submit),
        )
        .route("/t/{tenant}/appeal", get(appeal::form).post(appeal::submit))
        .route(
            "/t/{tenant}/appeal/confirm",
            get(appeal::confirm_form).post(appeal::confirm_submit),
        )
        .route("/t/{tenant}/appeal/status", get(appeal::status))
        .route(
            "/t/{tenant}/appeal/files",
            // A file is larger than any form; the use case checks the
            // tenant's exact limit and the type.
            post(appeal::attach).layer(DefaultBodyLimit::max(MAX_ATTACHMENT_BYTES + 64 * 1024)),
        )
        .route("/t/{tenant}/admin", get(admin::show))
        .route("/t/{tenant}/admin/create", post(admin::create))
        .route("/t/{tenant}/admin/reset", post(admin::reset))
        .route("/t/{tenant}/admin/disable", post(admin::disable))
        .route("/t/{tenant}/admin/reauth", post(admin::reauth))
        .route("/t/{tenant}/admin/approvals", post(admin::decide))
        .route(
            "/t/{tenant}/admin/policy",
            get(admin::policy).post(admin::policy_submit),
        )
        .route("/t/{tenant}/admin/audit", get(admin::audit))
        .route("/t/{tenant}/support", get(support::show).post(support::act))
        .route("/t/{tenant}/settings", get(settings::show))
        .route("/t/{tenant}/settings/questions", post(settings::questions))
        .route("/t/{tenant}/settings/contacts", post(settings::add_contact))
        .route(
            "/t/{tenant}/settings/contacts/confirm",
            post(settings::confirm_contact),
        )
        .route(
            "/t/{tenant}/settings/contacts/remove",
            post(settings::remove_contact),
        )
        .route(
            "/t/{tenant}/settings/identities/link",
            post(settings::link_identity),
        )
        .route(
            "/t/{tenant}/settings/sessions/others",
            post(settings::end_other_sessions),
        )
        .route("/t/{tenant}/login", get(login::form).post(login::submit))
        .route("/t/{tenant}/home", get(login::home))
        .route("/t/{tenant}/logout", post(login::logout))
        .route(
            "/t/{tenant}/password",
            get(login::change_form).post(login::change_submit),
        )
        .route(
            "/t/{tenant}/forgot",
            get(wizard::start_form).post(wizard::start_submit),
        )
        .route(
            "/t/{tenant}/forgot/method",
            get(wizard::method_form).post(wizard::method_submit),
        )
        .route(
            "/t/{tenant}/forgot/code",
            get(wizard::code_form).post(wizard::code_submit),
        )
        .route("/t/{tenant}/forgot/resend", post(wizard::resend))
        .route(
            "/t/{tenant}/forgot/answers",
            get(wizard::answers_form).post(wizard::answers_submit),
        )
        .route(
            "/t/{tenant}/forgot/password",
            get(wizard::password_form).post(wizard::password_submit),
        )
        .route(
            "/t/{tenant}/forgot/wait",
            get(wizard::wait_form).post(wizard::wait_submit),
        )
        .route("/t/{tenant}/forgot/done", get(wizard::done))
        .route(
            "/t/{tenant}/reset",
            get(wizard::link_form).post(wizard::link_submit),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}
