//! `regain account create|list|show`.

use clap::{Args, Subcommand};
use regain_app::accounts::AccountSpec;
use regain_app::admin::{Actor, ResetMode, ResetOutcome};
use regain_app::{App, AppError};
use regain_domain::account::{AccountKind, Position, Role};
use regain_store::Account;

use super::password_input::read_password;

#[derive(Subcommand)]
pub enum AccountCommand {
    /// Create an account. The password is read from a prompt, or from the
    /// first line of standard input when it is not a terminal.
    Create(CreateArgs),
    /// List a tenant's root accounts, or the children of --parent.
    List {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
        /// Qualified name of the parent (root/sub…).
        #[arg(long)]
        parent: Option<String>,
    },
    /// Show one account by qualified name.
    Show {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
        /// Qualified name (root or root/sub…).
        name: String,
    },
    /// Reset a password as the operator: a temporary password (read from a
    /// prompt or standard input, or generated with --generate) that must be
    /// changed at next login, or a single-use link to the verified contacts.
    ResetPassword {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
        /// Qualified name (root or root/sub…).
        name: String,
        /// Send a reset link instead of setting a temporary password.
        #[arg(long, conflicts_with = "generate")]
        link: bool,
        /// Generate the temporary password and print it once.
        #[arg(long)]
        generate: bool,
    },
    /// Disable an account: it cannot log in, and its sessions end.
    Disable {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
        /// Qualified name (root or root/sub…).
        name: String,
    },
    /// Import accounts from another system: a CSV file with a header line,
    /// or JSON lines (by extension, or --format). Columns: username, parent,
    /// kind, role, display_name, email, phone, locale, password_hash (Argon2,
    /// bcrypt or PBKDF2; upgraded to Argon2id at first login). Every row is
    /// checked first; nothing is written unless all are valid.
    Import(ImportArgs),
    /// Enable a disabled account.
    Enable {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
        /// Qualified name (root or root/sub…).
        name: String,
    },
    /// Record a root account's verified identity (after a KYC check), which
    /// the face and external-identity methods compare against. Document
    /// numbers are stored only as keyed hashes.
    Identity {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
        /// The root account's name.
        name: String,
        /// The verified name of the person or enterprise.
        #[arg(long)]
        verified_name: String,
        /// The document number (ID card, passport, business licence).
        #[arg(long)]
        document: String,
        /// An enterprise's legal representative's name.
        #[arg(long, requires = "representative_document")]
        representative_name: Option<String>,
        /// The legal representative's document number.
        #[arg(long, requires = "representative_name")]
        representative_document: Option<String>,
    },
    /// Grant a tenant staff role: `support` reviews appeals, `operator`
    /// reads the whole tenant's audit log; `none` withdraws it.
    Staff {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
        /// Qualified name (root or root/sub…).
        name: String,
        /// support, operator or none.
        #[arg(long, value_parser = ["support", "operator", "none"])]
        role: String,
    },
}

#[derive(Args)]
pub struct ImportArgs {
    /// Tenant slug.
    #[arg(long)]
    pub tenant: String,
    /// The file to import.
    pub file: std::path::PathBuf,
    /// csv or jsonl; by default from the file's extension.
    #[arg(long, value_parser = ["csv", "jsonl"])]
    pub format: Option<String>,
    /// Import the valid rows and list the invalid ones, instead of
    /// importing nothing.
    #[arg(long)]
    pub skip_invalid: bool,
}

#[derive(Args)]
pub struct CreateArgs {
    /// Tenant slug.
    #[arg(long)]
    tenant: String,
    /// Username (unique among its siblings).
    username: String,
    /// Qualified name of the parent; omit for a root account.
    #[arg(long)]
    parent: Option<String>,
    /// Kind of a root account: individual or enterprise.
    #[arg(long, value_parser = ["individual", "enterprise"])]
    kind: Option<String>,
    /// Role of a sub-account: admin or member.
    #[arg(long, value_parser = ["admin", "member"])]
    role: Option<String>,
    /// Human name.
    #[arg(long)]
    display_name: Option<String>,
    /// Email to bind, marked verified.
    #[arg(long)]
    email: Option<String>,
    /// Phone to bind (international form), marked verified.
    #[arg(long)]
    phone: Option<String>,
    /// Create without a password (it cannot log in until one is set).
    #[arg(long)]
    no_password: bool,
    /// Require a password change at first login.
    #[arg(long)]
    must_change_password: bool,
    /// Language of messages to the account: en or zh-CN.
    #[arg(long)]
    locale: Option<String>,
}

enum Kind {
    Disable,
    Other,
}

pub async fn run(app: App, cmd: AccountCommand) -> anyhow::Result<()> {
    let cmd_kind = if matches!(cmd, AccountCommand::Disable { .. }) {
        Kind::Disable
    } else {
        Kind::Other
    };
    match cmd {
        AccountCommand::Create(args) => {
            let tenant = app.tenant(&args.tenant).await.map_err(explain)?;
            let password = if args.no_password {
                None
            } else {
                Some(read_password("Password")?)
            };
            let mut kind = args.kind.as_deref().and_then(AccountKind::parse);
            if args.parent.is_none() && kind.is_none() {
                kind = Some(AccountKind::Individual);
            }
            let spec = AccountSpec {
                parent: args.parent,
                kind,
                role: args.role.as_deref().and_then(Role::parse),
                username: args.username,
                display_name: args.display_name,
                email: args.email,
                phone: args.phone,
                password,
                must_change_password: args.must_change_password,
                locale: args.locale,
                contacts_verified: true,
            };
            let account = app.create_account(&tenant, spec).await.map_err(explain)?;
            println!("created {} (id {})", account.qualified_name, account.id);
        }
        AccountCommand::Import(args) => super::import::run(&app, args).await?,
        AccountCommand::List { tenant, parent } => {
            let tenant = app.tenant(&tenant).await.map_err(explain)?;
            let parent_id = match parent {
                Some(name) => Some(
                    app.account_by_name(&tenant, &name)
                        .await
                        .map_err(explain)?
                        .id,
                ),
                None => None,
            };
            let mut after = 0;
            loop {
                let page = app
                    .store
                    .list_accounts(tenant.id, parent_id, after, 500)
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for a in &page {
                    println!("{}\t{}\t{}", a.id, a.qualified_name, position(a));
                }
            }
        }
        AccountCommand::ResetPassword {
            tenant,
            name,
            link,
            generate,
        } => {
            let tenant = app.tenant(&tenant).await.map_err(explain)?;
            let account = app.account_by_name(&tenant, &name).await.map_err(explain)?;
            let mode = if link {
                ResetMode::Link
            } else if generate {
                ResetMode::Temporary(None)
            } else {
                ResetMode::Temporary(Some(read_password("Temporary password")?))
            };
            match app
                .admin_reset(&tenant, &Actor::Operator, account.id, mode, None)
                .await
                .map_err(explain)?
            {
                ResetOutcome::Temporary { generated: Some(p) } => {
                    println!(
                        "temporary password for {} (shown once; it must be changed at next login):",
                        account.qualified_name
                    );
                    println!("{p}");
                }
                ResetOutcome::Temporary { generated: None } => {
                    println!(
                        "temporary password set for {}; it must be changed at next login",
                        account.qualified_name
                    );
                }
                ResetOutcome::LinkSent { hints } => {
                    println!("reset link sent to {}", hints.join(", "));
                }
            }
        }
        AccountCommand::Disable { tenant, name } | AccountCommand::Enable { tenant, name } => {
            let disable = matches!(cmd_kind, Kind::Disable);
            let tenant = app.tenant(&tenant).await.map_err(explain)?;
            let account = app.account_by_name(&tenant, &name).await.map_err(explain)?;
            app.set_account_disabled(&tenant, &Actor::Operator, account.id, disable, None)
                .await
                .map_err(explain)?;
            println!(
                "{} {}",
                account.qualified_name,
                if disable { "disabled" } else { "enabled" }
            );
        }
        AccountCommand::Identity {
            tenant,
            name,
            verified_name,
            document,
            representative_name,
            representative_document,
        } => {
            let tenant = app.tenant(&tenant).await.map_err(explain)?;
            let account = app.account_by_name(&tenant, &name).await.map_err(explain)?;
            let input = regain_app::methods::identity::IdentityInput {
                name: &verified_name,
                document: &document,
                representative: representative_name
                    .as_deref()
                    .zip(representative_document.as_deref()),
            };
            app.set_identity_record(&tenant, &account, input)
                .await
                .map_err(explain)?;
            println!("{}: identity recorded", account.qualified_name);
        }
        AccountCommand::Staff { tenant, name, role } => {
            let tenant = app.tenant(&tenant).await.map_err(explain)?;
            let account = app.account_by_name(&tenant, &name).await.map_err(explain)?;
            let granted = (role != "none").then_some(role.as_str());
            app.set_staff_role(&tenant, account.id, granted)
                .await
                .map_err(explain)?;
            println!("{}: staff role {role}", account.qualified_name);
        }
        AccountCommand::Show { tenant, name } => {
            let tenant = app.tenant(&tenant).await.map_err(explain)?;
            let a = app.account_by_name(&tenant, &name).await.map_err(explain)?;
            println!("id:              {}", a.id);
            println!("qualified name:  {}", a.qualified_name);
            println!("position:        {}", position(&a));
            println!(
                "display name:    {}",
                a.display_name.as_deref().unwrap_or("-")
            );
            println!(
                "email:           {}",
                contact(a.email.as_deref(), a.email_verified)
            );
            println!(
                "phone:           {}",
                contact(a.phone.as_deref(), a.phone_verified)
            );
            println!(
                "password set:    {}",
                if a.password_hash.is_some() {
                    "yes"
                } else {
                    "no"
                }
            );
            println!(
                "must change:     {}",
                if a.must_change_password { "yes" } else { "no" }
            );
            println!("disabled:        {}", if a.disabled { "yes" } else { "no" });
        }
    }
    Ok(())
}

fn position(a: &Account) -> String {
    match a.position {
        Position::Root(k) => format!("root ({})", k.as_str()),
        Position::Sub(r) => r.as_str().to_string(),
    }
}

fn contact(value: Option<&str>, verified: bool) -> String {
    match value {
        Some(v) if verified => format!("{v} (verified)"),
        Some(v) => format!("{v} (unverified)"),
        None => "-".into(),
    }
}

/// Turns a use-case error into an operator-readable message, listing every
/// policy violation.
pub fn explain(e: AppError) -> anyhow::Error {
    match e {
        AppError::Policy(violations) => {
            let lines: Vec<String> = violations
                .iter()
                .map(|v| format!("  - {} ({})", v.message(), v.code()))
                .collect();
            anyhow::anyhow!(
                "the password does not meet the policy:\n{}",
                lines.join("\n")
            )
        }
        AppError::Internal(detail) => anyhow::anyhow!("internal error: {detail}"),
        other => anyhow::anyhow!("{other} ({})", other.code()),
    }
}
