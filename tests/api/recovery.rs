//! Self-service recovery over HTTP, with real SMTP and SMS peers on loopback.

use std::collections::BTreeSet;

use regain_domain::policy::presets::Preset;
use regain_domain::tenant::{CaptchaMode, CaptchaProvider};
use serde_json::{json, Value};

use crate::helpers::{violation_codes, TestApp, PASSWORD};
use crate::peers::{captcha_provider, code_in, message_id};

const NEW: &str = "Harbor-lights-77";

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn flow_id(body: &Value) -> String {
    body["flow_id"].as_str().expect("a flow id").to_string()
}

/// Start → challenge by email → the code from the SMTP server → verify.
async fn email_reset_token(t: &TestApp, identifier: &str, email: &str) -> (String, String) {
    let (status, body) = t.start_recovery(identifier).await;
    assert_eq!(status, 201, "{body}");
    let flow = flow_id(&body);
    let before = t.smtp.to(email).len();
    let (status, body, _) = t
        .step(&flow, "challenge", json!({"method": "email_code"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let mail = t.smtp.wait_for(email, before + 1).await;
    let code = code_in(mail.last().expect("the code email arrived"));
    let (status, body, _) = t.step(&flow, "verify", json!({"code": code})).await;
    assert_eq!(status, 200, "{body}");
    (flow, body["reset_token"].as_str().unwrap().to_string())
}

backend_tests! {
    async fn email_code_journey(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        t.account("acme/bob", Some("bob@acme.example"), None).await;
        let old_session = t.token("acme/bob", PASSWORD).await;

        let (status, body) = t.start_recovery("acme/bob").await;
        assert_eq!(status, 201);
        assert_eq!(body["next"], "choose_method");
        assert_eq!(body["methods"], json!([{"method": "email_code", "hint": "b***b@acme.example"}]));
        let flow = flow_id(&body);

        let (status, status_body, _) = t.step(&flow, "challenge", json!({"method": "email_code"})).await;
        assert_eq!(status, 200);
        assert_eq!(status_body["state"], "challenged");
        assert_eq!(status_body["attempts_left"], 5);
        let mail = t.smtp.wait_for("bob@acme.example", 1).await;
        assert_eq!(mail.len(), 1, "one code email");
        assert!(message_id(&mail[0]).ends_with("@regain>"), "the idempotency key travels as Message-ID");
        let status_body = t.status_after_delivery(&flow).await;
        assert_eq!(status_body["delivery"]["state"], "sent");

        let code = code_in(&mail[0]);
        let (status, verified, _) = t.step(&flow, "verify", json!({"code": code})).await;
        assert_eq!(status, 200, "{verified}");
        let token = verified["reset_token"].as_str().unwrap().to_string();
        assert!(token.len() >= 22);

        let (status, done, _) = t
            .step(&flow, "reset", json!({"reset_token": token, "new_password": NEW, "confirm_password": NEW}))
            .await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done, json!({"status": "password_changed", "next": "log_in"}));

        assert_eq!(t.login("acme/bob", PASSWORD).await.0, 401, "the old password is gone");
        assert_eq!(t.login("acme/bob", NEW).await.0, 201, "the new one logs in");
        assert_eq!(t.current(&old_session).await.0, 401, "sessions before the reset are revoked");
        let notices = t.smtp.wait_for("bob@acme.example", 2).await;
        assert!(notices[1].contains("password was changed"), "{}", notices[1]);
        let audit = t.app.store.audit_tail(20).await.unwrap();
        let actions: Vec<&str> = audit.iter().rev().map(|(action, _, _)| action.as_str()).collect();
        for step in ["recovery.start", "recovery.challenge", "recovery.verify", "password.reset"] {
            assert!(actions.contains(&step), "{step} audited: {actions:?}");
        }
        // The reset token and the flow are spent.
        let (status, _, _) = t
            .step(&flow, "reset", json!({"reset_token": token, "new_password": "Other-pass-88", "confirm_password": "Other-pass-88"}))
            .await;
        assert_eq!(status, 400);
    }

    async fn the_code_comes_in_the_accounts_language(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        let spec = regain_app::accounts::AccountSpec {
            parent: None,
            kind: Some(regain_domain::account::AccountKind::Individual),
            role: None,
            username: "mei".into(),
            display_name: None,
            email: Some("mei@example.cn".into()),
            phone: None,
            password: Some(regain_domain::password::Password::parse(PASSWORD.into()).unwrap()),
            must_change_password: false,
            locale: Some("zh-CN".into()),
            contacts_verified: true,
        };
        t.app.create_account(&t.tenant, spec).await.unwrap();
        let (status, body) = t.start_recovery("mei").await;
        assert_eq!(status, 201, "{body}");
        let (status, challenged, _) = t
            .step(&flow_id(&body), "challenge", json!({"method": "email_code"}))
            .await;
        assert_eq!(status, 200, "{challenged}");
        assert_eq!(challenged["delivery"]["state"], "queued", "the answer tells of the message it queued");
        let mail = t.smtp.wait_for("mei@example.cn", 1).await;
        assert!(mail[0].contains("您的验证码是"), "the code email is in Chinese: {}", mail[0]);
    }

    async fn sms_code_journey_through_a_signed_gateway(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("alice", None, Some("+8613812341234")).await;
        let (status, body) = t.start_recovery("+86 138 1234 1234").await;
        assert_eq!(status, 201);
        assert_eq!(body["methods"], json!([{"method": "sms_code", "hint": "138****1234"}]));
        let flow = flow_id(&body);
        assert_eq!(t.step(&flow, "challenge", json!({"method": "sms_code"})).await.0, 200);
        let sms = t.sms.wait_for("+8613812341234", 1).await;
        assert_eq!(sms.len(), 1);
        assert!(sms[0]["id"].as_str().is_some_and(|id| id.len() >= 22), "an idempotency id");
        let code = code_in(sms[0]["text"].as_str().unwrap());
        let (status, verified, _) = t.step(&flow, "verify", json!({"code": code})).await;
        assert_eq!(status, 200);
        let token = verified["reset_token"].as_str().unwrap();
        let (status, _, _) = t
            .step(&flow, "reset", json!({"reset_token": token, "new_password": NEW, "confirm_password": NEW}))
            .await;
        assert_eq!(status, 200);
        assert_eq!(t.login("alice", NEW).await.0, 201);
        assert_eq!(t.sms.wait_for("+8613812341234", 2).await.len(), 2, "the change notice by SMS");

        // The gateway refuses a request whose signature does not match.
        let body = serde_json::to_vec(&json!({"to": "+8613812341234", "text": "forged", "id": "x"})).unwrap();
        let genuine = regain_delivery::senders::sign(t.sms.secret.as_bytes(), "1800000000", &body);
        let tampered = [b"{ ".as_slice(), &body[1..]].concat();
        let res = t
            .http
            .post(&t.sms.url)
            .header("x-regain-timestamp", "1800000000")
            .header("x-regain-signature", genuine)
            .body(tampered)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(t.sms.rejected.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    async fn unknown_identifiers_get_stable_decoys(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        t.account("acme/bob", Some("Bob@acme.example"), Some("+8613800000001")).await;
        let (s_real, real) = t.start_recovery("acme/bob").await;
        let (s_fake, fake) = t.start_recovery("acme/ghost").await;
        assert_eq!((s_real, keys(&real)), (s_fake, keys(&fake)), "same status and keys");
        assert_eq!(fake["next"], "choose_method");
        assert!(!fake["methods"].as_array().unwrap().is_empty());
        for m in fake["methods"].as_array().unwrap() {
            assert!(m["hint"].as_str().unwrap().contains("***"), "{m}");
        }
        let (_, again) = t.start_recovery("acme/ghost").await;
        assert_eq!(again["methods"], fake["methods"], "hints are stable across probes");
        assert_ne!(again["flow_id"], fake["flow_id"]);

        // Typed contacts: hints in the same case and methods in the same
        // order, whether the address is bound or not.
        let (_, by_email) = t.start_recovery("BOB@acme.example").await;
        assert_eq!(by_email["methods"][0], json!({"method": "sms_code", "hint": "138****0001"}));
        assert_eq!(by_email["methods"][1], json!({"method": "email_code", "hint": "b***b@acme.example"}));
        let (_, probe) = t.start_recovery("NOBODY@example.com").await;
        let last = probe["methods"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last, json!({"method": "email_code", "hint": "n***y@example.com"}));

        // The challenge answers the same, and the delivery looks the same.
        let fake_flow = flow_id(&fake);
        let real_flow = flow_id(&real);
        let method = fake["methods"][0]["method"].clone();
        let (status, fake_status, _) = t.step(&fake_flow, "challenge", json!({"method": method})).await;
        let (_, real_status, _) = t.step(&real_flow, "challenge", json!({"method": "email_code"})).await;
        assert_eq!(status, 200, "the decoy challenge succeeds");
        assert_eq!(fake_status["state"], "challenged");
        assert_eq!(fake_status["delivery"], json!({"state": "queued", "reason": null}));
        assert_eq!(real_status["delivery"]["state"], "queued", "answered before the worker ran");
        t.smtp.wait_for("Bob@acme.example", 1).await;
        t.clock.advance(1);
        let real_later = t.status_after_delivery(&real_flow).await;
        let (_, fake_later) = t.get(&format!("/api/v1/t/acme/recovery/{fake_flow}")).await;
        assert_eq!(fake_later["delivery"], real_later["delivery"]);
        assert_eq!(real_later["delivery"]["state"], "sent");

        let wrong_real = t.step(&real_flow, "verify", json!({"code": "000000"})).await;
        let wrong_fake = t.step(&fake_flow, "verify", json!({"code": "000000"})).await;
        assert_eq!((wrong_real.0, &wrong_real.1), (wrong_fake.0, &wrong_fake.1), "a decoy fails like a wrong code");
        assert_eq!(wrong_fake.1["error"]["code"], "code_invalid");
        assert_eq!(t.sms.received.lock().unwrap().len(), 0, "no SMS for the decoy");
        assert_eq!(t.smtp.messages.lock().unwrap().len(), 1, "one email, the real one");
    }

    async fn decoys_meet_the_destination_cap_like_real_contacts(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", Some("it@acme.example"), None).await;
        let mut answers = Vec::new();
        for identifier in ["it@acme.example", "ghost@acme.example"] {
            let mut statuses = Vec::new();
            for _ in 0..6 {
                let (_, body) = t.start_recovery(identifier).await;
                let (status, body, _) = t.step(&flow_id(&body), "challenge", json!({"method": "email_code"})).await;
                statuses.push((status, body["error"]["code"].clone()));
            }
            answers.push(statuses);
        }
        assert_eq!(answers[0], answers[1], "the 6th message is refused for both");
        assert_eq!(answers[0][5], (429, json!("too_many_messages")));
    }

    async fn decoys_check_typed_contacts_like_real_flows(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        t.settings(|s| s.recovery.require_full_contact = true).await;
        t.account("acme", Some("it@acme.example"), None).await;
        for (identifier, fits_the_hint) in [("it@acme.example", "iXt@acme.example"), ("gt@acme.example", "gXt@acme.example")] {
            let (_, body) = t.start_recovery(identifier).await;
            let flow = flow_id(&body);
            let (status, _, _) = t.step(&flow, "challenge", json!({"method": "email_code", "contact": fits_the_hint})).await;
            assert_eq!(status, 400, "{identifier}: a guess that fits the hint is refused");
            let (status, _, _) = t.step(&flow, "challenge", json!({"method": "email_code", "contact": identifier})).await;
            assert_eq!(status, 200, "{identifier}: the contact itself is accepted");
        }
    }

    async fn five_wrong_codes_fail_the_flow_and_codes_expire(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", Some("it@acme.example"), None).await;
        let (_, body) = t.start_recovery("acme").await;
        let flow = flow_id(&body);
        t.step(&flow, "challenge", json!({"method": "email_code"})).await;
        let code = code_in(&t.smtp.wait_for("it@acme.example", 1).await[0]);
        let wrong = if code == "111111" { "222222" } else { "111111" };
        for left in (0..5).rev() {
            let (status, body, _) = t.step(&flow, "verify", json!({"code": wrong})).await;
            assert_eq!((status, body["error"]["attempts_left"].clone()), (400, json!(left)));
        }
        let (status, body, _) = t.step(&flow, "verify", json!({"code": code})).await;
        assert_eq!(status, 410, "the 6th try meets a failed flow");
        assert_eq!(body["error"]["code"], "flow_failed");
        let (_, status_body) = t.get(&format!("/api/v1/t/acme/recovery/{flow}")).await;
        assert_eq!(status_body["state"], "failed");

        // A right code after 15 minutes is refused.
        let (_, body) = t.start_recovery("acme").await;
        let flow = flow_id(&body);
        t.clock.advance(120);
        t.step(&flow, "challenge", json!({"method": "email_code"})).await;
        let code = code_in(t.smtp.wait_for("it@acme.example", 2).await.last().unwrap());
        t.clock.advance(15 * 60);
        let (status, body, _) = t.step(&flow, "verify", json!({"code": code})).await;
        assert_eq!((status, body["error"]["code"].clone()), (400, json!("code_expired")));
    }

    async fn resends_cool_down_and_destinations_are_capped(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", Some("it@acme.example"), None).await;
        let (_, body) = t.start_recovery("acme").await;
        let flow = flow_id(&body);
        assert_eq!(t.step(&flow, "challenge", json!({"method": "email_code"})).await.0, 200);
        let (status, body, headers) = t.step(&flow, "resend", json!({})).await;
        assert_eq!(status, 429);
        assert_eq!(body["error"]["code"], "resend_cooldown");
        assert!(headers["retry-after"].to_str().unwrap().parse::<i64>().unwrap() <= 60);
        let (_, status_body) = t.get(&format!("/api/v1/t/acme/recovery/{flow}")).await;
        assert!(status_body["resend_available_at"].is_string());
        // a wrong code, then a resend: the count of wrong tries is kept
        t.step(&flow, "verify", json!({"code": "999999x"})).await;
        for _ in 0..4 {
            t.clock.advance(61);
            assert_eq!(t.step(&flow, "resend", json!({})).await.0, 200);
        }
        let (_, status_body) = t.get(&format!("/api/v1/t/acme/recovery/{flow}")).await;
        assert_eq!(status_body["attempts_left"], 4, "resends do not reset wrong tries");
        assert_eq!(t.smtp.wait_for("it@acme.example", 5).await.len(), 5);
        // five messages went to this address this hour: a new flow cannot send a sixth
        t.clock.advance(61);
        let (_, body) = t.start_recovery("acme").await;
        let (status, body, headers) = t.step(&flow_id(&body), "challenge", json!({"method": "email_code"})).await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(body["error"]["code"], "too_many_messages");
        assert!(headers.contains_key("retry-after"));
        // an hour later it can
        t.clock.advance(3600);
        let (_, body) = t.start_recovery("acme").await;
        assert_eq!(t.step(&flow_id(&body), "challenge", json!({"method": "email_code"})).await.0, 200);
    }

    async fn a_reset_token_works_exactly_once_under_concurrency(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", Some("it@acme.example"), None).await;
        let (flow, token) = email_reset_token(&t, "acme", "it@acme.example").await;
        let mut tasks = Vec::new();
        for i in 0..20 {
            let http = t.http.clone();
            let url = t.url(&format!("/api/v1/t/acme/recovery/{flow}/reset"));
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                let pw = format!("Concurrent-pass-{i:02}");
                let res = http
                    .post(url)
                    .json(&json!({"reset_token": token, "new_password": pw, "confirm_password": pw}))
                    .send()
                    .await
                    .unwrap();
                (res.status().as_u16(), pw)
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            let (status, pw) = task.await.unwrap();
            assert!(status == 200 || status == 400 || status == 503, "{status}");
            if status == 200 {
                winners.push(pw);
            }
        }
        assert_eq!(winners.len(), 1, "exactly one redemption wins");
        assert_eq!(t.login("acme", &winners[0]).await.0, 201);
    }

    async fn reset_checks_the_policy_and_the_confirmation(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        // With a history, the current password is among the refused ones.
        let mut policy = Preset::Cloud.policy();
        policy.history_depth = 1;
        t.app.store.set_tenant_policy(t.tenant.id, &policy).await.unwrap();
        t.account("acme", Some("it@acme.example"), None).await;
        let (flow, token) = email_reset_token(&t, "acme", "it@acme.example").await;
        let (status, body, _) = t
            .step(&flow, "reset", json!({"reset_token": token, "new_password": "Harbor-lights-77", "confirm_password": "Harbor-lights-78"}))
            .await;
        assert_eq!((status, body["error"]["code"].clone()), (400, json!("passwords_differ")));
        let (status, body, _) = t
            .step(&flow, "reset", json!({"reset_token": token, "new_password": "acme x", "confirm_password": "acme x"}))
            .await;
        assert_eq!(status, 422);
        assert_eq!(violation_codes(&body), ["too_short", "contains_space", "too_few_classes", "contains_username"]);
        let (status, body, _) = t
            .step(&flow, "reset", json!({"reset_token": token, "new_password": PASSWORD, "confirm_password": PASSWORD}))
            .await;
        assert_eq!((status, violation_codes(&body)), (422, vec!["reused_password".to_string()]));
        let (status, _, _) = t
            .step(&flow, "reset", json!({"reset_token": "not-the-token", "new_password": NEW, "confirm_password": NEW}))
            .await;
        assert_eq!(status, 400);
        let (status, _, _) = t
            .step(&flow, "reset", json!({"reset_token": token, "new_password": NEW, "confirm_password": NEW}))
            .await;
        assert_eq!(status, 200, "the failed attempts did not spend the token");
    }

    /// Without a password history, a recovery does not compare the new
    /// password with the forgotten one: refusing it would tell whoever
    /// completed the recovery what the old password was.
    async fn without_history_a_reset_is_no_oracle_for_the_old_password(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", Some("it@acme.example"), None).await;
        let (flow, token) = email_reset_token(&t, "acme", "it@acme.example").await;
        let (status, _, _) = t
            .step(&flow, "reset", json!({"reset_token": token, "new_password": PASSWORD, "confirm_password": PASSWORD}))
            .await;
        assert_eq!(status, 200, "the old password is not singled out");
        assert_eq!(t.login("acme", PASSWORD).await.0, 201);
    }

    async fn reset_tokens_expire_and_resets_do_not_log_in(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", Some("it@acme.example"), None).await;
        let (flow, token) = email_reset_token(&t, "acme", "it@acme.example").await;
        t.clock.advance(15 * 60);
        let (status, body, _) = t
            .step(&flow, "reset", json!({"reset_token": token, "new_password": NEW, "confirm_password": NEW}))
            .await;
        assert_eq!((status, body["error"]["code"].clone()), (400, json!("reset_token_invalid")));
        let (flow, token) = email_reset_token(&t, "acme", "it@acme.example").await;
        let (status, _, headers) = t
            .step(&flow, "reset", json!({"reset_token": token, "new_password": NEW, "confirm_password": NEW}))
            .await;
        assert_eq!(status, 200);
        assert!(!headers.contains_key("set-cookie"), "a reset opens no session");
    }

    async fn codes_survive_one_key_rotation_but_not_two(backend: Backend) {
        use regain_app::secret_key::SecretKey;
        let t = TestApp::spawn(backend).await;
        t.account("acme", Some("it@acme.example"), None).await;
        let client = regain_app::auth::Client { ip: "127.0.0.1".parse().unwrap(), user_agent: String::new() };
        let with_keys = |lines: String| {
            regain_app::App::new(
                t.app.store.clone(),
                t.clock.clone(),
                (*t.app.config).clone(),
                SecretKey::from_lines(&lines).unwrap(),
            )
            .unwrap()
        };
        let (k2, k3) = (crate::helpers::random_hex(32), crate::helpers::random_hex(32));
        let rotated_once = with_keys(format!("{k2}\n{}", t.secret_hex));
        let rotated_twice = with_keys(format!("{k3}\n{k2}"));
        for (app, works) in [(&rotated_twice, false), (&rotated_once, true)] {
            let (_, body) = t.start_recovery("acme").await;
            let flow = flow_id(&body);
            let before = t.smtp.to("it@acme.example").len();
            t.step(&flow, "challenge", json!({"method": "email_code"})).await;
            let code = code_in(t.smtp.wait_for("it@acme.example", before + 1).await.last().unwrap());
            let evidence = regain_app::recovery::Evidence { code: Some(&code), answers: None };
            let result = app.verify_recovery(&t.tenant, &flow, evidence, &client).await;
            assert_eq!(result.is_ok(), works, "code made under the old key, checked after {} rotation(s)", if works { 1 } else { 2 });
            t.clock.advance(61);
        }
    }

    async fn a_reset_clears_login_locks(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", Some("it@acme.example"), None).await;
        for _ in 0..6 {
            t.login("acme", "Wrong-password-1").await;
        }
        assert_eq!(t.login("acme", PASSWORD).await.0, 429);
        let (flow, token) = email_reset_token(&t, "acme", "it@acme.example").await;
        let (status, _, _) = t
            .step(&flow, "reset", json!({"reset_token": token, "new_password": NEW, "confirm_password": NEW}))
            .await;
        assert_eq!(status, 200);
        assert_eq!(t.login("acme", NEW).await.0, 201, "the lock was lifted");
    }

    async fn an_smtp_outage_is_retried_until_delivered(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        t.account("acme", Some("it@acme.example"), None).await;
        t.smtp.stop();
        let (_, body) = t.start_recovery("acme").await;
        let flow = flow_id(&body);
        assert_eq!(t.step(&flow, "challenge", json!({"method": "email_code"})).await.0, 200);
        // the worker tries, fails, and schedules a retry
        let mut delivery = Value::Null;
        for _ in 0..200 {
            delivery = t.get(&format!("/api/v1/t/acme/recovery/{flow}")).await.1["delivery"].clone();
            if delivery["reason"] == "unreachable" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert_eq!(delivery, json!({"state": "queued", "reason": "unreachable"}));
        t.smtp.restart().await;
        t.clock.advance(5);
        let mail = t.smtp.wait_for("it@acme.example", 1).await;
        assert_eq!(mail.len(), 1, "delivered once the server is back");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(t.smtp.to("it@acme.example").len(), 1, "and only once");
        let delivery = t.get(&format!("/api/v1/t/acme/recovery/{flow}")).await.1["delivery"].clone();
        assert_eq!(delivery["state"], "sent");
    }

    async fn a_shared_contact_picks_the_account_after_proof(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        t.account("acme/bob", Some("family@example.com"), None).await;
        t.account("acme/carol", Some("family@example.com"), None).await;
        let (status, body) = t.start_recovery("family@example.com").await;
        assert_eq!(status, 201);
        assert_eq!(body["methods"], json!([{"method": "email_code", "hint": "f***y@example.com"}]));
        let (_, status_body) = t.get(&format!("/api/v1/t/acme/recovery/{}", flow_id(&body))).await;
        assert!(!status_body.to_string().contains("acme/"), "no account is named before the proof");
        let flow = flow_id(&body);
        t.step(&flow, "challenge", json!({"method": "email_code"})).await;
        let code = code_in(&t.smtp.wait_for("family@example.com", 1).await[0]);
        let (_, verified, _) = t.step(&flow, "verify", json!({"code": code})).await;
        let names: Vec<&str> = verified["accounts"].as_array().unwrap().iter().map(|a| a["qualified_name"].as_str().unwrap()).collect();
        assert_eq!(names, ["acme/bob", "acme/carol"]);
        let carol = verified["accounts"][1]["id"].clone();
        let token = verified["reset_token"].clone();
        let (status, body, _) = t
            .step(&flow, "reset", json!({"reset_token": token, "new_password": NEW, "confirm_password": NEW}))
            .await;
        assert_eq!((status, body["error"]["code"].clone()), (400, json!("account_required")));
        let (status, _, _) = t
            .step(&flow, "reset", json!({"reset_token": token, "new_password": NEW, "confirm_password": NEW, "account_id": carol}))
            .await;
        assert_eq!(status, 200);
        assert_eq!(t.login("acme/carol", NEW).await.0, 201);
        assert_eq!(t.login("acme/bob", PASSWORD).await.0, 201, "the other account is untouched");
    }

    async fn accounts_without_contacts_are_told_to_ask_their_administrator(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        t.account("acme/ci-bot", None, None).await;
        let (status, body) = t.start_recovery("acme/ci-bot").await;
        assert_eq!(status, 201);
        assert_eq!(body, json!({"flow_id": null, "expires_at": null, "methods": [], "next": "ask_administrator"}));
    }

    async fn the_full_contact_must_be_typed_when_required(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        t.settings(|s| s.recovery.require_full_contact = true).await;
        t.account("alice", None, Some("+8613812341234")).await;
        let (_, body) = t.start_recovery("alice").await;
        let flow = flow_id(&body);
        let (status, body, _) = t.step(&flow, "challenge", json!({"method": "sms_code", "contact": "+8613812340000"})).await;
        assert_eq!((status, body["error"]["code"].clone(), body["error"]["attempts_left"].clone()), (400, json!("contact_mismatch"), json!(4)));
        assert_eq!(t.sms.received.lock().unwrap().len(), 0);
        let (status, body, _) = t.step(&flow, "challenge", json!({"method": "sms_code", "contact": "+86 138-1234-1234"})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["attempts_left"], 4, "the mismatch counted as a wrong try");
        assert_eq!(t.sms.wait_for("+8613812341234", 1).await.len(), 1);
    }

    async fn the_builtin_captcha_is_single_use_and_case_insensitive(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        t.settings(|s| s.captcha = CaptchaMode::Builtin).await;
        t.account("acme", Some("it@acme.example"), None).await;
        let (status, challenge, _) = t.post("/api/v1/t/acme/captcha", json!({})).await;
        assert_eq!(status, 201);
        let image = challenge["image"].as_str().unwrap();
        assert!(image.starts_with("data:image/png;base64,iVBORw0KGgo"), "a PNG");
        assert_eq!(challenge["expires_in"], 300);
        let start = |id: &str, answer: &str| json!({"identifier": "acme", "captcha_id": id, "captcha_answer": answer});
        let (status, body, _) = t.post("/api/v1/t/acme/recovery", start(challenge["id"].as_str().unwrap(), "wrong")).await;
        assert_eq!((status, body["error"]["code"].clone()), (400, json!("captcha_invalid")));
        let (status, body) = t.start_recovery("acme").await;
        assert_eq!((status, body["error"]["code"].clone()), (400, json!("captcha_invalid")), "no answer, no start");

        let id = t.app.store_captcha(&t.tenant, "k7mxq").await.unwrap();
        let (status, _, _) = t.post("/api/v1/t/acme/recovery", start(&id, " K7MXQ ")).await;
        assert_eq!(status, 201, "case and spaces do not matter");
        let (status, _, _) = t.post("/api/v1/t/acme/recovery", start(&id, "k7mxq")).await;
        assert_eq!(status, 400, "an answered challenge cannot be reused");
        let id = t.app.store_captcha(&t.tenant, "k7mxq").await.unwrap();
        assert_eq!(t.post("/api/v1/t/acme/recovery", start(&id, "wrong")).await.0, 400);
        assert_eq!(t.post("/api/v1/t/acme/recovery", start(&id, "k7mxq")).await.0, 400, "a wrong answer consumed it");
        let id = t.app.store_captcha(&t.tenant, "k7mxq").await.unwrap();
        t.clock.advance(301);
        let (status, _, _) = t.post("/api/v1/t/acme/recovery", start(&id, "k7mxq")).await;
        assert_eq!(status, 400, "five minutes at most");
    }

    async fn a_captcha_provider_is_asked_over_http(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        let url = captcha_provider().await;
        t.settings(|s| {
            s.captcha = CaptchaMode::Provider;
            s.captcha_provider = Some(CaptchaProvider { verify_url: url, secret: "provider-secret".into() });
        })
        .await;
        t.account("acme", Some("it@acme.example"), None).await;
        let body = |token: &str| json!({"identifier": "acme", "captcha_answer": token});
        assert_eq!(t.post("/api/v1/t/acme/recovery", body("bad-token")).await.0, 400);
        assert_eq!(t.post("/api/v1/t/acme/recovery", body("good-token")).await.0, 201);
        let (status, body, _) = t.post("/api/v1/t/acme/captcha", json!({})).await;
        assert_eq!((status, body["error"]["code"].clone()), (400, json!("captcha_not_builtin")));
    }

    async fn starts_are_rate_limited_per_identifier_and_address(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        t.settings(|s| {
            s.recovery.requests_per_identifier = 2;
            s.recovery.requests_per_ip = 5;
        })
        .await;
        t.account("acme", Some("it@acme.example"), None).await;
        assert_eq!(t.start_recovery("acme").await.0, 201);
        assert_eq!(t.start_recovery("acme").await.0, 201);
        let (status, body) = t.start_recovery("acme").await;
        assert_eq!((status, body["error"]["code"].clone()), (429, json!("too_many_attempts")));
        let (status, _) = t.start_recovery("ghost").await;
        assert_eq!(status, 201, "another identifier has its own budget");
        t.start_recovery("ghost2").await;
        let (status, _) = t.start_recovery("ghost3").await;
        assert_eq!(status, 429, "the address budget is spent");
        let (status, _, _) = t.post("/api/v1/t/acme/username-reminder", json!({"contact": "it@acme.example"})).await;
        assert_eq!(status, 429, "reminders share the address budget");
        t.clock.advance(15 * 60);
        assert_eq!(t.start_recovery("acme").await.0, 201);
    }

    /// A step refused by the address's budget changes nothing but the
    /// count: the budget is counted in the same write as the step.
    async fn a_throttled_step_changes_nothing_but_the_count(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        t.settings(|s| s.recovery.requests_per_ip = 3).await;
        t.account("acme", Some("it@acme.example"), None).await;
        let (_, body) = t.start_recovery("acme").await;
        let flow = flow_id(&body);
        assert_eq!(t.step(&flow, "challenge", json!({"method": "email_code"})).await.0, 200);
        let (status, body, _) = t.step(&flow, "verify", json!({"code": "000000"})).await;
        assert_eq!(status, 400, "{body}");
        let before = t.get(&format!("/api/v1/t/acme/recovery/{flow}")).await.1;
        let audited = t.audit_actions().await.len();
        let (status, body, _) = t.step(&flow, "verify", json!({"code": "000000"})).await;
        assert_eq!((status, body["error"]["code"].clone()), (429, json!("too_many_attempts")));
        let (status, _, _) = t.step(&flow, "resend", json!({})).await;
        assert_eq!(status, 429);
        let (status, _, _) = t.step(&flow, "challenge", json!({"method": "email_code"})).await;
        assert_eq!(status, 429);
        let after = t.get(&format!("/api/v1/t/acme/recovery/{flow}")).await.1;
        assert_eq!(before["attempts_left"], after["attempts_left"], "the refused verify took no try");
        assert_eq!(t.audit_actions().await.len(), audited, "and wrote no event");
    }

    /// Refused resets count against the address's budget (each may cost
    /// a policy check on the hashing pool) and the completed one does not;
    /// once the budget is spent a reset is refused before any check.
    async fn refused_resets_are_counted_per_address(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        t.account("acme", Some("it@acme.example"), None).await;
        t.settings(|s| s.recovery.requests_per_ip = 7).await;
        // Requests 1–3: start, challenge, verify.
        let (flow, token) = email_reset_token(&t, "acme", "it@acme.example").await;
        let reset = |token: &str, password: &str| {
            json!({"reset_token": token, "new_password": password, "confirm_password": password})
        };
        let (status, body, _) = t.step(&flow, "reset", reset(&token, "password")).await;
        assert_eq!((status, body["error"]["code"].clone()), (422, json!("password_policy_violation")), "{body}");
        let (status, body, _) = t.step(&flow, "reset", reset("not-the-token", NEW)).await;
        assert_eq!((status, body["error"]["code"].clone()), (400, json!("reset_token_invalid")), "{body}");
        // Requests 4 and 5 were counted; the completed reset is not.
        let (status, body, _) = t.step(&flow, "reset", reset(&token, NEW)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(t.start_recovery("acme").await.0, 201, "the 6th request");
        assert_eq!(t.start_recovery("acme").await.0, 201, "the 7th request");
        // The 8th, refused (its token is spent), goes over the budget.
        let (status, body, headers) = t.step(&flow, "reset", reset(&token, NEW)).await;
        assert_eq!((status, body["error"]["code"].clone()), (429, json!("too_many_attempts")), "{body}");
        assert!(headers.get("retry-after").is_some());
        let (status, body, _) = t.step(&flow, "reset", reset(&token, NEW)).await;
        assert_eq!(status, 429, "locked, refused before any check: {body}");
        assert_eq!(t.start_recovery("acme").await.0, 429, "the whole recovery budget is spent");
        t.clock.advance(15 * 60);
        let (status, body, _) = t.step(&flow, "reset", reset(&token, NEW)).await;
        assert_eq!((status, body["error"]["code"].clone()), (400, json!("reset_token_invalid")), "{body}");
        assert_eq!(t.login("acme", NEW).await.0, 201);
    }

    async fn undeliverable_messages_fail_after_the_retry_horizon(backend: Backend) {
        let mut t = TestApp::spawn_with(backend, |c| c.delivery.retry_horizon_minutes = 1).await;
        t.account("acme", Some("it@acme.example"), None).await;
        t.smtp.stop();
        let (_, body) = t.start_recovery("acme").await;
        let flow = flow_id(&body);
        t.step(&flow, "challenge", json!({"method": "email_code"})).await;
        let mut delivery = Value::Null;
        for round in 0..400 {
            if round % 20 == 0 {
                t.clock.advance(30);
            }
            delivery = t.get(&format!("/api/v1/t/acme/recovery/{flow}")).await.1["delivery"].clone();
            if delivery["state"] == "failed" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert_eq!(delivery, json!({"state": "failed", "reason": "unreachable"}));
    }

    async fn forgotten_usernames_go_to_the_contact(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        t.account("acme/bob", Some("family@example.com"), None).await;
        t.account("acme/carol", Some("family@example.com"), None).await;
        let (s1, b1, _) = t.post("/api/v1/t/acme/username-reminder", json!({"contact": "Family@Example.com"})).await;
        let (s2, b2, _) = t.post("/api/v1/t/acme/username-reminder", json!({"contact": "stranger@example.com"})).await;
        assert_eq!((s1, &b1), (s2, &b2), "the same answer either way");
        assert_eq!(s1, 202);
        let mail = t.smtp.wait_for("Family@example.com", 1).await;
        assert_eq!(mail.len(), 1);
        assert!(mail[0].contains("acme/bob") && mail[0].contains("acme/carol"), "{}", mail[0]);
        assert!(t.smtp.to("stranger@example.com").is_empty());
        let (status, body, _) = t.post("/api/v1/t/acme/username-reminder", json!({"contact": "not a contact"})).await;
        assert_eq!((status, body["error"]["code"].clone()), (400, json!("invalid_phone")));
    }

    /// Every read is a transaction of its own, and on SQLite one that
    /// first checks its page cache against the writes since: a step reads
    /// only what it needs, an account with what it has set up at once.
    async fn each_recovery_step_reads_the_database_only_as_often_as_it_needs(backend: Backend) {
        use regain_app::auth::Client;
        use regain_app::recovery::Evidence;
        use regain_domain::recovery::Method;

        let t = TestApp::spawn(backend).await;
        t.individual("carol", Some("carol@example.org")).await;
        let client = Client { ip: "192.0.2.7".parse().unwrap(), user_agent: "test".into() };
        let (app, tenant) = (&t.app, &t.tenant);
        let reads = || app.store.reads_begun();

        let before = reads();
        let by_email = app.start_recovery(tenant, "carol@example.org", None, None, &client).await.unwrap();
        assert_eq!(reads() - before, 1, "a start by email: the account and its set-up");
        assert!(by_email.flow_id.is_some());

        let before = reads();
        let started = app.start_recovery(tenant, "carol", None, None, &client).await.unwrap();
        assert_eq!(reads() - before, 1, "a start by name: the account and its set-up");
        let flow = started.flow_id.unwrap();

        let mails = t.smtp.to("carol@example.org").len();
        let before = reads();
        app.challenge_recovery(tenant, &flow, Method::EmailCode, None, None, &client).await.unwrap();
        assert_eq!(reads() - before, 1, "a challenge: the flow");
        let mail = t.smtp.wait_for("carol@example.org", mails + 1).await;
        let code = code_in(mail.last().unwrap());

        let before = reads();
        let evidence = Evidence { code: Some(&code), answers: None };
        let verified = app.verify_recovery(tenant, &flow, evidence, &client).await.unwrap();
        assert_eq!(reads() - before, 1, "a verify: the flow");

        let before = reads();
        let token = verified.reset_token.unwrap();
        app.reset_password(tenant, &flow, &token, NEW.into(), NEW.into(), None, &client).await.unwrap();
        assert_eq!(reads() - before, 3, "a reset: the address's lock, the flow, the account and its set-up");
        assert_eq!(t.login("carol", NEW).await.0, 201);
    }
}
