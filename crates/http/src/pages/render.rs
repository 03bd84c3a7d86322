//! What every page shares: the tenant, the language, the CSRF token, the
//! cookies it reads and sets, and rendering through minijinja templates
//! compiled into the binary.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use regain_app::auth::{Authenticated, Client};
use regain_app::{App, AppError};
use regain_domain::account::{Position, Role};
use regain_domain::tenant::CaptchaMode;
use regain_store::Tenant;
use serde_json::{json, Map, Value};

use super::catalog::{message, messages, Lang};
use crate::extract::ClientInfo;

const CSRF_COOKIE: &str = "regain_csrf";
const LANG_COOKIE: &str = "regain_lang";

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("../../templates/base.html")),
            ("login.html", include_str!("../../templates/login.html")),
            ("forgot.html", include_str!("../../templates/forgot.html")),
            ("method.html", include_str!("../../templates/method.html")),
            ("code.html", include_str!("../../templates/code.html")),
            ("answers.html", include_str!("../../templates/answers.html")),
            ("reset.html", include_str!("../../templates/reset.html")),
            (
                "password.html",
                include_str!("../../templates/password.html"),
            ),
            ("message.html", include_str!("../../templates/message.html")),
            ("home.html", include_str!("../../templates/home.html")),
            ("captcha.html", include_str!("../../templates/captcha.html")),
            ("remind.html", include_str!("../../templates/remind.html")),
            ("appeal.html", include_str!("../../templates/appeal.html")),
            (
                "appeal_code.html",
                include_str!("../../templates/appeal_code.html"),
            ),
            (
                "appeal_status.html",
                include_str!("../../templates/appeal_status.html"),
            ),
            (
                "settings.html",
                include_str!("../../templates/settings.html"),
            ),
            ("admin.html", include_str!("../../templates/admin.html")),
            ("wait.html", include_str!("../../templates/wait.html")),
            ("ended.html", include_str!("../../templates/ended.html")),
            ("support.html", include_str!("../../templates/support.html")),
            (
                "admin_policy.html",
                include_str!("../../templates/admin_policy.html"),
            ),
            (
                "admin_audit.html",
                include_str!("../../templates/admin_audit.html"),
            ),
        ] {
            // Every template is rendered by a unit test, so a broken one
            // fails the build's tests, not a visitor.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(error = %e, name, "a page template does not compile");
            }
        }
        env
    })
}

/// The style sheet.
pub(crate) async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../static/regain.css"),
    )
        .into_response()
}

/// The enhancement script.
pub(crate) async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../static/regain.js"),
    )
        .into_response()
}

/// The tenant's accent colour as a style sheet: a CSP without inline
/// styles needs it as a file.
pub(crate) async fn theme(p: PageCtx) -> Response {
    let branding = &p.tenant.settings.branding;
    // Checked when set; checked again so a hand-edited row cannot inject CSS.
    let css = match &branding.accent {
        Some(accent) if branding.validate().is_ok() => format!(":root {{ --accent: {accent}; }}\n"),
        _ => String::new(),
    };
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], css).into_response()
}

/// A moment as people read it: `2026-11-25 22:40 UTC`.
pub(crate) fn when(t: regain_domain::clock::Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.0).map_or_else(
        |_| String::new(),
        |d| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                d.year(),
                u8::from(d.month()),
                d.day(),
                d.hour(),
                d.minute()
            )
        },
    )
}

/// 200 for a clean form, 422 when it shows errors.
pub(crate) fn status_of(errors: &[String]) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// A page request's shared state.
pub(crate) struct PageCtx {
    pub app: App,
    pub tenant: Tenant,
    pub lang: Lang,
    pub client: Client,
    csrf: String,
    cookies: HashMap<String, String>,
    set: Vec<String>,
}

fn cookies_of(headers: &HeaderMap) -> HashMap<String, String> {
    crate::extract::cookies(headers)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The page language: `?lang=` (remembered in a cookie), then the cookie,
/// then `Accept-Language`. The second value is the `?lang=` one, if any.
fn lang_of(headers: &HeaderMap, query: Option<&str>) -> (Lang, Option<Lang>) {
    let query_lang = query.and_then(|q| {
        q.split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::parse(v))
    });
    let lang = query_lang
        .or_else(|| {
            cookies_of(headers)
                .get(LANG_COOKIE)
                .and_then(|v| Lang::parse(v))
        })
        .unwrap_or_else(|| {
            Lang::from_accept(
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default(),
            )
        });
    (lang, query_lang)
}

/// A page outside any tenant (the front page, an unknown tenant, an error
/// a provider sent the browser back with): `message.html` in `lang` with
/// `extra` (`heading`, `text`, `errors`, `link`, …).
fn bare_page(status: StatusCode, lang: Lang, extra: Value) -> Response {
    let mut ctx = json!({
        "lang": lang.tag(), "other_lang": lang.other().tag(), "m": messages(lang),
        "tenant_name": "Regain", "text": "", "errors": [],
    });
    if let (Value::Object(ctx), Value::Object(extra)) = (&mut ctx, extra) {
        ctx.extend(extra);
    }
    let html = templates()
        .get_template("message.html")
        .and_then(|t| t.render(ctx))
        .unwrap_or_default();
    (status, Html(html)).into_response()
}

/// A tenantless page that says one thing.
fn bare_notice(status: StatusCode, lang: Lang, key: &str) -> Response {
    bare_page(status, lang, json!({ "heading": message(lang, key) }))
}

/// An error page outside any tenant's pages (a provider sent the browser
/// back with something Regain refuses), in the visitor's language.
pub(crate) fn error_page(headers: &HeaderMap, e: AppError) -> Response {
    let (lang, _) = lang_of(headers, None);
    let code = e.code();
    let status = crate::error::ApiError::from(e).status();
    bare_page(
        status,
        lang,
        json!({
            "heading": message(lang, "error_heading"),
            "errors": [message(lang, &format!("err_{code}"))],
        }),
    )
}

/// The site's front page: it names no tenant (their list is private) and
/// links to the demo tenant when `regain demo` created one.
pub(crate) async fn index(State(app): State<App>, request: Request) -> Response {
    let (lang, _) = lang_of(request.headers(), request.uri().query());
    let demo = app.tenant("demo").await.is_ok();
    bare_page(
        StatusCode::OK,
        lang,
        json!({
            "heading": message(lang, "index_title"), "text": message(lang, "index_text"),
            "link": demo.then_some("/t/demo/login"), "link_text": message(lang, "index_demo"),
        }),
    )
}

impl FromRequestParts<App> for PageCtx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let cookies = cookies_of(&parts.headers);
        let (lang, query_lang) = lang_of(&parts.headers, parts.uri.query());
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, app)
            .await
            .map_err(|_| bare_notice(StatusCode::NOT_FOUND, lang, "err_tenant_not_found"))?;
        let slug = params.get("tenant").cloned().unwrap_or_default();
        let tenant = app
            .tenant(&slug)
            .await
            .map_err(|_| bare_notice(StatusCode::NOT_FOUND, lang, "err_tenant_not_found"))?;
        let ClientInfo(client) = ClientInfo::from_request_parts(parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let mut ctx = PageCtx {
            app: app.clone(),
            tenant,
            lang,
            client,
            csrf: String::new(),
            cookies,
            set: Vec::new(),
        };
        if query_lang.is_some() {
            ctx.set_cookie(LANG_COOKIE, lang.tag(), "/", 365 * 24 * 3600);
        }
        ctx.csrf = match ctx.cookies.get(CSRF_COOKIE) {
            Some(t) if t.len() >= 32 && t.len() <= 128 => t.clone(),
            _ => {
                let token = regain_app::tokens::random_token().map_err(|_| {
                    bare_notice(StatusCode::INTERNAL_SERVER_ERROR, lang, "err_other")
                })?;
                ctx.set_cookie(CSRF_COOKIE, &token, "/", 24 * 3600);
                token
            }
        };
        Ok(ctx)
    }
}

impl PageCtx {
    /// A cookie the request carried.
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Sets (or with `max_age` 0 clears) an HttpOnly, SameSite=Lax cookie.
    pub(crate) fn set_cookie(&mut self, name: &str, value: &str, path: &str, max_age: i64) {
        let secure = if self.app.config.cookie_secure() {
            "; Secure"
        } else {
            ""
        };
        self.set.push(format!(
            "{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
        ));
    }

    /// Whether a posted form carries this visitor's CSRF token.
    pub(crate) fn csrf_ok(&self, posted: &str) -> bool {
        self.cookie(CSRF_COOKIE).is_some() && regain_app::keys::same(&self.csrf, posted)
    }

    /// The messages to show for an error, in the page's language.
    pub(crate) fn errors_of(&self, e: &AppError) -> Vec<String> {
        let mut out = vec![message(self.lang, &format!("err_{}", e.code())).to_string()];
        match e {
            AppError::Policy(violations) => {
                out.extend(
                    violations
                        .iter()
                        .map(|v| message(self.lang, &format!("v_{}", v.code())).to_string()),
                );
            }
            AppError::Recovery(
                regain_domain::recovery::FlowError::WrongCode { tries_left }
                | regain_domain::recovery::FlowError::ContactMismatch { tries_left },
            ) => {
                out.push(format!(
                    "{}: {tries_left}",
                    message(self.lang, "attempts_left")
                ));
            }
            _ => {}
        }
        out
    }

    /// The CSRF failure's message.
    pub(crate) fn csrf_error(&self) -> Vec<String> {
        vec![message(self.lang, "err_csrf").to_string()]
    }

    /// A message by key.
    pub(crate) fn text(&self, key: &str) -> &'static str {
        message(self.lang, key)
    }

    fn with_cookies(&self, mut response: Response) -> Response {
        for c in &self.set {
            if let Ok(v) = HeaderValue::from_str(c) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        response
    }

    /// Renders `template` with the shared context plus `extra`.
    pub(crate) fn page(
        &self,
        status: StatusCode,
        template: &str,
        extra: Value,
        errors: Vec<String>,
    ) -> Response {
        let mut ctx = Map::new();
        ctx.insert("lang".into(), json!(self.lang.tag()));
        ctx.insert("other_lang".into(), json!(self.lang.other().tag()));
        ctx.insert("m".into(), json!(messages(self.lang)));
        ctx.insert("tenant".into(), json!(self.tenant.slug));
        ctx.insert("tenant_name".into(), json!(self.tenant.name));
        ctx.insert("csrf".into(), json!(self.csrf));
        ctx.insert("errors".into(), json!(errors));
        let branding = &self.tenant.settings.branding;
        ctx.insert("themed".into(), json!(branding.accent.is_some()));
        ctx.insert("logo".into(), json!(branding.logo));
        if let Value::Object(extra) = extra {
            ctx.extend(extra);
        }
        let rendered = templates()
            .get_template(template)
            .and_then(|t| t.render(Value::Object(ctx)));
        let response = match rendered {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, template, "page rendering failed");
                bare_notice(StatusCode::INTERNAL_SERVER_ERROR, self.lang, "err_other")
            }
        };
        self.with_cookies(response)
    }

    /// The signed-in pages' menu: the consoles appear to those who may use
    /// them (a root account or an admin manages a tree; support staff
    /// review appeals).
    pub(crate) async fn nav(&self, auth: &Authenticated, current: &str) -> Vec<Value> {
        let manages = match auth.account.position {
            Position::Root(_) => true,
            Position::Sub(role) => role == Role::Admin,
        };
        let support = matches!(
            self.app.store.staff_role(auth.account.id).await,
            Ok(Some(role)) if role == "support"
        );
        [
            ("home", "nav_home", true),
            ("settings", "nav_settings", true),
            ("admin", "nav_admin", manages),
            ("support", "nav_support", support),
        ]
        .into_iter()
        .filter(|(_, _, shown)| *shown)
        .map(|(page, key, _)| {
            json!({
                "href": format!("/t/{}/{page}", self.tenant.slug),
                "text": self.text(key),
                "current": page == current,
            })
        })
        .collect()
    }

    /// A fresh built-in CAPTCHA for a form, when the tenant uses one:
    /// `captcha_id` and `captcha_image` for the template.
    pub(crate) async fn captcha(&self) -> Value {
        let captcha = if self.tenant.settings.captcha == CaptchaMode::Builtin {
            self.app.new_captcha(&self.tenant, &self.client).await.ok()
        } else {
            None
        };
        json!({
            "captcha_id": captcha.as_ref().map(|c| c.id.clone()),
            "captcha_image": captcha.map(|c| c.image),
        })
    }

    /// A 303 to `to` (a path of this site).
    pub(crate) fn redirect(&self, to: &str) -> Response {
        let response = (
            StatusCode::SEE_OTHER,
            [(
                header::LOCATION,
                HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/")),
            )],
        )
            .into_response();
        self.with_cookies(response)
    }

    /// A page that shows only an error (a console asked for an account
    /// the visitor may not see, for instance).
    pub(crate) fn notice_error(&self, e: &AppError) -> Response {
        let status = match e {
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::NotFound { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        self.page(
            status,
            "message.html",
            json!({"heading": self.text("error_heading"), "text": ""}),
            self.errors_of(e),
        )
    }

    /// A page that says one thing, with a link on.
    pub(crate) fn notice(&self, heading: &str, text: &str, link: Option<(&str, &str)>) -> Response {
        self.page(
            StatusCode::OK,
            "message.html",
            json!({
                "heading": self.text(heading),
                "text": self.text(text),
                "link": link.map(|(href, _)| href),
                "link_text": link.map(|(_, key)| self.text(key)),
            }),
            Vec::new(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_escapes_what_it_shows() {
        let env = templates();
        for name in [
            "login.html",
            "forgot.html",
            "method.html",
            "code.html",
            "password.html",
            "message.html",
            "home.html",
            "remind.html",
            "appeal.html",
            "appeal_code.html",
            "appeal_status.html",
            "settings.html",
            "admin.html",
            "admin_policy.html",
            "admin_audit.html",
            "support.html",
            "wait.html",
            "ended.html",
        ] {
            let t = env
                .get_template(name)
                .unwrap_or_else(|e| unreachable!("{name}: {e}"));
            let html = t
                .render(
                    json!({"lang": "en", "m": messages(Lang::En), "tenant": "acme",
                    "tenant_name": "<b>Acme</b>", "errors": ["<script>"], "identifier": "\"><x>",
                    "f": {"identifier": "\"><x>"}}),
                )
                .unwrap_or_else(|e| unreachable!("{name}: {e}"));
            assert!(
                html.contains("&lt;b&gt;Acme") && !html.contains("<b>Acme"),
                "{name} escapes the tenant name"
            );
            assert!(!html.contains("<script>"), "{name} escapes errors");
            assert!(
                !html.contains("<script>") && !html.contains("onclick"),
                "{name}: no inline script"
            );
        }
    }
}
