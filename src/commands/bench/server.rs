//! The server under test: the real `regain serve` as a child process, its
//! address, and its memory (peak resident set from /proc).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

/// How often the memory figures are read in the background. The kernel's
/// high-water mark needs no sampling to catch a peak, so the reading is
/// rare: at 50 a second it cost the benchmark a few tenths of a percent of
/// the machine, which the server's hashing steps lost.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// A running `regain serve`.
pub struct Server {
    child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// Highest resident set seen, in KiB: the kernel's own high-water mark
    /// (`VmHWM`, exact whenever it is read), and the resident set itself
    /// where the kernel keeps no mark; read every [`SAMPLE_EVERY`] and
    /// whenever asked.
    peak_kib: Arc<AtomicU64>,
}

impl Server {
    /// Starts `binary` (default: this one) with `env` added to the
    /// environment.
    pub fn start(binary: Option<&Path>, env: &[(&str, String)]) -> anyhow::Result<Server> {
        let exe = match binary {
            Some(path) => path.to_path_buf(),
            None => std::env::current_exe().context("finding the regain binary")?,
        };
        let mut child = Command::new(exe)
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k, v.as_str())))
            .env("REGAIN_LISTEN", "127.0.0.1:0")
            .env("REGAIN_LOG", "info,sqlx=warn")
            .env("REGAIN_LOG_FORMAT", "text")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting regain serve")?;
        let stderr = child.stderr.take().context("server stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the log to the end (a full pipe would stall the server),
        // passing on the address and any error line.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("regain is serving") || line.contains("ERROR") {
                    let _ = tx.send(line);
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .context("the server did not start within 60 s")?;
        let addr = line
            .split("address=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .with_context(|| format!("the server did not start: {line}"))?
            .to_string();
        let peak_kib = Arc::new(AtomicU64::new(0));
        let (pid, peak) = (child.id(), peak_kib.clone());
        std::thread::spawn(move || {
            while note_peak(pid, &peak) {
                std::thread::sleep(SAMPLE_EVERY);
            }
        });
        Ok(Server {
            child,
            addr,
            peak_kib,
        })
    }

    /// Peak resident memory so far, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        note_peak(self.child.id(), &self.peak_kib);
        self.peak_kib.load(Ordering::Relaxed) as f64 / 1024.0
    }

    /// The server's CPU time so far and the machine's idle time, to tell
    /// what a step cost per request (see [`CpuMark::since`]).
    pub fn cpu_mark(&self) -> CpuMark {
        let server = process_cpu_ns(self.child.id());
        CpuMark {
            server_ns: server.all,
            hashing_ns: server.hashing,
            client_ns: process_cpu_ns(std::process::id()).all,
            idle_ticks: machine_idle_ticks(),
            at: std::time::Instant::now(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// Stops the server with SIGTERM and waits for it.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..200 {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

/// A reading of [`Server::cpu_mark`].
#[derive(Debug, Clone, Copy)]
pub struct CpuMark {
    server_ns: u64,
    hashing_ns: u64,
    client_ns: u64,
    idle_ticks: Option<u64>,
    at: std::time::Instant,
    cores: usize,
}

/// What a step cost between two marks.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CpuUse {
    /// The server's CPU time (all its threads) per successful request, in
    /// microseconds: what the step costs the server, free of the client's
    /// share of the machine.
    pub server_us_per_request: f64,
    /// The part of it spent on the server's hashing threads (`argon2-…`):
    /// for a hashing step, the rest of `server_us_per_request` is what
    /// everything around the hash costs.
    pub hashing_us_per_request: f64,
    /// The benchmark's own CPU time per request (its clients share the
    /// cores with the server).
    pub client_us_per_request: f64,
    /// The share of the machine's cores that were idle meanwhile: time the
    /// step could not use (a request waiting on another rather than on a
    /// core).
    pub machine_idle_share: Option<f64>,
}

/// The kernel's unit for `/proc/stat`, fixed at 100 per second on Linux
/// whatever the kernel's own tick.
const USER_HZ: f64 = 100.0;

/// CPU time summed over one or more spans: the rounds of a step, without
/// the measurements of its reference between them.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSpent {
    server_ns: u64,
    hashing_ns: u64,
    client_ns: u64,
    /// `None` once a span could not read the machine's idle time.
    idle_ticks: Option<u64>,
    spans: usize,
    wall: f64,
    cores: usize,
}

impl CpuSpent {
    /// Adds the span from `before` to `after`.
    pub fn add(&mut self, before: &CpuMark, after: &CpuMark) {
        self.server_ns += after.server_ns.saturating_sub(before.server_ns);
        self.hashing_ns += after.hashing_ns.saturating_sub(before.hashing_ns);
        self.client_ns += after.client_ns.saturating_sub(before.client_ns);
        let idle = after
            .idle_ticks
            .zip(before.idle_ticks)
            .map(|(now, then)| now.saturating_sub(then));
        self.idle_ticks = match (self.spans, self.idle_ticks, idle) {
            (0, _, idle) => idle,
            (_, Some(sum), Some(more)) => Some(sum + more),
            _ => None,
        };
        self.spans += 1;
        self.wall += after.at.duration_since(before.at).as_secs_f64();
        self.cores = after.cores;
    }

    /// The cost of each of `requests` served in these spans.
    pub fn per_request(&self, requests: u64) -> CpuUse {
        let per_request = |ns: u64| ns as f64 / 1000.0 / requests.max(1) as f64;
        let cores = self.cores.max(1) as f64;
        CpuUse {
            server_us_per_request: per_request(self.server_ns),
            hashing_us_per_request: per_request(self.hashing_ns),
            client_us_per_request: per_request(self.client_ns),
            machine_idle_share: self
                .idle_ticks
                .filter(|_| self.wall > 0.0)
                .map(|idle| (idle as f64 / USER_HZ / (self.wall * cores)).min(1.0)),
        }
    }
}

/// CPU time of a process's live threads, in nanoseconds.
#[derive(Debug, Clone, Copy, Default)]
struct ThreadsCpu {
    all: u64,
    /// Of the threads named `argon2-…` (the server's hashing pool).
    hashing: u64,
}

/// The CPU time of every live thread of `pid`, from the scheduler's own
/// accounting (`/proc/<pid>/task/*/schedstat`): exact, where
/// `/proc/<pid>/stat` counts in ticks of 10 ms, too coarse for a step that
/// lasts a fraction of a second. 0 where it cannot be read.
fn process_cpu_ns(pid: u32) -> ThreadsCpu {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return ThreadsCpu::default();
    };
    let mut cpu = ThreadsCpu::default();
    for task in tasks.filter_map(Result::ok) {
        let ns = std::fs::read_to_string(task.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        cpu.all += ns;
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if name.starts_with("argon2-") {
            cpu.hashing += ns;
        }
    }
    cpu
}

/// The machine's idle and I/O-wait time so far, in [`USER_HZ`] ticks.
fn machine_idle_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?.strip_prefix("cpu ")?;
    let fields: Vec<u64> = cpu
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    Some(fields.get(3)? + fields.get(4).copied().unwrap_or(0))
}

/// Raises `peak` to what `pid` holds or has held; false once `pid` is gone.
fn note_peak(pid: u32, peak: &AtomicU64) -> bool {
    match resident_kib(pid) {
        Some((now, hwm)) => {
            peak.fetch_max(now.max(hwm), Ordering::Relaxed);
            true
        }
        None => false,
    }
}

/// Current and peak resident set of `pid` in KiB (Linux).
fn resident_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:").unwrap_or(0)))
}

/// Whether `/proc` can tell memory figures here.
pub fn can_read_memory() -> bool {
    Path::new("/proc/self/status").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steps_cost_is_server_time_per_request_and_the_idle_share_of_all_cores() {
        let then = CpuMark {
            server_ns: 5_000_000,
            hashing_ns: 1_000_000,
            client_ns: 1_000_000,
            idle_ticks: Some(1_000),
            at: std::time::Instant::now(),
            cores: 2,
        };
        let now = CpuMark {
            server_ns: 5_000_000 + 300_000_000,
            hashing_ns: 1_000_000 + 240_000_000,
            client_ns: 1_000_000 + 150_000_000,
            idle_ticks: Some(1_000 + 50),
            at: then.at + Duration::from_secs(2),
            cores: 2,
        };
        let since = |before: &CpuMark, after: &CpuMark, requests: u64| {
            let mut spent = CpuSpent::default();
            spent.add(before, after);
            spent.per_request(requests)
        };
        let cost = since(&then, &now, 3_000);
        // 300 ms of server time over 3,000 requests; 0.5 s idle of 2 × 2 s.
        assert!((cost.server_us_per_request - 100.0).abs() < 1e-9);
        assert!((cost.hashing_us_per_request - 80.0).abs() < 1e-9);
        assert!((cost.client_us_per_request - 50.0).abs() < 1e-9);
        assert_eq!(cost.machine_idle_share, Some(0.125));
        let unknown = CpuMark {
            idle_ticks: None,
            ..now
        };
        assert_eq!(since(&then, &unknown, 3_000).machine_idle_share, None);

        // Two spans with a gap between them: the gap is not counted.
        let later = CpuMark {
            server_ns: now.server_ns + 1_000_000_000,
            hashing_ns: now.hashing_ns + 900_000_000,
            client_ns: now.client_ns + 1_000_000_000,
            idle_ticks: Some(5_000),
            at: now.at + Duration::from_secs(10),
            cores: 2,
        };
        let last = CpuMark {
            server_ns: later.server_ns + 300_000_000,
            hashing_ns: later.hashing_ns + 240_000_000,
            client_ns: later.client_ns + 150_000_000,
            idle_ticks: Some(5_000 + 150),
            at: later.at + Duration::from_secs(2),
            cores: 2,
        };
        let mut spent = CpuSpent::default();
        spent.add(&then, &now);
        spent.add(&later, &last);
        let cost = spent.per_request(6_000);
        assert!((cost.server_us_per_request - 100.0).abs() < 1e-9);
        assert!((cost.hashing_us_per_request - 80.0).abs() < 1e-9);
        assert!((cost.client_us_per_request - 50.0).abs() < 1e-9);
        // (0.5 s + 1.5 s) idle of 2 cores × (2 s + 2 s).
        assert_eq!(cost.machine_idle_share, Some(0.25));
        spent.add(&unknown, &unknown);
        assert_eq!(spent.per_request(6_000).machine_idle_share, None);
    }

    #[test]
    fn the_peak_is_read_while_the_process_lives() {
        let peak = AtomicU64::new(0);
        assert!(note_peak(std::process::id(), &peak));
        let seen = peak.load(Ordering::Relaxed);
        assert!(seen > 0, "this process holds memory");
        // A lower reading never lowers the peak.
        peak.store(u64::MAX / 2, Ordering::Relaxed);
        assert!(note_peak(std::process::id(), &peak));
        assert_eq!(peak.load(Ordering::Relaxed), u64::MAX / 2);
        // No process: nothing read, the sampler stops.
        assert!(!note_peak(u32::MAX, &AtomicU64::new(0)));
    }

    #[test]
    fn this_process_is_seen_using_cpu() {
        let pid = std::process::id();
        let before = process_cpu_ns(pid);
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(process_cpu_ns(pid).all > before.all, "{x}");
        // A thread named as the server's hashing threads are is counted as one.
        let hashing = std::thread::Builder::new()
            .name("argon2-test".into())
            .spawn(move || {
                let start = process_cpu_ns(pid).hashing;
                let mut y = 0u64;
                for i in 0..20_000_000u64 {
                    y = std::hint::black_box(y.wrapping_mul(31).wrapping_add(i));
                }
                (process_cpu_ns(pid).hashing > start, y)
            })
            .map(|t| t.join());
        assert!(matches!(hashing, Ok(Ok((true, _)))), "{hashing:?}");
        assert!(machine_idle_ticks().is_some());
    }
}
