//! The `regain` binary itself: the README's run command on embedded
//! defaults, the operator commands, and logs free of secrets.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_regain");

/// Runs `regain args…` in `cwd` with only `env` set, feeding `stdin`.
pub(crate) fn regain(cwd: &Path, env: &[(&str, &str)], args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_on_embedded_defaults_and_logs_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing configured but a free port (the default 8080 may be taken).
    let env = [("REGAIN_LISTEN", "127.0.0.1:0"), ("REGAIN_LOG", "debug")];
    let demo = regain(dir.path(), &env, &["demo"], "");
    assert!(demo.status.success(), "{}", text(&demo.stderr));
    assert!(
        !text(&demo.stderr).contains("-7Q"),
        "the demo password goes to stdout only"
    );
    let out = text(&demo.stdout);
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("password is:"))
        .expect("the demo prints the password");
    let password = lines[at + 2].trim().to_string();
    assert!(out.contains("acme/mail/postmaster") && out.contains("alice/ci-bot"));

    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .envs(env)
        .stderr(Stdio::from(log))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let addr = wait_for_address(&log_path);

    let http = reqwest::Client::new();
    let health = http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let res = http
        .post(format!("http://{addr}/api/v1/t/demo/sessions"))
        .json(&json!({"identifier": "acme/bob", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: serde_json::Value = res.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    let new_password = "Brand-new-secret-93";
    let res = http
        .post(format!("http://{addr}/api/v1/t/demo/password"))
        .bearer_auth(&token)
        .json(&json!({"current_password": password, "new_password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = http
        .get(format!("http://{addr}/api/v1/t/demo/sessions/current"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let wrong = http
        .post(format!("http://{addr}/api/v1/t/demo/sessions"))
        .json(&json!({"identifier": "alice", "password": "Not-the-right-one-9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    // Everything lives in ./regain-data; the key is private.
    let data = dir.path().join("regain-data");
    assert!(data.join("regain.db").exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.join("secret.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // SIGTERM stops it gracefully.
    let killed = Command::new("kill")
        .arg(server.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let status = server.wait().unwrap();
    assert!(status.success(), "graceful exit, got {status}");

    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("login") && logs.contains("outcome"),
        "the run was logged"
    );
    assert!(
        logs.contains(&format!("id={request_id}")),
        "log lines carry the request id"
    );
    for secret in [
        password.as_str(),
        token.as_str(),
        "Not-the-right-one-9",
        new_password,
    ] {
        assert!(!logs.contains(secret), "a secret leaked into the logs");
    }
    let key = std::fs::read_to_string(data.join("secret.key")).unwrap();
    assert!(!logs.contains(key.trim()));
}

/// The address in the server's "regain is serving" line, as soon as that
/// line is whole in `log` (looked for every millisecond: a test can act
/// the moment the server announces itself).
fn wait_for_address(log: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(log) {
            let whole_lines = text.split_inclusive('\n').filter(|l| l.ends_with('\n'));
            for line in whole_lines {
                if line.contains("regain is serving") {
                    if let Ok(event) = serde_json::from_str::<serde_json::Value>(line) {
                        return event["fields"]["address"].as_str().unwrap().to_string();
                    }
                    let rest = line.split("address=").nth(1).unwrap();
                    return rest.split_whitespace().next().unwrap().to_string();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!(
        "the server did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

backend_tests! {
    async fn operator_commands_create_and_show_accounts(backend: Backend) {
        let dir = tempfile::tempdir().unwrap();
        let url = backend.fresh_url(dir.path()).await;
        let data = dir.path().join("data");
        let env = [("REGAIN_DATABASE_URL", url.as_str()), ("REGAIN_DATA_DIR", data.to_str().unwrap())];
        let run = |args: &[&str], stdin: &str| regain(dir.path(), &env, args, stdin);

        let out = run(&["migrate"], "");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = run(&["tenant", "create", "shop", "--name", "Shop", "--preset", "mail"], "");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = run(&["tenant", "create", "shop"], "");
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("already taken"), "{}", text(&out.stderr));

        let out = run(&["account", "create", "--tenant", "shop", "owner", "--kind", "enterprise", "--email", "Owner@Shop.Example"], "Sh0p-Boss-pass1\n");
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("created owner"));

        let out = run(&["account", "create", "--tenant", "shop", "--parent", "owner", "--role", "admin", "clerk"], "weak\n");
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(err.contains("too_short") && err.contains("too_few_classes"), "{err}");
        assert!(!err.contains("weak\n") && !err.contains(": weak"), "the password is not echoed");

        let out = run(&["account", "create", "--tenant", "shop", "--parent", "owner", "--role", "admin", "clerk", "--must-change-password"], "Cl3rk-Temp-pass\n");
        assert!(out.status.success(), "{}", text(&out.stderr));

        let out = run(&["account", "list", "--tenant", "shop"], "");
        assert_eq!(text(&out.stdout).lines().count(), 1);
        assert!(text(&out.stdout).contains("owner\troot (enterprise)"));
        let out = run(&["account", "list", "--tenant", "shop", "--parent", "owner"], "");
        assert!(text(&out.stdout).contains("owner/clerk\tadmin"));

        let out = run(&["account", "show", "--tenant", "shop", "owner/clerk"], "");
        let shown = text(&out.stdout);
        assert!(shown.contains("must change:     yes"), "{shown}");
        let out = run(&["account", "show", "--tenant", "shop", "owner"], "");
        assert!(text(&out.stdout).contains("Owner@shop.example (verified)"));
        let out = run(&["account", "show", "--tenant", "shop", "nobody"], "");
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("account_not_found"));

        let out = run(&["tenant", "list"], "");
        assert!(text(&out.stdout).contains("shop\tShop"));

        // Operator resets, disabling, and policies.
        let out = run(&["account", "reset-password", "--tenant", "shop", "owner/clerk", "--generate"], "");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let generated = text(&out.stdout).lines().nth(1).unwrap().trim().to_string();
        assert!(generated.len() >= 16, "{generated}");
        let out = run(&["account", "reset-password", "--tenant", "shop", "owner/clerk"], "weak\n");
        assert!(!out.status.success(), "a given temporary password meets the policy too");
        let out = run(&["account", "reset-password", "--tenant", "shop", "owner", "--link"], "");
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("o***r@shop.example"));
        let outbox = std::fs::read_to_string(data.join("outbox.jsonl")).unwrap();
        assert!(outbox.contains("/t/shop/reset#flow="), "the link went through the file sender");

        let out = run(&["account", "disable", "--tenant", "shop", "owner/clerk"], "");
        assert!(out.status.success());
        let shown = text(&run(&["account", "show", "--tenant", "shop", "owner/clerk"], "").stdout);
        assert!(shown.contains("disabled:        yes"), "{shown}");
        assert!(run(&["account", "enable", "--tenant", "shop", "owner/clerk"], "").status.success());

        let out = run(&["policy", "set", "--tenant", "shop", "--account", "owner", "--json", r#"{"min_length": 12, "weak_keywords": ["shop"]}"#], "");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let shown = text(&run(&["policy", "show", "--tenant", "shop", "--account", "owner/clerk"], "").stdout);
        let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(shown["policy"]["min_length"], 12);
        assert_eq!(shown["sources"]["min_length"]["level"], "account");
        assert_eq!(shown["sources"]["max_length"]["level"], "tenant");
        let out = run(&["policy", "set", "--tenant", "shop", "--account", "owner", "--json", r#"{"min_length": 500}"#], "");
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("invalid_policy"));
        assert!(run(&["policy", "set", "--tenant", "shop", "--preset", "nist"], "").status.success());
        let audit = text(&run(&["audit", "list", "--tenant", "shop"], "").stdout);
        for action in ["password.admin_reset", "account.disable", "account.enable", "policy.set"] {
            assert!(audit.contains(action), "{action} audited");
        }
    }

    async fn imported_foreign_hashes_log_in_and_are_upgraded_to_argon2id(backend: Backend) {
        let dir = tempfile::tempdir().unwrap();
        let url = backend.fresh_url(dir.path()).await;
        let data = dir.path().join("data");
        let env = [
            ("REGAIN_DATABASE_URL", url.as_str()),
            ("REGAIN_DATA_DIR", data.to_str().unwrap()),
            ("REGAIN_LISTEN", "127.0.0.1:0"),
        ];
        let run = |args: &[&str]| regain(dir.path(), &env, args, "");
        assert!(run(&["tenant", "create", "shop", "--captcha", "off"]).status.success());

        // Hashes as other systems write them: bcrypt (a fresh one, and the
        // crypt_blowfish test vector), PBKDF2 in PHC form and in passlib's
        // form (computed by Python's hashlib).
        let bcrypt_fresh = bcrypt::hash("Legacy-bcrypt-pass", 5).unwrap();
        let rows = [
            json!({"username": "acme", "kind": "enterprise", "email": "boss@acme.example"}),
            json!({"username": "ann", "parent": "acme", "role": "admin", "password_hash": bcrypt_fresh, "locale": "zh-CN"}),
            json!({"username": "vector", "parent": "acme", "password_hash": "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"}),
            json!({"username": "pat", "parent": "acme/ann", "phone": "+15550100", "password_hash": "$pbkdf2-sha256$i=1000,l=32$c2FsdHNhbHRzYWx0MTIzNA$wheZis4WMGFy+7bhdev/G/YeD76DK1WUFiU5ngBGWLk"}),
            json!({"username": "pyt", "password_hash": "$pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0MTIzNA$wheZis4WMGFy.7bhdev/G/YeD76DK1WUFiU5ngBGWLk"}),
        ];
        let file = dir.path().join("users.jsonl");
        let body: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
        std::fs::write(&file, body.join("\n")).unwrap();
        let out = run(&["account", "import", "--tenant", "shop", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("imported 5 account(s) into shop"));
        assert!(text(&out.stderr).contains("importing: 5/5"), "plain progress off a terminal: {}", text(&out.stderr));
        let shown = text(&run(&["account", "show", "--tenant", "shop", "acme/ann/pat"]).stdout);
        assert!(shown.contains("+15550100 (verified)") && shown.contains("member"), "{shown}");

        let (mut server, addr) = spawn_server(dir.path(), &env, &dir.path().join("serve.log"));
        let http = reqwest::Client::new();
        let login = |identifier: &'static str, password: &'static str| {
            let http = http.clone();
            let url = format!("http://{addr}/api/v1/t/shop/sessions");
            async move {
                http.post(url)
                    .json(&json!({"identifier": identifier, "password": password}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        let store = regain_store::Store::connect(&url, 1).await.unwrap();
        let tenant = store.tenant_by_slug("shop").await.unwrap().unwrap();
        let stored = |name: &'static str| {
            let store = store.clone();
            async move {
                store
                    .account_by_qualified_name(tenant.id, name)
                    .await
                    .unwrap()
                    .unwrap()
                    .password_hash
                    .unwrap()
            }
        };
        for (name, password, scheme) in [
            ("acme/ann", "Legacy-bcrypt-pass", "$2b$"),
            ("acme/vector", "U*U", "$2a$"),
            ("acme/ann/pat", "correct horse battery", "$pbkdf2-sha256$i="),
            ("pyt", "correct horse battery", "$pbkdf2-sha256$1000$"),
        ] {
            assert!(stored(name).await.starts_with(scheme), "{name} kept its imported hash");
            assert_eq!(login(name, "Not-the-password-1").await, 401, "{name}");
            assert!(stored(name).await.starts_with(scheme), "a failed login upgrades nothing");
            assert_eq!(login(name, password).await, 201, "{name} logs in with the old password");
            let upgraded = stored(name).await;
            assert!(upgraded.starts_with("$argon2id$v=19$"), "{name}: {upgraded}");
            assert_eq!(login(name, password).await, 201, "{name} logs in after the upgrade");
        }
        // An account imported without a hash cannot log in until it recovers.
        assert_eq!(login("acme", "anything-at-all-1").await, 401);
        server.kill().unwrap();
        server.wait().unwrap();
        store.close().await;
        let audit = text(&run(&["audit", "list", "--tenant", "shop"]).stdout);
        assert!(audit.contains("account.import"), "{audit}");
    }

    async fn an_import_with_one_bad_row_writes_nothing_and_names_the_row(backend: Backend) {
        let dir = tempfile::tempdir().unwrap();
        let url = backend.fresh_url(dir.path()).await;
        let data = dir.path().join("data");
        let env = [("REGAIN_DATABASE_URL", url.as_str()), ("REGAIN_DATA_DIR", data.to_str().unwrap())];
        let run = |args: &[&str]| regain(dir.path(), &env, args, "");
        assert!(run(&["tenant", "create", "shop"]).status.success());
        assert!(regain(dir.path(), &env, &["account", "create", "--tenant", "shop", "taken"], "Already-here-pass-1\n").status.success());

        let file = dir.path().join("users.csv");
        let good = "username,parent,role,email,password_hash\n\
                    acme,,,boss@acme.example,\n\
                    ann,acme,admin,ann@acme.example,\"$pbkdf2-sha256$i=1000,l=32$c2FsdHNhbHRzYWx0MTIzNA$wheZis4WMGFy+7bhdev/G/YeD76DK1WUFiU5ngBGWLk\"\n";
        std::fs::write(&file, format!("{good}bob,acme,member,not-an-email,\n")).unwrap();
        let out = run(&["account", "import", "--tenant", "shop", file.to_str().unwrap()]);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(err.contains("line 4: ") && err.contains("email"), "{err}");
        assert!(!err.contains("line 2:") && !err.contains("line 3:"), "{err}");
        assert!(err.contains("1 invalid row(s)") && err.contains("nothing was imported"), "{err}");
        let listed = text(&run(&["account", "list", "--tenant", "shop"]).stdout);
        assert_eq!(listed.lines().count(), 1, "only the account made before: {listed}");

        // Every kind of bad row is named, each on its own line.
        std::fs::write(
            &file,
            format!(
                "{good}bob,nobody,member,,\ntaken,,,,\nann,acme,,,\ncid,acme,owner,,\ndan,acme,,,$md5$abc\nann\n"
            ),
        )
        .unwrap();
        let out = run(&["account", "import", "--tenant", "shop", file.to_str().unwrap()]);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        for (line, what) in [
            (4, "parent \"nobody\""),
            (5, "already exists"),
            (6, "earlier line"),
            (7, "role"),
            (8, "password_hash"),
            (9, "fields"),
        ] {
            assert!(err.contains(&format!("line {line}: ")) && err.contains(what), "line {line} ({what}): {err}");
        }
        assert!(!err.contains("$md5$abc"), "a hash is never echoed");
        assert_eq!(text(&run(&["account", "list", "--tenant", "shop"]).stdout).lines().count(), 1);

        // --skip-invalid writes the valid rows and lists the rest.
        let out = run(&["account", "import", "--tenant", "shop", "--skip-invalid", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("imported 2 account(s) into shop; skipped 6 invalid row(s)"));
        assert!(text(&out.stderr).contains("skipped line 4: "));
        let listed = text(&run(&["account", "list", "--tenant", "shop", "--parent", "acme"]).stdout);
        assert!(listed.contains("acme/ann\tadmin"), "{listed}");
    }

    async fn audit_verify_names_edited_deleted_and_reordered_rows(backend: Backend) {
        let dir = tempfile::tempdir().unwrap();
        let url = backend.fresh_url(dir.path()).await;
        let data = dir.path().join("data");
        let env = [("REGAIN_DATABASE_URL", url.as_str()), ("REGAIN_DATA_DIR", data.to_str().unwrap())];
        let run = |args: &[&str]| regain(dir.path(), &env, args, "");
        assert!(run(&["migrate"]).status.success());
        let store = regain_store::Store::connect(&url, 2).await.unwrap();
        for i in 1..=6 {
            let e = regain_store::AuditEvent::new(None, "test.event", "operator", &format!("account:{i}"), "-", "failure");
            store.audit(&e, regain_domain::clock::Timestamp(1_800_000_000 + i)).await.unwrap();
        }
        let ok = run(&["audit", "verify"]);
        assert!(ok.status.success(), "{}", text(&ok.stderr));
        assert!(text(&ok.stdout).contains("intact: 6 events"));
        assert!(text(&ok.stderr).contains("verifying: 6/6"), "progress off a terminal: {}", text(&ok.stderr));
        let listed = run(&["audit", "list", "--limit", "2"]);
        assert_eq!(text(&listed.stdout).lines().count(), 2);
        assert!(text(&listed.stdout).starts_with("6\t"), "newest first");

        sqlx::any::install_default_drivers();
        let raw = sqlx::AnyPool::connect(&url).await.unwrap();
        let exec = |sql: &'static str| {
            let raw = raw.clone();
            async move { sqlx::query(sql).execute(&raw).await.unwrap() }
        };

        exec("UPDATE audit_events SET outcome = 'success' WHERE id = 3").await;
        let edited = run(&["audit", "verify"]);
        assert!(!edited.status.success());
        assert!(text(&edited.stdout).contains("row 3 was edited"), "{}", text(&edited.stdout));
        exec("UPDATE audit_events SET outcome = 'failure' WHERE id = 3").await;
        assert!(run(&["audit", "verify"]).status.success(), "restored");

        exec("DELETE FROM audit_events WHERE id = 2").await;
        let deleted = run(&["audit", "verify"]);
        assert!(!deleted.status.success());
        assert!(text(&deleted.stdout).contains("the row before row 3 was deleted"), "{}", text(&deleted.stdout));

        exec("UPDATE audit_events SET id = -4 WHERE id = 4").await;
        exec("UPDATE audit_events SET id = 4 WHERE id = 5").await;
        exec("UPDATE audit_events SET id = 5 WHERE id = -4").await;
        let swapped = run(&["audit", "verify"]);
        assert!(!swapped.status.success());
        let out = text(&swapped.stdout);
        assert!(out.contains("row 4 is out of order") && out.contains("row 5 is out of order"), "{out}");
        assert!(text(&swapped.stderr).contains("tampered"));
    }
}

/// Starts `regain serve` with `env`, logging to `log`; returns the child
/// and its address.
pub(crate) fn spawn_server(
    dir: &Path,
    env: &[(&str, &str)],
    log: &Path,
) -> (std::process::Child, String) {
    let file = std::fs::File::create(log).unwrap();
    let child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .stderr(Stdio::from(file))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let addr = wait_for_address(log);
    (child, addr)
}

/// Stops `server` as a service manager does (SIGTERM), checks that it
/// exited with status 0 and returns its log, which ends with what was on
/// its way when the signal came.
fn stop_gracefully(server: &mut std::process::Child, log: &Path) -> String {
    assert!(Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap()
        .success());
    let exit = server.wait().unwrap();
    let text = std::fs::read_to_string(log).unwrap();
    assert!(exit.success(), "exit status 0, got {exit}; log:\n{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loses_no_queued_message_and_sends_none_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut smtp = crate::peers::SmtpSink::start().await;
    let port = smtp.port.to_string();
    smtp.stop();
    let env = [
        ("REGAIN_LISTEN", "127.0.0.1:0"),
        ("REGAIN_LOG", "debug"),
        ("REGAIN_DELIVERY_EMAIL", "smtp"),
        ("REGAIN_SMTP_HOST", "127.0.0.1"),
        ("REGAIN_SMTP_PORT", port.as_str()),
        ("REGAIN_DELIVERY_POLL_INTERVAL_MS", "100"),
    ];
    let run = |args: &[&str], stdin: &str| regain(dir.path(), &env, args, stdin);
    assert!(run(
        &[
            "tenant",
            "create",
            "shop",
            "--preset",
            "cloud",
            "--captcha",
            "off"
        ],
        ""
    )
    .status
    .success());
    let password = "Old-shop-pass-41";
    let created = run(
        &[
            "account",
            "create",
            "--tenant",
            "shop",
            "owner",
            "--kind",
            "enterprise",
            "--email",
            "owner@shop.example",
            "--locale",
            "zh-CN",
        ],
        &format!("{password}\n"),
    );
    assert!(created.status.success(), "{}", text(&created.stderr));

    // First process: the code is queued, the SMTP server is down, and the
    // process is killed without warning.
    let (mut first, addr) = spawn_server(dir.path(), &env, &dir.path().join("first.log"));
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/api/v1/t/shop");
    let started: serde_json::Value = http
        .post(format!("{base}/recovery"))
        .json(&json!({"identifier": "owner"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let flow = started["flow_id"].as_str().unwrap().to_string();
    let res = http
        .post(format!("{base}/recovery/{flow}/challenge"))
        .json(&json!({"method": "email_code"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status: serde_json::Value = http
            .get(format!("{base}/recovery/{flow}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["delivery"]["reason"] == "unreachable" || Instant::now() > deadline {
            assert_eq!(status["delivery"]["state"], "queued");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();

    // Second process, SMTP back: the queued message goes out, once.
    smtp.restart().await;
    let (mut second, addr) = spawn_server(dir.path(), &env, &dir.path().join("second.log"));
    let base = format!("http://{addr}/api/v1/t/shop");
    let mail = smtp.wait_for("owner@shop.example", 1).await;
    assert_eq!(mail.len(), 1, "the queued code survived the crash");
    assert!(
        mail[0].contains("验证码"),
        "a Chinese message for a zh-CN account: {}",
        mail[0]
    );
    let code = crate::peers::code_in(&mail[0]);
    let verified: serde_json::Value = http
        .post(format!("{base}/recovery/{flow}/verify"))
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = verified["reset_token"]
        .as_str()
        .expect("verified")
        .to_string();
    let new_password = "New-shop-pass-42";
    let res = http
        .post(format!("{base}/recovery/{flow}/reset"))
        .json(&json!({"reset_token": token, "new_password": new_password, "confirm_password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = http
        .post(format!("{base}/sessions"))
        .json(&json!({"identifier": "owner", "password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let session: serde_json::Value = res.json().await.unwrap();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let all = smtp.to("owner@shop.example");
    let code_id = crate::peers::message_id(&mail[0]);
    assert_eq!(
        all.iter()
            .filter(|m| crate::peers::message_id(m) == code_id)
            .count(),
        1,
        "sent once"
    );
    assert_eq!(all.len(), 2, "the code, then the change notice");

    let stopped = Command::new("kill")
        .arg(second.id().to_string())
        .status()
        .unwrap();
    assert!(stopped.success());
    second.wait().unwrap();
    let logs = std::fs::read_to_string(dir.path().join("first.log")).unwrap()
        + &std::fs::read_to_string(dir.path().join("second.log")).unwrap();
    assert!(logs.contains("message sent"));
    for secret in [
        code.as_str(),
        token.as_str(),
        flow.as_str(),
        password,
        new_password,
        session["token"].as_str().unwrap(),
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

/// A service manager may stop the service the moment it announces itself
/// (a rolling deploy, a failed health check): the signal handlers are in
/// place by then, so even that SIGTERM stops it gracefully, with its last
/// log line written and exit status 0, never by the signal's default
/// action. The signal is sent as soon as the announcement is in the log
/// ([`wait_for_address`] looks every millisecond), three times over.
#[test]
fn a_sigterm_sent_as_soon_as_the_server_announces_itself_stops_it_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = [
        ("REGAIN_LISTEN", "127.0.0.1:0"),
        ("REGAIN_DATA_DIR", data.to_str().unwrap()),
        ("REGAIN_SHUTDOWN_DRAIN_SECONDS", "0"),
    ];
    for round in 0..3 {
        let log = dir.path().join(format!("serve-{round}.log"));
        let (mut server, _) = spawn_server(dir.path(), &env, &log);
        let text = stop_gracefully(&mut server, &log);
        assert!(text.contains("stopped"), "the last line is written: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_turns_readyz_off_and_finishes_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    // Costly hashes make a login slow enough to be in flight at the signal.
    let env = [
        ("REGAIN_LISTEN", "127.0.0.1:0"),
        ("REGAIN_ARGON2_MEMORY_KIB", "262144"),
        ("REGAIN_ARGON2_ITERATIONS", "12"),
        ("REGAIN_SHUTDOWN_DRAIN_SECONDS", "2"),
    ];
    let run = |args: &[&str], stdin: &str| regain(dir.path(), &env, args, stdin);
    assert!(run(&["tenant", "create", "shop", "--captcha", "off"], "")
        .status
        .success());
    assert!(run(
        &["account", "create", "--tenant", "shop", "owner"],
        "Slow-hash-pass-9\n"
    )
    .status
    .success());
    let (mut server, addr) = spawn_server(dir.path(), &env, &dir.path().join("serve.log"));
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("http://{addr}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let login = {
        let http = http.clone();
        let url = format!("http://{addr}/api/v1/t/shop/sessions");
        tokio::spawn(async move {
            let started = Instant::now();
            let res = http
                .post(url)
                .json(&json!({"identifier": "owner", "password": "Slow-hash-pass-9"}))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(Command::new("kill")
        .arg(server.id().to_string())
        .status()
        .unwrap()
        .success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ready = http
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503, "not ready once shutdown begins");
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["error"]["code"], "shutting_down");
    let (status, took) = login.await.unwrap();
    assert_eq!(
        status, 201,
        "the request in flight completed (after {took:?})"
    );
    let exit = server.wait().unwrap();
    assert!(exit.success(), "exit status 0, got {exit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_restores_into_a_fresh_folder() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let fresh = dir.path().join("fresh");
    let live_env = [
        ("REGAIN_LISTEN", "127.0.0.1:0"),
        ("REGAIN_DATA_DIR", live.to_str().unwrap()),
    ];
    let run =
        |env: &[(&str, &str)], args: &[&str], stdin: &str| regain(dir.path(), env, args, stdin);
    assert!(run(
        &live_env,
        &["tenant", "create", "shop", "--captcha", "off"],
        ""
    )
    .status
    .success());
    assert!(run(
        &live_env,
        &["account", "create", "--tenant", "shop", "owner"],
        "Before-backup-pass-1\n"
    )
    .status
    .success());
    let (mut server, addr) = spawn_server(dir.path(), &live_env, &dir.path().join("live.log"));

    // A writer keeps the database busy (failed logins write throttles and audit rows).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let url = format!("http://{addr}/api/v1/t/shop/sessions");
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut writes = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = http
                    .post(&url)
                    .json(&json!({"identifier": format!("ghost{writes}"), "password": "x-y-z-1"}))
                    .send()
                    .await;
                writes += 1;
            }
            writes
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let snapshot = dir.path().join("snapshot.db");
    let out = run(&live_env, &["backup", snapshot.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("keep the secret key"));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(writer.await.unwrap() > 0, "writes ran during the backup");

    let refused = run(&live_env, &["restore", snapshot.to_str().unwrap()], "");
    assert!(!refused.status.success(), "no restore under a live server");
    assert!(
        text(&refused.stderr).contains("stop the server"),
        "{}",
        text(&refused.stderr)
    );
    assert!(Command::new("kill")
        .arg(server.id().to_string())
        .status()
        .unwrap()
        .success());
    server.wait().unwrap();

    let fresh_env = [
        ("REGAIN_LISTEN", "127.0.0.1:0"),
        ("REGAIN_DATA_DIR", fresh.to_str().unwrap()),
    ];
    let restored = run(&fresh_env, &["restore", snapshot.to_str().unwrap()], "");
    assert!(restored.status.success(), "{}", text(&restored.stderr));
    let (mut server, addr) = spawn_server(dir.path(), &fresh_env, &dir.path().join("fresh.log"));
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/t/shop/sessions"))
        .json(&json!({"identifier": "owner", "password": "Before-backup-pass-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        201,
        "the account made before the backup logs in"
    );
    assert!(Command::new("kill")
        .arg(server.id().to_string())
        .status()
        .unwrap()
        .success());
    server.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crlf_or_ansi_escape_in_an_identifier_cannot_forge_a_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let forged = "ann\r\n2026-01-01T00:00:00Z  INFO regain: FORGED login ok\u{1b}[2J";
    for format in ["json", "text"] {
        let data = dir.path().join(format);
        let env = [
            ("REGAIN_LISTEN", "127.0.0.1:0"),
            ("REGAIN_DATA_DIR", data.to_str().unwrap()),
            ("REGAIN_LOG_FORMAT", format),
        ];
        assert!(regain(dir.path(), &env, &["tenant", "create", "shop"], "")
            .status
            .success());
        let log = dir.path().join(format!("{format}.log"));
        let (mut server, addr) = spawn_server(dir.path(), &env, &log);
        let status = reqwest::Client::new()
            .post(format!("http://{addr}/api/v1/t/shop/sessions"))
            .json(&json!({"identifier": forged, "password": "whatever-1"}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 400, "a malformed identifier");
        // Stopped as a service manager stops it: the lines still on their
        // way to the log are written before it exits.
        let text = stop_gracefully(&mut server, &log);
        assert!(!text.contains('\u{1b}'), "no raw ANSI escape ({format})");
        let refused: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("login refused"))
            .collect();
        assert_eq!(
            refused.len(),
            1,
            "one line for the refusal ({format}): {text}"
        );
        assert!(
            !text
                .lines()
                .any(|l| l.trim_start().starts_with("2026-01-01")),
            "no forged line ({format}): {text}"
        );
        if format == "json" {
            for line in text.lines() {
                serde_json::from_str::<serde_json::Value>(line).expect("every line is JSON");
            }
            let event: serde_json::Value = serde_json::from_str(refused[0]).unwrap();
            let shown = event["fields"]["identifier"].as_str().unwrap();
            assert!(shown.starts_with(r"ann\r\n2026-01-01"), "{shown}");
            assert!(shown.ends_with(r"\u{1b}[2J") && !shown.chars().any(char::is_control));
        } else {
            assert!(
                refused[0].contains(r"identifier=ann\r\n2026-01-01"),
                "{}",
                refused[0]
            );
            assert!(refused[0].contains(r"\u{1b}[2J"), "{}", refused[0]);
        }
    }
}

/// A request that never finishes (a client that stalls mid-body) cannot
/// hold the process past drain + timeout: it is cut, and the exit is clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_is_cut_at_the_shutdown_timeout() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = [
        ("REGAIN_LISTEN", "127.0.0.1:0"),
        ("REGAIN_DATA_DIR", data.to_str().unwrap()),
        ("REGAIN_SHUTDOWN_DRAIN_SECONDS", "0"),
        ("REGAIN_SHUTDOWN_TIMEOUT_SECONDS", "2"),
    ];
    assert!(regain(dir.path(), &env, &["tenant", "create", "shop"], "")
        .status
        .success());
    let log = dir.path().join("serve.log");
    let (mut server, addr) = spawn_server(dir.path(), &env, &log);
    let mut stalled = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stalled
        .write_all(
            b"POST /api/v1/t/shop/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"identifier\":",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(15),
            "the stalled request held the process past the timeout"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = signalled.elapsed();
    assert!(status.success(), "exit status 0, got {status}");
    assert!(
        took >= Duration::from_millis(1900),
        "the request got its {took:?} of grace"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("were cut"), "{text}");
    drop(stalled);
}

/// Operators configure what the recovery methods need from the command
/// line: the tenant's settings as JSON, an identity record, a staff role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_set_tenant_settings_identity_and_staff_roles() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("REGAIN_DATA_DIR", dir.path().join("data"))];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.to_str().unwrap())).collect();
    let run = |args: &[&str], stdin: &str| regain(dir.path(), &env, args, stdin);
    assert!(run(&["tenant", "create", "shop"], "").status.success());
    let shown = run(&["tenant", "settings", "shop"], "");
    let mut settings: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(settings["kyc"], serde_json::Value::Null);
    settings["recovery"]["methods"]["questions_asked"] = 3.into();
    settings["kyc"] = serde_json::json!({"name": "facecheck", "session_url": "http://127.0.0.1:9/s",
        "api_key": "k", "webhook_secret": "s"});
    let file = dir.path().join("settings.json");
    std::fs::write(&file, settings.to_string()).unwrap();
    let set = run(
        &[
            "tenant",
            "settings",
            "shop",
            "--file",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert!(set.status.success(), "{}", text(&set.stderr));
    let again: serde_json::Value =
        serde_json::from_slice(&run(&["tenant", "settings", "shop"], "").stdout).unwrap();
    assert_eq!(again["recovery"]["methods"]["questions_asked"], 3);
    assert_eq!(again["kyc"]["name"], "facecheck");
    std::fs::write(&file, r#"{"recovery": {"methodz": {}}}"#).unwrap();
    let bad = run(
        &[
            "tenant",
            "settings",
            "shop",
            "--file",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("methodz"),
        "{}",
        text(&bad.stderr)
    );
    // A light accent would make white button text unreadable: refused,
    // with the contrast named, and nothing changed.
    std::fs::write(&file, r##"{"branding": {"accent": "#ffd700"}}"##).unwrap();
    let light = run(
        &[
            "tenant",
            "settings",
            "shop",
            "--file",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert!(!light.status.success());
    assert!(
        text(&light.stderr).contains("too light"),
        "{}",
        text(&light.stderr)
    );
    let unchanged: serde_json::Value =
        serde_json::from_slice(&run(&["tenant", "settings", "shop"], "").stdout).unwrap();
    assert_eq!(unchanged["branding"]["accent"], serde_json::Value::Null);
    assert_eq!(unchanged["kyc"]["name"], "facecheck");

    assert!(run(
        &[
            "account",
            "create",
            "--tenant",
            "shop",
            "--kind",
            "enterprise",
            "acme"
        ],
        "Pass-word-1234\n"
    )
    .status
    .success());
    let half = run(
        &[
            "account",
            "identity",
            "--tenant",
            "shop",
            "acme",
            "--verified-name",
            "Acme",
            "--document",
            "911",
        ],
        "",
    );
    assert!(
        !half.status.success(),
        "an enterprise names its legal representative"
    );
    assert!(
        text(&half.stderr).contains("legal representative"),
        "{}",
        text(&half.stderr)
    );
    let full = run(
        &[
            "account",
            "identity",
            "--tenant",
            "shop",
            "acme",
            "--verified-name",
            "Acme",
            "--document",
            "911",
            "--representative-name",
            "Wang Wei",
            "--representative-document",
            "320",
        ],
        "",
    );
    assert!(full.status.success(), "{}", text(&full.stderr));
    let staff = run(
        &[
            "account", "staff", "--tenant", "shop", "acme", "--role", "support",
        ],
        "",
    );
    assert!(staff.status.success(), "{}", text(&staff.stderr));
    let audit = run(&["audit", "list", "--tenant", "shop"], "");
    let listed = text(&audit.stdout);
    assert!(
        listed.contains("credentials.identity") && listed.contains("account.staff_role"),
        "{listed}"
    );
}
