//! The manual appeal over HTTP: filed with a new contact proven by a code,
//! reviewed by support staff, approved (a reset link to the new contact,
//! which is bound with the new password) or denied with a reason.

use reqwest::Method as Http;
use serde_json::{json, Value};

use crate::helpers::{TestApp, PASSWORD};
use crate::peers::{code_in, link_parts};

const NEW: &str = "Quiet-harbour-48";

async fn support_token(t: &TestApp) -> String {
    let desk = t.individual("helpdesk", Some("desk@regain.example")).await;
    t.app
        .set_staff_role(&t.tenant, desk.id, Some("support"))
        .await
        .unwrap();
    t.token("helpdesk", PASSWORD).await
}

/// Files an appeal and enters the code; returns (id, status token).
async fn file(t: &TestApp, identifier: &str, contact: &str) -> (i64, String) {
    let before = t.smtp.to(contact).len();
    let (status, filed, _) = t
        .post(
            "/api/v1/t/acme/appeals",
            json!({"identifier": identifier, "contact_kind": "email", "contact_value": contact,
                   "description": "Lost my phone and my old mailbox was closed.",
                   "evidence": "Order 88123 last week"}),
        )
        .await;
    assert_eq!(status, 202, "{filed}");
    assert_eq!(filed["state"], "unconfirmed");
    let id = filed["id"].as_i64().unwrap();
    let token = filed["status_token"].as_str().unwrap().to_string();
    let mail = t.smtp.wait_for(contact, before + 1).await;
    let (status, body, _) = t
        .post(
            &format!("/api/v1/t/acme/appeals/{id}/confirm"),
            json!({"status_token": token, "code": code_in(mail.last().unwrap())}),
        )
        .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("open")),
        "{body}"
    );
    (id, token)
}

async fn appeal_status(t: &TestApp, id: i64, token: &str) -> (u16, Value) {
    let res = t
        .http
        .get(t.url(&format!("/api/v1/t/acme/appeals/{id}")))
        .header("X-Appeal-Token", token)
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn attach(t: &TestApp, id: i64, token: &str, kind: &str, data: Vec<u8>) -> (u16, Value) {
    let res = t
        .http
        .post(t.url(&format!("/api/v1/t/acme/appeals/{id}/attachments")))
        .header("X-Appeal-Token", token)
        .header("Content-Type", kind)
        .header("X-File-Name", "id-card.png")
        .body(data)
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

backend_tests! {
    async fn an_approved_appeal_resets_by_link_and_binds_the_new_contact(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        t.account("acme/bob", Some("bob@old.example"), None).await;
        let desk = support_token(&t).await;

        // A wrong code first: counted, the appeal stays unconfirmed.
        let (status, filed, _) = t
            .post("/api/v1/t/acme/appeals", json!({"identifier": "acme/bob", "contact_kind": "email",
                "contact_value": "bob@new.example", "description": "x"}))
            .await;
        assert_eq!(status, 202);
        t.smtp.wait_for("bob@new.example", 1).await;
        let (status, body, _) = t
            .post(&format!("/api/v1/t/acme/appeals/{}/confirm", filed["id"]),
                  json!({"status_token": filed["status_token"], "code": "000000"}))
            .await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("code_invalid")));
        let (code, _) = appeal_status(&t, filed["id"].as_i64().unwrap(), "wrong-token").await;
        assert_eq!(code, 404, "a wrong status token reads nothing");

        let (id, token) = file(&t, "acme/bob", "bob@new.example").await;
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&[0u8; 64]);
        assert_eq!(attach(&t, id, &token, "image/png", png.clone()).await.0, 201);
        let (status, body) = attach(&t, id, &token, "image/png", b"<html>".to_vec()).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("attachment_type")));
        let (status, body) = attach(&t, id, &token, "application/pdf", png.clone()).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("attachment_type")), "declared type must be the real one");
        let mut big = png.clone();
        big.resize(2 * 1024 * 1024, 0);
        let (status, body) = attach(&t, id, &token, "image/png", big).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("attachment_size")), "over the tenant's 1 MiB");

        // Only support staff read the queue.
        let bob_root = t.token("acme", PASSWORD).await;
        assert_eq!(t.authed(Http::GET, &bob_root, "/api/v1/t/acme/appeals", None).await.0, 403);
        let (_, queue) = t.authed(Http::GET, &desk, "/api/v1/t/acme/appeals", None).await;
        let entry = queue["appeals"].as_array().unwrap().iter().find(|a| a["id"] == id).unwrap().clone();
        assert_eq!(entry["account"], "acme/bob");
        assert_eq!(entry["contact"], "bob@new.example");
        assert_eq!(entry["attachments"].as_array().unwrap().len(), 1);
        let attachment = entry["attachments"][0]["id"].as_i64().unwrap();
        let res = t.http.get(t.url(&format!("/api/v1/t/acme/appeals/{id}/attachments/{attachment}")))
            .bearer_auth(&desk).send().await.unwrap();
        assert_eq!(res.headers()["content-type"], "image/png");
        assert_eq!(res.headers()["content-disposition"], "attachment");
        assert!(res.bytes().await.unwrap().starts_with(b"\x89PNG"));

        let (status, body) = t.authed(Http::POST, &desk, &format!("/api/v1/t/acme/appeals/{id}/claim"), None).await;
        assert_eq!((status, body["state"].as_str()), (200, Some("claimed")), "{body}");
        let (status, body) = t.authed(Http::POST, &desk, &format!("/api/v1/t/acme/appeals/{id}/approve"), None).await;
        assert_eq!((status, body["state"].as_str()), (200, Some("approved")), "{body}");
        let (_, person) = appeal_status(&t, id, &token).await;
        assert_eq!(person["state"], "approved");
        assert!(person.get("evidence").is_none(), "the person's view holds no evidence");

        let mail = t.smtp.wait_for("bob@new.example", 3).await;
        let (flow, reset_token) = link_parts(mail.last().unwrap());
        let (status, body, _) = t
            .step(&flow, "reset", json!({"reset_token": reset_token, "new_password": NEW, "confirm_password": NEW}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(t.login("acme/bob", NEW).await.0, 201);
        assert_eq!(t.login("bob@new.example", NEW).await.0, 201, "the appeal's contact is bound and verified");
        let actions = t.audit_actions().await;
        for a in ["appeal.filed", "appeal.confirmed", "appeal.claimed", "appeal.decided", "password.reset"] {
            assert!(actions.contains(&a.to_string()), "{a} audited");
        }
    }

    async fn a_denied_appeal_tells_the_reason_and_changes_nothing(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        t.account("acme/bob", Some("bob@old.example"), None).await;
        let desk = support_token(&t).await;
        // An identifier naming nobody gets the same answers.
        let (ghost, ghost_token) = file(&t, "acme/nobody", "who@else.example").await;
        let (_, review) = t.authed(Http::GET, &desk, &format!("/api/v1/t/acme/appeals/{ghost}"), None).await;
        assert_eq!(review["account"], Value::Null);
        let (status, body) = t.authed(Http::POST, &desk, &format!("/api/v1/t/acme/appeals/{ghost}/approve"), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("appeal_no_account")));
        let path = format!("/api/v1/t/acme/appeals/{ghost}/deny");
        let (status, body) = t.authed(Http::POST, &desk, &path, Some(json!({"reason": " "}))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("reason_required")));
        let (status, _) = t.authed(Http::POST, &desk, &path, Some(json!({"reason": "no such account here"}))).await;
        assert_eq!(status, 200);
        let (_, person) = appeal_status(&t, ghost, &ghost_token).await;
        assert_eq!((person["state"].as_str(), person["reason"].as_str()), (Some("denied"), Some("no such account here")));
        let mail = t.smtp.wait_for("who@else.example", 2).await;
        assert!(mail.last().unwrap().contains("no such account here"));
        let (status, _) = t.authed(Http::POST, &desk, &path, Some(json!({"reason": "again"}))).await;
        assert_eq!(status, 409, "decided once");

        // A second appeal for one account merges: the older one is superseded.
        let (first, first_token) = file(&t, "acme/bob", "bob@new.example").await;
        let (second, _) = file(&t, "acme/bob", "bob@new.example").await;
        assert_eq!(appeal_status(&t, first, &first_token).await.1["state"], "superseded");
        let (_, queue) = t.authed(Http::GET, &desk, "/api/v1/t/acme/appeals", None).await;
        let ids: Vec<i64> = queue["appeals"].as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, vec![second]);
        let (status, _) = t
            .authed(Http::POST, &desk, &format!("/api/v1/t/acme/appeals/{second}/deny"), Some(json!({"reason": "call us"})))
            .await;
        assert_eq!(status, 200);
        assert_eq!(t.login("acme/bob", PASSWORD).await.0, 201, "nothing changed");
        assert_eq!(t.login("bob@new.example", PASSWORD).await.0, 401, "the contact was not bound");
    }
}
