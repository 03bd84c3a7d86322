//! Probes, unknown routes, and the headers every answer carries.

use crate::helpers::TestApp;

backend_tests! {
    async fn probes_answer_ok(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        for path in ["/healthz", "/readyz"] {
            let res = t.http.get(t.url(path)).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["status"], "ok");
        }
    }

    async fn readyz_fails_when_the_database_is_gone(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.app.store.close().await;
        let res = t.http.get(t.url("/readyz")).send().await.unwrap();
        assert_eq!(res.status(), 503);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "database_unavailable");
        assert_eq!(t.http.get(t.url("/healthz")).send().await.unwrap().status(), 200);
    }

    async fn unknown_routes_and_methods_get_json_errors(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        let res = t.http.get(t.url("/api/v1/nothing-here")).send().await.unwrap();
        assert_eq!(res.status(), 404);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
        let res = t.http.put(t.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 405);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "method_not_allowed");
    }

    async fn every_answer_has_a_request_id_and_security_headers(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        let a = t.http.get(t.url("/healthz")).send().await.unwrap();
        let b = t.http.get(t.url("/healthz")).send().await.unwrap();
        let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(id(&a).len(), 16);
        assert_ne!(id(&a), id(&b));
        let kept = t.http.get(t.url("/healthz")).header("x-request-id", "lb-7f3a_01").send().await.unwrap();
        assert_eq!(id(&kept), "lb-7f3a_01", "a sane caller id is kept");
        for forged in ["x\r\nINFO forged line", &"a".repeat(65), "has space"] {
            let Ok(value) = reqwest::header::HeaderValue::from_str(forged) else { continue };
            let res = t.http.get(t.url("/healthz")).header("x-request-id", value).send().await.unwrap();
            assert_eq!(id(&res).len(), 16, "{forged:?} was replaced");
        }
        let h = a.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-store");
        assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    }
}
