//! `regain tenant create|list|settings`.

use clap::Subcommand;
use regain_app::App;
use regain_domain::policy::presets::Preset;

use super::account::explain;

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Address of the tenant (a-z, 0-9, '-').
        slug: String,
        /// Display name (defaults to the slug).
        #[arg(long)]
        name: Option<String>,
        /// Default password policy: cloud, mail or nist.
        #[arg(long, default_value = "nist")]
        preset: String,
        /// CAPTCHA in front of recovery: builtin or off.
        #[arg(long, default_value = "builtin", value_parser = ["builtin", "off"])]
        captcha: String,
    },
    /// List tenants.
    List,
    /// Print a tenant's settings as JSON (recovery rules, enabled methods,
    /// CAPTCHA, KYC and OpenID Connect providers), or replace them with the
    /// JSON in --file. Unknown fields are refused; missing ones take their
    /// defaults.
    Settings {
        /// The tenant's slug.
        slug: String,
        /// A JSON file with the new settings.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
}

pub async fn run(app: App, cmd: TenantCommand) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Create {
            slug,
            name,
            preset,
            captcha,
        } => {
            let preset = Preset::parse(&preset).ok_or_else(|| {
                anyhow::anyhow!("unknown preset {preset:?}: use cloud, mail or nist")
            })?;
            let name = name.unwrap_or_else(|| slug.clone());
            let tenant = app
                .create_tenant(&slug, &name, preset)
                .await
                .map_err(explain)?;
            if captcha == "off" {
                let mut settings = tenant.settings.clone();
                settings.captcha = regain_domain::tenant::CaptchaMode::Off;
                app.store.set_tenant_settings(tenant.id, &settings).await?;
            }
            println!(
                "created tenant {} ({}) with the {} policy",
                tenant.slug,
                tenant.name,
                preset.name()
            );
        }
        TenantCommand::Settings { slug, file } => {
            let tenant = app.tenant(&slug).await.map_err(explain)?;
            match file {
                None => println!("{}", serde_json::to_string_pretty(&tenant.settings)?),
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                    let settings: regain_domain::tenant::TenantSettings =
                        serde_json::from_str(&text)
                            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    settings
                        .validate()
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    app.store.set_tenant_settings(tenant.id, &settings).await?;
                    println!("settings of {} replaced", tenant.slug);
                }
            }
        }
        TenantCommand::List => {
            for t in app.store.list_tenants().await? {
                println!("{}\t{}", t.slug, t.name);
            }
        }
    }
    Ok(())
}
