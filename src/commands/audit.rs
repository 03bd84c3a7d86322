//! `regain audit list|verify`.

use clap::Subcommand;
use regain_app::App;

use super::account::explain;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Show recent events, newest first.
    List {
        /// Only this tenant's events.
        #[arg(long)]
        tenant: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Check the hash chain; names every edited, deleted or reordered row.
    Verify,
}

pub async fn run(app: App, cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::List { tenant, limit } => {
            let tenant_id = match tenant {
                Some(slug) => Some(app.tenant(&slug).await.map_err(explain)?.id),
                None => None,
            };
            for r in app
                .store
                .audit_events(tenant_id, None, limit.clamp(1, 10_000))
                .await?
            {
                let e = &r.event;
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.id, r.at.0, e.action, e.actor, e.subject, e.ip, e.outcome, e.detail
                );
            }
            Ok(())
        }
        AuditCommand::Verify => {
            let mut bar: Option<super::progress::Progress> = None;
            let (checked, problems) = app
                .store
                .verify_audit(&mut |total, done| {
                    bar.get_or_insert_with(|| super::progress::Progress::new("verifying", total))
                        .set(done);
                })
                .await?;
            if let Some(bar) = bar {
                bar.finish();
            }
            if problems.is_empty() {
                println!("audit log intact: {checked} events, chain unbroken");
                return Ok(());
            }
            for p in &problems {
                println!("{p}");
            }
            anyhow::bail!(
                "the audit log was tampered with: {} problem(s) in {checked} events",
                problems.len()
            )
        }
    }
}
