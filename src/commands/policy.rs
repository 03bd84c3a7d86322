//! `regain policy show|set`.

use clap::Subcommand;
use regain_app::App;
use regain_domain::policy::overrides::PolicyOverride;
use regain_domain::policy::presets::Preset;

use super::account::explain;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Print the policy in force (for a tenant, or for one account with the
    /// origin of each field), as JSON.
    Show {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
        /// An account's qualified name.
        #[arg(long)]
        account: Option<String>,
    },
    /// Set a tenant's policy from a preset, or an account subtree's
    /// override from JSON (only the fields to override), or clear it.
    Set {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
        /// An account whose subtree gets the override.
        #[arg(long)]
        account: Option<String>,
        /// For a tenant: cloud, mail or nist.
        #[arg(long, conflicts_with_all = ["account", "json", "clear"])]
        preset: Option<String>,
        /// For an account: the override, e.g. '{"min_length": 12, "weak_keywords": ["acme"]}'.
        #[arg(long, requires = "account", conflicts_with = "clear")]
        json: Option<String>,
        /// For an account: remove its override.
        #[arg(long, requires = "account")]
        clear: bool,
    },
}

pub async fn run(app: App, cmd: PolicyCommand) -> anyhow::Result<()> {
    match cmd {
        PolicyCommand::Show { tenant, account } => {
            let tenant = app.tenant(&tenant).await.map_err(explain)?;
            let text = match account {
                Some(name) => {
                    let account = app.account_by_name(&tenant, &name).await.map_err(explain)?;
                    let resolved = app
                        .effective_policy(&tenant, &account)
                        .await
                        .map_err(explain)?;
                    serde_json::to_string_pretty(&resolved)?
                }
                None => serde_json::to_string_pretty(&tenant.policy)?,
            };
            println!("{text}");
        }
        PolicyCommand::Set {
            tenant,
            account,
            preset,
            json,
            clear,
        } => {
            let tenant = app.tenant(&tenant).await.map_err(explain)?;
            match (account, preset) {
                (None, Some(preset)) => {
                    let preset = Preset::parse(&preset).ok_or_else(|| {
                        anyhow::anyhow!("unknown preset {preset:?}: use cloud, mail or nist")
                    })?;
                    app.set_tenant_policy(&tenant, &preset.policy())
                        .await
                        .map_err(explain)?;
                    println!(
                        "tenant {} now uses the {} policy",
                        tenant.slug,
                        preset.name()
                    );
                }
                (Some(name), None) => {
                    let account = app.account_by_name(&tenant, &name).await.map_err(explain)?;
                    let o: Option<PolicyOverride> = match (json, clear) {
                        (_, true) => None,
                        (Some(text), false) => Some(
                            serde_json::from_str(&text)
                                .map_err(|e| anyhow::anyhow!("invalid override: {e}"))?,
                        ),
                        (None, false) => {
                            anyhow::bail!("give --json with the fields to override, or --clear")
                        }
                    };
                    app.set_policy_override(&tenant, &account, o)
                        .await
                        .map_err(explain)?;
                    println!("policy of {}'s subtree updated", account.qualified_name);
                }
                _ => {
                    anyhow::bail!("give --preset for a tenant, or --account with --json or --clear")
                }
            }
        }
    }
    Ok(())
}
