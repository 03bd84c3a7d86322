//! A step measured against a reference that the machine has *at that
//! moment*: the raw Argon2id limit for the hashing steps, the `/healthz`
//! floor for the cheap ones.
//!
//! On a shared machine the speed drifts by tens of percent within seconds
//! (seen here: 81.8 and 96.3 hashes/s thirty seconds apart; `/healthz` at
//! 59,000 and 77,000/s a second apart), so one measurement of the
//! reference next to a whole step makes a ratio of noise. The step is
//! split into rounds, each between two short measurements of the
//! reference; every round's ratio uses the mean of its two brackets, and
//! the step's ratio is the median of the rounds. Latencies and CPU cost
//! are those of all the step's requests, without the measurements between.

use std::future::Future;

use serde::Serialize;

use super::load::{drive, Outcome};
use super::server::{CpuSpent, Server};
use super::stats::{Samples, Summary};

/// One round: what the step did and the reference around it.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    /// Successful requests per second in this round.
    pub per_second: f64,
    /// Mean of the reference just before and just after the round.
    pub reference: f64,
    /// `per_second / reference`.
    pub ratio: f64,
}

/// A step's ratio to its reference.
#[derive(Debug, Clone, Serialize)]
pub struct Bracketed {
    /// The median of the rounds' ratios.
    pub ratio: f64,
    /// Each round.
    pub rounds: Vec<Round>,
}

impl Bracketed {
    /// The rounds' ratios and their median (the upper one of an even
    /// count).
    fn of(rounds: Vec<Round>) -> Bracketed {
        let mut ratios: Vec<f64> = rounds.iter().map(|r| r.ratio).collect();
        ratios.sort_by(f64::total_cmp);
        let ratio = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
        Bracketed { ratio, rounds }
    }

    /// `0.91 (145.2/s ÷ 157.3 = 0.92, …)` for the terminal.
    pub fn line(&self) -> String {
        let rounds: Vec<String> = self
            .rounds
            .iter()
            .map(|r| {
                format!(
                    "{:.1}/s ÷ {:.1} = {:.2}",
                    r.per_second, r.reference, r.ratio
                )
            })
            .collect();
        format!(
            "{:.2}  (median of rounds, each against the reference around it: {})",
            self.ratio,
            rounds.join(", ")
        )
    }
}

/// Runs `step` over `items` with `clients` clients in `rounds` rounds,
/// measuring `reference` (per second) before the first and after each.
/// Returns the whole step's summary with what it cost the server, its
/// results and its ratio.
pub async fn measure<I, T, F, Fut, R, RFut>(
    server: &Server,
    reference: R,
    rounds: usize,
    name: &str,
    mut items: Vec<I>,
    clients: usize,
    step: F,
) -> anyhow::Result<(Summary, Vec<T>, Bracketed)>
where
    I: Send + Sync + 'static,
    T: Send + 'static,
    F: Fn(usize, &I) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Outcome<T>> + Send,
    R: Fn() -> RFut,
    RFut: Future<Output = anyhow::Result<f64>>,
{
    let per_round = items.len().div_ceil(rounds.max(1)).max(1);
    let mut before = reference().await?;
    let (mut all, mut results, mut spent) = (Samples::default(), Vec::new(), CpuSpent::default());
    let (mut wall, mut done) = (std::time::Duration::ZERO, Vec::new());
    while !items.is_empty() {
        let rest = items.split_off(per_round.min(items.len()));
        let round = std::mem::replace(&mut items, rest);
        let mark = server.cpu_mark();
        let (samples, values, round_wall) = drive(round, clients, step.clone()).await;
        spent.add(&mark, &server.cpu_mark());
        let after = reference().await?;
        let per_second = samples.ok.len() as f64 / round_wall.as_secs_f64().max(1e-9);
        let around = (before + after) / 2.0;
        done.push(Round {
            per_second,
            reference: around,
            ratio: per_second / around.max(1e-9),
        });
        all.merge(samples);
        results.extend(values);
        wall += round_wall;
        before = after;
    }
    let summary = Summary::of(name, clients, all, wall).costing(&spent);
    Ok((summary, results, Bracketed::of(done)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(ratio: f64) -> Round {
        Round {
            per_second: ratio * 100.0,
            reference: 100.0,
            ratio,
        }
    }

    #[test]
    fn the_ratio_is_the_median_round_so_one_disturbed_round_does_not_move_it() {
        let b = Bracketed::of(vec![round(0.31), round(0.12), round(0.29)]);
        assert_eq!(b.ratio, 0.29);
        assert_eq!(b.rounds.len(), 3);
        let b = Bracketed::of(vec![
            round(0.9),
            round(1.4),
            round(0.95),
            round(0.2),
            round(0.93),
        ]);
        assert_eq!(b.ratio, 0.93);
        assert_eq!(Bracketed::of(Vec::new()).ratio, 0.0);
    }
}
