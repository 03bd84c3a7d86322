//! The verification methods beyond a code to a bound contact, each from
//! `start` to a login with the new password over HTTP, with its failing
//! path: security questions, an emergency contact, an administrator's
//! approval.

use reqwest::Method as Http;
use serde_json::{json, Value};

use crate::helpers::{TestApp, PASSWORD};
use crate::peers::code_in;

const NEW: &str = "Lantern-field-63";

fn flow_id(body: &Value) -> String {
    body["flow_id"].as_str().expect("a flow id").to_string()
}

fn offered(body: &Value) -> Vec<(String, String)> {
    body["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["method"].as_str().unwrap().to_string(),
                m["hint"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn set_questions(t: &TestApp, token: &str, id: i64) {
    let (status, body) = t
        .authed(
            Http::PUT,
            token,
            &format!("/api/v1/t/acme/accounts/{id}/security-questions"),
            Some(json!({"questions": [
                {"question": "First school?", "answer": "Green Hill Primary"},
                {"question": "Street you grew up on?", "answer": "Main Street 12"},
                {"question": "Grandmother's city?", "answer": "上海"},
            ]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["questions"].as_array().unwrap().len(), 3);
    assert!(
        !body.to_string().contains("Green Hill"),
        "answers never come back"
    );
}

/// The answers to `questions`, written the way a person might retype them.
fn answers_to(questions: &Value, right: bool) -> Vec<String> {
    questions
        .as_array()
        .unwrap()
        .iter()
        .map(|q| match (q.as_str().unwrap(), right) {
            ("First school?", true) => "  green HILL   primary ".to_string(),
            ("Street you grew up on?", true) => "ＭＡＩＮ street 12".to_string(),
            ("Grandmother's city?", true) => "上海".to_string(),
            (_, _) => "no idea".to_string(),
        })
        .collect()
}

async fn reset_and_login(t: &TestApp, flow: &str, token: &str, who: &str) {
    let (status, body, _) = t
        .step(
            flow,
            "reset",
            json!({"reset_token": token, "new_password": NEW, "confirm_password": NEW}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(t.login(who, NEW).await.0, 201, "the new password works");
    assert_eq!(t.login(who, PASSWORD).await.0, 401, "the old one does not");
}

backend_tests! {
    async fn security_questions_journey(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let bob = t.account("acme/bob", Some("bob@acme.example"), None).await;
        let token = t.token("acme/bob", PASSWORD).await;
        set_questions(&t, &token, bob.id).await;

        let (_, started) = t.start_recovery("acme/bob").await;
        assert!(offered(&started).contains(&("security_questions".into(), "2/3".into())), "{started}");
        let flow = flow_id(&started);
        let (status, first, _) = t.step(&flow, "challenge", json!({"method": "security_questions"})).await;
        assert_eq!(status, 200, "{first}");
        assert_eq!(first["questions"].as_array().unwrap().len(), 2, "two of three are asked");
        // Choosing again shows the same questions: no drawing until known ones come up.
        let (_, again, _) = t.step(&flow, "challenge", json!({"method": "security_questions"})).await;
        assert_eq!(again["questions"], first["questions"]);

        let (status, body, _) = t
            .step(&flow, "verify", json!({"answers": answers_to(&first["questions"], true)}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["next"], "reset_password");
        let reset_token = body["reset_token"].as_str().unwrap().to_string();
        reset_and_login(&t, &flow, &reset_token, "acme/bob").await;
        // Bob has no emergency contact: the change notice suggests one.
        let mail = t.smtp.wait_for("bob@acme.example", 1).await;
        assert!(mail.last().unwrap().contains("emergency contact"), "{}", mail.last().unwrap());
    }

    async fn wrong_answers_are_wrong_tries(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        t.settings(|s| s.recovery.max_wrong_tries = 2).await;
        t.account("acme", None, None).await;
        let bob = t.account("acme/bob", None, None).await;
        let token = t.token("acme/bob", PASSWORD).await;
        // Too few questions, and an empty answer, are refused.
        let path = format!("/api/v1/t/acme/accounts/{}/security-questions", bob.id);
        let (status, body) = t
            .authed(Http::PUT, &token, &path, Some(json!({"questions": [{"question": "Q?", "answer": "yes"}]})))
            .await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("questions_count")));
        let (status, body) = t
            .authed(Http::PUT, &token, &path, Some(json!({"questions": [
                {"question": "Q1?", "answer": "  "}, {"question": "Q2?", "answer": "fine"}]})))
            .await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("answer_invalid")));
        set_questions(&t, &token, bob.id).await;

        let (_, started) = t.start_recovery("acme/bob").await;
        assert_eq!(offered(&started), vec![("security_questions".to_string(), "2/3".to_string())]);
        let flow = flow_id(&started);
        let (_, status_body, _) = t.step(&flow, "challenge", json!({"method": "security_questions"})).await;
        let wrong = answers_to(&status_body["questions"], false);
        let (status, body, _) = t.step(&flow, "verify", json!({"answers": wrong})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("code_invalid")));
        assert_eq!(body["error"]["attempts_left"], 1);
        // One right answer of two is still a wrong set.
        let mut half = answers_to(&status_body["questions"], true);
        half[1] = "nope".into();
        let (status, _, _) = t.step(&flow, "verify", json!({"answers": half})).await;
        assert_eq!(status, 400);
        let right = answers_to(&status_body["questions"], true);
        let (status, body, _) = t.step(&flow, "verify", json!({"answers": right})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (410, Some("flow_failed")), "the try limit holds");
        let kinds: Vec<String> = t.audit_actions().await;
        assert!(kinds.contains(&"credentials.security_questions".to_string()));
    }

    async fn questions_can_require_a_second_method(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        t.settings(|s| s.recovery.methods.second_method_after_questions = true).await;
        t.account("acme", None, None).await;
        let bob = t.account("acme/bob", Some("bob@acme.example"), None).await;
        let token = t.token("acme/bob", PASSWORD).await;
        set_questions(&t, &token, bob.id).await;
        let (_, started) = t.start_recovery("acme/bob").await;
        let flow = flow_id(&started);
        let (_, s, _) = t.step(&flow, "challenge", json!({"method": "security_questions"})).await;
        let (status, body, _) = t
            .step(&flow, "verify", json!({"answers": answers_to(&s["questions"], true)}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["next"], "choose_another_method");
        assert!(body.get("reset_token").is_none(), "knowledge alone gives no token");
        assert_eq!(offered(&body), vec![("email_code".to_string(), "b***b@acme.example".to_string())]);
        let (_, status_body) = t.get(&format!("/api/v1/t/acme/recovery/{flow}")).await;
        assert_eq!(status_body["proven"], json!(["security_questions"]));
        let (status, _, _) = t.step(&flow, "challenge", json!({"method": "security_questions"})).await;
        assert_eq!(status, 400, "the questions are not offered twice");
        t.step(&flow, "challenge", json!({"method": "email_code"})).await;
        let code = code_in(t.smtp.wait_for("bob@acme.example", 1).await.last().unwrap());
        let (status, body, _) = t.step(&flow, "verify", json!({"code": code})).await;
        assert_eq!(status, 200, "{body}");
        let reset_token = body["reset_token"].as_str().unwrap().to_string();
        reset_and_login(&t, &flow, &reset_token, "acme/bob").await;
    }

    async fn emergency_contact_journey(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let bob = t.account("acme/bob", None, None).await;
        let token = t.token("acme/bob", PASSWORD).await;
        let base = format!("/api/v1/t/acme/accounts/{}/emergency-contacts", bob.id);
        let (status, added) = t
            .authed(Http::POST, &token, &base, Some(json!({"name": "Sis", "kind": "email", "value": "sis@family.example"})))
            .await;
        assert_eq!(status, 202, "{added}");
        assert_eq!(added["verified"], false);
        let setup = t.smtp.wait_for("sis@family.example", 1).await;
        assert!(setup[0].contains("acme/bob"), "the contact learns who named them");
        // Not verified yet: not offered.
        let (_, started) = t.start_recovery("acme/bob").await;
        assert_eq!(started["next"], "ask_administrator", "{started}");
        let (status, body) = t
            .authed(Http::POST, &token, &format!("{base}/{}/verify", added["id"]), Some(json!({"code": "000000"})))
            .await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("code_invalid")));
        let (status, body) = t
            .authed(Http::POST, &token, &format!("{base}/{}/verify", added["id"]), Some(json!({"code": code_in(&setup[0])})))
            .await;
        assert_eq!((status, body["verified"].clone()), (200, json!(true)), "{body}");

        let (_, started) = t.start_recovery("acme/bob").await;
        assert_eq!(offered(&started), vec![("emergency_contact".to_string(), "s***s@family.example".to_string())]);
        let flow = flow_id(&started);
        let (status, body, _) = t
            .step(&flow, "challenge", json!({"method": "emergency_contact", "hint": "s***s@family.example"}))
            .await;
        assert_eq!(status, 200, "{body}");
        let relay = t.smtp.wait_for("sis@family.example", 2).await;
        assert!(relay[1].contains("emergency contact of acme/bob"), "{}", relay[1]);
        let (status, body, _) = t.step(&flow, "verify", json!({"code": "999999"})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("code_invalid")));
        let (status, body, _) = t.step(&flow, "verify", json!({"code": code_in(&relay[1])})).await;
        assert_eq!(status, 200, "{body}");
        let reset_token = body["reset_token"].as_str().unwrap().to_string();
        reset_and_login(&t, &flow, &reset_token, "acme/bob").await;

        // The reset signed every session out: log in again. Five at most;
        // removal works.
        let token = t.token("acme/bob", NEW).await;
        for i in 0..4 {
            let (status, _) = t
                .authed(Http::POST, &token, &base, Some(json!({"name": "F", "kind": "phone", "value": format!("+4479460000{i:02}")})))
                .await;
            assert_eq!(status, 202);
        }
        let (status, body) = t
            .authed(Http::POST, &token, &base, Some(json!({"name": "F", "kind": "phone", "value": "+447946000099"})))
            .await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("contact_limit_reached")));
        let (status, _) = t.authed(Http::DELETE, &token, &format!("{base}/{}", added["id"]), None).await;
        assert_eq!(status, 204);
        let (_, list) = t.authed(Http::GET, &token, &base, None).await;
        assert_eq!(list["contacts"].as_array().unwrap().len(), 4);
    }

    async fn admin_approval_journey(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", Some("boss@acme.example"), None).await;
        t.admin("acme/ops", Some("ops@acme.example")).await;
        t.account("acme/eve", Some("eve@acme.example"), None).await;
        t.account("acme/bob", None, None).await;

        let (_, started) = t.start_recovery("acme/bob").await;
        let offers = offered(&started);
        assert!(offers.contains(&("admin_approval".into(), "a***e".into())), "{started}");
        assert!(offers.contains(&("admin_approval".into(), "acme/o***s".into())), "{started}");
        assert!(!offers.iter().any(|(_, h)| h.contains("e***e")), "a member is no approver");
        let flow = flow_id(&started);
        let (status, body, _) = t
            .step(&flow, "challenge", json!({"method": "admin_approval", "hint": "acme/o***s"}))
            .await;
        assert_eq!(status, 200, "{body}");
        let asked = t.smtp.wait_for("ops@acme.example", 1).await;
        assert!(asked[0].contains("acme/bob"), "{}", asked[0]);
        let (status, body, _) = t.step(&flow, "verify", json!({})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("verification_pending")));

        let ops = t.token("acme/ops", PASSWORD).await;
        let (_, list) = t.authed(Http::GET, &ops, "/api/v1/t/acme/approvals", None).await;
        let approvals = list["approvals"].as_array().unwrap();
        assert_eq!(approvals.len(), 1, "{list}");
        assert_eq!(approvals[0]["account"], "acme/bob");
        let id = approvals[0]["id"].as_i64().unwrap();
        // A member, and the person asking, may not decide.
        let eve = t.token("acme/eve", PASSWORD).await;
        let (status, _) = t.authed(Http::POST, &eve, &format!("/api/v1/t/acme/approvals/{id}/approve"), None).await;
        assert_eq!(status, 403);
        let (status, _) = t.authed(Http::POST, &ops, &format!("/api/v1/t/acme/approvals/{}/approve", id + 1000), None).await;
        assert_eq!(status, 404);
        let (status, body) = t.authed(Http::POST, &ops, &format!("/api/v1/t/acme/approvals/{id}/approve"), None).await;
        assert_eq!((status, body["state"].as_str()), (200, Some("approved")), "{body}");
        let (status, body) = t.authed(Http::POST, &ops, &format!("/api/v1/t/acme/approvals/{id}/approve"), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("approval_decided")));

        let (status, body, _) = t.step(&flow, "verify", json!({})).await;
        assert_eq!(status, 200, "{body}");
        let reset_token = body["reset_token"].as_str().unwrap().to_string();
        reset_and_login(&t, &flow, &reset_token, "acme/bob").await;
        let actions = t.audit_actions().await;
        assert!(actions.contains(&"recovery.approval_requested".to_string()));
        assert!(actions.contains(&"recovery.approval_decided".to_string()));
    }

    async fn a_denied_approval_ends_the_flow_with_its_reason(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", Some("boss@acme.example"), None).await;
        t.account("acme/bob", None, None).await;
        let (_, started) = t.start_recovery("acme/bob").await;
        assert_eq!(offered(&started), vec![("admin_approval".to_string(), "a***e".to_string())]);
        let flow = flow_id(&started);
        t.step(&flow, "challenge", json!({"method": "admin_approval"})).await;
        let boss = t.token("acme", PASSWORD).await;
        let (_, list) = t.authed(Http::GET, &boss, "/api/v1/t/acme/approvals", None).await;
        let id = list["approvals"][0]["id"].as_i64().unwrap();
        let path = format!("/api/v1/t/acme/approvals/{id}/deny");
        let (status, body) = t.authed(Http::POST, &boss, &path, Some(json!({}))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("reason_required")));
        let (status, _) = t.authed(Http::POST, &boss, &path, Some(json!({"reason": "call me first"}))).await;
        assert_eq!(status, 200);
        let (_, status_body) = t.get(&format!("/api/v1/t/acme/recovery/{flow}")).await;
        assert_eq!(status_body["state"], "failed");
        assert_eq!(status_body["reason"], "call me first");
        let (status, body, _) = t.step(&flow, "verify", json!({})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (410, Some("flow_failed")));
        assert_eq!(t.login("acme/bob", PASSWORD).await.0, 201, "nothing changed");
    }

    async fn an_approval_request_lapses_after_a_day(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", Some("boss@acme.example"), None).await;
        t.account("acme/bob", None, None).await;
        let (_, started) = t.start_recovery("acme/bob").await;
        let flow = flow_id(&started);
        t.step(&flow, "challenge", json!({"method": "admin_approval"})).await;
        let boss = t.token("acme", PASSWORD).await;
        let (_, list) = t.authed(Http::GET, &boss, "/api/v1/t/acme/approvals", None).await;
        let id = list["approvals"][0]["id"].as_i64().unwrap();
        t.clock.advance(23 * 3600);
        let (_, s) = t.get(&format!("/api/v1/t/acme/recovery/{flow}")).await;
        assert_eq!(s["state"], "challenged", "the flow waits for the administrator");
        t.clock.advance(3600);
        let boss = t.token("acme", PASSWORD).await;
        let (status, body) = t.authed(Http::POST, &boss, &format!("/api/v1/t/acme/approvals/{id}/approve"), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (410, Some("approval_expired")));
        let (_, list) = t.authed(Http::GET, &boss, "/api/v1/t/acme/approvals", None).await;
        assert_eq!(list["approvals"], json!([]), "a lapsed request is not listed");
    }

    async fn an_individuals_tree_never_offers_admin_approval(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.individual("alice", Some("alice@example.com")).await;
        t.admin("alice/helper", Some("helper@example.com")).await;
        t.account("alice/bot", None, None).await;
        let (_, started) = t.start_recovery("alice/bot").await;
        assert_eq!(started["next"], "ask_administrator", "{started}");
        assert_eq!(started["methods"], json!([]));
    }
}
