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
//! the step's ratio is the interquartile mean of the rounds: the mean of
//! the middle half, the lowest and highest quarter left out. Like a
//! median, it is not moved by a round that a stall of the machine spoiled;
//! unlike a median, it averages the rest, so it swings less from run to
//! run (on a machine whose rounds spread by ±0.07, a median of five rounds
//! moved by ±0.04 between runs of the same build). Latencies and CPU cost
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
    /// The interquartile mean of the rounds' ratios.
    pub ratio: f64,
    /// Each round.
    pub rounds: Vec<Round>,
}

impl Bracketed {
    /// The rounds' ratios and their interquartile mean: sorted, a
    /// quarter of them (rounded down) dropped from each end, the rest
    /// averaged.
    fn of(rounds: Vec<Round>) -> Bracketed {
        let ratio = interquartile_mean(rounds.iter().map(|r| r.ratio).collect());
        Bracketed { ratio, rounds }
    }

    /// `0.914 (145.2/s ÷ 157.3 = 0.92, …)` for the terminal: the step's
    /// ratio with three decimals, so that one just under a target's line
    /// (0.896) does not print as the line itself (0.90).
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
            "{:.3}  (mean of the middle half of the rounds, each against the reference around it: {})",
            self.ratio,
            rounds.join(", ")
        )
    }
}

/// The mean of the middle half of `values`: sorted, a quarter of them
/// (rounded down) dropped from each end, the rest averaged; 0 when empty.
pub fn interquartile_mean(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let cut = values.len() / 4;
    let middle = &values[cut..values.len() - cut];
    if middle.is_empty() {
        0.0
    } else {
        middle.iter().sum::<f64>() / middle.len() as f64
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
    fn the_ratio_is_the_mean_of_the_middle_rounds_so_a_disturbed_round_does_not_move_it() {
        let close = |b: Bracketed, want: f64| {
            assert!((b.ratio - want).abs() < 1e-12, "{} != {want}", b.ratio);
        };
        // Fewer than four rounds: all of them.
        close(
            Bracketed::of(vec![round(0.31), round(0.12), round(0.29)]),
            0.24,
        );
        // Five: the lowest and the highest left out.
        let b = Bracketed::of(vec![
            round(0.9),
            round(1.4),
            round(0.95),
            round(0.2),
            round(0.93),
        ]);
        assert_eq!(b.rounds.len(), 5);
        close(b, (0.9 + 0.95 + 0.93) / 3.0);
        // Nine: two left out at each end, so two stalled rounds do not
        // count.
        let nine = [0.1, 0.15, 0.9, 0.91, 0.92, 0.93, 0.94, 1.2, 1.3];
        close(
            Bracketed::of(nine.iter().map(|&r| round(r)).collect()),
            (0.9 + 0.91 + 0.92 + 0.93 + 0.94) / 5.0,
        );
        assert_eq!(Bracketed::of(Vec::new()).ratio, 0.0);
    }

    #[test]
    fn a_ratio_just_under_a_line_does_not_print_as_the_line() {
        let b = Bracketed::of(vec![round(0.896)]);
        assert!(b.line().starts_with("0.896  ("), "{}", b.line());
    }
}
