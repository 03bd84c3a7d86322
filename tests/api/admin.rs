//! Administration down the tree: admin resets (temporary password, link),
//! re-authentication, rights, disabling.

use regain_domain::clock::Clock;
use regain_domain::policy::overrides::PolicyOverride;
use serde_json::{json, Value};

use crate::helpers::{violation_codes, TestApp, PASSWORD};
use crate::peers::{link_parts, message_id};

async fn reset(t: &TestApp, token: &str, id: i64, body: Value) -> (u16, Value) {
    let res = t
        .http
        .post(t.url(&format!("/api/v1/t/acme/accounts/{id}/password-reset")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn admin_post(t: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let res = t
        .http
        .post(t.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Who acts in the matrix, and through which tenant's API.
struct Case {
    actor: &'static str,
    target: &'static str,
    action: &'static str,
    expected: u16,
}

const fn case(
    actor: &'static str,
    target: &'static str,
    action: &'static str,
    expected: u16,
) -> Case {
    Case {
        actor,
        target,
        action,
        expected,
    }
}

backend_tests! {
    async fn the_mail_domain_scenario(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let mail = t.account("acme/mail", None, None).await;
        let o = PolicyOverride {
            min_length: Some(8),
            max_length: Some(64),
            min_character_classes: Some(3),
            forbid_email: Some(true),
            weak_keywords: Some(vec!["company".into(), "2024".into()]),
            ..Default::default()
        };
        t.app.set_policy_override(&t.tenant, &mail, Some(o)).await.unwrap();
        let postmaster = t.admin("acme/mail/postmaster", Some("postmaster@mail.example")).await;
        let erin = t.account("acme/mail/erin", Some("erin@mail.example"), None).await;

        // The postmaster resets an employee with a generated temporary password.
        let pm = t.token("acme/mail/postmaster", PASSWORD).await;
        let erin_session = t.token("acme/mail/erin", PASSWORD).await;
        let (status, body) = reset(&t, &pm, erin.id, json!({"mode": "temporary"})).await;
        assert_eq!(status, 200, "{body}");
        let temporary = body["temporary_password"].as_str().unwrap().to_string();
        assert!(temporary.len() >= 16);
        assert_eq!(t.current(&erin_session).await.0, 401, "the employee's sessions are revoked");
        let notice = t.smtp.wait_for("erin@mail.example", 1).await;
        assert!(notice[0].contains("password was changed") && !notice[0].contains(&temporary));

        // The employee logs in, must change, and the domain's rules apply.
        let (status, login, _) = t.login("acme/mail/erin", &temporary).await;
        assert_eq!((status, login["must_change_password"].clone()), (201, json!(true)));
        let erin_token = login["token"].as_str().unwrap().to_string();
        assert_eq!(t.current(&erin_token).await.0, 403);
        let (status, body) = t.change_password(&erin_token, &temporary, "Company-Mail-77").await;
        assert_eq!((status, violation_codes(&body)), (422, vec!["contains_weak_keyword".to_string()]));
        let (status, body) = t.change_password(&erin_token, &temporary, "Xx-erin@mail.example").await;
        assert_eq!(status, 422);
        assert!(violation_codes(&body).contains(&"contains_email".to_string()), "{body}");
        let (status, body) = t.change_password(&erin_token, &temporary, "lowercase-only").await;
        assert_eq!((status, violation_codes(&body)), (422, vec!["too_few_classes".to_string()]));
        assert_eq!(t.change_password(&erin_token, &temporary, "Tidal-Forest-31").await.0, 204);

        // The account above the postmaster resets the postmaster by link.
        let root = t.token("acme", PASSWORD).await;
        let (status, body) = reset(&t, &root, postmaster.id, json!({"mode": "link"})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["sent_to"], json!(["p***r@mail.example"]));
        assert_eq!(t.current(&pm).await.0, 401);
        let mails = t.smtp.wait_for("postmaster@mail.example", 1).await;
        assert!(!message_id(&mails[0]).is_empty());
        let (flow, token) = link_parts(&mails[0]);
        assert!(mails[0].contains("/t/acme/reset#flow="), "the token travels in the fragment: {}", mails[0]);
        let (status, body, _) = t
            .step(&flow, "reset", json!({"reset_token": token, "new_password": "Night-Harbor-55", "confirm_password": "Night-Harbor-55"}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(t.login("acme/mail/postmaster", "Night-Harbor-55").await.0, 201);
        let (status, _, _) = t
            .step(&flow, "reset", json!({"reset_token": token, "new_password": "Night-Harbor-56", "confirm_password": "Night-Harbor-56"}))
            .await;
        assert_eq!(status, 400, "the link works once");
        let actions: Vec<String> = t.app.store.audit_tail(50).await.unwrap().into_iter().map(|a| a.0).collect();
        assert_eq!(actions.iter().filter(|a| *a == "password.admin_reset").count(), 2);
    }

    async fn rights_follow_the_tree(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        let acme = t.account("acme", None, None).await;
        let mail = t.account("acme/mail", None, None).await;
        let postmaster = t.admin("acme/mail/postmaster", None).await;
        let erin = t.account("acme/mail/erin", None, None).await;
        let other = t.account("globex", None, None).await;
        let cases = [
            ("acme/mail/erin", postmaster.id, 403),
            ("acme/mail/erin", erin.id, 403),
            ("acme/mail/postmaster", mail.id, 403),
            ("acme/mail/postmaster", acme.id, 403),
            ("acme/mail/postmaster", other.id, 403),
            ("globex", erin.id, 403),
            ("acme/mail/postmaster", 999_999, 404),
            ("acme/mail/postmaster", erin.id, 200),
            ("acme/mail", postmaster.id, 200),
            ("acme", erin.id, 200),
        ];
        for (i, (actor, target, expected)) in cases.into_iter().enumerate() {
            let token = t.token(actor, PASSWORD).await;
            let password = format!("Temp-Pass-{i:04}");
            let (status, body) = reset(&t, &token, target, json!({"mode": "temporary", "password": password})).await;
            assert_eq!(status, expected, "{actor} → {target}: {body}");
        }
    }

    async fn admin_actions_need_a_recent_password(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let bob = t.account("acme/bob", None, None).await;
        let root = t.token("acme", PASSWORD).await;
        t.clock.advance(16 * 60);
        let (status, body) = reset(&t, &root, bob.id, json!({"mode": "temporary"})).await;
        assert_eq!((status, body["error"]["code"].clone()), (401, json!("reauth_required")));
        let (status, _) = admin_post(&t, &root, "/api/v1/t/acme/sessions/current/reauth", json!({"password": "Wrong-pass-1"})).await;
        assert_eq!(status, 401);
        let (status, _) = admin_post(&t, &root, "/api/v1/t/acme/sessions/current/reauth", json!({"password": PASSWORD})).await;
        assert_eq!(status, 204);
        assert_eq!(reset(&t, &root, bob.id, json!({"mode": "temporary"})).await.0, 200);
        let (status, body) = reset(&t, &root, bob.id, json!({"mode": "link"})).await;
        assert_eq!((status, body["error"]["code"].clone()), (409, json!("no_verified_contact")));
        let (status, body) = reset(&t, &root, bob.id, json!({"mode": "sideways"})).await;
        assert_eq!((status, body["error"]["code"].clone()), (400, json!("invalid_mode")));
    }

    async fn an_iam_user_without_contacts_is_let_in_by_the_root(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        // An individual's cloud account: its IAM users have no
        // administrator to approve a recovery, only the owner to reset.
        t.individual("alice", Some("alice@example.com")).await;
        let bot = t.account("alice/ci-bot", None, None).await;
        let (_, started) = t.start_recovery("alice/ci-bot").await;
        assert_eq!(started["next"], "ask_administrator");
        let root = t.token("alice", PASSWORD).await;
        let (status, _) = reset(&t, &root, bot.id, json!({"mode": "temporary", "password": "Given-Temp-9876"})).await;
        assert_eq!(status, 200);
        let (status, body, _) = t.login("alice/ci-bot", "Given-Temp-9876").await;
        assert_eq!((status, body["must_change_password"].clone()), (201, json!(true)));
    }

    async fn disabling_ends_sessions_and_logins(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let bob = t.account("acme/bob", None, None).await;
        let root = t.token("acme", PASSWORD).await;
        let bob_session = t.token("acme/bob", PASSWORD).await;
        let (status, body) = admin_post(&t, &root, &format!("/api/v1/t/acme/accounts/{}/disable", bob.id), json!({})).await;
        assert_eq!((status, body), (200, json!({"id": bob.id, "disabled": true})));
        assert_eq!(t.current(&bob_session).await.0, 401);
        assert_eq!(t.login("acme/bob", PASSWORD).await.0, 403);
        let bob_cannot = admin_post(&t, &bob_session, &format!("/api/v1/t/acme/accounts/{}/enable", bob.id), json!({})).await;
        assert_eq!(bob_cannot.0, 401);
        let (status, _) = admin_post(&t, &root, &format!("/api/v1/t/acme/accounts/{}/enable", bob.id), json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(t.login("acme/bob", PASSWORD).await.0, 201);
    }

    async fn the_authorization_matrix(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        t.admin("acme/ops-admin", None).await;
        t.admin("acme/hr-admin", None).await;
        t.account("acme/bob", None, None).await;
        t.account("acme/bob/kid", None, None).await;
        t.account("acme/mail", None, None).await;
        t.admin("acme/mail/postmaster", None).await;
        t.account("acme/mail/erin", None, None).await;
        t.account("globex", None, None).await;
        // Support staff review appeals; they hold no rights over accounts.
        let desk = t.individual("helpdesk", None).await;
        t.app.set_staff_role(&t.tenant, desk.id, Some("support")).await.unwrap();
        let other = t.app.create_tenant("other", "Other", regain_domain::policy::presets::Preset::Cloud).await.unwrap();
        t.account_in(&other, "acme", None, None, false).await;

        let mut cases = Vec::new();
        // Each actor against self, child, grandchild, parent, peer admin, other tree.
        for action in ["reset", "disable", "role", "policy", "show", "bind"] {
            let own = if matches!(action, "show" | "bind") { 200 } else { 403 };
            cases.extend([
                case("acme", "acme", action, own),
                case("acme", "acme/bob", action, 200),
                case("acme", "acme/bob/kid", action, 200),
                case("acme", "acme/mail/postmaster", action, 200),
                case("acme", "globex", action, 403),
                case("acme/ops-admin", "acme/ops-admin", action, own),
                case("acme/ops-admin", "acme/bob", action, 200),
                case("acme/ops-admin", "acme/bob/kid", action, 200),
                case("acme/ops-admin", "acme", action, 403),
                case("acme/ops-admin", "acme/hr-admin", action, 403),
                case("acme/ops-admin", "globex", action, 403),
                case("acme/bob", "acme/bob", action, own),
                case("acme/bob", "acme/bob/kid", action, 200),
                case("acme/bob", "acme", action, 403),
                case("acme/bob", "acme/ops-admin", action, 403),
                case("acme/bob", "acme/mail", action, 403),
                case("acme/mail/postmaster", "acme/mail/erin", action, 200),
                case("acme/mail/postmaster", "acme/mail", action, 403),
                case("acme/mail/postmaster", "acme", action, 403),
                case("acme/mail/erin", "acme/mail/postmaster", action, 403),
                case("acme/mail/erin", "acme/mail/erin", action, own),
                case("globex", "acme/bob", action, 403),
                case("other:acme", "acme/bob", action, 404),
                case("helpdesk", "acme/bob", action, 403),
                case("helpdesk", "acme", action, 403),
                case("helpdesk", "acme/mail/erin", action, 403),
            ]);
        }
        assert!(cases.len() >= 40);
        let password = regain_domain::password::Password::parse(PASSWORD.into()).unwrap();
        let original = t.app.hasher.hash(password).await.unwrap();
        for (i, c) in cases.iter().enumerate() {
            let (tenant, actor) = match c.actor.strip_prefix("other:") {
                Some(name) => ("other", name),
                None => ("acme", c.actor),
            };
            let (status, body, _) = t
                .post(&format!("/api/v1/t/{tenant}/sessions"), json!({"identifier": actor, "password": PASSWORD}))
                .await;
            assert_eq!(status, 201, "{} logs in: {body}", c.actor);
            let token = body["token"].as_str().unwrap().to_string();
            let target = t.app.store.account_by_qualified_name(t.tenant.id, c.target).await.unwrap().unwrap();
            let base = format!("/api/v1/t/{tenant}/accounts/{}", target.id);
            let request = match c.action {
                "reset" => t.http.post(t.url(&format!("{base}/password-reset"))).json(&json!({"mode": "temporary", "password": "Matrix-Temp-4711"})),
                "disable" => t.http.post(t.url(&format!("{base}/disable"))),
                "policy" => t.http.put(t.url(&format!("{base}/policy"))).json(&json!({"override": {"min_length": 9}})),
                "role" => t.http.put(t.url(&format!("{base}/role"))).json(&json!({"role": "member"})),
                "bind" => t.http.post(t.url(&format!("{base}/contacts"))).json(&json!({"kind": "email", "value": format!("m{i}@example.com")})),
                _ => t.http.get(t.url(&base)),
            };
            let res = request.bearer_auth(&token).send().await.unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            let expected = if c.action == "bind" && c.expected == 200 { 202 } else { c.expected };
            assert_eq!(status, expected, "{} {} {}: {body}", c.actor, c.action, c.target);
            // Undo what succeeded, so every case starts from the same tree.
            if status == 200 {
                match c.action {
                    "reset" => t.app.store.set_password(target.id, &original, false, 1, None, t.clock.now()).await.unwrap(),
                    "disable" => t.app.store.set_disabled(target.id, false, t.clock.now()).await.unwrap(),
                    "policy" => t.app.store.set_policy_override(target.id, None).await.unwrap(),
                    "role" => {
                        if let regain_domain::account::Position::Sub(role) = target.position {
                            t.app.store.set_role(target.id, role).await.unwrap();
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    async fn the_audit_log_shows_each_reader_its_own_subtree(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let mail = t.account("acme/mail", None, None).await;
        t.admin("acme/mail/postmaster", None).await;
        let erin = t.account("acme/mail/erin", None, None).await;
        t.account("globex", None, None).await;
        // Events: failed logins for erin and for the mail domain.
        t.login("acme/mail/erin", "Wrong-pass-1").await;
        t.login("acme/mail", "Wrong-pass-1").await;
        let read = |token: String, query: String| {
            let http = t.http.clone();
            let url = t.url(&format!("/api/v1/t/acme/audit{query}"));
            async move {
                let res = http.get(url).bearer_auth(token).send().await.unwrap();
                assert_eq!(res.status(), 200);
                let page: Value = res.json().await.unwrap();
                page["events"].as_array().unwrap().iter().map(|e| (e["action"].as_str().unwrap().to_string(), e["subject"].as_str().unwrap().to_string(), e["outcome"].as_str().unwrap().to_string())).collect::<Vec<_>>()
            }
        };
        let erin_subject = format!("account:{}", erin.id);
        let mail_subject = format!("account:{}", mail.id);
        let failed = |subject: &str| ("login".to_string(), subject.to_string(), "failure".to_string());
        let root = read(t.token("acme", PASSWORD).await, "?action=login".into()).await;
        assert!(root.contains(&failed(&erin_subject)) && root.contains(&failed(&mail_subject)), "{root:?}");
        let pm = read(t.token("acme/mail/postmaster", PASSWORD).await, "?action=login".into()).await;
        assert!(pm.contains(&failed(&erin_subject)), "{pm:?}");
        assert!(!pm.contains(&failed(&mail_subject)), "not its parent's events: {pm:?}");
        let own = read(t.token("acme/mail/erin", PASSWORD).await, format!("?subject={erin_subject}")).await;
        assert!(own.contains(&failed(&erin_subject)), "{own:?}");
        let globex = read(t.token("globex", PASSWORD).await, format!("?subject={erin_subject}")).await;
        assert!(globex.is_empty(), "another tree sees nothing: {globex:?}");
        let paged = read(t.token("acme", PASSWORD).await, "?limit=1".into()).await;
        assert_eq!(paged.len(), 1);
        // A tenant operator reads the whole tenant; support staff only
        // their own events.
        let auditor = t.individual("auditor", None).await;
        t.app.set_staff_role(&t.tenant, auditor.id, Some("operator")).await.unwrap();
        let desk = t.individual("helpdesk", None).await;
        t.app.set_staff_role(&t.tenant, desk.id, Some("support")).await.unwrap();
        t.login("globex", "Wrong-pass-1").await;
        let all = read(t.token("auditor", PASSWORD).await, "?action=login".into()).await;
        assert!(all.contains(&failed(&erin_subject)) && all.contains(&failed(&mail_subject)), "{all:?}");
        assert!(all.iter().any(|(_, s, o)| o == "failure" && s != &erin_subject && s != &mail_subject), "other trees too: {all:?}");
        let support = read(t.token("helpdesk", PASSWORD).await, format!("?subject={erin_subject}")).await;
        assert!(support.is_empty(), "support reads no account's events: {support:?}");
    }

    async fn contacts_are_bound_only_with_their_code(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let bob = t.account("acme/bob", Some("old@acme.example"), None).await;
        let bob_token = t.token("acme/bob", PASSWORD).await;
        let base = format!("/api/v1/t/acme/accounts/{}", bob.id);
        let (status, body) = admin_post(&t, &bob_token, &format!("{base}/contacts"), json!({"kind": "email", "value": "New@Acme.example"})).await;
        assert_eq!((status, body.clone()), (202, json!({"kind": "email", "hint": "n***w@acme.example"})));
        let mail = t.smtp.wait_for("New@acme.example", 1).await;
        let code = crate::peers::code_in(&mail[0]);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let (status, body) = admin_post(&t, &bob_token, &format!("{base}/contacts/verify"), json!({"kind": "email", "code": wrong})).await;
        assert_eq!((status, body["error"]["code"].clone(), body["error"]["attempts_left"].clone()), (400, json!("code_invalid"), json!(4)));
        let (status, body) = admin_post(&t, &bob_token, &format!("{base}/contacts/verify"), json!({"kind": "email", "code": code})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!((body["email"].clone(), body["email_verified"].clone()), (json!("New@acme.example"), json!(true)));
        let notice = t.smtp.wait_for("old@acme.example", 1).await;
        assert!(notice[0].contains("no longer a verified contact"), "the old contact is told");
        assert_eq!(t.login("new@acme.example", PASSWORD).await.0, 201, "the new email logs in");
        assert_eq!(t.login("old@acme.example", PASSWORD).await.0, 401, "the old one does not");
        let (status, _) = admin_post(&t, &bob_token, &format!("{base}/contacts/verify"), json!({"kind": "email", "code": code})).await;
        assert_eq!(status, 400, "the code is spent");

        // The parent binds a phone for its member, then removes it.
        let root = t.token("acme", PASSWORD).await;
        assert_eq!(admin_post(&t, &root, &format!("{base}/contacts"), json!({"kind": "phone", "value": "+86 138 0000 1111"})).await.0, 202);
        let sms = t.sms.wait_for("+8613800001111", 1).await;
        let code = crate::peers::code_in(sms[0]["text"].as_str().unwrap());
        let (status, body) = admin_post(&t, &root, &format!("{base}/contacts/verify"), json!({"kind": "phone", "code": code})).await;
        assert_eq!((status, body["phone"].clone()), (200, json!("+8613800001111")));
        let res = t.http.delete(t.url(&format!("{base}/contacts/phone"))).bearer_auth(&root).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(t.sms.wait_for("+8613800001111", 2).await.len(), 2, "the removed phone is told");

        // Your own contact needs a recent password too.
        t.clock.advance(16 * 60);
        let (status, body) = admin_post(&t, &bob_token, &format!("{base}/contacts"), json!({"kind": "email", "value": "later@acme.example"})).await;
        assert_eq!((status, body["error"]["code"].clone()), (401, json!("reauth_required")));
    }

    async fn pages_read_the_policy_in_force(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        t.account("acme", None, None).await;
        let mail = t.account("acme/mail", None, None).await;
        let erin = t.account("acme/mail/erin", None, None).await;
        let o = PolicyOverride { min_character_classes: Some(3), ..Default::default() };
        t.app.set_policy_override(&t.tenant, &mail, Some(o)).await.unwrap();
        let (status, tenant_policy) = t.get("/api/v1/t/acme/policy").await;
        assert_eq!((status, tenant_policy["policy"]["min_character_classes"].clone()), (200, json!(2)));
        let (status, _) = t.get(&format!("/api/v1/t/acme/policy?account={}", erin.id)).await;
        assert_eq!(status, 401, "an account's policy needs a session");
        let token = t.token("acme/mail/erin", PASSWORD).await;
        let res = t.http.get(t.url(&format!("/api/v1/t/acme/policy?account={}", erin.id))).bearer_auth(&token).send().await.unwrap();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["policy"]["min_character_classes"], 3);
        assert_eq!(body["sources"]["min_character_classes"], json!({"level": "account", "account_id": mail.id}));
        let res = t.http.get(t.url(&format!("/api/v1/t/acme/policy?account={}", mail.id))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 403, "not the parent's");
    }

    async fn a_bound_contact_respects_the_cap(backend: Backend) {
        let mut t = TestApp::spawn(backend).await;
        t.settings(|s| s.max_accounts_per_contact = 1).await;
        t.account("acme", Some("taken@acme.example"), None).await;
        let bob = t.account("acme/bob", None, None).await;
        let bob_token = t.token("acme/bob", PASSWORD).await;
        let base = format!("/api/v1/t/acme/accounts/{}", bob.id);
        admin_post(&t, &bob_token, &format!("{base}/contacts"), json!({"kind": "email", "value": "taken@acme.example"})).await;
        let mail = t.smtp.wait_for("taken@acme.example", 1).await;
        let code = crate::peers::code_in(&mail[0]);
        let (status, body) = admin_post(&t, &bob_token, &format!("{base}/contacts/verify"), json!({"kind": "email", "code": code})).await;
        assert_eq!((status, body["error"]["code"].clone()), (409, json!("contact_limit_reached")));
    }

    async fn admins_create_and_list_below_them(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        let acme = t.account("acme", None, None).await;
        let mail = t.account("acme/mail", None, None).await;
        t.admin("acme/mail/postmaster", None).await;
        let pm = t.token("acme/mail/postmaster", PASSWORD).await;
        let create = |parent: i64, name: &str| json!({"parent_id": parent, "username": name, "role": "member", "email": format!("{name}@mail.example"), "password": "Fresh-Mailbox-77"});
        let (status, body) = admin_post(&t, &pm, "/api/v1/t/acme/accounts", create(mail.id, "dave")).await;
        assert_eq!(status, 403, "a postmaster cannot add under its parent: {body}");
        let root = t.token("acme", PASSWORD).await;
        let (status, body) = admin_post(&t, &root, "/api/v1/t/acme/accounts", create(mail.id, "dave")).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["qualified_name"], "acme/mail/dave");
        let (status, body) = admin_post(&t, &root, "/api/v1/t/acme/accounts", create(mail.id, "dave")).await;
        assert_eq!((status, body["error"]["code"].clone()), (409, json!("conflict")));
        let (status, body) = admin_post(&t, &root, "/api/v1/t/acme/accounts", json!({"parent_id": acme.id, "username": "weak", "role": "member", "password": "weak"})).await;
        assert_eq!(status, 422, "{body}");
        let res = t.http.get(t.url(&format!("/api/v1/t/acme/accounts?parent={}", mail.id))).bearer_auth(&pm).send().await.unwrap();
        assert_eq!(res.status(), 403, "the postmaster cannot list its parent's children");
        let res = t.http.get(t.url(&format!("/api/v1/t/acme/accounts?parent={}&limit=1", mail.id))).bearer_auth(&root).send().await.unwrap();
        let page: Value = res.json().await.unwrap();
        assert_eq!(page["accounts"].as_array().unwrap().len(), 1);
        let next = page["next_after"].as_i64().expect("another page");
        let res = t.http.get(t.url(&format!("/api/v1/t/acme/accounts?parent={}&after={next}", mail.id))).bearer_auth(&root).send().await.unwrap();
        let page: Value = res.json().await.unwrap();
        assert_eq!(page["accounts"][0]["qualified_name"], "acme/mail/dave");
        let res = t.http.get(t.url("/api/v1/t/acme/accounts")).bearer_auth(&root).send().await.unwrap();
        assert_eq!(res.status(), 400, "parent is required");
    }
}
