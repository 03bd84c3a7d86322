//! The built-in image CAPTCHA.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use regain_app::App;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ClientInfo, CurrentTenant};

pub(super) fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(create_captcha))
}

/// A CAPTCHA challenge.
#[derive(Serialize, ToSchema)]
pub(crate) struct CaptchaView {
    /// Send back as `captcha_id`.
    id: String,
    /// The distorted text as a `data:image/png;base64,…` URL.
    image: String,
    /// Seconds until it expires; each challenge can be answered once.
    expires_in: i64,
}

/// Get a CAPTCHA challenge (tenants using the built-in CAPTCHA).
#[utoipa::path(post, path = "/api/v1/t/{tenant}/captcha", tag = "recovery",
    params(("tenant" = String, Path, description = "Tenant slug")),
    responses(
        (status = 201, description = "A new challenge", body = CaptchaView),
        (status = 400, description = "The tenant does not use the built-in CAPTCHA", body = ErrorBody),
        (status = 404, description = "Unknown tenant", body = ErrorBody),
        (status = 429, description = "Too many challenges from this address", body = ErrorBody),
    ))]
async fn create_captcha(
    State(app): State<App>,
    CurrentTenant(tenant): CurrentTenant,
    ClientInfo(client): ClientInfo,
) -> Result<(StatusCode, Json<CaptchaView>), ApiError> {
    let c = app.new_captcha(&tenant, &client).await?;
    Ok((
        StatusCode::CREATED,
        Json(CaptchaView {
            id: c.id,
            image: c.image,
            expires_in: c.expires_in,
        }),
    ))
}
