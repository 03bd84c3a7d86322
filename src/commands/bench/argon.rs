//! The machine's raw Argon2id limit: hashes per second on every core, with
//! the configured parameters, outside the server. Everything the server does
//! around a hash is measured against this.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use regain_app::config::Argon2Config;

/// Hashes per second over `seconds`, one thread per core, each reusing its
/// memory as the server's pool does.
pub fn raw_limit(config: &Argon2Config, seconds: f64) -> anyhow::Result<(f64, usize)> {
    let params = Params::new(
        config.memory_kib,
        config.iterations,
        config.parallelism,
        Some(32),
    )
    .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, done, params) = (stop.clone(), done.clone(), params.clone());
            std::thread::spawn(move || {
                let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
                let mut memory = vec![Block::default(); params.block_count()];
                let mut out = [0u8; 32];
                while !stop.load(Ordering::Relaxed) {
                    if argon
                        .hash_password_into_with_memory(
                            b"benchmark password",
                            b"benchmark-salt-16",
                            &mut out,
                            &mut memory,
                        )
                        .is_ok()
                    {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok((done.load(Ordering::Relaxed) as f64 / elapsed, threads))
}

/// The raw limit now, over `seconds`, off the async runtime (the server
/// idle meanwhile): the reference a hashing step's round is compared with.
pub async fn limit_now(config: Argon2Config, seconds: f64) -> anyhow::Result<f64> {
    let (per_second, _) =
        tokio::task::spawn_blocking(move || raw_limit(&config, seconds)).await??;
    Ok(per_second)
}
