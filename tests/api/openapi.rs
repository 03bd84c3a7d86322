//! The OpenAPI document lists every endpoint the server answers.

use std::collections::BTreeSet;

use crate::helpers::TestApp;

backend_tests! {
    async fn the_document_lists_every_endpoint(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        let res = t.http.get(t.url("/api/v1/openapi.json")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let doc: serde_json::Value = res.json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let mut operations = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} documents its responses");
                operations.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
        let expected: BTreeSet<String> = [
            "GET /healthz",
            "GET /readyz",
            "GET /api/v1/openapi.json",
            "POST /api/v1/t/{tenant}/sessions",
            "GET /api/v1/t/{tenant}/sessions/current",
            "DELETE /api/v1/t/{tenant}/sessions/current",
            "POST /api/v1/t/{tenant}/password",
            "POST /api/v1/t/{tenant}/captcha",
            "POST /api/v1/t/{tenant}/recovery",
            "GET /api/v1/t/{tenant}/recovery/{flow_id}",
            "POST /api/v1/t/{tenant}/recovery/{flow_id}/challenge",
            "POST /api/v1/t/{tenant}/recovery/{flow_id}/resend",
            "POST /api/v1/t/{tenant}/recovery/{flow_id}/verify",
            "POST /api/v1/t/{tenant}/recovery/{flow_id}/reset",
            "POST /api/v1/t/{tenant}/username-reminder",
            "POST /api/v1/t/{tenant}/sessions/current/reauth",
            "POST /api/v1/t/{tenant}/accounts/{id}/password-reset",
            "POST /api/v1/t/{tenant}/accounts/{id}/disable",
            "POST /api/v1/t/{tenant}/accounts/{id}/enable",
            "GET /api/v1/t/{tenant}/accounts",
            "POST /api/v1/t/{tenant}/accounts",
            "GET /api/v1/t/{tenant}/accounts/{id}",
            "GET /api/v1/t/{tenant}/accounts/{id}/policy",
            "PUT /api/v1/t/{tenant}/accounts/{id}/policy",
            "PUT /api/v1/t/{tenant}/accounts/{id}/role",
            "GET /api/v1/t/{tenant}/audit",
            "POST /api/v1/t/{tenant}/accounts/{id}/contacts",
            "POST /api/v1/t/{tenant}/accounts/{id}/contacts/verify",
            "DELETE /api/v1/t/{tenant}/accounts/{id}/contacts/{kind}",
            "GET /api/v1/t/{tenant}/accounts/{id}/security-questions",
            "PUT /api/v1/t/{tenant}/accounts/{id}/security-questions",
            "GET /api/v1/t/{tenant}/accounts/{id}/emergency-contacts",
            "POST /api/v1/t/{tenant}/accounts/{id}/emergency-contacts",
            "POST /api/v1/t/{tenant}/accounts/{id}/emergency-contacts/{contact_id}/verify",
            "DELETE /api/v1/t/{tenant}/accounts/{id}/emergency-contacts/{contact_id}",
            "GET /api/v1/t/{tenant}/accounts/{id}/external-identities",
            "POST /api/v1/t/{tenant}/accounts/{id}/external-identities",
            "GET /api/v1/t/{tenant}/approvals",
            "POST /api/v1/t/{tenant}/approvals/{id}/approve",
            "POST /api/v1/t/{tenant}/approvals/{id}/deny",
            "GET /api/v1/t/{tenant}/appeals",
            "POST /api/v1/t/{tenant}/appeals",
            "GET /api/v1/t/{tenant}/appeals/{id}",
            "POST /api/v1/t/{tenant}/appeals/{id}/confirm",
            "POST /api/v1/t/{tenant}/appeals/{id}/attachments",
            "GET /api/v1/t/{tenant}/appeals/{id}/attachments/{attachment_id}",
            "POST /api/v1/t/{tenant}/appeals/{id}/claim",
            "POST /api/v1/t/{tenant}/appeals/{id}/approve",
            "POST /api/v1/t/{tenant}/appeals/{id}/deny",
            "POST /api/v1/webhooks/kyc/{provider}",
            "GET /api/v1/oidc/callback",
            "GET /api/v1/t/{tenant}/policy",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(operations, expected);
        // Every documented operation is actually served (no 404 fallback).
        for op in &expected {
            let (method, path) = op.split_once(' ').unwrap();
            let url = t.url(&path.replace("{tenant}", "acme").replace("{flow_id}", "no-such-flow").replace("{id}", "1").replace("{kind}", "email"));
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let res = t.http.request(method, url).send().await.unwrap();
            let body: serde_json::Value = res.json().await.unwrap_or_default();
            assert_ne!(body["error"]["code"], "not_found", "{op} is routed");
        }
    }
}
