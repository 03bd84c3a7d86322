//! Prometheus metrics. Labels come from small fixed sets (outcomes, route
//! templates, channels, rule names): never an identifier, a tenant-supplied
//! string or a secret.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle (`None`
/// if another recorder was installed first).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                        10.0, 60.0,
                    ],
                )
                .ok()?;
            let handle = builder.install_recorder().ok()?;
            describe();
            // Histograms accumulate samples until upkeep folds them in;
            // without a scraper that would grow without bound.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    upkeep.run_upkeep();
                });
            Some(handle)
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "regain_http_requests_total",
        "HTTP requests by route template, method and status class"
    );
    describe_histogram!(
        "regain_http_request_duration_seconds",
        "HTTP request latency by route template"
    );
    describe_counter!("regain_logins_total", "Login attempts by outcome");
    describe_counter!(
        "regain_recovery_steps_total",
        "Recovery steps by step and outcome"
    );
    describe_counter!(
        "regain_deliveries_total",
        "Delivery attempts by channel and outcome"
    );
    describe_histogram!(
        "regain_delivery_latency_seconds",
        "Time from queueing to delivery, by channel"
    );
    describe_gauge!(
        "regain_outbox_queue_depth",
        "Messages waiting to be delivered"
    );
    describe_gauge!(
        "regain_hashing_queue_depth",
        "Password hashes waiting for a thread"
    );
    describe_histogram!(
        "regain_hashing_wait_seconds",
        "Time a password hash waited for a thread"
    );
    describe_counter!(
        "regain_rate_limit_rejections_total",
        "Requests refused by a rate limit, by rule"
    );
    describe_gauge!(
        "regain_db_pool_connections",
        "Database connections by state"
    );
}

/// A login's outcome.
pub fn login(outcome: &'static str) {
    metrics::counter!("regain_logins_total", "outcome" => outcome).increment(1);
}

/// A recovery step's outcome.
pub fn recovery_step(step: &'static str, outcome: &'static str) {
    metrics::counter!("regain_recovery_steps_total", "step" => step, "outcome" => outcome)
        .increment(1);
}

/// A refusal by the rate limit whose key starts with `key`'s prefix.
pub fn rate_limited(key: &str) {
    let rule = match key.split(':').take(2).collect::<Vec<_>>().as_slice() {
        ["login", "ip"] => "login_ip",
        ["login", "id"] => "login_identifier",
        ["password", _] => "password_change",
        ["recovery", "ip"] => "recovery_ip",
        ["recovery", "id"] => "recovery_identifier",
        ["reminder", _] => "reminder_contact",
        ["captcha", _] => "captcha_ip",
        ["dest", _] => "destination",
        _ => "other",
    };
    metrics::counter!("regain_rate_limit_rejections_total", "rule" => rule).increment(1);
}

/// The outcome class of an application error, for step counters.
pub fn outcome_of(e: &crate::AppError) -> &'static str {
    use crate::AppError;
    match e {
        AppError::Throttled { .. } | AppError::DestinationLimit { .. } => "throttled",
        AppError::InvalidCredentials | AppError::CaptchaInvalid | AppError::ResetTokenInvalid => {
            "wrong_secret"
        }
        AppError::Recovery(regain_domain::recovery::FlowError::WrongCode { .. })
        | AppError::Recovery(regain_domain::recovery::FlowError::ContactMismatch { .. }) => {
            "wrong_secret"
        }
        AppError::Busy => "busy",
        AppError::Internal(_) => "error",
        _ => "denied",
    }
}
