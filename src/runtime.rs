//! Shared start-up: configuration, logging, data folder, secret key, store.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use regain_app::clock::SystemClock;
use regain_app::config::{Config, LogFormat};
use regain_app::secret_key::SecretKey;
use regain_app::App;
use regain_store::Store;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::log_writer::{self, FlushGuard};

/// Loads the configuration from `file` and the process environment.
pub fn load_config(file: Option<&Path>) -> anyhow::Result<Config> {
    Config::load(file, |name| std::env::var(name).ok())
}

/// Logs to stderr, filtered by `REGAIN_LOG` (default `default_level`).
pub fn init_logging(config: &Config, default_level: &str) {
    init_logging_to(config, default_level, std::io::stderr);
}

/// Logging for `regain serve`: each line is formatted where it happens and
/// written with the others gathered meanwhile by a thread of its own (see
/// [`crate::log_writer`]). A request never waits on a slow stderr, and a
/// burst of 10,000 requests a second costs a few dozen writes, not 10,000.
/// Keep the guard until exit; dropping it writes what is left.
pub fn init_server_logging(config: &Config) -> anyhow::Result<FlushGuard> {
    let (writer, guard) =
        log_writer::start(std::io::stderr(), "log-writer").context("starting the log thread")?;
    init_logging_to(config, "info", writer);
    Ok(guard)
}

fn init_logging_to<W>(config: &Config, default_level: &str, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_env("REGAIN_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Opens the database (creating the data folder for SQLite) and migrates it.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    create_private_dir(&config.data_dir)?;
    let url = config.effective_database_url();
    let store = Store::connect(&url, config.database_max_connections)
        .await
        .context("connecting to the database")?;
    store
        .migrate()
        .await
        .context("applying database migrations")?;
    Ok(store)
}

/// The full application over an open store.
pub async fn open_app(config: Config) -> anyhow::Result<App> {
    let store = open_store(&config).await?;
    let secret = SecretKey::load_or_create(&config.effective_secret_key_file())?;
    App::new(store, Arc::new(SystemClock), config, secret)
}

/// Creates the data folder readable by its owner only: it holds the
/// database (password hashes) and the secret key.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating the data folder {}", dir.display()))
}
