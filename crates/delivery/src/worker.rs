//! The delivery worker: claims due messages under a lease, sends them, and
//! records the outcome. Retries back off exponentially (5 s, 10 s, 20 s, …
//! capped at 10 minutes) until the retry horizon, then the message is
//! marked failed with the class of its last error.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use regain_domain::clock::{Clock, Timestamp};
use regain_store::{OutboxMessage, Store};
use tokio::sync::Notify;

use crate::senders::{SendError, Senders};

/// How long a claimed message stays reserved for its sender.
const LEASE_SECS: i64 = 60;

/// Messages claimed at once.
const BATCH: u32 = 32;

/// How long a woken worker waits before it claims, so that messages queued
/// together are claimed in one write rather than one write each: during a
/// burst of recoveries every claim takes its turn at SQLite's single writer
/// with the requests that queue the messages, and every batch costs two
/// commits and one sync of the outbox file. At 120 resets a second (one
/// notice each), 25 ms made batches of three; 100 ms makes them of twelve
/// and took a tenth off the server's CPU outside hashing per reset
/// (BENCHMARKS.md). Nobody reading their mail can tell 100 ms.
const GATHER: Duration = Duration::from_millis(100);

/// Delivers queued messages.
#[derive(Clone)]
pub struct Worker {
    store: Store,
    senders: Arc<Senders>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    poll: Duration,
    horizon_secs: i64,
}

/// What one pass over the queue did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Messages sent.
    pub sent: usize,
    /// Messages put back for a retry.
    pub retried: usize,
    /// Messages given up on.
    pub failed: usize,
}

impl Worker {
    /// A worker over `store`, woken early by `wake` when a message is queued.
    pub fn new(
        store: Store,
        senders: Senders,
        clock: Arc<dyn Clock>,
        wake: Arc<Notify>,
        poll: Duration,
        horizon_secs: i64,
    ) -> Worker {
        Worker {
            store,
            senders: Arc::new(senders),
            clock,
            wake,
            poll,
            horizon_secs,
        }
    }

    /// Delivers until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.pass().await {
                tracing::warn!(error = %e, "delivery pass failed");
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = self.wake.notified() => tokio::time::sleep(GATHER).await,
                () = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// Sends every message that is due now, a batch at a time: one write
    /// claims a batch and one records what was sent (on SQLite every write
    /// waits its turn at the single writer, with the requests that queue
    /// the messages). A batch gets half its lease to be sent; what is left
    /// then goes back to the queue rather than risk being taken over by
    /// another process while still being sent.
    pub async fn pass(&self) -> Result<Pass, regain_store::StoreError> {
        let mut pass = Pass::default();
        loop {
            let batch = self
                .store
                .claim_messages(self.clock.now(), LEASE_SECS, BATCH)
                .await?;
            if batch.is_empty() {
                return Ok(pass);
            }
            // A short batch took every message due at the claim: asking
            // again would be one more write at the single writer to find
            // nothing. What is queued meanwhile wakes the worker again.
            let drained = batch.len() < BATCH as usize;
            let deadline = Instant::now() + Duration::from_secs(LEASE_SECS.unsigned_abs() / 2);
            let outcomes = self
                .senders
                .send_all(&batch, self.clock.now(), deadline)
                .await;
            let now = self.clock.now();
            let (mut sent, mut unsent) = (Vec::new(), Vec::new());
            for (m, outcome) in batch.iter().zip(outcomes) {
                match outcome {
                    Some(Ok(())) => sent.push(m),
                    Some(Err(e)) => self.record_failure(m, &e, now, &mut pass).await?,
                    None => unsent.push(m.id),
                }
            }
            let ids: Vec<i64> = sent.iter().map(|m| m.id).collect();
            self.store.messages_sent(&ids, now).await?;
            for m in sent {
                metrics::counter!("regain_deliveries_total", "channel" => m.channel.as_str(), "outcome" => "sent").increment(1);
                metrics::histogram!("regain_delivery_latency_seconds", "channel" => m.channel.as_str())
                    .record((now.0 - m.created_at.0).max(0) as f64);
                tracing::info!(
                    message = m.id,
                    channel = m.channel.as_str(),
                    attempts = m.attempts,
                    "message sent"
                );
                pass.sent += 1;
            }
            self.store.release_messages(&unsent).await?;
            if drained && unsent.is_empty() {
                return Ok(pass);
            }
        }
    }

    /// Schedules a retry of `m`, or gives up on it when retrying cannot
    /// help or its time is up.
    async fn record_failure(
        &self,
        m: &OutboxMessage,
        e: &SendError,
        now: Timestamp,
        pass: &mut Pass,
    ) -> Result<(), regain_store::StoreError> {
        if e.permanent || now.0 - m.created_at.0 >= self.horizon_secs {
            self.store.message_failed(m.id, e.class.as_str()).await?;
            metrics::counter!("regain_deliveries_total", "channel" => m.channel.as_str(), "outcome" => "failed").increment(1);
            tracing::warn!(message = m.id, error = %e, attempts = m.attempts, "message failed for good");
            pass.failed += 1;
        } else {
            let next = backoff(now, m.attempts);
            self.store
                .message_retry(m.id, next, e.class.as_str())
                .await?;
            metrics::counter!("regain_deliveries_total", "channel" => m.channel.as_str(), "outcome" => "retry").increment(1);
            tracing::info!(message = m.id, error = %e, attempts = m.attempts, retry_at = next.0, "message will be retried");
            pass.retried += 1;
        }
        Ok(())
    }
}

/// 5 s after the first failure, doubling, at most 10 minutes.
fn backoff(now: Timestamp, attempts: i64) -> Timestamp {
    let exp = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    now.plus_secs((5_i64 << exp).min(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let t = Timestamp(0);
        let waits: Vec<i64> = (1..=9).map(|a| backoff(t, a).0).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 600, 600]);
    }
}
