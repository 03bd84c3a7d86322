//! The Prometheus endpoint: counters move by the right amounts, and no
//! label carries an identifier, a code or a token.

use serde_json::json;

use crate::helpers::{TestApp, PASSWORD};
use crate::peers::code_in;

async fn scrape(t: &TestApp) -> String {
    let res = t
        .http
        .get(format!("http://{}/metrics", t.metrics_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

/// The sum of the samples of `name` whose labels include all of `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

backend_tests! {
    async fn counters_follow_a_recovery_journey(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        t.account("acme/bob", Some("bob@acme.example"), None).await;
        let before = scrape(&t).await;
        let steps = |text: &str, step: &str, outcome: &str| value(text, "regain_recovery_steps_total", &[("step", step), ("outcome", outcome)]);

        let (_, started) = t.start_recovery("acme/bob").await;
        let flow = started["flow_id"].as_str().unwrap().to_string();
        t.start_recovery("acme/nobody").await;
        t.step(&flow, "challenge", json!({"method": "email_code"})).await;
        let code = code_in(&t.smtp.wait_for("bob@acme.example", 1).await[0]);
        t.step(&flow, "verify", json!({"code": "000000"})).await;
        let (_, verified, _) = t.step(&flow, "verify", json!({"code": code})).await;
        let token = verified["reset_token"].as_str().unwrap().to_string();
        let new = "Metric-Harbor-55";
        t.step(&flow, "reset", json!({"reset_token": token, "new_password": new, "confirm_password": new})).await;
        t.smtp.wait_for("bob@acme.example", 2).await;
        t.login("acme/bob", new).await;
        t.login("acme/bob", PASSWORD).await;

        let after = scrape(&t).await;
        let delta = |f: &dyn Fn(&str) -> f64| f(&after) - f(&before);
        assert_eq!(delta(&|s| steps(s, "start", "ok")), 1.0);
        assert_eq!(delta(&|s| steps(s, "start", "decoy")), 1.0, "decoys are counted");
        assert_eq!(delta(&|s| steps(s, "challenge", "ok")), 1.0);
        assert_eq!(delta(&|s| steps(s, "verify", "wrong_secret")), 1.0);
        assert_eq!(delta(&|s| steps(s, "verify", "ok")), 1.0);
        assert_eq!(delta(&|s| steps(s, "reset", "ok")), 1.0);
        assert_eq!(delta(&|s| value(s, "regain_logins_total", &[("outcome", "ok")])), 1.0);
        assert_eq!(delta(&|s| value(s, "regain_logins_total", &[("outcome", "wrong_secret")])), 1.0);
        assert_eq!(delta(&|s| value(s, "regain_deliveries_total", &[("channel", "email"), ("outcome", "sent")])), 2.0);
        let route = "/api/v1/t/{tenant}/recovery/{flow_id}/verify";
        assert_eq!(delta(&|s| value(s, "regain_http_requests_total", &[("route", route), ("status", "2xx")])), 1.0);
        assert_eq!(delta(&|s| value(s, "regain_http_requests_total", &[("route", route), ("status", "4xx")])), 1.0);
        assert!(after.contains("regain_http_request_duration_seconds_bucket"), "a latency histogram");
        assert!(after.contains("regain_hashing_wait_seconds"), "time in the hashing queue");
        assert!(after.contains("regain_outbox_queue_depth"));
        assert!(after.contains("regain_db_pool_connections"));

        for secret in ["acme/bob", "bob@acme.example", "nobody", code.as_str(), flow.as_str(), token.as_str(), new] {
            assert!(!after.contains(secret), "{secret:?} appears in the metrics");
        }
    }

    async fn metrics_are_not_on_the_public_listener(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        let res = t.http.get(t.url("/metrics")).send().await.unwrap();
        assert_eq!(res.status(), 404);
        t.http.get(t.url("/healthz")).send().await.unwrap();
        let text = scrape(&t).await;
        assert!(value(&text, "regain_http_requests_total", &[("route", "/healthz"), ("status", "2xx")]) >= 1.0);
    }
}
