//! The `external_identity` method against an OpenID Connect provider on
//! loopback: the authorization code flow with PKCE, state and nonce, the ID
//! token verified (JWKS signature, issuer, audience, expiry, nonce), and its
//! identity compared with the account's record.

use regain_app::methods::identity::IdentityInput;
use regain_domain::tenant::OidcProvider;
use serde_json::{json, Value};

use crate::helpers::{TestApp, PASSWORD};
use crate::peers::{OidcMode, OidcPeer};

const NEW: &str = "Silver-birch-57";

async fn with_provider(t: &mut TestApp) -> OidcPeer {
    let peer = OidcPeer::start().await;
    let provider = OidcProvider {
        name: "PayCo".into(),
        issuer: peer.issuer.clone(),
        client_id: peer.client_id.clone(),
        client_secret: peer.client_secret.clone(),
        identity_claim: "id_number".into(),
        type_claim: "account_type".into(),
    };
    t.settings(|s| s.oidc = Some(provider)).await;
    peer
}

/// Chooses `external_identity`, follows the provider's redirect back to
/// Regain's callback, and returns the flow with the callback's answer.
async fn sign_in_at_provider(t: &TestApp, who: &str) -> (String, u16, Value) {
    let (_, started) = t.start_recovery(who).await;
    assert!(
        started["methods"]
            .as_array()
            .unwrap()
            .contains(&json!({"method": "external_identity", "hint": "PayCo"})),
        "{started}"
    );
    let flow = started["flow_id"].as_str().unwrap().to_string();
    let (status, body, _) = t
        .step(&flow, "challenge", json!({"method": "external_identity"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let authorize = body["redirect_url"].as_str().unwrap();
    for part in [
        "code_challenge=",
        "code_challenge_method=S256",
        "state=",
        "nonce=",
    ] {
        assert!(authorize.contains(part), "{part} in {authorize}");
    }
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = browser.get(authorize).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302);
    let back = res.headers()["location"].to_str().unwrap().to_string();
    let path = &back[back.find("/api/v1/oidc/callback").expect("back to Regain")..];
    let res = t.http.get(t.url(path)).send().await.unwrap();
    let status = res.status().as_u16();
    (flow, status, res.json().await.unwrap_or(Value::Null))
}

async fn alice(t: &TestApp) {
    let alice = t.individual("alice", None).await;
    t.app
        .set_identity_record(
            &t.tenant,
            &alice,
            IdentityInput {
                name: "Alice Liu",
                document: "110101199001011234",
                representative: None,
            },
        )
        .await
        .unwrap();
}

backend_tests! {
    async fn a_matching_external_identity_recovers_the_account(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        let peer = with_provider(&mut t).await;
        alice(&t).await;
        peer.set("110101199001011234", "individual", OidcMode::Honest);
        let (flow, status, body) = sign_in_at_provider(&t, "alice").await;
        assert_eq!((status, body["result"].as_str()), (200, Some("matched")), "{body}");
        let (status, body, _) = t.step(&flow, "verify", json!({})).await;
        assert_eq!(status, 200, "{body}");
        let token = body["reset_token"].as_str().unwrap();
        let (status, _, _) = t.step(&flow, "reset", json!({"reset_token": token, "new_password": NEW, "confirm_password": NEW})).await;
        assert_eq!(status, 200);
        assert_eq!(t.login("alice", NEW).await.0, 201);
        assert!(t.audit_actions().await.contains(&"recovery.oidc_result".to_string()));
    }

    async fn a_mismatched_identity_or_account_type_ends_the_recovery(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        let peer = with_provider(&mut t).await;
        alice(&t).await;
        // Someone else's identity.
        peer.set("999999199001019999", "individual", OidcMode::Honest);
        let (flow, status, body) = sign_in_at_provider(&t, "alice").await;
        assert_eq!((status, body["result"].as_str()), (200, Some("mismatched")));
        let (_, s) = t.get(&format!("/api/v1/t/acme/recovery/{flow}")).await;
        assert_eq!(s["state"], "failed");
        // The right number, but an enterprise account for an individual.
        peer.set("110101199001011234", "enterprise", OidcMode::Honest);
        let (flow, _, body) = sign_in_at_provider(&t, "alice").await;
        assert_eq!(body["result"], "mismatched");
        let (status, body, _) = t.step(&flow, "verify", json!({})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (410, Some("flow_failed")));
        assert_eq!(t.login("alice", PASSWORD).await.0, 201, "nothing changed");
    }

    async fn a_linked_external_identity_completes_the_identity_record(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        let peer = with_provider(&mut t).await;
        let bob = t.individual("bob", None).await;
        let (_, started) = t.start_recovery("bob").await;
        assert_eq!(started["next"], "ask_administrator", "no method yet");
        let token = t.token("bob", PASSWORD).await;
        let path = format!("/api/v1/t/acme/accounts/{}/external-identities", bob.id);
        peer.set("440101199505050505", "individual", OidcMode::Honest);
        let (status, body) = t.authed(reqwest::Method::POST, &token, &path, None).await;
        assert_eq!(status, 200, "{body}");
        let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let res = browser.get(body["authorization_url"].as_str().unwrap()).send().await.unwrap();
        let back = res.headers()["location"].to_str().unwrap().to_string();
        let res = t.http.get(t.url(&back[back.find("/api/v1/oidc/callback").unwrap()..])).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(res.json::<Value>().await.unwrap()["result"], "linked");
        let (_, list) = t.authed(reqwest::Method::GET, &token, &path, None).await;
        assert_eq!(list["identities"][0]["issuer"], peer.issuer.as_str());

        // The linked identity now recovers the account.
        let (flow, status, body) = sign_in_at_provider(&t, "bob").await;
        assert_eq!((status, body["result"].as_str()), (200, Some("matched")), "{body}");
        assert_eq!(t.step(&flow, "verify", json!({})).await.0, 200);

        // Someone else's external account does not link to a recorded identity.
        alice(&t).await;
        let alice_token = t.token("alice", PASSWORD).await;
        let alice_id = t.app.store.account_by_qualified_name(t.tenant.id, "alice").await.unwrap().unwrap().id;
        let (_, body) = t
            .authed(reqwest::Method::POST, &alice_token, &format!("/api/v1/t/acme/accounts/{alice_id}/external-identities"), None)
            .await;
        let res = browser.get(body["authorization_url"].as_str().unwrap()).send().await.unwrap();
        let back = res.headers()["location"].to_str().unwrap().to_string();
        let res = t.http.get(t.url(&back[back.find("/api/v1/oidc/callback").unwrap()..])).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 409);
        assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "identity_mismatch");
    }

    async fn forged_id_tokens_and_replayed_callbacks_are_refused_and_audited(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        let peer = with_provider(&mut t).await;
        alice(&t).await;
        for (mode, word) in [
            (OidcMode::WrongNonce, "nonce"),
            (OidcMode::WrongAudience, "audience"),
            (OidcMode::UnknownKey, "signature"),
        ] {
            peer.set("110101199001011234", "individual", mode);
            let (flow, status, body) = sign_in_at_provider(&t, "alice").await;
            assert_eq!((status, body["error"]["code"].as_str()), (400, Some("id_token_invalid")), "{mode:?}: {body}");
            assert!(body["error"]["message"].as_str().unwrap().contains(word), "{mode:?}: {body}");
            let (status, body, _) = t.step(&flow, "verify", json!({})).await;
            assert_eq!((status, body["error"]["code"].as_str()), (409, Some("verification_pending")), "nothing passed");
        }
        let rejected = t.audit_actions().await.iter().filter(|a| *a == "oidc.rejected").count();
        assert_eq!(rejected, 3);

        // A callback is accepted once; an unknown state never.
        peer.set("110101199001011234", "individual", OidcMode::Honest);
        let (_, started) = t.start_recovery("alice").await;
        let flow = started["flow_id"].as_str().unwrap().to_string();
        let (_, body, _) = t.step(&flow, "challenge", json!({"method": "external_identity"})).await;
        let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let res = browser.get(body["redirect_url"].as_str().unwrap()).send().await.unwrap();
        let back = res.headers()["location"].to_str().unwrap().to_string();
        let path = back[back.find("/api/v1/oidc/callback").unwrap()..].to_string();
        assert_eq!(t.http.get(t.url(&path)).send().await.unwrap().status().as_u16(), 200);
        let again = t.http.get(t.url(&path)).send().await.unwrap();
        assert_eq!(again.status().as_u16(), 400);
        let body: Value = again.json().await.unwrap();
        assert_eq!(body["error"]["code"], "oidc_state_invalid");
        let (status, _) = t.get("/api/v1/oidc/callback?state=made-up&code=x").await;
        assert_eq!(status, 400);
    }
}
