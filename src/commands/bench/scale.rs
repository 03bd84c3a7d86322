//! `start` at a large tenant against the same step at 10,000 accounts, in
//! one run.
//!
//! A p50 at 64 clients is about 64 ÷ the throughput, so it follows the
//! machine's speed; on a shared machine that moved by up to 2× between
//! runs a minute apart, and two separate runs compared the machine more
//! than the tenant sizes. Here a second server serves a tenant of 10,000
//! accounts from its own database, and `start` runs in rounds alternating
//! between the two (A B B A …). The ratio is taken round by round, each
//! large round's p50 against the baseline round run right before or after
//! it, and the figure is the mean of the middle half of those ratios, as
//! for the other ratios ([`super::bracket`]). Pooling each side's samples
//! over six rounds a side of a fifth of a second each let the machine's
//! drift in: 0.94× to 1.54× over five runs of near-identical builds.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::api::Api;
use super::bracket::interquartile_mean;
use super::load::{drive, timed};
use super::server::Server;
use super::stats::{Samples, Summary};

/// The tenant size the large one is compared with.
pub const BASELINE_ACCOUNTS: usize = 10_000;
/// Rounds on each side.
const ROUNDS: usize = 10;

/// The comparison's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Scale {
    /// Accounts of the large tenant.
    pub accounts: usize,
    /// `start` on the large tenant, over all its rounds.
    pub large: Summary,
    /// `start` on the tenant of [`BASELINE_ACCOUNTS`].
    pub baseline: Summary,
    /// The mean of the middle half of the rounds' `p50_ratios`.
    pub p50_ratio: f64,
    /// Each round's p50 on the large tenant over the baseline's p50 in
    /// the round next to it.
    pub p50_ratios: Vec<f64>,
}

impl Scale {
    /// One line for the terminal.
    pub fn line(&self) -> String {
        format!(
            "start p50 {:.2} ms at {} accounts, {:.2} ms at {}; {:.2}× (mean of the middle half of {} alternating rounds' ratios, {} requests a round each side: {}); errors {} / {}",
            self.large.p50_ms,
            self.accounts,
            self.baseline.p50_ms,
            BASELINE_ACCOUNTS,
            self.p50_ratio,
            ROUNDS,
            self.baseline.requests.max(self.large.requests) / ROUNDS as u64,
            self.p50_ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", "),
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
    let mut p50s = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let order = if large_first(round) { [0, 1] } else { [1, 0] };
        let mut p50 = [0.0; 2];
        for side in order {
            let (api, accounts, samples, wall) = &mut sides[side];
            let batch: Vec<usize> = accounts[round * per_round..(round + 1) * per_round].to_vec();
            let a = api.clone();
            let (got, _, took) = drive(batch, clients, move |client, i: &usize| {
                let (a, i) = (a.clone(), *i);
                timed(async move { a.start(client, &format!("u{i}")).await })
            })
            .await;
            p50[side] = Summary::of("start", clients, got.clone(), took).p50_ms;
            samples.merge(got);
            *wall += took;
        }
        p50s.push(p50);
    }
    let [(_, _, large, large_wall), (_, _, baseline, baseline_wall)] = sides;
    let (p50_ratio, p50_ratios) = ratio_of_rounds(&p50s);
    Scale {
        accounts,
        p50_ratio,
        p50_ratios,
        large: Summary::of("start", clients, large, large_wall),
        baseline: Summary::of("start", clients, baseline, baseline_wall),
    }
}

/// Each round's large p50 over its baseline p50, and the mean of the
/// middle half of those ratios.
fn ratio_of_rounds(p50s: &[[f64; 2]]) -> (f64, Vec<f64>) {
    let ratios: Vec<f64> = p50s.iter().map(|[l, b]| l / b.max(1e-9)).collect();
    (interquartile_mean(ratios.clone()), ratios)
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

    #[test]
    fn the_ratio_pairs_each_round_with_its_neighbour_so_drift_and_a_stall_do_not_move_it() {
        // The machine slows to half speed halfway, and one large round
        // stalls: each round still reads 1.25 against its neighbour.
        let mut p50s: Vec<[f64; 2]> = (0..ROUNDS)
            .map(|r| {
                if r < ROUNDS / 2 {
                    [4.0, 3.2]
                } else {
                    [8.0, 6.4]
                }
            })
            .collect();
        p50s[3] = [40.0, 3.2];
        let (ratio, ratios) = ratio_of_rounds(&p50s);
        assert_eq!(ratios.len(), ROUNDS);
        assert!((ratios[3] - 12.5).abs() < 1e-9);
        assert!((ratio - 1.25).abs() < 1e-9, "{ratio}");
    }
}
