//! Login with every identifier form, sessions, logout, expiry, and the
//! indistinguishability of unknown accounts and wrong passwords.

use std::time::Instant;

use regain_app::config::Argon2Config;
use regain_app::hashing::Hasher;
use regain_domain::clock::Clock;
use regain_domain::password::Password;

use crate::helpers::{TestApp, PASSWORD};

backend_tests! {
    async fn every_identifier_form_logs_in(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", Some("it@acme.example"), Some("+8613800000002")).await;
        t.account("acme/ops", None, None).await;
        t.account("acme/ops/bob", Some("Bob@Acme.Example"), None).await;
        for (identifier, expected) in [
            ("acme", "acme"),
            ("ACME", "acme"),
            ("acme/ops/bob", "acme/ops/bob"),
            ("bob@acme.example", "acme/ops/bob"),
            ("it@ACME.example", "acme"),
            ("+86 138 0000 0002", "acme"),
        ] {
            let (status, body, _) = t.login(identifier, PASSWORD).await;
            assert_eq!(status, 201, "{identifier}: {body}");
            assert_eq!(body["account"]["qualified_name"], expected, "{identifier}");
            assert_eq!(body["must_change_password"], false);
            let token = body["token"].as_str().unwrap();
            assert!(token.len() >= 22, "token carries at least 128 bits");
            let (status, current) = t.current(token).await;
            assert_eq!(status, 200);
            assert_eq!(current["account"]["qualified_name"], expected);
        }
        // A sub-account's bare username is not a login identifier: it is
        // only unique among its siblings.
        let (status, _, _) = t.login("bob", PASSWORD).await;
        assert_eq!(status, 401);
    }

    async fn the_session_cookie_is_httponly_and_lax_and_works(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let (_, body, headers) = t.login("acme", PASSWORD).await;
        let cookie = headers["set-cookie"].to_str().unwrap();
        let token = body["token"].as_str().unwrap();
        assert!(cookie.starts_with(&format!("regain_session={token};")));
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"));
        assert!(!cookie.contains("Secure"), "plain http on loopback relaxes Secure");
        let res = t
            .http
            .get(t.url("/api/v1/t/acme/sessions/current"))
            .header("cookie", format!("regain_session={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }

    async fn a_contact_bound_to_two_accounts_is_no_login_identifier(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", Some("shared@example.com"), Some("+8613800000009")).await;
        t.account("acme/ops", Some("shared@example.com"), Some("+8613800000009")).await;
        for identifier in ["shared@example.com", "+8613800000009"] {
            let (status, body, _) = t.login(identifier, PASSWORD).await;
            assert_eq!(status, 401, "{identifier}");
            assert_eq!(body["error"]["code"], "invalid_credentials");
        }
        assert_eq!(t.login("acme/ops", PASSWORD).await.0, 201);
    }

    async fn logout_revokes_the_token_at_once(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let token = t.token("acme", PASSWORD).await;
        let other = t.token("acme", PASSWORD).await;
        let res = t
            .http
            .delete(t.url("/api/v1/t/acme/sessions/current"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
        assert!(res.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
        let (status, body) = t.current(&token).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "unauthenticated");
        assert_eq!(t.current(&other).await.0, 200, "other sessions stay");
    }

    async fn sessions_expire(backend: Backend) {
        let t = TestApp::spawn_with(backend, |c| c.session.ttl_minutes = 60).await;
        t.account("acme", None, None).await;
        let token = t.token("acme", PASSWORD).await;
        t.clock.advance(59 * 60);
        assert_eq!(t.current(&token).await.0, 200);
        t.clock.advance(60);
        assert_eq!(t.current(&token).await.0, 401);
    }

    async fn tokens_are_bound_to_their_tenant(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let other = t.app.create_tenant("other", "Other", regain_domain::policy::presets::Preset::Nist).await.unwrap();
        t.account_in(&other, "acme", None, None, false).await;
        let token = t.token("acme", PASSWORD).await;
        let res = t
            .http
            .get(t.url("/api/v1/t/other/sessions/current"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        for bad in ["", "not-a-token", &"x".repeat(500)] {
            assert_eq!(t.current(bad).await.0, 401, "{bad:?}");
        }
    }

    async fn a_disabled_account_cannot_log_in(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        let acme = t.account("acme", None, None).await;
        let token = t.token("acme", PASSWORD).await;
        t.app.store.set_disabled(acme.id, true, t.clock.now()).await.unwrap();
        assert_eq!(t.current(&token).await.0, 401, "disabling revokes sessions");
        let (status, body, _) = t.login("acme", PASSWORD).await;
        assert_eq!(status, 403);
        assert_eq!(body["error"]["code"], "account_disabled");
        let (status, body, _) = t.login("acme", "Wrong-password-1").await;
        assert_eq!(status, 401, "only the right password learns of the disabling");
        assert_eq!(body["error"]["code"], "invalid_credentials");
    }

    async fn login_rehashes_old_parameters(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        let acme = t.account("acme", None, None).await;
        let weak = Argon2Config { memory_kib: 1024, iterations: 1, parallelism: 1 };
        let old = Hasher::start(&weak, &Default::default()).unwrap();
        let old_hash = old.hash(Password::parse(PASSWORD.into()).unwrap()).await.unwrap();
        t.app.store.set_password(acme.id, &old_hash, false, 1, None, t.clock.now()).await.unwrap();
        assert_eq!(t.login("acme", PASSWORD).await.0, 201);
        let stored = t.app.store.account(t.tenant.id, acme.id).await.unwrap().unwrap();
        let hash = stored.password_hash.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert_eq!(t.login("acme", PASSWORD).await.0, 201, "the new hash verifies");
    }

    async fn unknown_account_and_wrong_password_are_indistinguishable(backend: Backend) {
        let t = TestApp::spawn_with(backend, |c| {
            c.login.max_failures = 10_000;
            c.login.ip_max_failures = 10_000;
        })
        .await;
        t.account("acme", Some("it@acme.example"), None).await;
        // Warm up connections and caches on both paths.
        t.login("acme", "Wrong-password-0").await;
        t.login("nobody", "Wrong-password-0").await;

        let (s1, b1, _) = t.login("acme", "Wrong-password-1").await;
        let (s2, b2, _) = t.login("nobody-here", "Wrong-password-1").await;
        assert_eq!((s1, &b1), (s2, &b2), "same status and body");
        let (s3, b3, _) = t.login("it@acme.example", "Wrong-password-1").await;
        let (s4, b4, _) = t.login("nobody@acme.example", "Wrong-password-1").await;
        assert_eq!((s3, &b3), (s4, &b4));

        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for i in 0..21 {
            let start = Instant::now();
            assert_eq!(t.login("acme", &format!("Wrong-password-{i}")).await.0, 401);
            known.push(start.elapsed().as_secs_f64());
            let start = Instant::now();
            assert_eq!(t.login(&format!("ghost{i}"), &format!("Wrong-password-{i}")).await.0, 401);
            unknown.push(start.elapsed().as_secs_f64());
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (k, u) = (median(&mut known), median(&mut unknown));
        let ratio = k.max(u) / k.min(u);
        eprintln!("median known {:.1} ms, unknown {:.1} ms, ratio {ratio:.3}", k * 1e3, u * 1e3);
        assert!(ratio <= 1.2, "medians differ by more than 20%: known {k:.4}s unknown {u:.4}s");
    }
}
