//! The command line: one module per command group.

mod account;
mod audit;
mod backup;
mod bench;
mod demo;
mod import;
mod password_input;
mod policy;
mod progress;
mod serve;
mod tenant;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::runtime;

/// Regain: a self-hosted account service for regaining access safely.
#[derive(Parser)]
#[command(name = "regain", version, about)]
pub struct Cli {
    /// Configuration file (TOML). REGAIN_* environment variables override it.
    #[arg(long, global = true, env = "REGAIN_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (applies migrations first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Write a consistent snapshot of the SQLite database while it runs.
    Backup {
        /// The new backup file.
        path: PathBuf,
    },
    /// Replace the SQLite database with a backup (the server must be stopped).
    Restore {
        /// The backup file.
        path: PathBuf,
    },
    /// Create a demo tenant shaped like real deployments, and say how to log in.
    Demo(demo::DemoArgs),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Manage accounts.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Show and set password policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Manage the server's secret key.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Read and verify the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Measure logins and recovery flows against the machine's Argon2id
    /// limit (starts its own server; see BENCHMARKS.md).
    Bench(bench::BenchArgs),
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Put a new key in front of the current one; HMACs made under the
    /// current key (codes, CAPTCHA answers) stay verifiable until they
    /// expire. Restart the servers to use the new key.
    Rotate,
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = runtime::load_config(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => {
            let _log = runtime::init_server_logging(&config)?;
            serve::run(config).await
        }
        Command::Migrate => {
            runtime::init_logging(&config, "warn");
            runtime::open_store(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Backup { path } => {
            runtime::init_logging(&config, "warn");
            backup::backup(config, &path).await
        }
        Command::Restore { path } => {
            runtime::init_logging(&config, "warn");
            backup::restore(config, &path).await
        }
        Command::Demo(args) => {
            runtime::init_logging(&config, "warn");
            demo::run(runtime::open_app(config).await?, args).await
        }
        Command::Tenant(cmd) => {
            runtime::init_logging(&config, "warn");
            tenant::run(runtime::open_app(config).await?, cmd).await
        }
        Command::Account(cmd) => {
            runtime::init_logging(&config, "warn");
            let app = runtime::open_app(config).await?;
            account::run(app.clone(), cmd).await?;
            // Deliver what the command queued (a reset link, a notice) now,
            // rather than at the next `regain serve`.
            app.delivery_worker()?.pass().await?;
            Ok(())
        }
        Command::Policy(cmd) => {
            runtime::init_logging(&config, "warn");
            policy::run(runtime::open_app(config).await?, cmd).await
        }
        Command::Key(KeyCommand::Rotate) => {
            runtime::init_logging(&config, "warn");
            let path = config.effective_secret_key_file();
            regain_app::secret_key::SecretKey::rotate(&path)?;
            println!(
                "rotated the secret key in {}; restart the servers to use it",
                path.display()
            );
            Ok(())
        }
        Command::Bench(args) => {
            runtime::init_logging(&config, "warn");
            bench::run(config, args).await
        }
        Command::Audit(cmd) => {
            runtime::init_logging(&config, "warn");
            audit::run(runtime::open_app(config).await?, cmd).await
        }
    }
}
