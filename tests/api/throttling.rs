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

    async fn a_success_forgets_the_identifiers_failures_and_gives_the_address_its_attempt_back(backend: Backend) {
        let t = TestApp::spawn_with(backend.clone(), |c| c.login.ip_max_failures = 3).await;
        t.account("acme", None, None).await;
        // the address: successes are given back, so it never fills up
        for _ in 0..5 {
            assert_eq!(t.login("acme", PASSWORD).await.0, 201);
        }
        // the identifier: four failures, then a success forgets them
        let other = TestApp::spawn(backend).await;
        other.account("acme", None, None).await;
        for _ in 0..4 {
            assert_eq!(other.login("acme", "Wrong-password-1").await.0, 401);
        }
        assert_eq!(other.login("acme", PASSWORD).await.0, 201);
        for n in 0..5 {
            assert_eq!(other.login("acme", "Wrong-password-1").await.0, 401, "failure {n} after the success");
        }
        assert_eq!(other.login("acme", "Wrong-password-1").await.0, 429);
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

    async fn identifiers_lock_independently_so_contacts_reveal_nothing(backend: Backend) {
        // A lock shared by an account's identifiers would tell a prober
        // which emails and phones belong to a known username.
        let t = TestApp::spawn(backend).await;
        t.account("acme", Some("it@acme.example"), None).await;
        for _ in 0..5 {
            assert_eq!(t.login("acme", "Wrong-password-1").await.0, 401);
        }
        assert_eq!(t.login("acme", "Wrong-password-1").await.0, 429);
        let bound = t.login("it@acme.example", "Wrong-password-1").await;
        let unbound = t.login("stranger@acme.example", "Wrong-password-1").await;
        assert_eq!((bound.0, &bound.1), (unbound.0, &unbound.1));
        assert_eq!(bound.0, 401);
        assert_eq!(t.login("it@acme.example", PASSWORD).await.0, 201);
    }

    async fn parallel_guesses_cannot_slip_past_the_limit(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let mut requests = Vec::new();
        for _ in 0..16 {
            let http = t.http.clone();
            let url = t.url("/api/v1/t/acme/sessions");
            requests.push(tokio::spawn(async move {
                let res = http
                    .post(url)
                    .json(&serde_json::json!({"identifier": "acme", "password": "Wrong-password-1"}))
                    .send()
                    .await
                    .unwrap();
                res.status().as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for r in requests {
            statuses.push(r.await.unwrap());
        }
        let checked = statuses.iter().filter(|s| **s == 401).count();
        let refused = statuses.iter().filter(|s| **s == 429).count();
        assert_eq!((checked, refused), (5, 11), "{statuses:?}");
    }

    async fn spoofed_forwarded_for_does_not_escape_the_address_limit(backend: Backend) {
        let t = TestApp::spawn_with(backend.clone(), |c| c.login.ip_max_failures = 3).await;
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
