//! The storage contract, run identically on both backends.

use regain_domain::account::{AccountKind, Role};
use regain_domain::clock::Timestamp;
use regain_domain::identifiers::{Email, Phone, TenantSlug, Username};
use regain_domain::policy::overrides::{PolicyOverride, Source};
use regain_domain::policy::presets::Preset;
use regain_domain::recovery::{Flow, FlowState, RecoverySettings};
use regain_domain::tenant::TenantSettings;
use regain_store::{
    AuditEvent, Counted, FlowRecord, NewAccount, NewTenant, Placement, Store, StoreError,
    ThrottleRule,
};

use crate::helpers::{Backend, TestApp};

fn new_account(tenant_id: i64, placement: &Placement, username: &str) -> NewAccount {
    NewAccount {
        tenant_id,
        placement: placement.clone(),
        username: Username::parse(username).unwrap(),
        display_name: None,
        email: None,
        email_verified: false,
        phone: None,
        phone_verified: false,
        password_hash: Some(format!("hash-of-{username}")),
        must_change_password: false,
        locale: "en".into(),
    }
}

const NOW: Timestamp = Timestamp(1_800_000_000);

async fn store(backend: Backend) -> (Store, i64, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&backend.fresh_url(dir.path()).await, 4)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap(); // idempotent
    let t = store.create_tenant(&acme(), NOW).await.unwrap();
    (store, t.id, dir)
}

fn acme() -> NewTenant {
    NewTenant {
        slug: TenantSlug::parse("acme").unwrap(),
        name: "Acme".into(),
        policy: Preset::Cloud.policy(),
        settings: TenantSettings::default(),
    }
}

/// Two stores on one fresh database, as two processes would have.
async fn two_stores(backend: Backend) -> (Store, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = backend.fresh_url(dir.path()).await;
    let here = Store::connect(&url, 2).await.unwrap();
    here.migrate().await.unwrap();
    let other = Store::connect(&url, 2).await.unwrap();
    (here, other, dir)
}

/// A new flow for `account_id` (a decoy's without one).
fn new_flow(tenant_id: i64, id_hash: &str, account_id: Option<i64>) -> FlowRecord {
    FlowRecord {
        id_hash: id_hash.into(),
        tenant_id,
        account_id,
        contact: None,
        flow: Flow::start(
            Vec::new(),
            account_id.is_none(),
            NOW,
            &RecoverySettings::default(),
        ),
        code_hmac: None,
        last_message_id: None,
        reset_token_hash: None,
        version: 0,
        created_at: NOW,
        account_locale: None,
    }
}

/// A queued email, `key` its idempotency key.
fn message(tid: i64, key: &str) -> regain_store::NewMessage {
    regain_store::NewMessage {
        tenant_id: tid,
        channel: regain_store::Channel::Email,
        recipient: "a@example.com".into(),
        subject: "s".into(),
        body: "b".into(),
        idempotency_key: key.into(),
    }
}

backend_tests! {
    async fn tenant_slugs_are_unique(backend: Backend) {
        let (store, _, _dir) = store(backend).await;
        let dup = NewTenant {
            slug: TenantSlug::parse("acme").unwrap(),
            name: "Again".into(),
            policy: Preset::Nist.policy(),
            settings: TenantSettings::default(),
        };
        assert!(matches!(store.create_tenant(&dup, NOW).await, Err(StoreError::Conflict("tenant slug"))));
        let found = store.tenant_by_slug("acme").await.unwrap().unwrap();
        assert_eq!(found.name, "Acme");
        assert_eq!(found.policy, Preset::Cloud.policy());
        assert!(store.tenant_by_slug("nope").await.unwrap().is_none());
    }

    async fn usernames_are_unique_among_siblings_only(backend: Backend) {
        let (store, tid, _dir) = store(backend).await;
        let ent = Placement::Root(AccountKind::Enterprise);
        let a = store.create_account(&new_account(tid, &ent, "a"), 5, NOW).await.unwrap();
        let b = store.create_account(&new_account(tid, &ent, "b"), 5, NOW).await.unwrap();
        assert!(matches!(store.create_account(&new_account(tid, &ent, "a"), 5, NOW).await, Err(StoreError::Conflict("username"))));
        let under = |parent_id| Placement::Sub { parent_id, role: Role::Member };
        let a_bob = store.create_account(&new_account(tid, &under(a.id), "bob"), 5, NOW).await.unwrap();
        store.create_account(&new_account(tid, &under(b.id), "bob"), 5, NOW).await.unwrap();
        assert!(matches!(store.create_account(&new_account(tid, &under(a.id), "bob"), 5, NOW).await, Err(StoreError::Conflict("username"))));
        let deep = store.create_account(&new_account(tid, &under(a_bob.id), "x"), 5, NOW).await.unwrap();
        assert_eq!(deep.qualified_name, "a/bob/x");
        assert_eq!(deep.path, vec![a.id, a_bob.id, deep.id]);
        assert_eq!(deep.parent_id, Some(a_bob.id));
        let found = store.account_by_qualified_name(tid, "a/bob/x").await.unwrap().unwrap();
        assert_eq!(found, deep);
        let lineage: Vec<i64> = store.lineage(&deep).await.unwrap().iter().map(|x| x.id).collect();
        assert_eq!(lineage, vec![a.id, a_bob.id, deep.id]);
        assert!(matches!(
            store.create_account(&new_account(tid, &under(999_999), "orphan"), 5, NOW).await,
            Err(StoreError::NotFound("parent account"))
        ));
        let roots: Vec<String> = store.list_accounts(tid, None, 0, 10).await.unwrap().into_iter().map(|x| x.qualified_name).collect();
        assert_eq!(roots, ["a", "b"]);
        let children = store.list_accounts(tid, Some(a.id), 0, 10).await.unwrap();
        assert_eq!(children.len(), 1);
        let page = store.list_accounts(tid, None, a.id, 10).await.unwrap();
        assert_eq!(page.len(), 1, "paging continues after the last id");
    }

    async fn a_conflicting_creation_changes_nothing(backend: Backend) {
        let (store, tid, _dir) = store(backend).await;
        let ent = Placement::Root(AccountKind::Enterprise);
        let a = store.create_account(&new_account(tid, &ent, "a"), 5, NOW).await.unwrap();
        assert!(store.create_account(&new_account(tid, &ent, "a"), 5, NOW).await.is_err());
        assert_eq!(store.list_accounts(tid, None, 0, 10).await.unwrap().len(), 1);
        assert_eq!(store.password_history(a.id, 24).await.unwrap(), ["hash-of-a"]);
    }

    async fn verified_contacts_are_capped_per_tenant(backend: Backend) {
        let (store, tid, _dir) = store(backend).await;
        let ent = Placement::Root(AccountKind::Individual);
        let email = Email::parse("same@example.com").unwrap();
        let phone = Phone::parse("+8613800000001").unwrap();
        for i in 0..3 {
            let mut n = new_account(tid, &ent, &format!("p{i}"));
            n.email = Some(email.clone());
            n.email_verified = true;
            n.phone = Some(phone.clone());
            n.phone_verified = true;
            store.create_account(&n, 3, NOW).await.unwrap();
        }
        let mut over = new_account(tid, &ent, "p3");
        over.email = Some(Email::parse("SAME@example.com").unwrap());
        over.email_verified = true;
        assert!(matches!(store.create_account(&over, 3, NOW).await, Err(StoreError::ContactLimit)));
        let mut over = new_account(tid, &ent, "p4");
        over.phone = Some(phone.clone());
        over.phone_verified = true;
        assert!(matches!(store.create_account(&over, 3, NOW).await, Err(StoreError::ContactLimit)));
        let mut unverified = new_account(tid, &ent, "p5");
        unverified.email = Some(email.clone());
        store.create_account(&unverified, 3, NOW).await.unwrap();
        assert_eq!(store.accounts_by_verified_email(tid, &email, 10).await.unwrap().len(), 3);
        assert_eq!(store.accounts_by_verified_phone(tid, &phone, 10).await.unwrap().len(), 3);
    }

    async fn the_contact_cap_holds_under_concurrent_creations(backend: Backend) {
        let (store, tid, _dir) = store(backend).await;
        let email = Email::parse("race@example.com").unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = store.clone();
            let email = email.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = new_account(tid, &Placement::Root(AccountKind::Individual), &format!("r{i}"));
                n.email = Some(email);
                n.email_verified = true;
                store.create_account(&n, 3, NOW).await
            }));
        }
        let mut created = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => created += 1,
                Err(StoreError::ContactLimit) => {}
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(created, 3);
        assert_eq!(store.accounts_by_verified_email(tid, &email, 10).await.unwrap().len(), 3);
    }

    async fn setting_a_password_is_one_transaction_with_history_and_revocation(backend: Backend) {
        let (store, tid, _dir) = store(backend).await;
        let a = store
            .create_account(&new_account(tid, &Placement::Root(AccountKind::Enterprise), "a"), 5, NOW)
            .await
            .unwrap();
        for token in ["s1", "s2"] {
            let s = regain_store::NewSession {
                token_hash: token.into(),
                tenant_id: tid,
                account_id: a.id,
                expires_at: NOW.plus_secs(3600),
                ip: "127.0.0.1".into(),
                user_agent: String::new(),
            };
            store.create_session(&s, NOW).await.unwrap();
        }
        for h in ["h1", "h2", "h3", "h4"] {
            store.set_password(a.id, h, false, 3, Some("s2"), NOW).await.unwrap();
        }
        assert_eq!(store.password_history(a.id, 24).await.unwrap(), ["h4", "h3", "h2"]);
        let stored = store.account(tid, a.id).await.unwrap().unwrap();
        assert_eq!(stored.password_hash.as_deref(), Some("h4"));
        assert_eq!(stored.password_changed_at, Some(NOW));
        assert!(store.live_session("s1", NOW).await.unwrap().is_none());
        assert!(store.live_session("s2", NOW).await.unwrap().is_some());
        assert!(store.live_session("s2", NOW.plus_secs(3600)).await.unwrap().is_none(), "expired");
        assert!(matches!(store.set_password(999_999, "h", false, 3, None, NOW).await, Err(StoreError::NotFound(_))));
        assert!(store.rehash_password(a.id, "h4", "h4b").await.unwrap());
        assert!(!store.rehash_password(a.id, "h4", "h4c").await.unwrap(), "compare-and-set");
        assert_eq!(store.password_history(a.id, 1).await.unwrap(), ["h4b"]);
    }

    async fn throttles_count_attempts_lock_and_restart(backend: Backend) {
        let (store, _, _dir) = store(backend).await;
        let rule = ThrottleRule { max_attempts: 3, window_secs: 60, lock_secs: 300 };
        let at = |s| NOW.plus_secs(s);
        assert_eq!(store.throttle_attempt("k", rule, at(0)).await.unwrap(), None);
        assert_eq!(store.throttle_attempt("k", rule, at(1)).await.unwrap(), None);
        // a window that ran out starts the count again
        for s in [61, 62, 63] {
            assert_eq!(store.throttle_attempt("k", rule, at(s)).await.unwrap(), None, "attempt at {s}");
        }
        assert_eq!(store.throttle_attempt("k", rule, at(64)).await.unwrap(), Some(at(364)), "the 4th locks");
        assert_eq!(store.throttle_locked_until("k", at(100)).await.unwrap(), Some(at(364)));
        assert_eq!(store.throttle_attempt("k", rule, at(100)).await.unwrap(), Some(at(364)), "still locked");
        assert_eq!(store.throttle_attempt("k", rule, at(364)).await.unwrap(), None, "the lock ended");
        assert_eq!(store.throttle_locked_until("other", NOW).await.unwrap(), None);

        // a refund gives one attempt back; a clear lifts a lock
        for _ in 0..2 {
            store.throttle_attempt("r", rule, at(0)).await.unwrap();
        }
        store.throttle_refund("r").await.unwrap();
        store.throttle_attempt("r", rule, at(0)).await.unwrap();
        assert_eq!(store.throttle_attempt("r", rule, at(0)).await.unwrap(), None, "2 - 1 + 2 = 3 attempts");
        assert!(store.throttle_attempt("r", rule, at(0)).await.unwrap().is_some());
        store.throttle_clear("r").await.unwrap();
        assert_eq!(store.throttle_attempt("r", rule, at(1)).await.unwrap(), None);

        // idle counters are purged after a day; live locks are kept
        assert!(store.throttle_attempt("k", rule, at(400)).await.unwrap().is_none());
        let purged = store.purge_expired(at(400 + 86_400)).await.unwrap();
        assert!(purged >= 2, "purged {purged}");
        assert_eq!(store.throttle_attempt("k", rule, at(400 + 86_400)).await.unwrap(), None);
    }

    async fn a_tenant_change_shows_at_once_here_and_soon_in_another_process(backend: Backend) {
        let (here, other, _dir) = two_stores(backend).await;
        let t = here.create_tenant(&acme(), NOW).await.unwrap();
        assert_eq!(other.tenant_by_slug("acme").await.unwrap().unwrap().settings.max_accounts_per_contact, 5);
        // a change through a store is seen by that store at once
        let mut settings = t.settings.clone();
        settings.max_accounts_per_contact = 2;
        other.set_tenant_settings(t.id, &settings).await.unwrap();
        assert_eq!(other.tenant_by_slug("acme").await.unwrap().unwrap().settings.max_accounts_per_contact, 2);
        let mut policy = t.policy.clone();
        policy.min_length = 17;
        other.set_tenant_policy(t.id, &policy).await.unwrap();
        assert_eq!(other.tenant_by_slug("acme").await.unwrap().unwrap().policy.min_length, 17);
        // and by another within the cache's time
        here.tenant_by_slug("acme").await.unwrap();
        tokio::time::sleep(regain_store::TENANT_CACHE_TTL + std::time::Duration::from_millis(100)).await;
        let seen = here.tenant_by_slug("acme").await.unwrap().unwrap();
        assert_eq!((seen.settings.max_accounts_per_contact, seen.policy.min_length), (2, 17));
    }

    async fn a_write_that_fails_midway_leaves_nothing_and_the_next_write_works(backend: Backend) {
        let (store, tid, _dir) = store(backend).await;
        let rule = ThrottleRule { max_attempts: 2, window_secs: 60, lock_secs: 300 };
        let record = new_flow(tid, "flow-1", None);
        let event = AuditEvent::new(Some(tid), "recovery.start", "anonymous", "flow", "127.0.0.1", "success");
        assert_eq!(store.create_flow(&[("w", rule)], &record, &event).await.unwrap(), Counted::Done(()));
        // the same flow again: the count is written, then the insert fails
        // and the whole transaction must go
        assert!(store.create_flow(&[("w", rule)], &record, &event).await.is_err());
        assert_eq!(store.throttle_attempt("w", rule, NOW).await.unwrap(), None, "1 + 1 attempts: the failed write counted none");
        assert!(store.throttle_attempt("w", rule, NOW).await.unwrap().is_some(), "the third is refused");
        let events = store.audit_events(Some(tid), None, 10).await.unwrap();
        assert_eq!(events.iter().filter(|e| e.event.action == "recovery.start").count(), 1);
    }

    async fn a_flow_is_read_with_its_accounts_locale(backend: Backend) {
        let (store, tid, _dir) = store(backend).await;
        let rule = ThrottleRule { max_attempts: 5, window_secs: 60, lock_secs: 300 };
        let mut spec = new_account(tid, &Placement::Root(AccountKind::Individual), "mei");
        spec.locale = "zh-CN".into();
        let mei = store.create_account(&spec, 5, NOW).await.unwrap();
        let event = AuditEvent::new(Some(tid), "recovery.start", "anonymous", "flow", "127.0.0.1", "success");
        for (id_hash, account_id) in [("real", Some(mei.id)), ("decoy", None)] {
            let record = new_flow(tid, id_hash, account_id);
            assert_eq!(store.create_flow(&[("w", rule)], &record, &event).await.unwrap(), Counted::Done(()));
        }
        let real = store.flow(tid, "real").await.unwrap().unwrap();
        assert_eq!((real.account_id, real.account_locale.as_deref()), (Some(mei.id), Some("zh-CN")));
        let decoy = store.flow(tid, "decoy").await.unwrap().unwrap();
        assert_eq!(decoy.account_locale, None);
    }

    async fn a_save_writes_what_the_step_changed_and_keeps_the_rest(backend: Backend) {
        let (store, tid, _dir) = store(backend).await;
        let rule = ThrottleRule { max_attempts: 5, window_secs: 60, lock_secs: 300 };
        let ann = store.create_account(&new_account(tid, &Placement::Root(AccountKind::Individual), "ann"), 5, NOW).await.unwrap();
        let event = AuditEvent::new(Some(tid), "recovery.start", "anonymous", "flow", "127.0.0.1", "success");
        let mut r = new_flow(tid, "f", Some(ann.id));
        assert_eq!(store.create_flow(&[("w", rule)], &r, &event).await.unwrap(), Counted::Done(()));
        // a challenge: a message, and the code
        r.code_hmac = Some("hmac".into());
        r.flow.messages_sent = 1;
        let sent = store.save_flow(&r, Some(&message(tid, "m1")), None, NOW).await.unwrap();
        assert!(sent.is_some());
        r = store.flow(tid, "f").await.unwrap().unwrap();
        assert_eq!((r.last_message_id, r.code_hmac.as_deref(), r.flow.messages_sent, r.version), (sent, Some("hmac"), 1, 1));
        // a verify: the reset token, no message — the last message stays
        r.flow.state = FlowState::Verified;
        r.reset_token_hash = Some("token".into());
        r.flow.reset_expires_at = Some(NOW.plus_secs(600));
        assert_eq!(store.save_flow(&r, None, None, NOW).await.unwrap(), None);
        r = store.flow(tid, "f").await.unwrap().unwrap();
        assert_eq!((r.flow.state, r.last_message_id, r.reset_token_hash.as_deref()), (FlowState::Verified, sent, Some("token")));
        assert_eq!((r.flow.reset_expires_at, r.account_id, r.version), (Some(NOW.plus_secs(600)), Some(ann.id), 2));
        // one more save with neither: both stay; a stale version is refused
        r.flow.wrong_tries = 2;
        store.save_flow(&r, None, None, NOW).await.unwrap();
        let now_saved = store.flow(tid, "f").await.unwrap().unwrap();
        assert_eq!((now_saved.flow.wrong_tries, now_saved.last_message_id, now_saved.reset_token_hash.as_deref()), (2, sent, Some("token")));
        assert!(matches!(store.save_flow(&r, None, None, NOW).await, Err(StoreError::Conflict(_))));
    }

    async fn the_audit_chain_stays_whole_when_two_processes_append(backend: Backend) {
        let (here, other, _dir) = two_stores(backend).await;
        let event = |n: usize| AuditEvent::new(None, "test.event", "tester", &format!("row {n}"), "127.0.0.1", "success");
        // each store appends in turn, and twice in a row: a writer that
        // trusted the last hash it wrote would fork the chain
        for n in 0..6 {
            let store = if n % 3 == 2 { &other } else { &here };
            store.audit(&event(n), NOW.plus_secs(n as i64)).await.unwrap();
        }
        let (checked, problems) = here.verify_audit(&mut |_, _| {}).await.unwrap();
        assert_eq!(checked, 6);
        assert!(problems.is_empty(), "{problems:?}");
    }

    async fn several_keys_count_in_order_and_stop_at_the_first_refusal(backend: Backend) {
        let (store, _, _dir) = store(backend).await;
        let two = ThrottleRule { max_attempts: 2, window_secs: 60, lock_secs: 300 };
        let many = ThrottleRule { max_attempts: 100, window_secs: 60, lock_secs: 300 };
        let keys = [("ip", two), ("id", many)];
        assert_eq!(store.throttle_attempts(&keys, NOW).await.unwrap(), None);
        assert_eq!(store.throttle_attempts(&keys, NOW).await.unwrap(), None);
        // the third goes over the first key's limit: refused there, and the
        // second key is not charged for it
        assert_eq!(store.throttle_attempts(&keys, NOW).await.unwrap(), Some((0, NOW.plus_secs(300))));
        assert_eq!(store.throttle_attempts(&keys, NOW).await.unwrap(), Some((0, NOW.plus_secs(300))));
        let id_only = [("id", ThrottleRule { max_attempts: 3, ..many })];
        assert_eq!(store.throttle_attempts(&id_only, NOW).await.unwrap(), None, "2 + 1 attempts on id");
        assert!(store.throttle_attempts(&id_only, NOW).await.unwrap().is_some(), "the 4th on id is over 3");

        // a refusal at the second key leaves the first one counted
        let keys = [("a", many), ("b", two)];
        for _ in 0..2 {
            assert_eq!(store.throttle_attempts(&keys, NOW).await.unwrap(), None);
        }
        assert_eq!(store.throttle_attempts(&keys, NOW).await.unwrap(), Some((1, NOW.plus_secs(300))));
        let a_only = [("a", ThrottleRule { max_attempts: 4, ..many })];
        assert_eq!(store.throttle_attempts(&a_only, NOW).await.unwrap(), None, "3 + 1 attempts on a");
        assert!(store.throttle_attempts(&a_only, NOW).await.unwrap().is_some());
    }

    async fn parallel_attempts_cannot_overrun_the_limit(backend: Backend) {
        let (store, _, _dir) = store(backend).await;
        let rule = ThrottleRule { max_attempts: 5, window_secs: 900, lock_secs: 900 };
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move { store.throttle_attempt("p", rule, NOW).await.unwrap() }));
        }
        let mut allowed = 0;
        for t in tasks {
            if t.await.unwrap().is_none() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 5);
    }

    async fn a_crashed_send_is_claimed_again_after_its_lease(backend: Backend) {
        let (store, tid, _dir) = store(backend).await;
        store.enqueue_messages(&[message(tid, "k1")], NOW).await.unwrap();
        let first = store.claim_messages(NOW, 60, 8).await.unwrap();
        assert_eq!(first.len(), 1, "due");
        assert_eq!(first[0].attempts, 1);
        assert!(store.claim_messages(NOW.plus_secs(59), 60, 8).await.unwrap().is_empty(), "leased");
        // the sender died without recording anything: after the lease, again
        let again = store.claim_messages(NOW.plus_secs(60), 60, 8).await.unwrap();
        assert_eq!((again[0].id, again[0].attempts, again[0].idempotency_key.as_str()), (first[0].id, 2, "k1"));
        store.messages_sent(&[again[0].id], NOW.plus_secs(61)).await.unwrap();
        assert!(store.claim_messages(NOW.plus_secs(600), 60, 8).await.unwrap().is_empty(), "sent once");
        let (state, _) = store.message_status(again[0].id).await.unwrap().unwrap();
        assert_eq!(state, regain_store::DeliveryState::Sent);
    }

    async fn messages_are_claimed_in_batches_oldest_first_and_settled_together(backend: Backend) {
        let (store, tid, _dir) = store(backend).await;
        let all: Vec<_> = (0..5).map(|i| message(tid, &format!("k{i}"))).collect();
        let ids = store.enqueue_messages(&all, NOW).await.unwrap();
        let first = store.claim_messages(NOW, 60, 3).await.unwrap();
        assert_eq!(first.iter().map(|m| m.id).collect::<Vec<_>>(), ids[..3], "the oldest three, in order");
        let rest = store.claim_messages(NOW, 60, 3).await.unwrap();
        assert_eq!(rest.iter().map(|m| m.id).collect::<Vec<_>>(), ids[3..], "the batch ahead is leased");
        // two sent, one handed back unsent
        store.messages_sent(&ids[..2], NOW.plus_secs(1)).await.unwrap();
        store.release_messages(&ids[2..3]).await.unwrap();
        for id in &ids[..2] {
            let (state, _) = store.message_status(*id).await.unwrap().unwrap();
            assert_eq!(state, regain_store::DeliveryState::Sent);
        }
        let again = store.claim_messages(NOW.plus_secs(1), 60, 8).await.unwrap();
        assert_eq!(again.len(), 1, "only the released one is due before the lease ends");
        assert_eq!((again[0].id, again[0].attempts), (ids[2], 1), "its unsent try is not counted");
    }

    async fn the_nearest_override_wins_field_by_field(backend: Backend) {
        let t = TestApp::spawn(backend).await;
        let root = t.account("acme", None, None).await;
        let mail = t.account("acme/mail", None, None).await;
        let dave = t.account("acme/mail/dave", None, None).await;
        t.app.store.set_policy_override(root.id, Some(&PolicyOverride { min_length: Some(10), history_depth: Some(4), ..Default::default() })).await.unwrap();
        t.app.store.set_policy_override(mail.id, Some(&PolicyOverride { min_length: Some(12), ..Default::default() })).await.unwrap();
        let dave = t.app.store.account(t.tenant.id, dave.id).await.unwrap().unwrap();
        let r = t.app.effective_policy(&t.tenant, &dave).await.unwrap();
        assert_eq!(r.policy.min_length, 12);
        assert_eq!(r.policy.history_depth, 4);
        assert_eq!(r.policy.max_length, 128);
        assert_eq!(r.sources["min_length"], Source::Account { account_id: mail.id });
        assert_eq!(r.sources["history_depth"], Source::Account { account_id: root.id });
        assert_eq!(r.sources["max_length"], Source::Tenant);
        t.app.store.set_policy_override(mail.id, None).await.unwrap();
        let r = t.app.effective_policy(&t.tenant, &dave).await.unwrap();
        assert_eq!(r.policy.min_length, 10);
    }
}
