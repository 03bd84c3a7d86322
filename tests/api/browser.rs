//! The hosted pages in a real browser: `tests/browser/journeys.mjs` drives
//! headless Chromium (playwright-core) against a real `regain serve` with
//! the file outbox, in English and Chinese, at desktop and phone widths,
//! with and without JavaScript. `.ci/setup` installs Chromium and the npm
//! package; the screenshots land in `target/browser-screenshots`.

use std::path::Path;
use std::process::Command;

use crate::cli::{regain, spawn_server, text};
use crate::helpers::Backend;

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

backend_tests! {
    async fn pages_work_in_a_real_browser(backend: Backend) {
        journeys(backend).await
    }
}

/// Sets up a tenant through the command line, serves it, and runs the
/// journeys; the screenshots of the SQLite run are the ones to look at.
async fn journeys(backend: Backend) {
    let browser_dir = repo("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "run `bash .ci/setup` first: it installs Chromium, the fonts and playwright-core"
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The OpenID Connect provider sends the browser back to the public URL,
    // so the server listens on a port known in advance.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let public_url = format!("http://{listen}");
    let database_url = backend.fresh_url(dir.path()).await;
    let env = [
        ("REGAIN_DATA_DIR", data.to_str().unwrap()),
        ("REGAIN_DATABASE_URL", database_url.as_str()),
        ("REGAIN_LISTEN", listen.as_str()),
        ("REGAIN_PUBLIC_URL", public_url.as_str()),
    ];
    let oidc = crate::peers::OidcPeer::start().await;
    oidc.set(
        "110101199003077777",
        "individual",
        crate::peers::OidcMode::Honest,
    );
    let kyc = crate::peers::KycPeer::start().await;
    kyc.set_document("110101199004088888");
    let run = |args: &[&str], stdin: &str| {
        let out = regain(dir.path(), &env, args, stdin);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        out
    };
    run(&["tenant", "create", "acme", "--captcha", "off"], "");
    // A tenant with the built-in image CAPTCHA.
    run(&["tenant", "create", "shop"], "");
    run(
        &[
            "account",
            "create",
            "--tenant",
            "acme",
            "--kind",
            "enterprise",
            "--email",
            "owner@acme.example",
            "acme",
        ],
        "Root-pass-word-1\n",
    );
    for i in 1..=6 {
        let email = format!("a{i}@acme.example");
        run(
            &[
                "account",
                "create",
                "--tenant",
                "acme",
                "--parent",
                "acme",
                "--role",
                "member",
                "--email",
                &email,
                &format!("a{i}"),
            ],
            "Old-pass-word-1\n",
        );
    }
    run(
        &[
            "account",
            "create",
            "--tenant",
            "acme",
            "--parent",
            "acme",
            "--role",
            "member",
            "--email",
            "l1@acme.example",
            "l1",
        ],
        "Old-pass-word-1\n",
    );
    run(
        &[
            "account",
            "reset-password",
            "--tenant",
            "acme",
            "acme/l1",
            "--link",
        ],
        "",
    );
    for (name, email) in [
        ("u1", "u1@acme.example"),
        ("ap1", "ap1@acme.example"),
        ("adm1", "adm1@acme.example"),
    ] {
        run(
            &[
                "account", "create", "--tenant", "acme", "--parent", "acme", "--role", "member",
                "--email", email, name,
            ],
            "Old-pass-word-1\n",
        );
    }
    // An individual with a verified identity (recovers through the external
    // account) and an employee whose administrator approves.
    run(
        &[
            "account",
            "create",
            "--tenant",
            "acme",
            "--kind",
            "individual",
            "indy",
        ],
        "Old-pass-word-1\n",
    );
    run(
        &[
            "account",
            "identity",
            "--tenant",
            "acme",
            "indy",
            "--verified-name",
            "Indy Jones",
            "--document",
            "110101199003077777",
        ],
        "",
    );
    run(
        &[
            "account",
            "create",
            "--tenant",
            "acme",
            "--kind",
            "individual",
            "facey",
        ],
        "Old-pass-word-1\n",
    );
    run(
        &[
            "account",
            "identity",
            "--tenant",
            "acme",
            "facey",
            "--verified-name",
            "Fay Chen",
            "--document",
            "110101199004088888",
        ],
        "",
    );
    for name in ["temp", "q1", "s1", "s2", "sup", "b1"] {
        run(
            &[
                "account", "create", "--tenant", "acme", "--parent", "acme", "--role", "member",
                name,
            ],
            "Old-pass-word-1\n",
        );
    }
    run(
        &["account", "reset-password", "--tenant", "acme", "acme/temp"],
        "Interim-pass-4242\n",
    );

    run(
        &[
            "account", "staff", "--tenant", "acme", "acme/sup", "--role", "support",
        ],
        "",
    );
    // The tenant's look: an accent colour and a 1×1 PNG logo.
    let settings = run(&["tenant", "settings", "acme"], "");
    let mut settings: serde_json::Value = serde_json::from_slice(&settings.stdout).unwrap();
    settings["oidc"] = serde_json::json!({
        "name": "PeerID", "issuer": oidc.issuer, "client_id": oidc.client_id,
        "client_secret": oidc.client_secret,
    });
    settings["kyc"] = serde_json::json!({
        "name": "facecheck", "session_url": kyc.session_url, "api_key": kyc.api_key,
        "webhook_secret": kyc.webhook_secret,
    });
    settings["branding"] = serde_json::json!({
        "accent": "#7a2e8a",
        "logo": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
    });
    let settings_file = dir.path().join("settings.json");
    std::fs::write(&settings_file, settings.to_string()).unwrap();
    run(
        &[
            "tenant",
            "settings",
            "acme",
            "--file",
            settings_file.to_str().unwrap(),
        ],
        "",
    );

    let (mut server, addr) = spawn_server(dir.path(), &env, &dir.path().join("serve.log"));
    let shots = repo(match backend {
        Backend::Sqlite => "target/browser-screenshots",
        Backend::Postgres(_) => "target/browser-screenshots-postgres",
    });
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg("journeys.mjs")
        .current_dir(&browser_dir)
        .env("REGAIN_URL", format!("http://{addr}"))
        .env("REGAIN_OUTBOX", data.join("outbox.jsonl"))
        .env("REGAIN_SHOTS", &shots)
        .env("REGAIN_TEMP_PW", "Interim-pass-4242")
        .output()
        .expect("node runs");
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        out.status.success(),
        "browser journeys failed:\n{}\n{}\nserver log:\n{}",
        text(&out.stdout),
        text(&out.stderr),
        std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default()
    );
    let taken: Vec<String> = std::fs::read_dir(&shots)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for step in ["1-identifier", "2-method", "3-code", "4-password", "5-done"] {
        for (lang, width) in [("en", 1280), ("en", 360), ("zh-CN", 1280), ("zh-CN", 360)] {
            let name = format!("{lang}-{width}-{step}.png");
            assert!(taken.contains(&name), "screenshot {name} in {taken:?}");
        }
    }
}
