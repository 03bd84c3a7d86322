//! The `face` method against a KYC provider on loopback: the session is
//! created over HTTP, the result arrives by a signed webhook, and the
//! identity must match the owner (individual) or the legal representative
//! (enterprise). Forged, stale and replayed calls are refused and audited.

use regain_app::methods::identity::IdentityInput;
use regain_domain::tenant::KycProvider;
use serde_json::{json, Value};

use crate::helpers::{TestApp, PASSWORD};
use crate::peers::KycPeer;

const NEW: &str = "Copper-kettle-29";
const WEBHOOK: &str = "/api/v1/webhooks/kyc/facecheck";

async fn with_provider(t: &mut TestApp) -> KycPeer {
    let peer = KycPeer::start().await;
    let provider = KycProvider {
        name: "facecheck".into(),
        session_url: peer.session_url.clone(),
        api_key: peer.api_key.clone(),
        webhook_secret: peer.webhook_secret.clone(),
    };
    t.settings(|s| s.kyc = Some(provider)).await;
    peer
}

/// Starts a recovery of `who` and chooses `face`; returns the flow and the
/// provider's session id.
async fn face_challenge(t: &TestApp, who: &str, subject: &str) -> (String, String) {
    let (_, started) = t.start_recovery(who).await;
    assert!(
        started["methods"]
            .as_array()
            .unwrap()
            .contains(&json!({"method": "face", "hint": subject})),
        "{started}"
    );
    let flow = started["flow_id"].as_str().unwrap().to_string();
    let (status, body, _) = t.step(&flow, "challenge", json!({"method": "face"})).await;
    assert_eq!(status, 200, "{body}");
    let url = body["redirect_url"]
        .as_str()
        .expect("the provider's page")
        .to_string();
    let session = url.rsplit('/').next().unwrap().to_string();
    (flow, session)
}

fn now(t: &TestApp) -> i64 {
    t.app.clock.now().0
}

async fn result(t: &TestApp, peer: &KycPeer, body: Value) -> (u16, Value) {
    peer.post_result(
        &t.http,
        &t.url(WEBHOOK),
        now(t),
        &peer.webhook_secret,
        &body,
    )
    .await
}

backend_tests! {
    async fn an_owners_face_check_recovers_an_individual_account(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        let peer = with_provider(&mut t).await;
        let alice = t.individual("alice", None).await;
        let (_, started) = t.start_recovery("alice").await;
        assert_eq!(started["next"], "ask_administrator", "no identity record: no face method");
        t.app
            .set_identity_record(&t.tenant, &alice, IdentityInput { name: "Alice Liu", document: "1101011990-0101-123X", representative: None })
            .await
            .unwrap();
        let (flow, session) = face_challenge(&t, "alice", "owner").await;
        let asked = peer.sessions.lock().unwrap().last().cloned().unwrap();
        assert_eq!((asked["subject"].as_str(), asked["name"].as_str()), (Some("owner"), Some("Alice Liu")));
        assert!(!asked.to_string().contains("1101011990"), "no document number leaves Regain");
        let (status, body, _) = t.step(&flow, "verify", json!({})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("verification_pending")));

        let (status, body) = result(&t, &peer, json!({"session_id": session, "result": "pass", "document_number": "110101 19900101 123x"})).await;
        assert_eq!(status, 204, "{body}");
        let (status, body, _) = t.step(&flow, "verify", json!({})).await;
        assert_eq!(status, 200, "{body}");
        let token = body["reset_token"].as_str().unwrap();
        let (status, _, _) = t.step(&flow, "reset", json!({"reset_token": token, "new_password": NEW, "confirm_password": NEW})).await;
        assert_eq!(status, 200);
        assert_eq!(t.login("alice", NEW).await.0, 201);
    }

    async fn an_enterprise_needs_its_legal_representatives_face(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        let peer = with_provider(&mut t).await;
        let acme = t.account("acme", None, None).await;
        t.app
            .set_identity_record(&t.tenant, &acme, IdentityInput {
                name: "Acme Ltd", document: "91110000ABC",
                representative: Some(("Wang Wei", "320102198001011234")),
            })
            .await
            .unwrap();
        let (flow, session) = face_challenge(&t, "acme", "legal_representative").await;
        let asked = peer.sessions.lock().unwrap().last().cloned().unwrap();
        assert_eq!(asked["name"], "Wang Wei");
        // A pass of someone else (here: the enterprise's own number) is a mismatch.
        let (status, _) = result(&t, &peer, json!({"session_id": session, "result": "pass", "document_number": "91110000ABC"})).await;
        assert_eq!(status, 204);
        let (_, s) = t.get(&format!("/api/v1/t/acme/recovery/{flow}")).await;
        assert_eq!(s["state"], "failed", "{s}");
        assert!(s["reason"].as_str().unwrap().contains("did not match"));
        let (status, body, _) = t.step(&flow, "verify", json!({})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (410, Some("flow_failed")));

        let (flow, session) = face_challenge(&t, "acme", "legal_representative").await;
        let (status, _) = result(&t, &peer, json!({"session_id": session, "result": "pass", "document_number": "320102198001011234"})).await;
        assert_eq!(status, 204);
        let (status, body, _) = t.step(&flow, "verify", json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(t.login("acme", PASSWORD).await.0, 201, "nothing changes before the reset");
    }

    async fn forged_stale_and_replayed_webhooks_are_refused_and_audited(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        let peer = with_provider(&mut t).await;
        let alice = t.individual("alice", None).await;
        t.app
            .set_identity_record(&t.tenant, &alice, IdentityInput { name: "Alice Liu", document: "X1", representative: None })
            .await
            .unwrap();
        let (flow, session) = face_challenge(&t, "alice", "owner").await;
        let body = json!({"session_id": session, "result": "pass", "document_number": "X1"});
        let url = t.url(WEBHOOK);

        let (status, err) = peer.post_result(&t.http, &url, now(&t), "a-forgers-secret", &body).await;
        assert_eq!((status, err["error"]["code"].as_str()), (401, Some("webhook_signature_invalid")));
        let (status, err) = peer.post_result(&t.http, &url, now(&t) - 301, &peer.webhook_secret, &body).await;
        assert_eq!((status, err["error"]["code"].as_str()), (401, Some("webhook_stale")));
        let wrong_provider = t.url("/api/v1/webhooks/kyc/other");
        let (status, _) = peer.post_result(&t.http, &wrong_provider, now(&t), &peer.webhook_secret, &body).await;
        assert_eq!(status, 404);
        let unknown = json!({"session_id": "no-such-session", "result": "pass", "document_number": "X1"});
        let (status, err) = result(&t, &peer, unknown).await;
        assert_eq!((status, err["error"]["code"].as_str()), (404, Some("webhook_session_unknown")));
        let (_, s) = t.get(&format!("/api/v1/t/acme/recovery/{flow}")).await;
        assert_eq!(s["state"], "challenged", "nothing refused changed the flow");

        let at = now(&t);
        let (status, _) = peer.post_result(&t.http, &url, at, &peer.webhook_secret, &body).await;
        assert_eq!(status, 204);
        let (status, err) = peer.post_result(&t.http, &url, at, &peer.webhook_secret, &body).await;
        assert_eq!((status, err["error"]["code"].as_str()), (409, Some("webhook_replayed")));
        // Re-signed later, the answered session still takes no second answer.
        let fail = json!({"session_id": session, "result": "fail"});
        let (status, _) = result(&t, &peer, fail).await;
        assert_eq!(status, 409);
        let (status, _, _) = t.step(&flow, "verify", json!({})).await;
        assert_eq!(status, 200, "the one accepted pass stands");

        let refused = t.audit_actions().await.iter().filter(|a| *a == "webhook.rejected").count();
        assert_eq!(refused, 5, "forged, stale, wrong provider, replayed, answered twice");
    }
}
