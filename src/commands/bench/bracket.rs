//! A hashing step measured against the raw Argon2id limit that the machine
//! has *at that moment*.
//!
//! On a shared machine the limit drifts by tens of percent within a minute
//! (seen here: 81.8 and 96.3 hashes/s thirty seconds apart), so one
//! measurement before a 20-second step makes a ratio of noise. The step is
//! split into rounds, each between two short measurements of the limit;
//! every round's ratio uses the mean of its two brackets, and the step's
//! ratio is the median of the rounds.

use std::future::Future;
use std::time::Duration;

use regain_app::config::Argon2Config;
use serde::Serialize;

use super::argon;
use super::load::{drive, Outcome};
use super::stats::{Samples, Summary};

/// Rounds per step.
const ROUNDS: usize = 3;
/// Length of each measurement of the limit, in seconds.
const BRACKET_SECONDS: f64 = 2.0;

/// One round: what the step did and the limit around it.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    /// Successful requests per second in this round.
    pub per_second: f64,
    /// Mean of the raw limit just before and just after the round.
    pub limit: f64,
    /// `per_second / limit`.
    pub ratio: f64,
}

/// A step's ratio to the raw limit.
#[derive(Debug, Clone, Serialize)]
pub struct Bracketed {
    /// The median of the rounds' ratios.
    pub ratio: f64,
    /// Each round.
    pub rounds: Vec<Round>,
}

/// Runs `step` over `items` with `clients` clients in [`ROUNDS`] rounds,
/// measuring the raw limit between them. Returns the whole step's summary
/// and its ratio.
pub async fn measure<I, T, F, Fut>(
    argon: &Argon2Config,
    name: &str,
    mut items: Vec<I>,
    clients: usize,
    step: F,
) -> anyhow::Result<(Summary, Bracketed)>
where
    I: Send + Sync + 'static,
    T: Send + 'static,
    F: Fn(usize, &I) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Outcome<T>> + Send,
{
    let per_round = items.len().div_ceil(ROUNDS).max(1);
    let mut before = limit_now(argon).await?;
    let (mut all, mut wall, mut rounds) = (Samples::default(), Duration::ZERO, Vec::new());
    while !items.is_empty() {
        let rest = items.split_off(per_round.min(items.len()));
        let round = std::mem::replace(&mut items, rest);
        let (samples, _, round_wall) = drive(round, clients, step.clone()).await;
        let after = limit_now(argon).await?;
        let per_second = samples.ok.len() as f64 / round_wall.as_secs_f64().max(1e-9);
        let limit = (before + after) / 2.0;
        rounds.push(Round {
            per_second,
            limit,
            ratio: per_second / limit.max(1e-9),
        });
        all.merge(samples);
        wall += round_wall;
        before = after;
    }
    let mut ratios: Vec<f64> = rounds.iter().map(|r| r.ratio).collect();
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
    Ok((
        Summary::of(name, clients, all, wall),
        Bracketed { ratio, rounds },
    ))
}

/// The raw limit now, off the async runtime (the server idle).
async fn limit_now(argon: &Argon2Config) -> anyhow::Result<f64> {
    let argon = *argon;
    let (per_second, _) =
        tokio::task::spawn_blocking(move || argon::raw_limit(&argon, BRACKET_SECONDS)).await??;
    Ok(per_second)
}
