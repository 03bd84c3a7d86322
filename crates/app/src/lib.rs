//! Regain's application services: the use cases that combine the pure
//! domain with storage, hashing and time. Nothing here knows about HTTP; the
//! HTTP layer and the CLI both call these same functions.
#![deny(missing_docs)]

pub mod accounts;
pub mod admin;
pub mod appeals;
pub mod auth;
pub mod captcha;
pub mod clock;
pub mod config;
pub mod contacts;
pub mod error;
pub mod hashing;
pub mod import;
pub mod keys;
pub mod log_safe;
mod messages;
pub mod methods;
pub mod metrics;
pub mod recovery;
pub mod reminder;
pub mod secret_key;
pub mod tokens;

use std::sync::Arc;

pub use error::AppError;
use regain_domain::clock::Clock;
use regain_store::Store;

use crate::config::Config;
use crate::hashing::Hasher;
use crate::secret_key::SecretKey;

/// Everything a use case needs, shared by all requests: one pointer, so
/// that each request's copy (axum hands every handler its own) is one
/// count on one `Arc` rather than one on each of the services, which under
/// load was 5% of the server's time in `challenge`, two cores contending
/// for a dozen shared counters. Dereferences to [`Services`].
#[derive(Clone)]
pub struct App(Arc<Services>);

impl std::ops::Deref for App {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind an [`App`].
pub struct Services {
    /// The database.
    pub store: Store,
    /// The source of "now".
    pub clock: Arc<dyn Clock>,
    /// The bounded Argon2id pool.
    pub hasher: Hasher,
    /// The settings in force.
    pub config: Arc<Config>,
    /// The server's secret key (HMACs of codes, tokens and identities).
    pub secret: Arc<SecretKey>,
    /// Wakes this process's delivery worker when a message is queued.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Outgoing HTTP (CAPTCHA provider).
    pub http: reqwest::Client,
    /// Renders the Prometheus metrics of this process.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Set when shutdown begins: `/readyz` answers 503 so load balancers
    /// stop sending traffic before the listener closes.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
}

impl App {
    /// Assembles the services over an open store.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        config: Config,
        secret: SecretKey,
    ) -> anyhow::Result<App> {
        let hasher = Hasher::start(&config.argon2, &config.hashing)?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(App(Arc::new(Services {
            store,
            clock,
            hasher,
            config: Arc::new(config),
            secret: Arc::new(secret),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            http,
            metrics: crate::metrics::install(),
            draining: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        })))
    }

    /// The delivery worker of this process, over the configured senders.
    pub fn delivery_worker(&self) -> anyhow::Result<regain_delivery::Worker> {
        let senders =
            regain_delivery::Senders::from_config(&self.config.delivery, &self.config.data_dir)
                .map_err(|e| anyhow::anyhow!("delivery configuration: {e}"))?;
        Ok(regain_delivery::Worker::new(
            self.store.clone(),
            senders,
            self.clock.clone(),
            self.outbox_wake.clone(),
            std::time::Duration::from_millis(self.config.delivery.poll_interval_ms.max(10)),
            i64::from(self.config.delivery.retry_horizon_minutes) * 60,
        ))
    }
}
