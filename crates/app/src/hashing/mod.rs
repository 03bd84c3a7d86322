//! Argon2id on a bounded pool of dedicated threads.
//!
//! Hashing is the product's throughput: every login and reset pays one.
//! It never runs on the async executor's threads (it would stall every other
//! request), and at most `workers` hashes run at once, so memory stays at
//! `workers × memory_kib`. The other CPU-heavy password work — the policy
//! check, whose strength estimate took 45 ms for a 20-character password
//! of l33t characters and 240 ms for a 64-character one on the
//! benchmark's machine — runs here too ([`Hasher::compute`]), behind the
//! same bound. Requests beyond `queue` waiting ones are refused
//! with [`HashError::Busy`], which the HTTP layer answers with 503 and
//! Retry-After instead of allocating without limit.
//!
//! Each worker owns its Argon2 memory and reuses it for every hash: no
//! 19 MiB allocation and page-faulting per request. That makes a hash
//! markedly cheaper, and — as important — makes every verification cost the
//! same whichever thread runs it, so an unknown account's dummy check cannot
//! be told apart from a real one by timing.
//!
//! A worker that finds a backlog takes its share of it at once and runs the
//! policy checks of what it took before any of their hashes
//! ([`take_batch`]): a hash streams 19 MiB through the caches, so a check
//! run between two hashes finds the common-password dictionaries cold, and
//! one run right after another finds them warm. It sends the batch's
//! replies together after its last hash ([`run_batch`]), so the executor
//! wakes once for the batch, not once per hash.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use regain_domain::password::Password;
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

use crate::config::{Argon2Config, HashingConfig};

pub mod foreign;

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

/// A job with the time it was queued, for the wait-time histogram.
struct Queued(Job, std::time::Instant);

enum Job {
    /// A hash or a verification.
    Hashing(HashJob),
    /// Other CPU-heavy work; it sends its own reply.
    Compute(Box<dyn FnOnce() + Send>),
    /// Work that may end in a hash: a policy check, which either replies
    /// (it found something) or returns what hashes the new password and
    /// replies. The two run apart so that a batch's checks can run together
    /// (see [`take_batch`]).
    ComputeThenHash(Box<dyn FnOnce() -> Option<ThenHash> + Send>),
}

/// The jobs that are a hash or a verification and nothing else.
enum HashJob {
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

/// The second part of a [`Job::ComputeThenHash`]: given the worker's
/// hashing, hashes and returns the reply to send.
type ThenHash = Box<dyn FnOnce(&mut WorkerHash<'_>) -> Reply + Send>;

/// A hash's reply, computed and not yet sent (see [`run_batch`]).
type Reply = Box<dyn FnOnce() + Send>;

/// `value` to send on `reply` later.
fn reply_later<T: Send + 'static>(reply: oneshot::Sender<T>, value: T) -> Reply {
    Box::new(move || {
        let _ = reply.send(value);
    })
}

type HashResult = Result<String, HashError>;

/// A hashing thread's Argon2id, lent to a [`Job::ComputeThenHash`].
type WorkerHash<'a> = dyn FnMut(&Password) -> HashResult + 'a;

/// Handle to the hashing pool. Cheap to clone.
#[derive(Clone)]
pub struct Hasher {
    jobs: SyncSender<Queued>,
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    /// Verified against when the account is unknown, so that path costs the
    /// same as a real check.
    dummy_hash: String,
    workers: usize,
    /// Places for requests on their way to a hash: one per thread and per
    /// queue slot ([`Hasher::admit`]).
    places: Arc<tokio::sync::Semaphore>,
    /// Jobs in the queue, not yet taken by a thread.
    waiting: AtomicUsize,
}

/// A place in the hashing pool, held from before the work that leads to a
/// hash until after it.
#[must_use = "the place is given back when this is dropped"]
pub struct Admission {
    _place: tokio::sync::OwnedSemaphorePermit,
}

impl Hasher {
    /// Starts `workers` threads (one per core when 0) behind a queue of `queue`.
    pub fn start(argon: &Argon2Config, pool: &HashingConfig) -> anyhow::Result<Hasher> {
        let params = Params::new(argon.memory_kib, argon.iterations, argon.parallelism, None)
            .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
        let dummy_hash = hash_with(
            &params,
            b"regain dummy password for unknown accounts",
            &mut Memory(Vec::new()),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let workers = if pool.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            pool.workers
        };
        let (jobs, rx) = sync_channel::<Queued>(pool.queue);
        let rx = Arc::new(Mutex::new(rx));
        let inner = Arc::new(Inner {
            params,
            dummy_hash,
            workers,
            places: Arc::new(tokio::sync::Semaphore::new(workers + pool.queue)),
            waiting: AtomicUsize::new(0),
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

    /// Takes a place in the pool, or refuses at once with
    /// [`HashError::Busy`] when every thread and queue slot is spoken for.
    /// A log-on takes its place before it counts the attempt and reads the
    /// account: under a flood, the requests that could not be hashed anyway
    /// are turned away before they cost a database write.
    pub fn admit(&self) -> Result<Admission, HashError> {
        Arc::clone(&self.inner.places)
            .try_acquire_owned()
            .map(|place| Admission { _place: place })
            .map_err(|_| HashError::Busy)
    }

    /// Number of hashing threads.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// Hashes a new password with the configured parameters.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Hashing(HashJob::Hash { password, reply }))?;
        rx.await
            .map_err(|_| HashError::Failed("hashing thread stopped".into()))?
    }

    /// Checks `password` against `hash`; with `None` it checks against a
    /// dummy hash instead (same cost) and reports no match.
    pub async fn verify(
        &self,
        password: Password,
        hash: Option<String>,
    ) -> Result<Verified, HashError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Hashing(HashJob::Verify {
            password,
            hash,
            reply,
        }))?;
        rx.await
            .map_err(|_| HashError::Failed("hashing thread stopped".into()))?
    }

    /// Whether `password` matches any of `hashes` (password history). One
    /// job, so a deep history occupies one thread, not the whole pool.
    pub async fn matches_any(
        &self,
        password: Password,
        hashes: Vec<String>,
    ) -> Result<bool, HashError> {
        if hashes.is_empty() {
            return Ok(false);
        }
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Hashing(HashJob::MatchesAny {
            password,
            hashes,
            reply,
        }))?;
        rx.await
            .map_err(|_| HashError::Failed("hashing thread stopped".into()))?
    }

    /// Runs `work` on a pool thread: CPU-heavy password work that is not
    /// a hash (the policy's strength estimate), so that it neither stalls
    /// the executor nor escapes the pool's bound (a full queue is
    /// [`HashError::Busy`]).
    pub async fn compute<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Compute(Box::new(move || {
            let _ = reply.send(work());
        })))?;
        rx.await
            .map_err(|_| HashError::Failed("the password work failed".into()))
    }

    /// Runs `check` on `password` and, when it finds nothing against it,
    /// hashes it, in one job: a new password's policy check and its hash
    /// wait in the queue once and cost one hand-off between the executor
    /// and the pool, not two. `Ok(Err(found))` when `check` found
    /// something (no hash is computed).
    pub async fn hash_unless<V: Send + 'static>(
        &self,
        password: Password,
        check: impl FnOnce(&Password) -> Vec<V> + Send + 'static,
    ) -> Result<Result<String, Vec<V>>, HashError> {
        let (reply, rx) = oneshot::channel();
        self.submit(check_then_hash(password, check, reply))?;
        rx.await
            .map_err(|_| HashError::Failed("the password work failed".into()))?
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        // Counted before it can be taken, so the count never goes below zero.
        self.inner.waiting.fetch_add(1, Ordering::Relaxed);
        self.jobs
            .try_send(Queued(job, std::time::Instant::now()))
            .map_err(|e| {
                self.inner.waiting.fetch_sub(1, Ordering::Relaxed);
                match e {
                    TrySendError::Full(_) => HashError::Busy,
                    TrySendError::Disconnected(_) => {
                        HashError::Failed("hashing pool stopped".into())
                    }
                }
            })?;
        // Up when queued, down when a thread picks it: exact whatever the order.
        metrics::gauge!("regain_hashing_queue_depth").increment(1.0);
        Ok(())
    }
}

/// The job of [`Hasher::hash_unless`]: `check` replies at once with what
/// it found, or leaves a hash to run and its reply.
fn check_then_hash<V: Send + 'static>(
    password: Password,
    check: impl FnOnce(&Password) -> Vec<V> + Send + 'static,
    reply: oneshot::Sender<Result<Result<String, Vec<V>>, HashError>>,
) -> Job {
    Job::ComputeThenHash(Box::new(move || {
        let found = check(&password);
        if found.is_empty() {
            Some(Box::new(move |hash: &mut WorkerHash<'_>| {
                reply_later(reply, hash(&password).map(Ok))
            }) as ThenHash)
        } else {
            let _ = reply.send(Ok(Err(found)));
            None
        }
    }))
}

/// A worker's reusable Argon2 memory.
struct Memory(Vec<Block>);

impl Memory {
    fn for_params(&mut self, params: &Params) -> &mut [Block] {
        let needed = params.block_count();
        if self.0.len() < needed {
            self.0.resize(needed, Block::default());
        }
        &mut self.0[..needed]
    }
}

/// How much less CPU priority a hashing thread takes than the rest of the
/// server (a nice value, Linux). A hash gives the core up whenever a
/// request is ready to run, so `/healthz` and the cheap steps stay prompt
/// while the pool is saturated (during a flood of 1,000 logins `/healthz`
/// answered within 28 ms at p99, against 97–127 ms at equal priority);
/// when nothing else wants the core, hashing keeps all of it.
const HASHING_NICENESS: i32 = 10;

fn lower_priority() {
    // On Linux the nice value belongs to the thread, not the process.
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::nice(HASHING_NICENESS) {
        tracing::warn!(error = %e, "could not lower the hashing thread's priority");
    }
}

/// Most jobs a thread takes at once from a backlog (see [`take_batch`]).
const MAX_BATCH: usize = 8;

/// Waits for a job, then takes this thread's share of those still waiting
/// (their number over the threads', at most [`MAX_BATCH`] in all): a
/// backlog's checks then run one after another, and with a short queue
/// nothing is held back from an idle thread. Empty when the pool stops.
fn take_batch(rx: &Mutex<Receiver<Queued>>, inner: &Inner) -> Vec<Job> {
    let Ok(guard) = rx.lock() else {
        return Vec::new();
    };
    let Ok(first) = guard.recv() else {
        return Vec::new();
    };
    let mut batch = vec![taken(first, inner)];
    let share = inner.waiting.load(Ordering::Relaxed) / inner.workers;
    while batch.len() < MAX_BATCH.min(1 + share) {
        match guard.try_recv() {
            Ok(next) => batch.push(taken(next, inner)),
            Err(_) => break,
        }
    }
    batch
}

/// A job off the queue, counted out. Its wait is measured to here: a
/// batch's later jobs then also wait for the earlier ones' hashes.
fn taken(Queued(job, queued_at): Queued, inner: &Inner) -> Job {
    inner.waiting.fetch_sub(1, Ordering::Relaxed);
    metrics::gauge!("regain_hashing_queue_depth").decrement(1.0);
    metrics::histogram!("regain_hashing_wait_seconds").record(queued_at.elapsed().as_secs_f64());
    job
}

/// A job whose check has run: what is left of it.
enum Checked {
    Hashing(HashJob),
    ThenHash(ThenHash),
    Done,
}

fn worker(rx: &Mutex<Receiver<Queued>>, inner: &Inner) {
    lower_priority();
    let mut memory = Memory(Vec::new());
    memory.for_params(&inner.params);
    loop {
        let batch = take_batch(rx, inner);
        if batch.is_empty() {
            return;
        }
        for reply in run_batch(batch, inner, &mut memory) {
            reply();
        }
    }
}

/// Runs a batch: every check first, then the hashes in order, and returns
/// the hashes' replies for the caller to send together once the last is
/// done. Each reply wakes the executor, which then does a request's work
/// around its hash (its write, its response; the client's next request):
/// sent one by one, every reply finds that work's code and data cold and a
/// parked thread to wake; sent together, one wake serves them all. Under
/// the benchmark's load (batches of eight) that halved the CPU the server
/// spends around each hash, and the clients' too. A reply waits for at
/// most [`MAX_BATCH`] − 1 later hashes, and only when there was a backlog;
/// a check that refuses a password still replies at once.
fn run_batch(batch: Vec<Job>, inner: &Inner, memory: &mut Memory) -> Vec<Reply> {
    let checked: Vec<Checked> = batch.into_iter().map(check).collect();
    let mut replies: Vec<Reply> = Vec::with_capacity(checked.len());
    for job in checked {
        match job {
            Checked::Done => {}
            Checked::ThenHash(then) => {
                let mut reply = None;
                contain(|| {
                    reply = Some(then(&mut |password| hash_password(inner, password, memory)));
                });
                replies.extend(reply);
            }
            Checked::Hashing(job) => replies.push(hash(job, inner, memory)),
        }
    }
    replies
}

/// Runs the part of `job` that is not a hash.
fn check(job: Job) -> Checked {
    match job {
        Job::Hashing(job) => Checked::Hashing(job),
        Job::Compute(work) => {
            contain(work);
            Checked::Done
        }
        Job::ComputeThenHash(check) => {
            let mut then = None;
            contain(|| then = check());
            then.map_or(Checked::Done, Checked::ThenHash)
        }
    }
}

/// Runs a hash or a verification and returns its reply, unsent.
fn hash(job: HashJob, inner: &Inner, memory: &mut Memory) -> Reply {
    match job {
        HashJob::Hash { password, reply } => {
            reply_later(reply, hash_password(inner, &password, memory))
        }
        HashJob::Verify {
            password,
            hash,
            reply,
        } => reply_later(
            reply,
            verify_with(inner, &password, hash.as_deref(), memory),
        ),
        HashJob::MatchesAny {
            password,
            hashes,
            reply,
        } => {
            let found = hashes
                .iter()
                .any(|h| matches_stored(&password, h, memory).unwrap_or(false));
            reply_later(reply, Ok(found))
        }
    }
}

/// Runs password work that sends its own reply. A panic drops the reply
/// (the caller gets an error) and must not take the thread with it.
fn contain(work: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).is_err() {
        tracing::error!("password work panicked on a hashing thread");
    }
}

fn hash_password(inner: &Inner, password: &Password, memory: &mut Memory) -> HashResult {
    hash_with(&inner.params, password.hashing_input().as_bytes(), memory)
}

fn failed(e: impl std::fmt::Display) -> HashError {
    HashError::Failed(e.to_string())
}

/// A new PHC string for `password` with a fresh 16-byte salt.
fn hash_with(params: &Params, password: &[u8], memory: &mut Memory) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(failed)?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, &salt, &mut out, memory.for_params(params))
        .map_err(failed)?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(failed)?,
        salt: Some(Salt::new(&salt).map_err(failed)?),
        hash: Some(Output::new(&out).map_err(failed)?),
    };
    Ok(phc.to_string())
}

/// Checks `password` against a stored hash of any accepted scheme: Argon2
/// on the worker's memory, an imported bcrypt or PBKDF2 hash on the bytes
/// the other system received (see [`foreign`]).
fn matches_stored(
    password: &Password,
    stored: &str,
    memory: &mut Memory,
) -> Result<bool, HashError> {
    if stored.starts_with("$argon2") {
        let input = password.hashing_input();
        matches_argon2(input.as_bytes(), stored, memory)
    } else {
        foreign::matches(password.expose().as_bytes(), stored).map_err(failed)
    }
}

/// Recomputes `stored` for `password` with the stored salt and parameters
/// and compares in constant time.
fn matches_argon2(password: &[u8], stored: &str, memory: &mut Memory) -> Result<bool, HashError> {
    let parsed = PasswordHash::new(stored).map_err(|e| failed(format!("stored hash: {e}")))?;
    let algorithm = Algorithm::new(parsed.algorithm.as_str()).map_err(failed)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(failed)?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(failed)?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(failed("stored hash has no salt or output"));
    };
    let expected = expected.as_bytes();
    let mut computed = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(password, salt, &mut computed, memory.for_params(&params))
        .map_err(failed)?;
    Ok(bool::from(computed.ct_eq(expected)))
}

fn verify_with(
    inner: &Inner,
    password: &Password,
    stored: Option<&str>,
    memory: &mut Memory,
) -> Result<Verified, HashError> {
    let (hash_text, real) = match stored {
        Some(h) => (h, true),
        None => (inner.dummy_hash.as_str(), false),
    };
    let matches = matches_stored(password, hash_text, memory)? && real;
    let rehashed = if matches && needs_rehash(hash_text, &inner.params) {
        let input = password.hashing_input();
        Some(hash_with(&inner.params, input.as_bytes(), memory)?)
    } else {
        None
    };
    Ok(Verified { matches, rehashed })
}

/// Whether a stored hash was made with other than the configured algorithm
/// and parameters.
fn needs_rehash(stored: &str, params: &Params) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let Ok(used) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id"
        || parsed.version != Some(0x13)
        || used.m_cost() != params.m_cost()
        || used.t_cost() != params.t_cost()
        || used.p_cost() != params.p_cost()
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

    /// One thread with [`small`] parameters.
    fn small_pool() -> Hasher {
        Hasher::start(
            &small(),
            &HashingConfig {
                workers: 1,
                queue: 4,
            },
        )
        .unwrap()
    }

    fn pw(s: &str) -> Password {
        Password::parse(s.into()).unwrap()
    }

    async fn check(h: &Hasher, password: &str, hash: &str) -> bool {
        h.verify(pw(password), Some(hash.to_string()))
            .await
            .unwrap()
            .matches
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let h = small_pool();
        let hash = h.hash(pw("correct horse")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        assert!(check(&h, "correct horse", &hash).await);
        assert!(!check(&h, "wrong horse", &hash).await);
        assert!(!h.verify(pw("anything"), None).await.unwrap().matches);
    }

    #[tokio::test]
    async fn hashes_interoperate_with_the_stock_argon2_verifier() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let h = small_pool();
        let ours = h.hash(pw("correct horse")).await.unwrap();
        let stock = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(stock.verify_password(b"correct horse", &parsed).is_ok());
        assert!(stock.verify_password(b"wrong horse", &parsed).is_err());
        let theirs = stock.hash_password(b"correct horse").unwrap().to_string();
        assert!(check(&h, "correct horse", &theirs).await);
        assert!(!check(&h, "wrong horse", &theirs).await);
        // argon2i and argon2d hashes still verify (and get rehashed to argon2id)
        let old = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let legacy = old.hash_password(b"correct horse").unwrap().to_string();
        let v = h.verify(pw("correct horse"), Some(legacy)).await.unwrap();
        assert!(v.matches && v.rehashed.unwrap().starts_with("$argon2id$"));
    }

    #[tokio::test]
    async fn imported_bcrypt_and_pbkdf2_hashes_verify_and_upgrade_to_argon2id() {
        let h = small_pool();
        for (password, stored) in [
            ("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
            (
                "correct horse battery",
                "$pbkdf2-sha256$i=1000,l=32$c2FsdHNhbHRzYWx0MTIzNA$wheZis4WMGFy+7bhdev/G/YeD76DK1WUFiU5ngBGWLk",
            ),
        ] {
            let wrong = h
                .verify(pw("not it at all"), Some(stored.into()))
                .await
                .unwrap();
            assert!(!wrong.matches && wrong.rehashed.is_none());
            let v = h.verify(pw(password), Some(stored.into())).await.unwrap();
            assert!(v.matches, "{stored}");
            let upgraded = v.rehashed.expect("an upgrade");
            assert!(upgraded.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
            assert!(check(&h, password, &upgraded).await);
            // A history holding the foreign hash is checked by its own scheme.
            assert!(h
                .matches_any(pw(password), vec![stored.into()])
                .await
                .unwrap());
        }
    }

    #[tokio::test]
    async fn changed_parameters_trigger_a_rehash() {
        let old = small_pool();
        let hash = old.hash(pw("correct horse")).await.unwrap();
        let stronger = Argon2Config {
            memory_kib: 128,
            iterations: 2,
            parallelism: 1,
        };
        let new = Hasher::start(
            &stronger,
            &HashingConfig {
                workers: 1,
                queue: 4,
            },
        )
        .unwrap();
        let v = new.verify(pw("correct horse"), Some(hash)).await.unwrap();
        assert!(v.matches);
        let rehashed = v.rehashed.expect("a rehash");
        assert!(rehashed.starts_with("$argon2id$v=19$m=128,t=2,p=1$"));
        let again = new
            .verify(pw("correct horse"), Some(rehashed))
            .await
            .unwrap();
        assert!(again.matches && again.rehashed.is_none());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_instead_of_growing() {
        let heavy = Argon2Config {
            memory_kib: 32 * 1024,
            iterations: 4,
            parallelism: 1,
        };
        let h = Hasher::start(
            &heavy,
            &HashingConfig {
                workers: 1,
                queue: 2,
            },
        )
        .unwrap();
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

    /// A pool with the default parameters.
    fn pool(workers: usize, queue: usize) -> Hasher {
        Hasher::start(&Argon2Config::default(), &HashingConfig { workers, queue }).unwrap()
    }

    #[tokio::test]
    async fn places_are_one_per_thread_and_queue_slot_and_come_back() {
        let h = pool(1, 2);
        let held: Vec<Admission> = (0..3).map(|_| h.admit().unwrap()).collect();
        assert!(matches!(h.admit(), Err(HashError::Busy)), "all three taken");
        drop(held);
        assert!(h.admit().is_ok(), "given back when dropped");
    }

    #[tokio::test]
    async fn other_password_work_runs_on_the_pool_and_survives_a_panic() {
        let h = pool(1, 2);
        let thread = h
            .compute(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert_eq!(thread.as_deref(), Some("argon2-0"));
        let panicked = h.compute(|| -> u8 { panic!("deliberate") }).await;
        assert!(matches!(panicked, Err(HashError::Failed(_))));
        // The only thread is still there.
        assert_eq!(h.compute(|| 7).await.unwrap(), 7);
        assert!(h.hash(pw("still hashing")).await.is_ok());
    }

    #[test]
    fn a_batchs_hashes_reply_together_after_the_last_and_a_refusal_at_once() {
        let h = small_pool();
        let stored = hash_with(&h.inner.params, b"stored", &mut Memory(Vec::new())).unwrap();
        let (hashed, mut hashed_rx) = oneshot::channel();
        let (checked, mut checked_rx) = oneshot::channel();
        let (refused, mut refused_rx) = oneshot::channel();
        let (verified, mut verified_rx) = oneshot::channel();
        let batch = vec![
            Job::Hashing(HashJob::Hash {
                password: pw("first"),
                reply: hashed,
            }),
            check_then_hash(pw("second"), |_| Vec::<u8>::new(), checked),
            check_then_hash(pw("third"), |_| vec![1u8], refused),
            Job::Hashing(HashJob::Verify {
                password: pw("stored"),
                hash: Some(stored),
                reply: verified,
            }),
        ];
        let replies = run_batch(batch, &h.inner, &mut Memory(Vec::new()));
        // Every hash is done; only the refusal has been told.
        assert_eq!(replies.len(), 3);
        assert_eq!(refused_rx.try_recv().unwrap().unwrap(), Err(vec![1u8]));
        assert!(hashed_rx.try_recv().is_err());
        assert!(checked_rx.try_recv().is_err());
        assert!(verified_rx.try_recv().is_err());
        for reply in replies {
            reply();
        }
        let first = hashed_rx.try_recv().unwrap().unwrap();
        assert!(first.starts_with("$argon2id$"));
        let second = checked_rx.try_recv().unwrap().unwrap().unwrap();
        assert!(second.starts_with("$argon2id$") && second != first);
        assert!(verified_rx.try_recv().unwrap().unwrap().matches);
    }

    #[tokio::test]
    async fn a_check_then_its_hash_run_as_one_job_and_nothing_is_hashed_after_a_finding() {
        let h = small_pool();
        // Found something: no hash, the findings back.
        let refused = h
            .hash_unless(pw("too short"), |p| {
                if p.expose().len() < 12 {
                    vec!["short"]
                } else {
                    vec![]
                }
            })
            .await
            .unwrap();
        assert_eq!(refused, Err(vec!["short"]));
        // Nothing found: a hash of that password, on the pool's thread.
        let on = Arc::new(Mutex::new(None));
        let seen = on.clone();
        let hash = h
            .hash_unless(pw("long enough password"), move |_| {
                *seen.lock().unwrap() = std::thread::current().name().map(str::to_owned);
                Vec::<&str>::new()
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(on.lock().unwrap().as_deref(), Some("argon2-0"));
        assert!(
            h.verify(pw("long enough password"), Some(hash.clone()))
                .await
                .unwrap()
                .matches
        );
        assert!(!h.verify(pw("too short"), Some(hash)).await.unwrap().matches);
        // A panicking check fails the job, not the thread.
        let panicked = h
            .hash_unless(pw("x"), |_| -> Vec<u8> { panic!("deliberate") })
            .await;
        assert!(matches!(panicked, Err(HashError::Failed(_))));
        assert!(h.hash(pw("still hashing")).await.is_ok());
    }

    /// Occupies the only thread of `h` until the returned sender is
    /// dropped or sent to; returns once the thread is inside the job.
    async fn hold(h: &Hasher) -> std::sync::mpsc::Sender<()> {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (inside, entered) = oneshot::channel();
        let h2 = h.clone();
        tokio::spawn(async move {
            h2.compute(move || {
                let _ = inside.send(());
                let _ = held.recv();
            })
            .await
        });
        entered.await.unwrap();
        release
    }

    /// Waits until `n` jobs sit in the queue of `h`.
    async fn queued(h: &Hasher, n: usize) {
        for _ in 0..500 {
            if h.inner.waiting.load(Ordering::Relaxed) == n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        panic!("{n} jobs never queued");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_backlogs_checks_run_before_its_hashes() {
        // One thread and the default (dear) parameters: a hash takes
        // milliseconds, a check nothing.
        let h = pool(1, 8);
        let release = hold(&h).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let job = |name: &'static str, finding: Vec<&'static str>| {
            let (h, order) = (h.clone(), order.clone());
            tokio::spawn(async move {
                let done = h.hash_unless(pw("a new password"), move |_| finding).await;
                order.lock().unwrap().push(name);
                done
            })
        };
        // Queued in this order: a password to hash, then one refused.
        let hashed = job("hashed", vec![]);
        queued(&h, 1).await;
        let refused = job("refused", vec!["common"]);
        queued(&h, 2).await;
        drop(release);
        assert!(hashed.await.unwrap().unwrap().is_ok());
        assert_eq!(refused.await.unwrap().unwrap(), Err(vec!["common"]));
        // One at a time, the refusal would wait for the other's hash.
        assert_eq!(*order.lock().unwrap(), ["refused", "hashed"]);
        assert_eq!(h.inner.waiting.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_short_queue_is_not_taken_by_one_thread_while_another_waits() {
        let h = pool(2, 4);
        // Two checks that each wait (up to 10 s) for the other to start:
        // they pass only if two threads run them at once.
        let started = Arc::new(AtomicUsize::new(0));
        let threads = Arc::new(Mutex::new(Vec::new()));
        let job = || {
            let (h, started, threads) = (h.clone(), started.clone(), threads.clone());
            tokio::spawn(async move {
                h.hash_unless(pw("a new password"), move |_| {
                    started.fetch_add(1, Ordering::SeqCst);
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                    while started.load(Ordering::SeqCst) < 2 && std::time::Instant::now() < deadline
                    {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    threads
                        .lock()
                        .unwrap()
                        .push(std::thread::current().name().map(str::to_owned));
                    Vec::<&str>::new()
                })
                .await
            })
        };
        let (a, b) = (job(), job());
        assert!(a.await.unwrap().unwrap().is_ok());
        assert!(b.await.unwrap().unwrap().is_ok());
        let mut seen = threads.lock().unwrap().clone();
        seen.sort();
        assert_eq!(
            seen,
            [Some("argon2-0".to_string()), Some("argon2-1".to_string())]
        );
    }

    /// The nice value of each of this process's threads named `argon2-…`.
    #[cfg(target_os = "linux")]
    fn hashing_niceness() -> Vec<i64> {
        let mut found = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if !comm.starts_with("argon2-") {
                continue;
            }
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // Fields after the command's closing parenthesis: the state is
            // the 3rd field of the line, the nice value the 19th.
            let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
            if let Some(nice) = after.split(' ').nth(16).and_then(|n| n.parse().ok()) {
                found.push(nice);
            }
        }
        found
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn hashing_threads_give_way_to_the_rest_of_the_server() {
        let base: i64 = rustix::process::getpriority_process(None).unwrap().into();
        let _h = pool(2, 1);
        let lowered = i64::from(HASHING_NICENESS) + base;
        let mut seen = Vec::new();
        for _ in 0..200 {
            seen = hashing_niceness();
            if seen.len() >= 2 && seen.iter().all(|n| *n >= lowered) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("hashing threads at nice {seen:?}, expected {lowered}");
    }

    impl Hasher {
        fn submit_for_test(
            &self,
        ) -> Result<oneshot::Receiver<Result<String, HashError>>, HashError> {
            let (reply, rx) = oneshot::channel();
            self.submit(Job::Hashing(HashJob::Hash {
                password: pw("x"),
                reply,
            }))?;
            Ok(rx)
        }
    }
}
