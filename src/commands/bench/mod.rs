//! `regain bench`: where the service stands against the machine's Argon2id
//! limit and its own HTTP floor, in one run.
//!
//! 1. the raw Argon2id limit (every core, outside the server); the reset
//!    and login steps run in rounds between measurements of it, and their
//!    ratios are the mean of the middle half of the rounds' (see
//!    [`bracket`]);
//! 2. the real server as a child process, a tenant with N accounts;
//! 3. `/healthz` under C clients (the HTTP floor); start, challenge and
//!    verify run in rounds between measurements of it, like the hashing
//!    steps between measurements of the limit;
//! 4. each recovery step in turn (start, challenge, verify, reset) and
//!    logins, C clients each, codes read from the file outbox; the cheap
//!    steps over up to ten times `--flows` flows, so that each lasts more
//!    than an instant;
//! 5. whole flows end to end; a sweep over client counts; a flood of
//!    concurrent logins with a `/healthz` probe;
//! 6. the figures as JSON and a chart (SVG).

mod api;
mod argon;
mod bracket;
mod chart;
mod load;
mod outbox;
mod scale;
mod server;
mod stats;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use regain_app::config::Config;
use regain_domain::identifiers::{Email, Username};
use regain_domain::password::Password;
use regain_domain::policy::presets::Preset;
use regain_domain::tenant::CaptchaMode;
use regain_store::{AuditEvent, NewAccount, Placement};
use serde_json::json;

use self::api::Api;
use self::load::{drive, timed, Outcome};
use self::outbox::Outbox;
use self::server::Server;
use self::stats::{Samples, Summary};
use super::progress::Progress;

#[derive(Args)]
pub struct BenchArgs {
    /// Accounts in the benchmark tenant.
    #[arg(long, default_value_t = 10_000)]
    accounts: usize,
    /// Concurrent clients for the per-step figures.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Recovery flows for reset, login and whole flows; start, challenge
    /// and verify run over up to ten times as many (as far as the
    /// accounts go).
    #[arg(long, default_value_t = 2_000)]
    flows: usize,
    /// Database to benchmark (default: a fresh SQLite database in --out).
    #[arg(long)]
    database_url: Option<String>,
    /// Folder for the results (bench.json, bench.svg) and the SQLite data.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// Concurrent logins in the flood.
    #[arg(long, default_value_t = 1_000)]
    flood: usize,
    /// Client counts of the throughput sweep.
    #[arg(long, default_value = "8,32,64,128", value_delimiter = ',')]
    sweep: Vec<usize>,
    /// The `regain` binary to serve from (default: this one): compares
    /// two builds of the server under the same client.
    #[arg(long)]
    server_binary: Option<PathBuf>,
}

const ORIGINAL_PASSWORD: &str = "Bench-original-pass-41";
/// 20 characters: the longest a password can be and still be looked up in
/// the common-password dictionary (longer ones cannot be an entry), so each
/// reset pays the dictionary check at its dearest.
const NEW_PASSWORD: &str = "Bench-renewed-pass-7";

/// Rounds of reset and login, each between two measurements of the raw
/// Argon2id limit of [`LIMIT_SECONDS`]. Nine: the limit swings by a tenth
/// from second to second on a shared machine, and every round averaged
/// narrows the ratio's spread between runs; two spoiled rounds at each end
/// are left out.
const HASH_ROUNDS: usize = 9;
const LIMIT_SECONDS: f64 = 2.0;
/// Rounds of start, challenge and verify, each between two measurements
/// of `/healthz`. Five rounds of each step (each a fraction of a second:
/// shorter ones would lose a larger share to the clients starting and
/// finishing together); the lowest and the highest are left out.
const CHEAP_ROUNDS: usize = 5;
/// The cheap steps run over this many flows per `--flows` (as far as the
/// accounts go).
const CHEAP_FLOWS_PER_FLOW: usize = 10;
/// `/healthz` requests per cheap-step request in a measurement of the
/// floor: about as long as the round it brackets.
const FLOOR_PER_STEP_REQUEST: usize = 4;

pub async fn run(config: Config, args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.clients >= 1 && args.flows >= 10,
        "--clients >= 1 and --flows >= 10"
    );
    let needed = args.flows * 2 + args.flows / 2;
    anyhow::ensure!(
        args.accounts >= needed,
        "--accounts must be at least {needed} for --flows {} (each measured flow uses its own account)",
        args.flows
    );
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let data = args.out.join("data");
    if args.database_url.is_none() && data.exists() {
        std::fs::remove_dir_all(&data).context("clearing the previous run's data")?;
    }
    let machine = machine_description();
    println!("regain bench on {machine}");

    // 1. The raw Argon2id limit.
    let (argon_per_second, cores) = argon::raw_limit(&config.argon2, 5.0)?;
    println!(
        "argon2id   raw limit {argon_per_second:.1} hashes/s on {cores} core(s) (m={} KiB, t={}, p={})",
        config.argon2.memory_kib, config.argon2.iterations, config.argon2.parallelism
    );

    // 2. The tenant and its accounts, written before the server starts.
    let mut setup = config.clone();
    setup.data_dir = data.clone();
    if let Some(url) = &args.database_url {
        setup.database_url = url.clone();
    }
    let tenant_slug = format!("bench-{}", random_suffix()?);
    let started = Instant::now();
    create_accounts(setup.clone(), &tenant_slug, args.accounts).await?;
    println!(
        "setup      {} accounts in {:.1} s (tenant {tenant_slug})",
        args.accounts,
        started.elapsed().as_secs_f64()
    );

    let outbox_path = data.join("bench-outbox.jsonl");
    let mut env = scale::server_env(&data);
    if let Some(url) = &args.database_url {
        env.push(("REGAIN_DATABASE_URL", url.clone()));
    }
    let server = Server::start(args.server_binary.as_deref(), &env)?;
    let outcome = measure(&args, &config, &server, &tenant_slug, &outbox_path).await;
    let peak_rss = server.peak_rss_mib();
    let outcome = match outcome {
        Ok(figures) if compares_scale(&args) => {
            let scale = scale_against_baseline(&args, &config, &server, &tenant_slug).await;
            scale.map(|s| Figures {
                scale: Some(s),
                ..figures
            })
        }
        other => other,
    };
    server.stop()?;
    let figures = outcome?;
    report(
        &args,
        &machine,
        argon_per_second,
        cores,
        &config,
        peak_rss,
        figures,
    )
}

/// Whether this run also compares `start` with a tenant of
/// [`scale::BASELINE_ACCOUNTS`] (SQLite: the baseline gets a database of
/// its own; a large tenant only, so that the accounts it uses are fresh).
fn compares_scale(args: &BenchArgs) -> bool {
    args.database_url.is_none() && args.accounts >= 10 * scale::BASELINE_ACCOUNTS
}

/// `start` on the large tenant's last, unused accounts against a second
/// server's tenant of [`scale::BASELINE_ACCOUNTS`], in alternating rounds.
async fn scale_against_baseline(
    args: &BenchArgs,
    config: &Config,
    server: &Server,
    tenant: &str,
) -> anyhow::Result<scale::Scale> {
    let slug = format!("bench-{}", random_suffix()?);
    let data = args.out.join("data-baseline");
    let baseline =
        scale::baseline_server(config, args.server_binary.as_deref(), &data, &slug).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(60))
        .build()?;
    let large = Api::new(http.clone(), &server.addr, tenant);
    let small = Api::new(http, &baseline.addr, &slug);
    let unused = (args.accounts - scale::BASELINE_ACCOUNTS..args.accounts).collect();
    let compared = scale::compare(&large, unused, &small, args.clients, args.accounts).await;
    baseline.stop()?;
    std::fs::remove_dir_all(&data).ok();
    let line = compared.line();
    println!("scale      {line}");
    Ok(compared)
}

/// What the measured phases produced.
struct Figures {
    /// Each step's ratio to its reference — the raw Argon2id limit for
    /// reset and login, `/healthz` for start, challenge and verify —
    /// measured in rounds between measurements of it (see [`bracket`]).
    ratios: BTreeMap<&'static str, bracket::Bracketed>,
    /// `/healthz` before the cheap steps.
    healthz: Summary,
    steps: Vec<Summary>,
    flows: Summary,
    sweep: Vec<Summary>,
    flood: serde_json::Value,
    flood_ok: bool,
    /// `start` against a tenant of 10,000 accounts, for a large tenant.
    scale: Option<scale::Scale>,
}

async fn measure(
    args: &BenchArgs,
    config: &Config,
    server: &Server,
    tenant: &str,
    outbox_path: &std::path::Path,
) -> anyhow::Result<Figures> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(60))
        .build()?;
    let api = Api::new(http.clone(), &server.addr, tenant);
    let outbox = Outbox::tail(outbox_path.to_path_buf());
    let c = args.clients;
    let k = args.flows;

    // The cheap steps run over more flows than the hashing ones: at tens
    // of thousands per second, `--flows` of them would pass in a tenth of
    // a second. Accounts [0, cheap) for them (the first `k` of their
    // flows are reset), [cheap, cheap + k/2) for whole flows, the rest
    // for logins.
    let cheap = (args.accounts - k - k / 2).min(CHEAP_FLOWS_PER_FLOW * k);
    let whole_from = cheap;
    let login_from = cheap + k / 2;

    // 3. The HTTP floor, alone first (its latencies), then between the
    // rounds of each cheap step.
    let url = format!("http://{}/healthz", server.addr);
    let healthz = shown(
        costed(
            server,
            "healthz",
            c,
            measure_floor(http.clone(), url.clone(), k * 5, c),
        )
        .await
        .0,
    );
    let per_floor = (cheap / CHEAP_ROUNDS * FLOOR_PER_STEP_REQUEST).max(c);
    let floor_now = || {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let (samples, _, wall) = measure_floor(http, url, per_floor, c).await;
            Ok(samples.ok.len() as f64 / wall.as_secs_f64().max(1e-9))
        }
    };
    let limit_now = || argon::limit_now(config.argon2, LIMIT_SECONDS);

    // 4. Each step in turn, over accounts 0..cheap.
    let mut steps = Vec::new();
    let mut ratios = BTreeMap::new();
    let accounts: Vec<usize> = (0..cheap).collect();
    let a = api.clone();
    let (summary, started, ratio) = bracket::measure(
        server,
        floor_now,
        CHEAP_ROUNDS,
        "start",
        accounts,
        c,
        move |client, i: &usize| {
            let (a, i) = (a.clone(), *i);
            timed(async move { a.start(client, &format!("u{i}")).await.map(|f| (i, f)) })
        },
    )
    .await?;
    steps.push(shown(summary));
    ratios.insert("start", ratio);
    let a = api.clone();
    let (summary, challenged, ratio) = bracket::measure(
        server,
        floor_now,
        CHEAP_ROUNDS,
        "challenge",
        started,
        c,
        move |client, (i, flow): &(usize, String)| {
            let (a, i, flow) = (a.clone(), *i, flow.clone());
            timed(async move { a.challenge(client, &flow).await.map(|()| (i, flow)) })
        },
    )
    .await?;
    steps.push(shown(summary));
    ratios.insert("challenge", ratio);
    let mut with_codes = Vec::with_capacity(challenged.len());
    for (i, flow) in challenged {
        if let Some(code) = outbox
            .code_for(&format!("u{i}@bench.example"), Duration::from_secs(60))
            .await
        {
            with_codes.push((i, flow, code));
        }
    }
    let a = api.clone();
    let (summary, mut verified, ratio) = bracket::measure(
        server,
        floor_now,
        CHEAP_ROUNDS,
        "verify",
        with_codes,
        c,
        move |client, (i, flow, code): &(usize, String, String)| {
            let (a, i, flow, code) = (a.clone(), *i, flow.clone(), code.clone());
            timed(async move { a.verify(client, &flow, &code).await.map(|t| (i, flow, t)) })
        },
    )
    .await?;
    steps.push(shown(summary));
    ratios.insert("verify", ratio);
    verified.truncate(k);
    let a = api.clone();
    let (reset, _, ratio) = bracket::measure(
        server,
        limit_now,
        HASH_ROUNDS,
        "reset",
        verified,
        c,
        move |client, (_, flow, token): &(usize, String, String)| {
            let (a, flow, token) = (a.clone(), flow.clone(), token.clone());
            timed(async move { a.reset(client, &flow, &token, NEW_PASSWORD).await })
        },
    )
    .await?;
    steps.push(shown(reset));
    ratios.insert("reset", ratio);
    let login_accounts: Vec<usize> = (0..k)
        .map(|n| login_from + n % (args.accounts - login_from))
        .collect();
    let a = api.clone();
    let (login, _, ratio) = bracket::measure(
        server,
        limit_now,
        HASH_ROUNDS,
        "login",
        login_accounts.clone(),
        c,
        move |client, i: &usize| log_in(a.clone(), client, *i),
    )
    .await?;
    steps.push(shown(login));
    ratios.insert("login", ratio);

    // 5a. Whole flows, end to end.
    let a = api.clone();
    let ob = outbox.clone();
    let whole: Vec<usize> = (whole_from..login_from).collect();
    let (samples, _, wall) = drive(whole, c, move |client, i| {
        let (a, ob, i) = (a.clone(), ob.clone(), *i);
        timed(async move { whole_flow(&a, &ob, client, i).await })
    })
    .await;
    let flows = Summary::of("flow", c, samples, wall);
    println!("{}", flows.line());
    outbox.stop();

    // 5b. Throughput against the number of clients.
    let mut sweep = Vec::new();
    for &clients in &args.sweep {
        sweep.push(login_step(&api, login_accounts[..k / 2].to_vec(), clients).await);
        let a = api.clone();
        let items: Vec<usize> = login_accounts[..k / 2].to_vec();
        let (samples, _, wall) = drive(items, clients, move |client, i| {
            let (a, i) = (a.clone(), *i);
            timed(async move { a.start(client, &format!("u{i}")).await.map(|_| ()) })
        })
        .await;
        sweep.push(Summary::of("start", clients, samples, wall));
    }
    for s in &sweep {
        println!("sweep      {}", s.line());
    }

    // 5c. The flood.
    let (flood, flood_ok) = flood(&api, &http, server, args.flood, &login_accounts).await;
    println!("flood      {flood}");
    Ok(Figures {
        ratios,
        healthz,
        steps,
        flows,
        sweep,
        flood,
        flood_ok,
        scale: None,
    })
}

async fn login_step(api: &Api, accounts: Vec<usize>, clients: usize) -> Summary {
    let a = api.clone();
    let (samples, _, wall) = drive(accounts, clients, move |client, i| {
        log_in(a.clone(), client, *i)
    })
    .await;
    Summary::of("login", clients, samples, wall)
}

/// One timed log-on of account `i` with its original password.
async fn log_in(api: Api, client: usize, i: usize) -> Outcome<()> {
    timed(async move { api.login(client, &format!("u{i}"), ORIGINAL_PASSWORD).await }).await
}

/// Start → challenge → read the code → verify → reset → log in.
async fn whole_flow(api: &Api, outbox: &Outbox, client: usize, i: usize) -> Result<(), u16> {
    let flow = api.start(client, &format!("u{i}")).await?;
    api.challenge(client, &flow).await?;
    let code = outbox
        .code_for(&format!("u{i}@bench.example"), Duration::from_secs(60))
        .await
        .ok_or(0u16)?;
    let token = api.verify(client, &flow, &code).await?;
    api.reset(client, &flow, &token, NEW_PASSWORD).await?;
    api.login(client, &format!("u{i}"), NEW_PASSWORD).await
}

/// `s`, printed as it is measured (a run takes minutes).
fn shown(s: Summary) -> Summary {
    println!("{}", s.line());
    s
}

/// `/healthz` with `clients` clients over `n` requests: the HTTP floor.
/// The machine's speed drifts by tens of percent within seconds (seen
/// here: 23,400 to 31,600/s within five seconds), so the floor is measured
/// between the rounds of each step it is compared with.
async fn measure_floor(
    http: reqwest::Client,
    url: String,
    n: usize,
    clients: usize,
) -> (Samples, Vec<()>, Duration) {
    drive(vec![(); n], clients, move |_, ()| {
        let (http, url) = (http.clone(), url.clone());
        timed(async move {
            let r = http.get(url).send().await.map_err(|_| 0u16)?;
            if r.status().is_success() {
                Ok(())
            } else {
                Err(r.status().as_u16())
            }
        })
    })
    .await
}

/// Runs a measured `step` and summarizes it as `name`, with what it cost
/// the server and the benchmark meanwhile; the step's results.
async fn costed<T>(
    server: &Server,
    name: &str,
    clients: usize,
    step: impl std::future::Future<Output = (Samples, Vec<T>, Duration)>,
) -> (Summary, Vec<T>) {
    let before = server.cpu_mark();
    let (samples, results, wall) = step.await;
    let mut spent = server::CpuSpent::default();
    spent.add(&before, &server.cpu_mark());
    let summary = Summary::of(name, clients, samples, wall).costing(&spent);
    (summary, results)
}

/// `n` logins at once, a `/healthz` probe every 20 ms meanwhile, and one
/// ordinary login right after.
async fn flood(
    api: &Api,
    http: &reqwest::Client,
    server: &Server,
    n: usize,
    accounts: &[usize],
) -> (serde_json::Value, bool) {
    let url = format!(
        "http://{}/api/v1/t/{}/sessions",
        server.addr,
        api_tenant(api)
    );
    let probe_url = format!("http://{}/healthz", server.addr);
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap_or_else(|_| http.clone());
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n + 1));
    let tasks: Vec<_> = (0..n)
        .map(|k| {
            let (client, url, barrier) = (fresh.clone(), url.clone(), barrier.clone());
            let user = format!("u{}", accounts[k % accounts.len()]);
            tokio::spawn(async move {
                barrier.wait().await;
                let response = client
                    .post(url)
                    .header("x-forwarded-for", format!("10.200.{}.{}", k / 256, k % 256))
                    .json(&json!({"identifier": user, "password": ORIGINAL_PASSWORD}))
                    .send()
                    .await;
                match response {
                    Ok(r) => (r.status().as_u16(), r.headers().contains_key("retry-after")),
                    Err(_) => (0, false),
                }
            })
        })
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = probe_meanwhile(probe_url, stop.clone());
    let started = Instant::now();
    barrier.wait().await;
    let mut by_status = std::collections::BTreeMap::<u16, u64>::new();
    let mut refused_without_retry_after = 0u64;
    for t in tasks {
        if let Ok((status, retry_after)) = t.await {
            *by_status.entry(status).or_default() += 1;
            if matches!(status, 429 | 503) && !retry_after {
                refused_without_retry_after += 1;
            }
        }
    }
    let flood_seconds = started.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    // The probe's thread ends within one pause and one request.
    let probe = tokio::task::spawn_blocking(move || probe.join().unwrap_or_default())
        .await
        .unwrap_or_default();
    let probe_errors = probe.errors;
    let probe_summary = Summary::of("healthz", 1, probe, Duration::from_secs(1));
    let after = api
        .login(0, &format!("u{}", accounts[0]), ORIGINAL_PASSWORD)
        .await;
    let refused: u64 = by_status
        .iter()
        .filter(|(s, _)| matches!(s, 429 | 503))
        .map(|(_, n)| n)
        .sum();
    let bad_5xx: u64 = by_status
        .iter()
        .filter(|(s, _)| **s >= 500 && **s != 503)
        .map(|(_, n)| n)
        .sum();
    let transport_errors = by_status.get(&0).copied().unwrap_or(0);
    let healthz_max_ms = probe_summary.p99_ms.max(probe_summary.p95_ms);
    let ok = bad_5xx == 0
        && transport_errors == 0
        && refused_without_retry_after == 0
        && probe_errors == 0
        && healthz_max_ms <= 100.0
        && after.is_ok();
    (
        json!({
            "logins": n,
            "seconds": flood_seconds,
            "by_status": by_status.iter().map(|(s, n)| (s.to_string(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
            "refused_share": refused as f64 / n as f64,
            "refused_without_retry_after": refused_without_retry_after,
            "other_5xx": bad_5xx,
            "transport_errors": transport_errors,
            "healthz_during_flood_ms": {"p50": probe_summary.p50_ms, "p99": probe_summary.p99_ms, "probes": probe_summary.requests, "failed": probe_errors},
            "login_right_after": if after.is_ok() { "ok".to_string() } else { format!("{after:?}") },
            "peak_rss_mib_so_far": server.peak_rss_mib(),
        }),
        ok,
    )
}

/// Asks `/healthz` every 20 ms until `stop`, as a load balancer's health
/// check would: from a thread and a runtime of its own, so that its
/// timings are the server's answer and not its wait behind the flood's
/// own tasks in this process's queue (there, one full run read a probe at
/// 220 ms where the others read 15–25 ms).
fn probe_meanwhile(
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Samples> {
    std::thread::spawn(move || {
        let mut samples = Samples::default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let (Ok(runtime), Ok(http)) = (runtime, reqwest::Client::builder().build()) else {
            samples.errors += 1;
            return samples;
        };
        runtime.block_on(async {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                match http.get(&url).timeout(Duration::from_secs(5)).send().await {
                    Ok(r) if r.status().is_success() => samples.ok.push(started.elapsed()),
                    _ => samples.errors += 1,
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        samples
    })
}

fn api_tenant(api: &Api) -> String {
    api.tenant()
}

async fn create_accounts(config: Config, slug: &str, n: usize) -> anyhow::Result<()> {
    let app = crate::runtime::open_app(config).await?;
    let mut tenant = app
        .create_tenant(slug, "Benchmark", Preset::Cloud)
        .await
        .map_err(super::account::explain)?;
    tenant.settings.captcha = CaptchaMode::Off;
    // Every client has its own address; no client comes near a limit, as
    // in a real crowd of people, so the figures show the work, not refusals.
    tenant.settings.recovery.requests_per_ip = 1_000_000;
    tenant.settings.recovery.requests_per_identifier = 1_000;
    app.store
        .set_tenant_settings(tenant.id, &tenant.settings)
        .await?;
    // One Argon2id operation per reset: no history to check.
    let mut policy = tenant.policy.clone();
    policy.history_depth = 0;
    app.set_tenant_policy(&tenant, &policy)
        .await
        .map_err(super::account::explain)?;
    let hash = app
        .hasher
        .hash(Password::parse(ORIGINAL_PASSWORD.into())?)
        .await?;
    let mut progress = Progress::new("accounts", n as u64);
    let chunk = 20_000;
    let mut done = 0;
    while done < n {
        let upto = (done + chunk).min(n);
        let rows: Vec<NewAccount> = (done..upto)
            .map(|i| {
                Ok(NewAccount {
                    tenant_id: tenant.id,
                    placement: Placement::Root(regain_domain::account::AccountKind::Individual),
                    username: Username::parse(&format!("u{i}"))?,
                    display_name: None,
                    email: Some(Email::parse(&format!("u{i}@bench.example"))?),
                    email_verified: true,
                    phone: None,
                    phone_verified: false,
                    password_hash: Some(hash.clone()),
                    must_change_password: false,
                    locale: "en".into(),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let event = AuditEvent::new(
            Some(tenant.id),
            "account.import",
            "operator",
            "bench",
            "-",
            "success",
        );
        let base = done;
        app.store
            .import_accounts(tenant.id, &rows, 1, &event, app.clock.now(), &mut |k| {
                progress.set((base + k) as u64);
            })
            .await?;
        done = upto;
    }
    progress.finish();
    app.store.close().await;
    Ok(())
}

fn report(
    args: &BenchArgs,
    machine: &str,
    argon_per_second: f64,
    cores: usize,
    config: &Config,
    peak_rss: f64,
    f: Figures,
) -> anyhow::Result<()> {
    let step = |name: &str| f.steps.iter().find(|s| s.step == name);
    let ratio = |name: &str| f.ratios.get(name).map_or(0.0, |b| b.ratio);
    let cheap_ok = ["start", "challenge", "verify"]
        .iter()
        .all(|n| step(n).is_some_and(|s| ratio(n) >= 0.25 && s.p99_ms <= 25.0 && s.errors == 0));
    let mut targets = json!({
        "login_vs_argon2_at_least_0.90": ratio("login") >= 0.90,
        "reset_vs_argon2_at_least_0.90": ratio("reset") >= 0.90,
        "start_challenge_verify_vs_healthz_at_least_0.25_p99_25ms_no_errors": cheap_ok,
        "flood_peak_rss_at_most_300_mib": peak_rss <= 300.0,
        "flood_healthz_and_statuses": f.flood_ok,
    });
    if let Some(scale) = &f.scale {
        targets["start_p50_within_1.5x_of_10000_accounts"] =
            json!(scale.p50_ratio <= 1.5 && scale.large.errors == 0 && scale.baseline.errors == 0);
    }
    let document = json!({
        "machine": machine,
        "cores": cores,
        "backend": if args.database_url.is_some() { "postgres" } else { "sqlite" },
        "accounts": args.accounts,
        "clients": args.clients,
        "flows": args.flows,
        "argon2": {"memory_kib": config.argon2.memory_kib, "iterations": config.argon2.iterations, "parallelism": config.argon2.parallelism, "raw_hashes_per_second": argon_per_second},
        "healthz": f.healthz,
        "steps": f.steps,
        "whole_flows": f.flows,
        "ratios": {
            "login_vs_argon2": ratio("login"),
            "reset_vs_argon2": ratio("reset"),
            "start_vs_healthz": ratio("start"),
            "challenge_vs_healthz": ratio("challenge"),
            "verify_vs_healthz": ratio("verify"),
        },
        "rounds": f.ratios,
        "sweep": f.sweep,
        "flood": f.flood,
        "peak_rss_mib": peak_rss,
        "scale": f.scale,
        "targets_met": targets,
    });
    println!();
    println!(
        "whole flows {:.1}/s (start → challenge → code → verify → reset → login)",
        f.flows.per_second
    );
    for (n, reference) in [
        ("login", "argon2 limit"),
        ("reset", "argon2 limit"),
        ("start", "/healthz"),
        ("challenge", "/healthz"),
        ("verify", "/healthz"),
    ] {
        if let Some(b) = f.ratios.get(n) {
            println!("{:<22} {}", format!("{n} ÷ {reference}"), b.line());
        }
    }
    println!("peak RSS of the server {peak_rss:.1} MiB");
    println!("targets met: {}", serde_json::to_string_pretty(&targets)?);
    let json_path = args.out.join("bench.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&document)?)?;
    let chart_path = args.out.join("bench.svg");
    let mut latency_steps = f.steps.clone();
    latency_steps.push(f.healthz.clone());
    chart::draw(&chart_path, &latency_steps, &f.sweep)?;
    println!("wrote {} and {}", json_path.display(), chart_path.display());
    Ok(())
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
        })
        .map_or_else(String::new, |kib| {
            format!(", {:.0} GiB", kib as f64 / 1048576.0)
        });
    let memory_note = if server::can_read_memory() {
        ""
    } else {
        " (no /proc: RSS not measured)"
    };
    format!("{cpu}, {cores} core(s){memory}{memory_note}")
}

fn random_suffix() -> anyhow::Result<String> {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random: {e}"))?;
    Ok(hex::encode(bytes))
}
