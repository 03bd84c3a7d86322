//! Latency samples and their summary: throughput, percentiles, errors.

use std::time::Duration;

use serde::Serialize;

use super::server::{CpuSpent, CpuUse};

/// What one measured step did.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    /// Latency of each successful request.
    pub ok: Vec<Duration>,
    /// Requests that did not get the expected status.
    pub errors: u64,
    /// Status codes of the errors, for the report.
    pub error_statuses: Vec<u16>,
}

impl Samples {
    /// Adds `other`'s samples to these.
    pub fn merge(&mut self, other: Samples) {
        self.ok.extend(other.ok);
        self.errors += other.errors;
        self.error_statuses.extend(other.error_statuses);
    }
}

/// The figures of one step.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Step name (`start`, `login`, …).
    pub step: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Successful requests.
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// Successful requests per second over the step's wall time.
    pub per_second: f64,
    /// Latency percentiles in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Wall time of the step in seconds.
    pub seconds: f64,
    /// What the step cost the server and the benchmark, where it was
    /// measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuUse>,
}

impl Summary {
    /// Summarizes `samples` taken over `wall` by `clients` clients.
    pub fn of(step: &str, clients: usize, mut samples: Samples, wall: Duration) -> Summary {
        samples.ok.sort_unstable();
        let pct = |p: f64| -> f64 {
            if samples.ok.is_empty() {
                return 0.0;
            }
            let rank = ((p / 100.0) * samples.ok.len() as f64).ceil() as usize;
            let index = rank.clamp(1, samples.ok.len()) - 1;
            samples.ok[index].as_secs_f64() * 1000.0
        };
        let requests = samples.ok.len() as u64;
        Summary {
            step: step.to_string(),
            clients,
            requests,
            errors: samples.errors,
            per_second: requests as f64 / wall.as_secs_f64().max(1e-9),
            p50_ms: pct(50.0),
            p95_ms: pct(95.0),
            p99_ms: pct(99.0),
            seconds: wall.as_secs_f64(),
            cpu: None,
        }
    }

    /// With what the step's requests cost, `spent` over its span(s).
    pub fn costing(mut self, spent: &CpuSpent) -> Summary {
        self.cpu = Some(spent.per_request(self.requests));
        self
    }

    /// One line for the terminal.
    pub fn line(&self) -> String {
        let cost = match self.cpu {
            Some(c) => format!(
                "  server {:>6.1} µs/req{}  client {:>5.1} µs/req{}",
                c.server_us_per_request,
                if c.hashing_us_per_request > 0.0 {
                    format!(" (hashing {:.1})", c.hashing_us_per_request)
                } else {
                    String::new()
                },
                c.client_us_per_request,
                c.machine_idle_share
                    .map_or_else(String::new, |idle| format!("  idle {:>3.0}%", idle * 100.0))
            ),
            None => String::new(),
        };
        format!(
            "{:<10} {:>4} clients {:>8.1}/s  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  errors {}{cost}",
            self.step,
            self.clients,
            self.per_second,
            self.p50_ms,
            self.p95_ms,
            self.p99_ms,
            self.errors
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples = Samples {
            ok: (1..=100).rev().map(Duration::from_millis).collect(),
            errors: 2,
            error_statuses: vec![503, 503],
        };
        let s = Summary::of("x", 4, samples, Duration::from_secs(2));
        assert_eq!((s.p50_ms, s.p95_ms, s.p99_ms), (50.0, 95.0, 99.0));
        assert_eq!((s.requests, s.errors), (100, 2));
        assert!((s.per_second - 50.0).abs() < 1e-9);
    }
}
