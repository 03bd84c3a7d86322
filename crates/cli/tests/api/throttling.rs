//! Failed logins are throttled per identifier, per account and per client
//! address; a spoofed X-Forwarded-For does not escape the address limit.

use crate::helpers::{TestApp, PASSWORD};

backend_tests! {
    async fn five_failures_lock_for_fifteen_minutes(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        for _ in 0..5 {
            assert_eq!(t.login("acme", "Wrong-password-1").await.0, 401);
        }
        let (status, body, headers) = t.login("acme", PASSWORD).await;
        assert_eq!(status, 429, "even the right password waits: {body}");
        assert_eq!(body["error"]["code"], "too_many_attempts");
        let retry: i64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
        assert_eq!(body["error"]["retry_after"], retry);

        t.clock.advance(15 * 60);
        assert_eq!(t.login("acme", PASSWORD).await.0, 201);
    }

    async fn unknown_identifiers_lock_exactly_like_known_ones(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for _ in 0..7 {
            let (s, b, _) = t.login("acme", "Wrong-password-1").await;
            known.push((s, b));
            let (s, b, _) = t.login("ghost", "Wrong-password-1").await;
            unknown.push((s, b));
        }
        assert_eq!(known, unknown);
        assert_eq!(known.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [401, 401, 401, 401, 401, 429, 429]);
    }

    async fn a_lock_counts_every_identifier_of_the_account(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", Some("it@acme.example"), Some("+8613800000002")).await;
        for identifier in ["acme", "it@acme.example", "+8613800000002", "acme", "it@acme.example"] {
            assert_eq!(t.login(identifier, "Wrong-password-1").await.0, 401);
        }
        assert_eq!(t.login("+8613800000002", PASSWORD).await.0, 429);
    }

    async fn spoofed_forwarded_for_does_not_escape_the_address_limit(backend: Backend) {
        let t = TestApp::spawn_with(backend, |c| c.login.ip_max_failures = 3).await;
        for i in 0..3 {
            let (status, _, _) = t.login_from(&format!("ghost{i}"), "Wrong-password-1", Some(&format!("203.0.113.{i}"))).await;
            assert_eq!(status, 401);
        }
        let (status, _, _) = t.login_from("ghost9", "Wrong-password-1", Some("203.0.113.99")).await;
        assert_eq!(status, 429);
    }

    async fn trusted_proxies_forward_the_client_address(backend: Backend) {
        let t = TestApp::spawn_with(backend, |c| {
            c.login.ip_max_failures = 3;
            c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        })
        .await;
        t.account("acme", None, None).await;
        for i in 0..5 {
            let (status, _, _) = t.login_from(&format!("ghost{i}"), "Wrong-password-1", Some(&format!("203.0.113.{i}"))).await;
            assert_eq!(status, 401, "each client address has its own budget");
        }
        for _ in 0..3 {
            t.login_from("ghost-x", "Wrong-password-1", Some("198.51.100.7")).await;
        }
        assert_eq!(t.login_from("acme", PASSWORD, Some("198.51.100.7")).await.0, 429);
        assert_eq!(t.login_from("acme", PASSWORD, Some("198.51.100.8")).await.0, 201);
    }
}
