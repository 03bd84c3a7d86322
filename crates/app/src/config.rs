//! Configuration: built-in defaults, then a TOML file, then `REGAIN_*`
//! environment variables, each layer overriding the one before. With nothing
//! set, Regain listens on 127.0.0.1:8080 and keeps everything in
//! `./regain-data/`. Every setting is listed in the README.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Every setting of a Regain process.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Address of the Prometheus endpoint (`GET /metrics`); unset means no
    /// metrics endpoint. Never served on the public listener.
    pub metrics_listen: Option<SocketAddr>,
    /// Folder for the SQLite database, the secret key and the file outbox.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty means SQLite in `data_dir`.
    pub database_url: String,
    /// The secret key file; empty means `secret.key` in `data_dir`. Every
    /// process serving one database must use the same key.
    pub secret_key_file: PathBuf,
    /// Most database connections this process opens.
    pub database_max_connections: u32,
    /// The base URL of every link the service sends. Never taken from
    /// request headers. Empty means `http://{listen}`.
    pub public_url: String,
    /// Proxies whose `X-Forwarded-For` is believed (CIDR blocks).
    pub trusted_proxies: Vec<IpNet>,
    /// `text` or `json` log lines.
    pub log_format: LogFormat,
    /// Argon2id parameters for new hashes.
    pub argon2: Argon2Config,
    /// The password-hashing pool.
    pub hashing: HashingConfig,
    /// Login sessions.
    pub session: SessionConfig,
    /// Failed-login throttling.
    pub login: LoginConfig,
    /// How messages are delivered.
    pub delivery: regain_delivery::DeliveryConfig,
    /// Graceful shutdown.
    pub shutdown: ShutdownConfig,
}

/// Graceful shutdown on SIGTERM or SIGINT.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ShutdownConfig {
    /// Seconds `/readyz` answers 503 before the listener closes, so load
    /// balancers stop routing here first.
    pub drain_seconds: u64,
    /// Seconds in-flight requests get to finish once the listener closed.
    pub timeout_seconds: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            drain_seconds: 1,
            timeout_seconds: 30,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// One JSON object per line.
    Json,
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Argon2Config {
    /// Memory in KiB (OWASP baseline 19456).
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

/// The bounded pool that runs Argon2id off the async executor.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct HashingConfig {
    /// Hashing threads; 0 means one per core.
    pub workers: usize,
    /// Requests allowed to wait for a thread; beyond it the answer is 503.
    pub queue: usize,
}

/// Login sessions.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Lifetime of a session.
    pub ttl_minutes: u32,
    /// Mark the session cookie `Secure`. Empty means: unless `public_url`
    /// is plain http on a loopback address.
    pub cookie_secure: Option<bool>,
}

/// Failed-login throttling per identifier, per account and per client IP.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct LoginConfig {
    /// Attempts per identifier within the window; the next one locks.
    pub max_failures: u32,
    /// Attempts per client address within the window (a success gives its
    /// attempt back); the next one locks.
    pub ip_max_failures: u32,
    /// The counting window.
    pub window_minutes: u32,
    /// The lock's length.
    pub lock_minutes: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_listen: None,
            data_dir: PathBuf::from("regain-data"),
            database_url: String::new(),
            secret_key_file: PathBuf::new(),
            database_max_connections: 16,
            public_url: String::new(),
            trusted_proxies: Vec::new(),
            log_format: LogFormat::Text,
            argon2: Argon2Config::default(),
            hashing: HashingConfig::default(),
            session: SessionConfig::default(),
            login: LoginConfig::default(),
            delivery: regain_delivery::DeliveryConfig::default(),
            shutdown: ShutdownConfig::default(),
        }
    }
}

impl Default for Argon2Config {
    fn default() -> Self {
        Argon2Config {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Default for HashingConfig {
    fn default() -> Self {
        HashingConfig {
            workers: 0,
            queue: 128,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            ttl_minutes: 12 * 60,
            cookie_secure: None,
        }
    }
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig {
            max_failures: 5,
            ip_max_failures: 50,
            window_minutes: 15,
            lock_minutes: 15,
        }
    }
}

/// Environment variables and the setting each one overrides.
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("REGAIN_LISTEN", "listen"),
    ("REGAIN_METRICS_LISTEN", "metrics_listen"),
    ("REGAIN_DATA_DIR", "data_dir"),
    ("REGAIN_DATABASE_URL", "database_url"),
    ("REGAIN_SECRET_KEY_FILE", "secret_key_file"),
    (
        "REGAIN_DATABASE_MAX_CONNECTIONS",
        "database_max_connections",
    ),
    ("REGAIN_PUBLIC_URL", "public_url"),
    ("REGAIN_TRUSTED_PROXIES", "trusted_proxies"),
    ("REGAIN_LOG_FORMAT", "log_format"),
    ("REGAIN_ARGON2_MEMORY_KIB", "argon2.memory_kib"),
    ("REGAIN_ARGON2_ITERATIONS", "argon2.iterations"),
    ("REGAIN_ARGON2_PARALLELISM", "argon2.parallelism"),
    ("REGAIN_HASHING_WORKERS", "hashing.workers"),
    ("REGAIN_HASHING_QUEUE", "hashing.queue"),
    ("REGAIN_SESSION_TTL_MINUTES", "session.ttl_minutes"),
    ("REGAIN_SESSION_COOKIE_SECURE", "session.cookie_secure"),
    ("REGAIN_LOGIN_MAX_FAILURES", "login.max_failures"),
    ("REGAIN_LOGIN_IP_MAX_FAILURES", "login.ip_max_failures"),
    ("REGAIN_LOGIN_WINDOW_MINUTES", "login.window_minutes"),
    ("REGAIN_LOGIN_LOCK_MINUTES", "login.lock_minutes"),
    ("REGAIN_SHUTDOWN_DRAIN_SECONDS", "shutdown.drain_seconds"),
    (
        "REGAIN_SHUTDOWN_TIMEOUT_SECONDS",
        "shutdown.timeout_seconds",
    ),
    ("REGAIN_DELIVERY_EMAIL", "delivery.email"),
    ("REGAIN_DELIVERY_SMS", "delivery.sms"),
    ("REGAIN_DELIVERY_FILE", "delivery.file"),
    (
        "REGAIN_DELIVERY_RETRY_HORIZON_MINUTES",
        "delivery.retry_horizon_minutes",
    ),
    (
        "REGAIN_DELIVERY_POLL_INTERVAL_MS",
        "delivery.poll_interval_ms",
    ),
    ("REGAIN_SMTP_HOST", "delivery.smtp.host"),
    ("REGAIN_SMTP_PORT", "delivery.smtp.port"),
    ("REGAIN_SMTP_SECURITY", "delivery.smtp.security"),
    ("REGAIN_SMTP_USERNAME", "delivery.smtp.username"),
    ("REGAIN_SMTP_PASSWORD", "delivery.smtp.password"),
    ("REGAIN_SMTP_FROM", "delivery.smtp.from"),
    ("REGAIN_SMS_HTTP_URL", "delivery.sms_http.url"),
    ("REGAIN_SMS_HTTP_SECRET", "delivery.sms_http.secret"),
];

/// Settings whose environment value is a comma-separated list.
const LIST_SETTINGS: &[&str] = &["trusted_proxies"];

/// Settings whose environment value is text even when it looks like a
/// number (`REGAIN_DATA_DIR=2024`).
const TEXT_SETTINGS: &[&str] = &[
    "metrics_listen",
    "delivery.email",
    "delivery.sms",
    "delivery.file",
    "delivery.smtp.host",
    "delivery.smtp.security",
    "delivery.smtp.username",
    "delivery.smtp.password",
    "delivery.smtp.from",
    "delivery.sms_http.url",
    "delivery.sms_http.secret",
    "listen",
    "data_dir",
    "database_url",
    "secret_key_file",
    "public_url",
    "log_format",
];

impl Config {
    /// Loads defaults, then `file` (if given), then the environment as read
    /// by `env`. Unknown keys and bad values are errors naming the setting.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Config> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("reading the configuration file {}", path.display())
                })?;
                toml::from_str::<toml::Table>(&text)
                    .with_context(|| format!("parsing the configuration file {}", path.display()))?
            }
            None => toml::Table::new(),
        };
        for (var, key) in ENV_OVERRIDES {
            if let Some(raw) = env(var) {
                set_path(&mut table, key, env_value(key, &raw));
            }
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .context("invalid configuration (check the file and the REGAIN_* variables)")?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every setting and reports every bad one, each naming the
    /// setting and its environment variable, so one start-up fixes them all.
    fn validate(&self) -> anyhow::Result<()> {
        use regain_delivery::config::{EmailSender, SmsSender};
        let mut problems: Vec<String> = Vec::new();
        let mut check = |ok: bool, key: &str, why: &str| {
            if !ok {
                problems.push(format!("{}: {why}", setting_name(key)));
            }
        };
        check(
            self.public_url.is_empty() || is_http_url(&self.public_url),
            "public_url",
            "must be an http:// or https:// URL with a host",
        );
        check(
            self.database_url.is_empty()
                || self.database_url.starts_with("sqlite:")
                || self.database_url.starts_with("postgres://")
                || self.database_url.starts_with("postgresql://"),
            "database_url",
            "must start with sqlite:, postgres:// or postgresql:// (or be empty for SQLite in data_dir)",
        );
        check(
            self.database_max_connections >= 1,
            "database_max_connections",
            "must be at least 1",
        );
        // OWASP's Argon2id floor: 7 MiB at least, and memory × passes no
        // less than the 19 MiB × 2 baseline (e.g. 46 MiB × 1, 12 MiB × 3).
        let work = u64::from(self.argon2.memory_kib) * u64::from(self.argon2.iterations);
        check(
            self.argon2.memory_kib >= 7168 && work >= 38_400,
            "argon2.memory_kib",
            "with argon2.iterations is below the OWASP baseline \
             (memory_kib >= 7168 and memory_kib x iterations >= 38400)",
        );
        check(
            self.argon2.parallelism >= 1,
            "argon2.parallelism",
            "must be at least 1",
        );
        check(
            self.hashing.queue >= 1,
            "hashing.queue",
            "must be at least 1",
        );
        check(
            self.session.cookie_secure != Some(false) || self.public_url_is_loopback_http(),
            "session.cookie_secure",
            "false is allowed only when public_url is plain http on a loopback address",
        );
        check(
            self.session.ttl_minutes >= 1,
            "session.ttl_minutes",
            "must be at least 1",
        );
        check(
            self.login.max_failures >= 1,
            "login.max_failures",
            "must be at least 1",
        );
        check(
            self.login.ip_max_failures >= 1,
            "login.ip_max_failures",
            "must be at least 1",
        );
        // The log sender prints codes: development on loopback only.
        let loopback = self.public_url_is_loopback_http();
        check(
            self.delivery.email != EmailSender::Log || loopback,
            "delivery.email",
            "\"log\" prints codes and is allowed only when public_url is plain http on loopback",
        );
        check(
            self.delivery.sms != SmsSender::Log || loopback,
            "delivery.sms",
            "\"log\" prints codes and is allowed only when public_url is plain http on loopback",
        );
        if self.delivery.email == EmailSender::Smtp {
            check(
                !self.delivery.smtp.host.trim().is_empty(),
                "delivery.smtp.host",
                "is required when delivery.email = \"smtp\"",
            );
            check(
                self.delivery.smtp.from.contains('@'),
                "delivery.smtp.from",
                "must be a sender address (e.g. \"Regain <no-reply@example.com>\")",
            );
        }
        if self.delivery.sms == SmsSender::SmsHttp {
            check(
                is_http_url(&self.delivery.sms_http.url),
                "delivery.sms_http.url",
                "is required when delivery.sms = \"sms_http\" and must be an http:// or https:// URL",
            );
            check(
                self.delivery.sms_http.secret.len() >= 16,
                "delivery.sms_http.secret",
                "is required when delivery.sms = \"sms_http\" (at least 16 characters; it signs every request)",
            );
        }
        // A send must end well inside the worker's 60 s lease, or another
        // process could claim the message and send it twice.
        check(
            (1..=30).contains(&self.delivery.smtp.timeout_secs),
            "delivery.smtp.timeout_secs",
            "ranges from 1 to 30 seconds",
        );
        check(
            (1..=30).contains(&self.delivery.sms_http.timeout_secs),
            "delivery.sms_http.timeout_secs",
            "ranges from 1 to 30 seconds",
        );
        if problems.is_empty() {
            Ok(())
        } else {
            anyhow::bail!(
                "invalid configuration ({} problem(s)):\n  - {}",
                problems.len(),
                problems.join("\n  - ")
            )
        }
    }

    /// The database URL in force: the configured one, or SQLite in `data_dir`.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("regain.db").display()
            )
        } else {
            self.database_url.clone()
        }
    }

    /// The secret key file in force.
    pub fn effective_secret_key_file(&self) -> PathBuf {
        if self.secret_key_file.as_os_str().is_empty() {
            self.data_dir.join("secret.key")
        } else {
            self.secret_key_file.clone()
        }
    }

    /// The public base URL in force, without a trailing slash.
    pub fn effective_public_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_url.trim_end_matches('/').to_string()
        }
    }

    /// Whether cookies get the `Secure` attribute.
    pub fn cookie_secure(&self) -> bool {
        self.session
            .cookie_secure
            .unwrap_or_else(|| !self.public_url_is_loopback_http())
    }

    fn public_url_is_loopback_http(&self) -> bool {
        let url = self.effective_public_url();
        let Some(rest) = url.strip_prefix("http://") else {
            return false;
        };
        let host = match rest.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => rest.split([':', '/']).next().unwrap_or_default(),
        };
        host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// Whether `peer` is a trusted proxy.
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }
}

fn env_value(key: &str, raw: &str) -> toml::Value {
    if LIST_SETTINGS.contains(&key) {
        return toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        );
    }
    if TEXT_SETTINGS.contains(&key) {
        return toml::Value::String(raw.to_string());
    }
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    if let Ok(b) = raw.parse::<bool>() {
        return toml::Value::Boolean(b);
    }
    toml::Value::String(raw.to_string())
}

fn set_path(table: &mut toml::Table, dotted: &str, value: toml::Value) {
    let mut parts: Vec<&str> = dotted.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut cursor = table;
    for part in parts {
        let entry = cursor
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        match entry {
            toml::Value::Table(t) => cursor = t,
            _ => return,
        }
    }
    cursor.insert(last.to_string(), value);
}

/// A setting as an operator can find it: its TOML key and, when it has one,
/// its environment variable.
fn setting_name(key: &str) -> String {
    match ENV_OVERRIDES.iter().find(|(_, k)| *k == key) {
        Some((var, _)) => format!("{key} ({var})"),
        None => key.to_string(),
    }
}

/// An absolute http(s) URL with a host.
fn is_http_url(text: &str) -> bool {
    reqwest::Url::parse(text)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_need_nothing() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            c.effective_database_url(),
            "sqlite://regain-data/regain.db?mode=rwc"
        );
        assert_eq!(c.effective_public_url(), "http://127.0.0.1:8080");
        assert_eq!(
            c.argon2,
            Argon2Config {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1
            }
        );
        assert!(!c.cookie_secure(), "plain http on loopback relaxes Secure");
    }

    #[test]
    fn every_bad_setting_is_named_once_with_its_variable() {
        let err = Config::load(
            None,
            env(&[
                ("REGAIN_PUBLIC_URL", "id.example.com"),
                ("REGAIN_DATABASE_URL", "mysql://db/regain"),
                ("REGAIN_DELIVERY_EMAIL", "smtp"),
                ("REGAIN_SMTP_HOST", " "),
                ("REGAIN_DELIVERY_SMS", "sms_http"),
                ("REGAIN_SMS_HTTP_URL", "not a url"),
                ("REGAIN_ARGON2_MEMORY_KIB", "1024"),
            ]),
        )
        .unwrap_err()
        .to_string();
        for expected in [
            "6 problem(s)",
            "public_url (REGAIN_PUBLIC_URL): must be an http:// or https:// URL",
            "database_url (REGAIN_DATABASE_URL): must start with sqlite:",
            "delivery.smtp.host (REGAIN_SMTP_HOST): is required when delivery.email = \"smtp\"",
            "delivery.sms_http.url (REGAIN_SMS_HTTP_URL): is required",
            "delivery.sms_http.secret (REGAIN_SMS_HTTP_SECRET): is required",
            "argon2.memory_kib (REGAIN_ARGON2_MEMORY_KIB): with argon2.iterations is below",
        ] {
            assert!(err.contains(expected), "{expected:?} in {err}");
        }
        assert_eq!(err.lines().count(), 7, "one line per problem: {err}");
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("regain.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\npublic_url = \"https://id.example.com/\"\n[argon2]\nmemory_kib = 65536\n[login]\nmax_failures = 3\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&path),
            env(&[
                ("REGAIN_LISTEN", "127.0.0.1:9100"),
                ("REGAIN_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1/32"),
                ("REGAIN_DATABASE_URL", "postgres://db/regain"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(c.argon2.memory_kib, 65536);
        assert_eq!(c.login.max_failures, 3);
        assert_eq!(c.effective_public_url(), "https://id.example.com");
        assert_eq!(c.effective_database_url(), "postgres://db/regain");
        assert!(c.is_trusted_proxy("10.1.2.3".parse().unwrap()));
        assert!(!c.is_trusted_proxy("11.1.2.3".parse().unwrap()));
        assert!(c.cookie_secure());
    }

    #[test]
    fn mistakes_are_reported_with_the_setting() {
        let err = Config::load(None, env(&[("REGAIN_LISTEN", "not an address")])).unwrap_err();
        assert!(format!("{err:#}").contains("listen"), "{err:#}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "lisen = \"x\"").unwrap();
        let err = Config::load(Some(&path), env(&[])).unwrap_err();
        assert!(format!("{err:#}").contains("lisen"), "{err:#}");
        assert!(Config::load(None, env(&[("REGAIN_PUBLIC_URL", "ftp://x")])).is_err());
        assert!(
            Config::load(None, env(&[("REGAIN_ARGON2_MEMORY_KIB", "1024")])).is_err(),
            "below OWASP"
        );
        let secure_off = [
            ("REGAIN_SESSION_COOKIE_SECURE", "false"),
            ("REGAIN_PUBLIC_URL", "http://id.example.com"),
        ];
        assert!(
            Config::load(None, env(&secure_off)).is_err(),
            "Secure is dropped on loopback only"
        );
        let c = Config::load(None, env(&[("REGAIN_DATA_DIR", "2024")])).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("2024"));
    }
}
