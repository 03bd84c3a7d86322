//! Bad input gets a clear 4xx with a stable code, and never hurts the server.

use serde_json::{json, Value};

use crate::helpers::{TestApp, PASSWORD};

async fn post_raw(t: &TestApp, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    // A server that refuses an oversized body answers before reading all of
    // it and closes the connection; a client still writing may then see a
    // reset instead of the answer. That is TCP, not the server failing, so
    // such a send is tried again (the server must answer every time it can).
    let mut last_error = None;
    for _ in 0..5 {
        match t
            .http
            .post(t.url(path))
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
        {
            Ok(res) => {
                let status = res.status().as_u16();
                return (status, res.json().await.unwrap_or(Value::Null));
            }
            Err(e) => last_error = Some(e),
        }
    }
    panic!("no answer: {last_error:?}")
}

backend_tests! {
    async fn bad_input_gets_a_clear_error_and_the_server_carries_on(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let login = "/api/v1/t/acme/sessions";
        let json = "application/json";
        let big_password = "a".repeat(1024 * 1024);
        let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
            ("malformed JSON", json, b"{\"identifier\": \"acme\",".to_vec(), 400, "malformed_json"),
            ("missing field", json, br#"{"identifier": "acme"}"#.to_vec(), 400, "invalid_request"),
            ("wrong type", json, br#"{"identifier": "acme", "password": 87654321}"#.to_vec(), 400, "invalid_request"),
            ("unknown field", json, br#"{"identifier": "acme", "password": "x", "admin": true}"#.to_vec(), 400, "invalid_request"),
            ("not JSON at all", "text/plain", b"identifier=acme".to_vec(), 415, "unsupported_media_type"),
            ("1 MiB password", json, serde_json::to_vec(&json!({"identifier": "acme", "password": big_password})).unwrap(), 413, "payload_too_large"),
            ("2 KiB password", json, serde_json::to_vec(&json!({"identifier": "acme", "password": "a".repeat(2048)})).unwrap(), 400, "password_too_long"),
            ("NUL in username", json, serde_json::to_vec(&json!({"identifier": "ac\u{0}me", "password": PASSWORD})).unwrap(), 400, "invalid_identifier"),
            ("NUL in password", json, serde_json::to_vec(&json!({"identifier": "acme", "password": "Tulip\u{0}ferry"})).unwrap(), 400, "password_invalid_character"),
            ("empty password", json, serde_json::to_vec(&json!({"identifier": "acme", "password": ""})).unwrap(), 400, "password_empty"),
            ("bad email", json, serde_json::to_vec(&json!({"identifier": "a@@b", "password": PASSWORD})).unwrap(), 400, "invalid_email"),
            ("bad phone", json, serde_json::to_vec(&json!({"identifier": "+12ab", "password": PASSWORD})).unwrap(), 400, "invalid_phone"),
            ("invalid UTF-8", json, b"{\"identifier\": \"\xff\xfe\", \"password\": \"x\"}".to_vec(), 400, "malformed_json"),
        ];
        for (name, content_type, body, status, code) in cases {
            let (got, body) = post_raw(&t, login, content_type, body).await;
            assert_eq!(got, status, "{name}: {body}");
            assert_eq!(body["error"]["code"], code, "{name}");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(!message.is_empty(), "{name}: a human message");
            assert!(!message.contains("87654321") && !message.contains("Tulip"), "{name}: no echo of a secret");
        }

        for path in ["/api/v1/t/nowhere/sessions", "/api/v1/t/NOT%20A%20SLUG/sessions", "/api/v1/t/%00/sessions"] {
            let (status, body) = post_raw(&t, path, json, br#"{"identifier": "acme", "password": "x"}"#.to_vec()).await;
            assert_eq!(status, 404, "{path}");
            assert_eq!(body["error"]["code"], "tenant_not_found", "{path}");
        }

        // The server is unharmed: probes and a real login still work.
        assert_eq!(t.http.get(t.url("/healthz")).send().await.unwrap().status(), 200);
        assert_eq!(t.login("acme", PASSWORD).await.0, 201);
    }

    async fn a_saturated_hashing_pool_answers_503_and_recovers(backend: Backend) {
        let t = TestApp::spawn_with(backend, |c| {
            c.hashing.workers = 1;
            c.hashing.queue = 1;
            c.login.max_failures = 1_000;
            c.login.ip_max_failures = 1_000;
        })
        .await;
        t.account("acme", None, None).await;
        let mut requests = Vec::new();
        for i in 0..24 {
            let http = t.http.clone();
            let url = t.url("/api/v1/t/acme/sessions");
            requests.push(tokio::spawn(async move {
                let res = http
                    .post(url)
                    .json(&json!({"identifier": format!("ghost{i}"), "password": "Wrong-password-1"}))
                    .send()
                    .await
                    .unwrap();
                let retry = res.headers().get("retry-after").is_some();
                (res.status().as_u16(), retry)
            }));
        }
        let mut busy = 0;
        for r in requests {
            let (status, retry) = r.await.unwrap();
            assert!(status == 401 || status == 503, "only 401 or 503, got {status}");
            if status == 503 {
                assert!(retry, "503 carries Retry-After");
                busy += 1;
            }
        }
        assert!(busy > 0, "some requests were refused");
        assert_eq!(t.login("acme", PASSWORD).await.0, 201, "serves normally afterwards");
    }

    async fn a_log_on_turned_away_by_a_full_pool_counts_no_attempt(backend: Backend) {
        let t = TestApp::spawn_with(backend, |c| {
            c.hashing.workers = 1;
            c.hashing.queue = 1;
            // One failure allowed: a counted attempt would lock the next one.
            c.login.max_failures = 1;
        })
        .await;
        t.account("acme", None, None).await;
        let places: Vec<_> = (0..2).map(|_| t.app.hasher.admit().unwrap()).collect();
        let (status, _, headers) = t.login("acme", "Wrong-password-1").await;
        assert_eq!(status, 503, "no place left in the hashing pool");
        assert!(headers.contains_key("retry-after"));
        drop(places);
        assert_eq!(t.login("acme", PASSWORD).await.0, 201, "the refused request counted nothing");
    }
}
