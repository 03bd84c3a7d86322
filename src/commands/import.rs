//! `regain account import FILE`: reads the file, shows progress, and prints
//! every bad row with its line number.

use anyhow::Context;
use regain_app::import::{self, Format, ImportError, Stage};
use regain_app::App;

use super::account::{explain, ImportArgs};
use super::progress::Progress;

pub async fn run(app: &App, args: ImportArgs) -> anyhow::Result<()> {
    let tenant = app.tenant(&args.tenant).await.map_err(explain)?;
    let format = match args.format.as_deref() {
        Some("csv") => Format::Csv,
        Some(_) => Format::JsonLines,
        None => Format::from_file_name(&args.file.to_string_lossy()).context(
            "cannot tell the format from the file name; give --format csv or --format jsonl",
        )?,
    };
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let (rows, unreadable) = import::parse(&text, format);
    let total = rows.len() as u64;
    let mut validating = Some(Progress::new("checking", total));
    let mut writing: Option<Progress> = None;
    let mut on_progress = |stage: Stage, done: usize| match stage {
        Stage::Validating => {
            if let Some(p) = validating.as_mut() {
                p.set(done as u64);
            }
        }
        Stage::Writing => {
            if let Some(p) = validating.take() {
                p.finish();
            }
            writing
                .get_or_insert_with(|| Progress::new("importing", total))
                .set(done as u64);
        }
    };
    let outcome = app
        .import_accounts(
            &tenant,
            rows,
            unreadable,
            args.skip_invalid,
            &mut on_progress,
        )
        .await;
    if let Some(p) = validating {
        p.finish();
    }
    if let Some(p) = writing {
        p.finish();
    }
    match outcome {
        Ok(report) => {
            for skipped in &report.skipped {
                eprintln!("skipped {skipped}");
            }
            println!(
                "imported {} account(s) into {}{}",
                report.imported,
                tenant.slug,
                if report.skipped.is_empty() {
                    String::new()
                } else {
                    format!("; skipped {} invalid row(s)", report.skipped.len())
                }
            );
            Ok(())
        }
        Err(ImportError::Invalid(errors)) => {
            for e in &errors {
                eprintln!("{e}");
            }
            anyhow::bail!(
                "{} invalid row(s) in {}; nothing was imported (fix them, or pass --skip-invalid)",
                errors.len(),
                args.file.display()
            )
        }
        Err(ImportError::App(e)) => Err(explain(e).context("nothing was imported")),
    }
}
