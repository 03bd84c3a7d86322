//! Regain's application services: the use cases that combine the pure
//! domain with storage, hashing and time. Nothing here knows about HTTP; the
//! HTTP layer and the CLI both call these same functions.
#![deny(missing_docs)]

pub mod accounts;
pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
pub mod hashing;
pub mod secret_key;
pub mod tokens;

use std::sync::Arc;

pub use error::AppError;
use regain_domain::clock::Clock;
use regain_store::Store;

use crate::config::Config;
use crate::hashing::Hasher;
use crate::secret_key::SecretKey;

/// Everything a use case needs, shared by all requests. Cheap to clone.
#[derive(Clone)]
pub struct App {
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
        Ok(App {
            store,
            clock,
            hasher,
            config: Arc::new(config),
            secret: Arc::new(secret),
        })
    }
}
