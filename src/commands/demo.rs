//! `regain demo`: a tenant shaped like the real cases, to try the service.
//!
//! - `alice`: an individual cloud root account with two IAM users, one of
//!   them (`alice/ci-bot`) with no bound contact at all;
//! - `acme`: an enterprise with two admins and members;
//! - `acme/mail`: a mail domain under the enterprise, with a postmaster
//!   (admin) and employees, and the hosted-mail policy on its subtree.

use clap::Args;
use regain_app::accounts::AccountSpec;
use regain_app::App;
use regain_domain::account::{AccountKind, Role};
use regain_domain::password::Password;
use regain_domain::policy::overrides::PolicyOverride;
use regain_domain::policy::presets::Preset;

use super::account::explain;

#[derive(Args)]
pub struct DemoArgs {
    /// Slug of the demo tenant.
    #[arg(long, default_value = "demo")]
    tenant: String,
}

struct DemoAccount {
    name: &'static str,
    kind: Option<AccountKind>,
    role: Option<Role>,
    email: Option<&'static str>,
    phone: Option<&'static str>,
    must_change: bool,
    what: &'static str,
}

const fn root(
    name: &'static str,
    kind: AccountKind,
    email: &'static str,
    phone: Option<&'static str>,
    what: &'static str,
) -> DemoAccount {
    DemoAccount {
        name,
        kind: Some(kind),
        role: None,
        email: Some(email),
        phone,
        must_change: false,
        what,
    }
}

const fn sub(
    name: &'static str,
    role: Role,
    email: Option<&'static str>,
    what: &'static str,
) -> DemoAccount {
    DemoAccount {
        name,
        kind: None,
        role: Some(role),
        email,
        phone: None,
        must_change: false,
        what,
    }
}

fn accounts() -> Vec<DemoAccount> {
    use AccountKind::{Enterprise, Individual};
    use Role::{Admin, Member};
    vec![
        root(
            "alice",
            Individual,
            "alice@example.com",
            Some("+8613800000001"),
            "individual cloud root account",
        ),
        sub(
            "alice/deploy",
            Member,
            Some("deploy@example.com"),
            "IAM user with an email",
        ),
        sub(
            "alice/ci-bot",
            Member,
            None,
            "IAM user with no bound contact",
        ),
        root(
            "acme",
            Enterprise,
            "it@acme.example",
            Some("+8613800000002"),
            "enterprise root account",
        ),
        sub(
            "acme/ops-admin",
            Admin,
            Some("ops@acme.example"),
            "enterprise admin",
        ),
        sub(
            "acme/hr-admin",
            Admin,
            Some("hr@acme.example"),
            "enterprise admin",
        ),
        sub("acme/bob", Member, Some("bob@acme.example"), "employee"),
        DemoAccount {
            must_change: true,
            ..sub(
                "acme/carol",
                Member,
                Some("carol@acme.example"),
                "employee who must change the password at first login",
            )
        },
        sub(
            "acme/mail",
            Member,
            None,
            "mail domain acme.example (mail policy on its subtree)",
        ),
        sub(
            "acme/mail/postmaster",
            Admin,
            Some("postmaster@acme.example"),
            "postmaster of the mail domain",
        ),
        sub(
            "acme/mail/dave",
            Member,
            Some("dave@acme.example"),
            "mailbox",
        ),
        sub(
            "acme/mail/erin",
            Member,
            Some("erin@acme.example"),
            "mailbox",
        ),
    ]
}

pub async fn run(app: App, args: DemoArgs) -> anyhow::Result<()> {
    let tenant = app
        .create_tenant(&args.tenant, "Regain demo", Preset::Cloud)
        .await
        .map_err(|e| explain(e).context(format!("creating the demo tenant {:?} (it may exist already: remove the data folder to start over)", args.tenant)))?;
    // As on the cloud platforms: the person types the full phone or email
    // behind the masked hint before a code is sent.
    let mut settings = tenant.settings.clone();
    settings.recovery.require_full_contact = true;
    app.store.set_tenant_settings(tenant.id, &settings).await?;
    let password = demo_password()?;
    for demo in accounts() {
        let (parent, username) = match demo.name.rsplit_once('/') {
            Some((parent, username)) => (Some(parent.to_string()), username.to_string()),
            None => (None, demo.name.to_string()),
        };
        let spec = AccountSpec {
            parent,
            kind: demo.kind,
            role: demo.role,
            username,
            display_name: None,
            email: demo.email.map(String::from),
            phone: demo.phone.map(String::from),
            password: Some(password.clone()),
            must_change_password: demo.must_change,
            locale: None,
            contacts_verified: true,
        };
        let account = app.create_account(&tenant, spec).await.map_err(explain)?;
        if demo.name == "acme/mail" {
            let mail = Preset::Mail.policy();
            let mut weak = mail.weak_keywords.clone();
            weak.push("acme".into());
            let o = PolicyOverride {
                min_length: Some(mail.min_length),
                max_length: Some(mail.max_length),
                min_character_classes: Some(mail.min_character_classes),
                forbid_email: Some(true),
                weak_keywords: Some(weak),
                history_depth: Some(mail.history_depth),
                ..Default::default()
            };
            app.set_policy_override(&tenant, &account, Some(o))
                .await
                .map_err(explain)?;
        }
        println!("  {:<22} {}", demo.name, demo.what);
    }
    let base = app.config.effective_public_url();
    println!();
    println!(
        "Demo tenant {:?} is ready. Every demo account's password is:",
        tenant.slug
    );
    println!();
    println!("  {}", password.expose());
    println!();
    println!("Start the service with `regain serve`, then log in, for example:");
    println!();
    println!(
        "  curl -s -X POST {base}/api/v1/t/{}/sessions -H 'content-type: application/json' \\\n    -d '{{\"identifier\": \"acme/bob\", \"password\": \"{}\"}}'",
        tenant.slug,
        password.expose()
    );
    Ok(())
}

/// A fresh password that meets the demo's policies (three classes, no
/// username, no weak keyword): 12 random letters and digits plus "-7Q".
fn demo_password() -> anyhow::Result<Password> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("OS random source failed: {e}"))?;
    let mut text: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    text.push_str("-7Q");
    Ok(Password::parse(text)?)
}
