//! Regain's HTTP edge: the JSON API under `/api/v1`, the health probes and
//! the OpenAPI document, on axum.
//!
//! Handlers are thin: extract input, call one [`regain_app::App`] method,
//! map the result. Every error leaves as `{"error": {"code", "message"}}`
//! through [`error::ApiError`]; nothing below this crate knows about HTTP.
#![deny(missing_docs)]

mod api;
mod client_ip;
pub mod error;
mod extract;
mod health;
mod layers;
mod openapi;
mod pages;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
pub use axum::Router;
use regain_app::App;
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;

/// The name of the session cookie set at login.
pub const SESSION_COOKIE: &str = "regain_session";

/// Builds the whole application: routes, OpenAPI document and middleware.
pub fn router(app: App) -> Router {
    let (routes, doc) = OpenApiRouter::with_openapi(openapi::base())
        .merge(health::router())
        .merge(api::router())
        .merge(openapi::router())
        .split_for_parts();
    let routes = routes
        .layer(Extension(Arc::new(doc)))
        .merge(pages::router());
    layers::apply(routes, app)
}

/// The metrics endpoint, `GET /metrics` in the Prometheus text format. It
/// is served on its own listener (`metrics_listen`), never on the public one.
pub fn metrics_router(app: App) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .with_state(app)
}

async fn metrics(axum::extract::State(app): axum::extract::State<App>) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Ok(depth) = app.store.outbox_depth().await {
        ::metrics::gauge!("regain_outbox_queue_depth").set(depth as f64);
    }
    let (size, idle) = app.store.pool_stats();
    ::metrics::gauge!("regain_db_pool_connections", "state" => "open").set(f64::from(size));
    ::metrics::gauge!("regain_db_pool_connections", "state" => "idle").set(idle as f64);
    match &app.metrics {
        Some(handle) => {
            handle.run_upkeep();
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4",
                )],
                handle.render(),
            )
                .into_response()
        }
        None => axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// Serves a plain router (e.g. [`metrics_router`]) on `listener`.
pub async fn serve_router(listener: TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(no_delay(listener), router).await
}

/// `listener` with Nagle's algorithm off on every connection it accepts
/// (`TCP_NODELAY`, which `axum::serve` leaves as the system has it). With it
/// on, a small write that follows another unacknowledged one waits for the
/// peer's delayed acknowledgement, up to 40 ms on Linux: a request/response
/// protocol wants each answer sent at once.
fn no_delay(
    listener: TcpListener,
) -> axum::serve::TapIo<TcpListener, impl FnMut(&mut tokio::net::TcpStream) + Send + 'static> {
    use axum::serve::ListenerExt;
    listener.tap_io(|stream: &mut tokio::net::TcpStream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
        }
    })
}

/// Serves `app` on `listener` until `shutdown` resolves, then finishes the
/// requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(no_delay(listener), service)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use axum::serve::Listener;

    #[tokio::test]
    async fn accepted_connections_have_nagle_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut wrapped = super::no_delay(listener);
        let (_client, (server_side, _)) =
            tokio::join!(tokio::net::TcpStream::connect(addr), wrapped.accept());
        assert!(
            server_side.nodelay().unwrap(),
            "TCP_NODELAY on the accepted stream"
        );
    }
}
