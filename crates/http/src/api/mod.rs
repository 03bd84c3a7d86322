//! The JSON API under `/api/v1`, one module per resource.

mod accounts;
mod appeals;
mod approvals;
mod audit;
mod captcha;
mod contacts;
mod credentials;
mod password;
mod recovery;
mod reminder;
mod sessions;
mod views;
mod webhooks;

use regain_app::App;
use utoipa_axum::router::OpenApiRouter;

pub(crate) fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .merge(sessions::router())
        .merge(password::router())
        .merge(captcha::router())
        .merge(recovery::router())
        .merge(reminder::router())
        .merge(accounts::router())
        .merge(audit::router())
        .merge(contacts::router())
        .merge(credentials::router())
        .merge(approvals::router())
        .merge(appeals::router())
        .merge(webhooks::router())
}
