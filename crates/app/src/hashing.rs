//! Argon2id on a bounded pool of dedicated threads.
//!
//! Hashing is the product's throughput: every login and reset pays one.
//! It never runs on the async executor's threads (it would stall every other
//! request), and at most `workers` hashes run at once, so memory stays at
//! `workers × memory_kib`. Requests beyond `queue` waiting ones are refused
//! with [`HashError::Busy`], which the HTTP layer answers with 503 and
//! Retry-After instead of allocating without limit.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
use regain_domain::password::Password;
use tokio::sync::oneshot;

use crate::config::{Argon2Config, HashingConfig};

/// Why a hash could not be computed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The pool's queue is full: try again shortly.
    #[error("the password hashing queue is full")]
    Busy,
    /// Argon2 refused its input or parameters, or a stored hash is malformed.
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The password matches.
    pub matches: bool,
    /// It matches, but the hash uses other parameters than the configured
    /// ones: here is a fresh hash to store instead.
    pub rehashed: Option<String>,
}

enum Job {
    Hash {
        password: Password,
        reply: oneshot::Sender<Result<String, HashError>>,
    },
    Verify {
        password: Password,
        hash: Option<String>,
        reply: oneshot::Sender<Result<Verified, HashError>>,
    },
    MatchesAny {
        password: Password,
        hashes: Vec<String>,
        reply: oneshot::Sender<Result<bool, HashError>>,
    },
}

/// Handle to the hashing pool. Cheap to clone.
#[derive(Clone)]
pub struct Hasher {
    jobs: SyncSender<Job>,
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    /// Verified against when the account is unknown, so that path costs the
    /// same as a real check.
    dummy_hash: String,
    workers: usize,
}

impl Hasher {
    /// Starts `workers` threads (one per core when 0) behind a queue of `queue`.
    pub fn start(argon: &Argon2Config, pool: &HashingConfig) -> anyhow::Result<Hasher> {
        let params = Params::new(argon.memory_kib, argon.iterations, argon.parallelism, None)
            .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
        let dummy_hash = hash_with(&params, b"regain dummy password for unknown accounts")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let workers = if pool.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            pool.workers
        };
        let (jobs, rx) = sync_channel::<Job>(pool.queue);
        let rx = Arc::new(Mutex::new(rx));
        let inner = Arc::new(Inner {
            params,
            dummy_hash,
            workers,
        });
        for n in 0..workers {
            let rx = Arc::clone(&rx);
            let inner = Arc::clone(&inner);
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || worker(&rx, &inner))?;
        }
        Ok(Hasher { jobs, inner })
    }

    /// Number of hashing threads.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// Hashes a new password with the configured parameters.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        rx.await.map_err(|_| HashError::Failed("hashing thread stopped".into()))?
    }

    /// Checks `password` against `hash`; with `None` it checks against a
    /// dummy hash instead (same cost) and reports no match.
    pub async fn verify(&self, password: Password, hash: Option<String>) -> Result<Verified, HashError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Verify { password, hash, reply })?;
        rx.await.map_err(|_| HashError::Failed("hashing thread stopped".into()))?
    }

    /// Whether `password` matches any of `hashes` (password history). One
    /// job, so a deep history occupies one thread, not the whole pool.
    pub async fn matches_any(&self, password: Password, hashes: Vec<String>) -> Result<bool, HashError> {
        if hashes.is_empty() {
            return Ok(false);
        }
        let (reply, rx) = oneshot::channel();
        self.submit(Job::MatchesAny { password, hashes, reply })?;
        rx.await.map_err(|_| HashError::Failed("hashing thread stopped".into()))?
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => HashError::Busy,
            TrySendError::Disconnected(_) => HashError::Failed("hashing pool stopped".into()),
        })
    }
}

fn worker(rx: &Mutex<Receiver<Job>>, inner: &Inner) {
    loop {
        let job = {
            let Ok(guard) = rx.lock() else { return };
            match guard.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        match job {
            Job::Hash { password, reply } => {
                let _ = reply.send(hash_with(&inner.params, password.expose().as_bytes()));
            }
            Job::Verify { password, hash, reply } => {
                let _ = reply.send(verify_with(inner, &password, hash.as_deref()));
            }
            Job::MatchesAny { password, hashes, reply } => {
                let found = hashes.iter().any(|h| {
                    PasswordHash::new(h).is_ok_and(|parsed| {
                        argon(&inner.params)
                            .verify_password(password.expose().as_bytes(), &parsed)
                            .is_ok()
                    })
                });
                let _ = reply.send(Ok(found));
            }
        }
    }
}

fn argon(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_with(params: &Params, password: &[u8]) -> Result<String, HashError> {
    argon(params)
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Failed(e.to_string()))
}

fn verify_with(inner: &Inner, password: &Password, stored: Option<&str>) -> Result<Verified, HashError> {
    let (hash_text, real) = match stored {
        Some(h) => (h, true),
        None => (inner.dummy_hash.as_str(), false),
    };
    let parsed = PasswordHash::new(hash_text).map_err(|e| HashError::Failed(format!("stored hash: {e}")))?;
    let matches = argon(&inner.params)
        .verify_password(password.expose().as_bytes(), &parsed)
        .is_ok()
        && real;
    let rehashed = if matches && needs_rehash(&parsed, &inner.params) {
        Some(hash_with(&inner.params, password.expose().as_bytes())?)
    } else {
        None
    };
    Ok(Verified { matches, rehashed })
}

/// Whether a stored hash was made with other than the configured algorithm
/// and parameters.
fn needs_rehash(parsed: &PasswordHash, params: &Params) -> bool {
    let Ok(stored) = Params::try_from(parsed) else { return true };
    parsed.algorithm.as_str() != "argon2id"
        || parsed.version != Some(0x13)
        || stored.m_cost() != params.m_cost()
        || stored.t_cost() != params.t_cost()
        || stored.p_cost() != params.p_cost()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Argon2Config {
        Argon2Config {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn pw(s: &str) -> Password {
        Password::parse(s.into()).unwrap()
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let h = Hasher::start(&small(), &HashingConfig { workers: 1, queue: 4 }).unwrap();
        let hash = h.hash(pw("correct horse")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        assert!(h.verify(pw("correct horse"), Some(hash.clone())).await.unwrap().matches);
        assert!(!h.verify(pw("wrong horse"), Some(hash)).await.unwrap().matches);
        assert!(!h.verify(pw("anything"), None).await.unwrap().matches);
    }

    #[tokio::test]
    async fn changed_parameters_trigger_a_rehash() {
        let old = Hasher::start(&small(), &HashingConfig { workers: 1, queue: 4 }).unwrap();
        let hash = old.hash(pw("correct horse")).await.unwrap();
        let stronger = Argon2Config { memory_kib: 128, iterations: 2, parallelism: 1 };
        let new = Hasher::start(&stronger, &HashingConfig { workers: 1, queue: 4 }).unwrap();
        let v = new.verify(pw("correct horse"), Some(hash)).await.unwrap();
        assert!(v.matches);
        let rehashed = v.rehashed.expect("a rehash");
        assert!(rehashed.starts_with("$argon2id$v=19$m=128,t=2,p=1$"));
        let again = new.verify(pw("correct horse"), Some(rehashed)).await.unwrap();
        assert!(again.matches && again.rehashed.is_none());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_instead_of_growing() {
        let heavy = Argon2Config { memory_kib: 32 * 1024, iterations: 4, parallelism: 1 };
        let h = Hasher::start(&heavy, &HashingConfig { workers: 1, queue: 2 }).unwrap();
        let mut pending = Vec::new();
        let mut busy = 0;
        for _ in 0..12 {
            match h.submit_for_test() {
                Ok(rx) => pending.push(rx),
                Err(HashError::Busy) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(busy >= 8, "only {busy} of 12 refused");
        for rx in pending {
            assert!(rx.await.unwrap().is_ok());
        }
    }

    impl Hasher {
        fn submit_for_test(&self) -> Result<oneshot::Receiver<Result<String, HashError>>, HashError> {
            let (reply, rx) = oneshot::channel();
            self.submit(Job::Hash { password: pw("x"), reply })?;
            Ok(rx)
        }
    }
}
