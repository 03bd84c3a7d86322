//! `start` at a large tenant against the same step at 10,000 accounts, in
//! one run.
//!
//! A p50 at 64 clients is about 64 ÷ the throughput, so it follows the
//! machine's speed; on a shared machine that moved by up to 2× between
//! runs a minute apart, and two separate runs compared the machine more
//! than the tenant sizes. Here a second server serves a tenant of 10,000
//! accounts from its own database, and `start` runs in rounds alternating
//! between the two (A B B A …, so a drift over the rounds weighs on both
//! alike); each side's p50 is over all of its rounds.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::api::Api;
use super::load::{drive, timed};
use super::server::Server;
use super::stats::{Samples, Summary};

/// The tenant size the large one is compared with.
pub const BASELINE_ACCOUNTS: usize = 10_000;
/// Rounds on each side.
const ROUNDS: usize = 6;

/// The comparison's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Scale {
    /// Accounts of the large tenant.
    pub accounts: usize,
    /// `start` on the large tenant, over all its rounds.
    pub large: Summary,
    /// `start` on the tenant of [`BASELINE_ACCOUNTS`].
    pub baseline: Summary,
    /// `large.p50_ms / baseline.p50_ms`.
    pub p50_ratio: f64,
}

impl Scale {
    /// One line for the terminal.
    pub fn line(&self) -> String {
        format!(
            "start p50 {:.2} ms at {} accounts, {:.2} ms at {} ({:.2}×; {} alternating rounds of {} requests each side; errors {} / {})",
            self.large.p50_ms,
            self.accounts,
            self.baseline.p50_ms,
            BASELINE_ACCOUNTS,
            self.p50_ratio,
            ROUNDS,
            self.baseline.requests.max(self.large.requests) / ROUNDS as u64,
            self.large.errors,
            self.baseline.errors,
        )
    }
}

/// Which side runs each round: A B B A A B B A …
fn large_first(round: usize) -> bool {
    round.is_multiple_of(2)
}

/// Runs `start` over `large` accounts of `large_api`'s tenant (names
/// `u{i}`, none of them used before) and the first [`BASELINE_ACCOUNTS`]
/// of `baseline_api`'s, alternating rounds.
pub async fn compare(
    large_api: &Api,
    large_accounts: Vec<usize>,
    baseline_api: &Api,
    clients: usize,
    accounts: usize,
) -> Scale {
    let per_round = (BASELINE_ACCOUNTS / ROUNDS).min(large_accounts.len() / ROUNDS);
    let mut sides = [
        (
            large_api.clone(),
            large_accounts,
            Samples::default(),
            Duration::ZERO,
        ),
        (
            baseline_api.clone(),
            (0..BASELINE_ACCOUNTS).collect(),
            Samples::default(),
            Duration::ZERO,
        ),
    ];
    for round in 0..ROUNDS {
        let order = if large_first(round) { [0, 1] } else { [1, 0] };
        for side in order {
            let (api, accounts, samples, wall) = &mut sides[side];
            let batch: Vec<usize> = accounts[round * per_round..(round + 1) * per_round].to_vec();
            let a = api.clone();
            let (got, _, took) = drive(batch, clients, move |client, i: &usize| {
                let (a, i) = (a.clone(), *i);
                timed(async move { a.start(client, &format!("u{i}")).await })
            })
            .await;
            samples.merge(got);
            *wall += took;
        }
    }
    let [(_, _, large, large_wall), (_, _, baseline, baseline_wall)] = sides;
    let large = Summary::of("start", clients, large, large_wall);
    let baseline = Summary::of("start", clients, baseline, baseline_wall);
    Scale {
        accounts,
        p50_ratio: large.p50_ms / baseline.p50_ms.max(1e-9),
        large,
        baseline,
    }
}

/// The environment of a `regain serve` over the data in `data`.
pub fn server_env(data: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("REGAIN_DATA_DIR", data.display().to_string()),
        ("REGAIN_DELIVERY_EMAIL", "file".to_string()),
        (
            "REGAIN_DELIVERY_FILE",
            data.join("bench-outbox.jsonl").display().to_string(),
        ),
        ("REGAIN_TRUSTED_PROXIES", "127.0.0.1/32".to_string()),
    ]
}

/// Starts a second server over a fresh tenant of [`BASELINE_ACCOUNTS`]
/// in `data`: the baseline of [`compare`].
pub async fn baseline_server(
    config: &regain_app::config::Config,
    binary: Option<&Path>,
    data: &Path,
    slug: &str,
) -> anyhow::Result<Server> {
    if data.exists() {
        std::fs::remove_dir_all(data)?;
    }
    let mut setup = config.clone();
    setup.data_dir = data.to_path_buf();
    super::create_accounts(setup, slug, BASELINE_ACCOUNTS).await?;
    Server::start(binary, &server_env(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_alternate_so_a_drift_weighs_on_both_sides() {
        let order: Vec<bool> = (0..ROUNDS).map(large_first).collect();
        // Each side goes first in half the rounds: A B, B A, A B, …
        assert_eq!(order.iter().filter(|&&f| f).count(), ROUNDS / 2);
        assert_eq!(order[..4], [true, false, true, false]);
    }
}
