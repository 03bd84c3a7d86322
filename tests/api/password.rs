//! The forced password change, the policy on change, history and max age.

use regain_domain::policy::presets::Preset;

use crate::helpers::{violation_codes, TestApp, PASSWORD};

backend_tests! {
    async fn must_change_allows_nothing_but_the_change(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        t.account_in(&t.tenant, "acme/carol", Some("carol@acme.example"), None, true).await;
        let (status, body, _) = t.login("acme/carol", PASSWORD).await;
        assert_eq!(status, 201);
        assert_eq!(body["must_change_password"], true);
        let token = body["token"].as_str().unwrap().to_string();

        let (status, body) = t.current(&token).await;
        assert_eq!(status, 403);
        assert_eq!(body["error"]["code"], "password_change_required");

        // a new password that breaks the policy: every violation at once
        let (status, body) = t.change_password(&token, PASSWORD, "carol pw").await;
        assert_eq!(status, 422);
        assert_eq!(body["error"]["code"], "password_policy_violation");
        assert_eq!(violation_codes(&body), ["contains_space", "too_few_classes", "contains_username"]);
        let (status, body) = t.change_password(&token, PASSWORD, "zq7x").await;
        assert_eq!(status, 422);
        assert_eq!(violation_codes(&body), ["too_short"]);

        // the temporary password itself is no change
        let (status, body) = t.change_password(&token, PASSWORD, PASSWORD).await;
        assert_eq!(status, 422);
        assert_eq!(violation_codes(&body), ["reused_password"]);

        let (status, body) = t.change_password(&token, "Wrong-current-1", "Fresh-start-77").await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "invalid_credentials");

        let (status, _) = t.change_password(&token, PASSWORD, "Fresh-start-77").await;
        assert_eq!(status, 204);
        assert_eq!(t.current(&token).await.0, 200);
        assert_eq!(t.login("acme/carol", PASSWORD).await.0, 401);
        let (status, body, _) = t.login("acme/carol", "Fresh-start-77").await;
        assert_eq!(status, 201);
        assert_eq!(body["must_change_password"], false);
    }

    async fn a_change_revokes_the_other_sessions(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let here = t.token("acme", PASSWORD).await;
        let elsewhere = t.token("acme", PASSWORD).await;
        assert_eq!(t.change_password(&here, PASSWORD, "Fresh-start-77").await.0, 204);
        assert_eq!(t.current(&here).await.0, 200);
        assert_eq!(t.current(&elsewhere).await.0, 401);
    }

    async fn history_refuses_recent_passwords(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        let mut policy = Preset::Cloud.policy();
        policy.history_depth = 2;
        t.app.store.set_tenant_policy(t.tenant.id, &policy).await.unwrap();
        let tenant = t.app.tenant("acme").await.unwrap();
        t.account_in(&tenant, "acme", None, None, false).await;
        let token = t.token("acme", PASSWORD).await;
        assert_eq!(t.change_password(&token, PASSWORD, "Second-pass-22").await.0, 204);
        let (status, body) = t.change_password(&token, "Second-pass-22", PASSWORD).await;
        assert_eq!(status, 422);
        assert_eq!(violation_codes(&body), ["reused_password"]);
        assert_eq!(t.change_password(&token, "Second-pass-22", "Third-pass-333").await.0, 204);
        // depth 2: the first password has left the window
        assert_eq!(t.change_password(&token, "Third-pass-333", PASSWORD).await.0, 204);
    }

    async fn subtree_overrides_apply_to_changes(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let mail = t.account("acme/mail", None, None).await;
        t.account("acme/mail/dave", Some("dave@acme.example"), None).await;
        let o = regain_domain::policy::overrides::PolicyOverride {
            weak_keywords: Some(vec!["acme".into()]),
            min_character_classes: Some(3),
            ..Default::default()
        };
        t.app.store.set_policy_override(mail.id, Some(&o)).await.unwrap();
        let token = t.token("acme/mail/dave", PASSWORD).await;
        let (status, body) = t.change_password(&token, PASSWORD, "Acmesupport2").await;
        assert_eq!(status, 422);
        assert_eq!(violation_codes(&body), ["contains_weak_keyword"]);
        let (status, body) = t.change_password(&token, PASSWORD, "lowercase22").await;
        assert_eq!(status, 422);
        assert_eq!(violation_codes(&body), ["too_few_classes"]);
        // the parent, outside the subtree, keeps the tenant's policy
        let parent = t.token("acme", PASSWORD).await;
        assert_eq!(t.change_password(&parent, PASSWORD, "lowercase22").await.0, 204);
    }

    async fn policies_no_password_can_meet_are_refused(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let mail = t.account("acme/mail", None, None).await;
        let impossible = regain_domain::policy::overrides::PolicyOverride {
            min_length: Some(200),
            ..Default::default()
        };
        let err = t.app.set_policy_override(&t.tenant, &mail, Some(impossible)).await.unwrap_err();
        assert_eq!(err.code(), "invalid_policy");
        let mut policy = Preset::Cloud.policy();
        policy.min_character_classes = 5;
        assert_eq!(t.app.set_tenant_policy(&t.tenant, &policy).await.unwrap_err().code(), "invalid_policy");
        let stored = t.app.store.account(t.tenant.id, mail.id).await.unwrap().unwrap();
        assert!(stored.policy_override.is_none(), "nothing was stored");

        // A parent cannot make a deeper override impossible to meet.
        let dave = t.account("acme/mail/dave", None, None).await;
        let child = regain_domain::policy::overrides::PolicyOverride { min_length: Some(12), ..Default::default() };
        t.app.set_policy_override(&t.tenant, &dave, Some(child)).await.unwrap();
        let parent = regain_domain::policy::overrides::PolicyOverride { max_length: Some(10), ..Default::default() };
        let err = t.app.set_policy_override(&t.tenant, &mail, Some(parent)).await.unwrap_err();
        assert_eq!(err.code(), "invalid_policy");
        assert!(err.to_string().contains("acme/mail/dave"), "{err}");
    }

    async fn an_expired_password_must_be_changed(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        let mut policy = Preset::Cloud.policy();
        policy.max_age_days = 90;
        t.app.store.set_tenant_policy(t.tenant.id, &policy).await.unwrap();
        t.account("acme", None, None).await;
        let (_, body, _) = t.login("acme", PASSWORD).await;
        assert_eq!(body["must_change_password"], false);
        t.clock.advance(91 * 86_400);
        let (status, body, _) = t.login("acme", PASSWORD).await;
        assert_eq!(status, 201);
        assert_eq!(body["must_change_password"], true);
        let token = body["token"].as_str().unwrap().to_string();
        assert_eq!(t.current(&token).await.0, 403);
        assert_eq!(t.change_password(&token, PASSWORD, "Fresh-start-77").await.0, 204);
        assert_eq!(t.current(&token).await.0, 200);
    }

    async fn wrong_current_passwords_are_throttled(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let token = t.token("acme", PASSWORD).await;
        for _ in 0..5 {
            assert_eq!(t.change_password(&token, "Wrong-current-1", "Fresh-start-77").await.0, 401);
        }
        assert_eq!(t.change_password(&token, PASSWORD, "Fresh-start-77").await.0, 429);
    }
}
