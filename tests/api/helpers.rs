//! `TestApp`: a fresh database and a real server per test.

use std::net::SocketAddr;
use std::sync::Arc;

use regain_app::accounts::AccountSpec;
use regain_app::config::Config;
use regain_app::secret_key::SecretKey;
use regain_app::App;
use regain_delivery::config::{EmailSender, SmsSender};
use regain_domain::account::{AccountKind, Role};
use regain_domain::clock::{ManualClock, Timestamp};
use regain_domain::password::Password;
use regain_domain::policy::presets::Preset;
use regain_domain::tenant::{CaptchaMode, TenantSettings};
use regain_store::{Account, Store, Tenant};
use serde_json::{json, Value};

use crate::peers::{SmsGateway, SmtpSink};

/// Runs each listed test once per backend: `sqlite::name` and `postgres::name`.
macro_rules! backend_tests {
    ($(
        $(#[$meta:meta])*
        async fn $name:ident($backend:ident: Backend) $body:block
    )*) => {
        $(
            $(#[$meta])*
            async fn $name($backend: $crate::helpers::Backend) $body
        )*
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(backend) = $crate::helpers::Backend::postgres() {
                        super::$name(backend).await
                    }
                }
            )*
        }
    };
}

/// Which database a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// PostgreSQL from REGAIN_TEST_DATABASE_URL. Without it the PostgreSQL
    /// variants are skipped, except under CI, where skipping would hide a
    /// broken backend.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("REGAIN_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI=true but REGAIN_TEST_DATABASE_URL is not set")
            }
            _ => {
                eprintln!("skipped: set REGAIN_TEST_DATABASE_URL to run the PostgreSQL variant");
                None
            }
        }
    }

    /// A database URL for a fresh, empty database of this backend. `dir`
    /// holds the SQLite file; PostgreSQL gets a new schema.
    pub async fn fresh_url(&self, dir: &std::path::Path) -> String {
        match self {
            Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("regain.db").display()),
            Backend::Postgres(base) => {
                use sqlx::Connection;
                let schema = format!("t_{}", random_hex(8));
                let mut conn = sqlx::PgConnection::connect(base)
                    .await
                    .expect("connect to PostgreSQL");
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut conn)
                    .await
                    .expect("create schema");
                let sep = if base.contains('?') { '&' } else { '?' };
                format!("{base}{sep}options=-c%20search_path%3D{schema}")
            }
        }
    }
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).unwrap();
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A running server with its own database, a clock the test controls, and
/// its own SMTP server and SMS gateway on loopback.
pub struct TestApp {
    pub addr: SocketAddr,
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    pub tenant: Tenant,
    pub smtp: SmtpSink,
    pub sms: SmsGateway,
    /// The metrics listener (separate from the public one).
    pub metrics_addr: SocketAddr,
    /// The server key, as hex.
    pub secret_hex: String,
    _dir: tempfile::TempDir,
}

/// The password given to accounts created by [`TestApp::account`].
pub const PASSWORD: &str = "Tulip-ferry-42";

pub const START: Timestamp = Timestamp(1_800_000_000);

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |_| {}).await
    }

    /// Spawns with settings adjusted by `tweak`; the tenant `acme` exists
    /// with the cloud preset and no CAPTCHA. Email goes to the test's SMTP
    /// server, SMS to its gateway; the delivery worker runs.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let smtp = SmtpSink::start().await;
        let sms = SmsGateway::start().await;
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            database_url: backend.fresh_url(dir.path()).await,
            ..Config::default()
        };
        config.hashing.workers = 2;
        config.delivery.email = EmailSender::Smtp;
        config.delivery.smtp.port = smtp.port;
        config.delivery.smtp.timeout_secs = 2;
        config.delivery.sms = SmsSender::SmsHttp;
        config.delivery.sms_http.url = sms.url.clone();
        config.delivery.sms_http.secret = sms.secret.clone();
        config.delivery.poll_interval_ms = 50;
        tweak(&mut config);
        let store = Store::connect(&config.effective_database_url(), 8)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let clock = Arc::new(ManualClock::new(START));
        let secret_hex = random_hex(32);
        let secret = SecretKey::from_hex(&secret_hex).unwrap();
        let app = App::new(store, clock.clone(), config, secret).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = app.clone();
        tokio::spawn(async move {
            regain_http::serve(listener, served, std::future::pending())
                .await
                .unwrap();
        });
        let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics_addr = metrics_listener.local_addr().unwrap();
        let metrics_router = regain_http::metrics_router(app.clone());
        tokio::spawn(async move {
            regain_http::serve_router(metrics_listener, metrics_router)
                .await
                .unwrap();
        });
        let worker = app.delivery_worker().unwrap();
        tokio::spawn(worker.run(std::future::pending()));
        let mut tenant = app
            .create_tenant("acme", "Acme", Preset::Cloud)
            .await
            .unwrap();
        tenant.settings.captcha = CaptchaMode::Off;
        app.store
            .set_tenant_settings(tenant.id, &tenant.settings)
            .await
            .unwrap();
        TestApp {
            addr,
            app,
            clock,
            http: reqwest::Client::new(),
            tenant,
            smtp,
            sms,
            metrics_addr,
            secret_hex,
            _dir: dir,
        }
    }

    /// Changes the tenant's settings.
    pub async fn settings(&mut self, change: impl FnOnce(&mut TenantSettings)) {
        change(&mut self.tenant.settings);
        self.app
            .store
            .set_tenant_settings(self.tenant.id, &self.tenant.settings)
            .await
            .unwrap();
    }

    /// POSTs JSON to `path`; returns status, body and headers.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value, reqwest::header::HeaderMap) {
        let res = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        (status, res.json().await.unwrap_or(Value::Null), headers)
    }

    /// Sends `method` to `path` with a bearer token and an optional JSON
    /// body; returns status and body.
    pub async fn authed(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The actions of the tenant's audit events, oldest first.
    pub async fn audit_actions(&self) -> Vec<String> {
        let mut rows = self
            .app
            .store
            .audit_events(Some(self.tenant.id), None, 10_000)
            .await
            .unwrap();
        rows.reverse();
        rows.into_iter().map(|r| r.event.action).collect()
    }

    /// GETs `path`.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let res = self.http.get(self.url(path)).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Starts a recovery (CAPTCHA off) and returns the answer.
    pub async fn start_recovery(&self, identifier: &str) -> (u16, Value) {
        let (status, body, _) = self
            .post(
                &format!("/api/v1/t/{}/recovery", self.tenant.slug),
                json!({"identifier": identifier}),
            )
            .await;
        (status, body)
    }

    /// The flow's status once the outbox worker has settled its last
    /// message (the SMTP peer can hold the message a moment before the
    /// worker records it as sent).
    pub async fn status_after_delivery(&self, flow: &str) -> Value {
        let url = format!("/api/v1/t/acme/recovery/{flow}");
        for _ in 0..200 {
            let (_, body) = self.get(&url).await;
            if body["delivery"]["state"] != "queued" {
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        self.get(&url).await.1
    }

    /// POSTs to a step of a flow: `challenge`, `resend`, `verify`, `reset`.
    pub async fn step(
        &self,
        flow: &str,
        step: &str,
        body: Value,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        self.post(
            &format!("/api/v1/t/{}/recovery/{flow}/{step}", self.tenant.slug),
            body,
        )
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Creates an account: `name` is `root` or `parent/.../child`; roots are
    /// enterprises, sub-accounts members. Password [`PASSWORD`].
    pub async fn account(&self, name: &str, email: Option<&str>, phone: Option<&str>) -> Account {
        self.account_in(&self.tenant, name, email, phone, false)
            .await
    }

    /// Creates an individual's root account (roots are enterprises
    /// otherwise) with a verified email.
    pub async fn individual(&self, name: &str, email: Option<&str>) -> Account {
        let spec = AccountSpec {
            parent: None,
            kind: Some(AccountKind::Individual),
            role: None,
            username: name.to_string(),
            display_name: None,
            email: email.map(String::from),
            phone: None,
            password: Some(Password::parse(PASSWORD.into()).unwrap()),
            must_change_password: false,
            locale: None,
            contacts_verified: true,
        };
        self.app.create_account(&self.tenant, spec).await.unwrap()
    }

    /// Creates an admin sub-account `parent/…/name` with password [`PASSWORD`].
    pub async fn admin(&self, name: &str, email: Option<&str>) -> Account {
        let (parent, username) = name.rsplit_once('/').unwrap();
        let spec = AccountSpec {
            parent: Some(parent.to_string()),
            kind: None,
            role: Some(Role::Admin),
            username: username.to_string(),
            display_name: None,
            email: email.map(String::from),
            phone: None,
            password: Some(Password::parse(PASSWORD.into()).unwrap()),
            must_change_password: false,
            locale: None,
            contacts_verified: true,
        };
        self.app.create_account(&self.tenant, spec).await.unwrap()
    }

    pub async fn account_in(
        &self,
        tenant: &Tenant,
        name: &str,
        email: Option<&str>,
        phone: Option<&str>,
        must_change: bool,
    ) -> Account {
        let (parent, username) = match name.rsplit_once('/') {
            Some((p, u)) => (Some(p.to_string()), u.to_string()),
            None => (None, name.to_string()),
        };
        let root = parent.is_none();
        let spec = AccountSpec {
            parent,
            kind: root.then_some(AccountKind::Enterprise),
            role: (!root).then_some(Role::Member),
            username,
            display_name: None,
            email: email.map(String::from),
            phone: phone.map(String::from),
            password: Some(Password::parse(PASSWORD.into()).unwrap()),
            must_change_password: must_change,
            locale: None,
            contacts_verified: true,
        };
        self.app.create_account(tenant, spec).await.unwrap()
    }

    /// POST /sessions; returns (status, body, headers).
    pub async fn login(
        &self,
        identifier: &str,
        password: &str,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        self.login_from(identifier, password, None).await
    }

    pub async fn login_from(
        &self,
        identifier: &str,
        password: &str,
        forwarded_for: Option<&str>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut req = self
            .http
            .post(self.url(&format!("/api/v1/t/{}/sessions", self.tenant.slug)))
            .json(&json!({"identifier": identifier, "password": password}));
        if let Some(xff) = forwarded_for {
            req = req.header("x-forwarded-for", xff);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.json::<Value>().await.unwrap_or(Value::Null);
        (status, body, headers)
    }

    /// Logs in and returns the session token.
    pub async fn token(&self, identifier: &str, password: &str) -> String {
        let (status, body, _) = self.login(identifier, password).await;
        assert_eq!(status, 201, "login failed: {body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// GET sessions/current with a bearer token.
    pub async fn current(&self, token: &str) -> (u16, Value) {
        let res = self
            .http
            .get(self.url(&format!("/api/v1/t/{}/sessions/current", self.tenant.slug)))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// POST /password with a bearer token.
    pub async fn change_password(&self, token: &str, current: &str, new: &str) -> (u16, Value) {
        let res = self
            .http
            .post(self.url(&format!("/api/v1/t/{}/password", self.tenant.slug)))
            .bearer_auth(token)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// The codes of a policy-violation answer.
pub fn violation_codes(body: &Value) -> Vec<String> {
    body["error"]["violations"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .map(|v| v["code"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}
