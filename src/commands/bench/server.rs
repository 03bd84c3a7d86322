//! The server under test: the real `regain serve` as a child process, its
//! address, and its memory (peak resident set from /proc).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

/// A running `regain serve`.
pub struct Server {
    child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// Highest resident set seen, in KiB (sampled every 20 ms and from
    /// the kernel's own high-water mark).
    peak_kib: Arc<AtomicU64>,
}

impl Server {
    /// Starts the binary itself with `env` added to the environment.
    pub fn start(env: &[(&str, String)]) -> anyhow::Result<Server> {
        let exe = std::env::current_exe().context("finding the regain binary")?;
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
        std::thread::spawn(move || loop {
            match resident_kib(pid) {
                Some((now, hwm)) => {
                    peak.fetch_max(now.max(hwm), Ordering::Relaxed);
                }
                None => return,
            }
            std::thread::sleep(Duration::from_millis(20));
        });
        Ok(Server {
            child,
            addr,
            peak_kib,
        })
    }

    /// Peak resident memory so far, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.peak_kib.load(Ordering::Relaxed) as f64 / 1024.0
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
