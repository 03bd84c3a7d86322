//! Drives the server with concurrent clients: each client takes the next
//! item of a shared list, times its request, and records the outcome.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::stats::Samples;

/// The client side of one request: its latency and what it returned, or
/// the status it failed with (0 for a transport error).
pub type Outcome<T> = Result<(Duration, T), u16>;

/// Runs `step` over every item with `clients` concurrent clients. Returns
/// the samples, the successful results (in no particular order) and the
/// wall time.
pub async fn drive<I, T, F, Fut>(
    items: Vec<I>,
    clients: usize,
    step: F,
) -> (Samples, Vec<T>, Duration)
where
    I: Send + Sync + 'static,
    T: Send + 'static,
    F: Fn(usize, &I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome<T>> + Send,
{
    let items = Arc::new(items);
    let next = Arc::new(AtomicUsize::new(0));
    let step = Arc::new(step);
    let results = Arc::new(Mutex::new(Vec::with_capacity(items.len())));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|client| {
            let (items, next, step, results) =
                (items.clone(), next.clone(), step.clone(), results.clone());
            tokio::spawn(async move {
                let mut samples = Samples::default();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else { break };
                    match step(client, item).await {
                        Ok((latency, value)) => {
                            samples.ok.push(latency);
                            if let Ok(mut r) = results.lock() {
                                r.push(value);
                            }
                        }
                        Err(status) => {
                            samples.errors += 1;
                            samples.error_statuses.push(status);
                        }
                    }
                }
                samples
            })
        })
        .collect();
    let mut all = Samples::default();
    for w in workers {
        if let Ok(samples) = w.await {
            all.merge(samples);
        }
    }
    let wall = started.elapsed();
    let results = match Arc::try_unwrap(results) {
        Ok(m) => m.into_inner().unwrap_or_default(),
        Err(shared) => shared
            .lock()
            .map(|mut r| r.drain(..).collect())
            .unwrap_or_default(),
    };
    (all, results, wall)
}

/// Times one request future that yields `Ok(value)` or a failed status.
pub async fn timed<T>(request: impl Future<Output = Result<T, u16>>) -> Outcome<T> {
    let started = Instant::now();
    let value = request.await?;
    Ok((started.elapsed(), value))
}
