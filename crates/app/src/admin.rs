//! Administration down the account tree: an administrator (or an operator
//! at the CLI) resets a password with a temporary password or a reset link,
//! and disables or enables accounts. Every call is checked with the single
//! rights function, `regain_domain::account::can_manage`.

use regain_delivery::templates::Template;
use regain_domain::account::can_manage;
use regain_domain::password::Password;
use regain_domain::policy::overrides::{PolicyOverride, Resolved};
use regain_domain::policy::{PasswordPolicy, Subject};
use regain_domain::recovery::{Flow, FlowState};
use regain_store::{Account, AuditEvent, FlowRecord, Tenant};

use crate::auth::{Authenticated, Client};
use crate::messages::to_verified_contacts;
use crate::tokens::{random_token, token_hash};
use crate::{App, AppError};

/// An admin action needs the actor's password proven this recently.
pub const RECENT_AUTH_SECS: i64 = 15 * 60;

/// How long an administrator's reset link works.
pub const RESET_LINK_SECS: i64 = 24 * 3600;

/// Who acts.
#[derive(Debug, Clone)]
pub enum Actor<'a> {
    /// A logged-in account, checked against the tree.
    Account(&'a Authenticated),
    /// The operator at the command line: above every tenant's tree.
    Operator,
}

/// How far an actor's rights must reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Strictly below (or beside, for admins): `can_manage`.
    Managed,
    /// The actor itself, or an account it manages.
    SelfOrManaged,
}

/// How an administrator resets a password.
pub enum ResetMode {
    /// A temporary password the account must change at next login: the one
    /// given, or a generated one that is shown once.
    Temporary(Option<Password>),
    /// A single-use link to the account's verified contacts, valid 24 hours.
    Link,
}

/// What an admin reset did.
pub enum ResetOutcome {
    /// A temporary password is set; `generated` holds it when Regain chose
    /// it (to be shown once, never stored in clear).
    Temporary {
        /// The generated password.
        generated: Option<String>,
    },
    /// A link went to these masked contacts.
    LinkSent {
        /// Masked destinations.
        hints: Vec<String>,
    },
}

impl Actor<'_> {
    fn name(&self) -> String {
        match self {
            Actor::Account(a) => format!("account:{}", a.account.id),
            Actor::Operator => "operator".into(),
        }
    }

    fn ip(&self, client: Option<&Client>) -> String {
        client.map_or("-".to_string(), |c| c.ip.to_string())
    }
}

impl App {
    /// The target account if `actor` may manage it: 404 when it does not
    /// exist in the tenant, 403 when it is outside the actor's rights, 401
    /// `reauth_required` when the actor's password is not recent.
    pub async fn managed_account(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        target_id: i64,
    ) -> Result<Account, AppError> {
        self.target(tenant, actor, target_id, Reach::Managed, true)
            .await
    }

    /// Loads `target_id` and checks `actor`'s reach over it.
    pub(crate) async fn target(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        target_id: i64,
        reach: Reach,
        recent: bool,
    ) -> Result<Account, AppError> {
        let target = self
            .store
            .account(tenant.id, target_id)
            .await?
            .ok_or_else(AppError::account_not_found)?;
        if let Actor::Account(a) = actor {
            let own = a.account.id == target.id && reach == Reach::SelfOrManaged;
            if !own && !can_manage(&a.account.node(), &target.node()) {
                return Err(AppError::Forbidden);
            }
            if recent && self.clock.now().0 - a.session.authenticated_at.0 > RECENT_AUTH_SECS {
                return Err(AppError::ReauthRequired);
            }
        }
        Ok(target)
    }

    /// An account the actor may see: itself or one it manages.
    pub async fn visible_account(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        id: i64,
    ) -> Result<Account, AppError> {
        self.target(tenant, actor, id, Reach::SelfOrManaged, false)
            .await
    }

    /// The children of `parent_id` the actor may see, by id after `after`.
    pub async fn list_children(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        parent_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Account>, AppError> {
        self.visible_account(tenant, actor, parent_id).await?;
        let children = self
            .store
            .list_accounts(tenant.id, Some(parent_id), after, limit.clamp(1, 500))
            .await?;
        Ok(match actor {
            Actor::Operator => children,
            Actor::Account(a) => children
                .into_iter()
                .filter(|c| can_manage(&a.account.node(), &c.node()))
                .collect(),
        })
    }

    /// Creates a sub-account under `parent_id`; the actor must be the
    /// parent or manage it.
    pub async fn create_sub_account(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        parent_id: i64,
        mut spec: crate::accounts::AccountSpec,
        client: Option<&Client>,
    ) -> Result<Account, AppError> {
        let parent = self
            .target(tenant, actor, parent_id, Reach::SelfOrManaged, true)
            .await?;
        spec.parent = Some(parent.qualified_name.clone());
        spec.kind = None;
        let account = self.create_account(tenant, spec).await?;
        let event = AuditEvent::new(
            Some(tenant.id),
            "account.create",
            &actor.name(),
            &format!("account:{}", account.id),
            &actor.ip(client),
            "success",
        );
        self.store.audit(&event, self.clock.now()).await?;
        Ok(account)
    }

    /// Changes a sub-account's role (audited).
    pub async fn set_role(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        id: i64,
        role: regain_domain::account::Role,
        client: Option<&Client>,
    ) -> Result<Account, AppError> {
        let target = self.managed_account(tenant, actor, id).await?;
        let mut event = AuditEvent::new(
            Some(tenant.id),
            "account.role",
            &actor.name(),
            &format!("account:{}", target.id),
            &actor.ip(client),
            "success",
        );
        event.detail = serde_json::json!({ "role": role.as_str() }).to_string();
        self.store
            .set_role_audited(target.id, role, &event, self.clock.now())
            .await
            .map_err(|e| match e {
                regain_store::StoreError::NotFound(_) => AppError::Invalid {
                    code: "not_a_sub_account",
                    message: "only sub-accounts have a role".into(),
                },
                other => other.into(),
            })?;
        Ok(Account {
            position: regain_domain::account::Position::Sub(role),
            ..target
        })
    }

    /// A reset link from the configured public URL (never the request's
    /// Host); its flow and token travel in the fragment, which browsers do
    /// not send to servers.
    pub(crate) fn reset_link(&self, tenant: &Tenant, flow_id: &str, token: &str) -> String {
        format!(
            "{}/t/{}/reset#flow={flow_id}&token={token}",
            self.config.effective_public_url(),
            tenant.slug
        )
    }

    /// Audit events the actor may read: about itself or accounts it
    /// manages; the operator at the command line and an account with the
    /// tenant's `operator` staff role read the whole tenant. Newest first,
    /// with the id to pass as `before` for the next page (`None` when
    /// nothing older is left).
    pub async fn read_audit(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        mut filter: regain_store::AuditFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<regain_store::AuditRow>, Option<i64>), AppError> {
        filter.tenant_id = tenant.id;
        let limit = limit.clamp(1, 500);
        let tenant_operator = match actor {
            Actor::Account(a) => {
                self.store.staff_role(a.account.id).await?.as_deref() == Some("operator")
            }
            Actor::Operator => true,
        };
        let actor = if tenant_operator {
            &Actor::Operator
        } else {
            actor
        };
        let mut before = before.unwrap_or(i64::MAX);
        let mut out = Vec::new();
        // Rows are filtered by rights after reading; one request scans at
        // most 20 batches and then hands back where it stopped.
        for _ in 0..20 {
            let batch = self.store.find_audit_events(&filter, before, 200).await?;
            let exhausted = batch.len() < 200;
            for row in batch {
                before = row.id;
                if self.may_read(tenant, actor, &row).await? {
                    out.push(row);
                    if out.len() as i64 >= limit {
                        return Ok((out, Some(before)));
                    }
                }
            }
            if exhausted {
                return Ok((out, None));
            }
        }
        Ok((out, Some(before)))
    }

    async fn may_read(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        row: &regain_store::AuditRow,
    ) -> Result<bool, AppError> {
        let Actor::Account(a) = actor else {
            return Ok(true);
        };
        let Some(id) = row
            .event
            .subject
            .strip_prefix("account:")
            .and_then(|s| s.parse::<i64>().ok())
        else {
            return Ok(false);
        };
        if id == a.account.id {
            return Ok(true);
        }
        Ok(match self.store.account(tenant.id, id).await? {
            Some(subject) => can_manage(&a.account.node(), &subject.node()),
            None => false,
        })
    }

    /// The policy in force for `id` and its own override; the actor must be
    /// the account or manage it.
    pub async fn subtree_policy(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        id: i64,
    ) -> Result<(Resolved, Option<PolicyOverride>), AppError> {
        let account = self.visible_account(tenant, actor, id).await?;
        let resolved = self.effective_policy(tenant, &account).await?;
        Ok((resolved, account.policy_override))
    }

    /// Replaces `id`'s subtree override (audited); the actor must manage
    /// the account (not be it: nobody loosens the rules set above them),
    /// with a recent password.
    pub async fn put_subtree_policy(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        id: i64,
        policy_override: Option<PolicyOverride>,
    ) -> Result<Resolved, AppError> {
        let account = self.target(tenant, actor, id, Reach::Managed, true).await?;
        self.set_policy_override_by(tenant, &account, policy_override, &actor.name())
            .await?;
        let account = self
            .store
            .account(tenant.id, id)
            .await?
            .ok_or_else(AppError::account_not_found)?;
        self.effective_policy(tenant, &account).await
    }

    /// Proves the session's password again (for admin actions).
    pub async fn reauthenticate(
        &self,
        auth: &Authenticated,
        password: String,
    ) -> Result<(), AppError> {
        let password = Password::parse(password).map_err(|_| AppError::InvalidCredentials)?;
        let key = crate::auth::password_check_key(auth.account.id);
        let rule = regain_store::ThrottleRule {
            max_attempts: self.config.login.max_failures,
            window_secs: i64::from(self.config.login.window_minutes) * 60,
            lock_secs: i64::from(self.config.login.lock_minutes) * 60,
        };
        self.count_attempts(&[(&key, rule)]).await?;
        if !self
            .hasher
            .verify(password, auth.account.password_hash.clone())
            .await?
            .matches
        {
            return Err(AppError::InvalidCredentials);
        }
        self.store.throttle_clear(&key).await?;
        self.store
            .touch_authenticated(&auth.session.token_hash, self.clock.now())
            .await?;
        Ok(())
    }

    /// Resets `target_id`'s password as `actor`. Either way the target's
    /// sessions are revoked, its verified contacts are told, and the action
    /// is audited.
    pub async fn admin_reset(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        target_id: i64,
        mode: ResetMode,
        client: Option<&Client>,
    ) -> Result<ResetOutcome, AppError> {
        let target = self.managed_account(tenant, actor, target_id).await?;
        let now = self.clock.now();
        let mut event = AuditEvent::new(
            Some(tenant.id),
            "password.admin_reset",
            &actor.name(),
            &format!("account:{}", target.id),
            &actor.ip(client),
            "success",
        );
        event.detail = match mode {
            ResetMode::Temporary(_) => r#"{"mode":"temporary"}"#,
            ResetMode::Link => r#"{"mode":"link"}"#,
        }
        .into();
        match mode {
            ResetMode::Temporary(given) => {
                let policy = self.effective_policy(tenant, &target).await?.policy;
                let (password, generated) = match given {
                    Some(p) => (p, None),
                    None => {
                        let (p, t) = (policy.clone(), target.clone());
                        // Checked against the policy: on the hashing pool.
                        let text = self
                            .hasher
                            .compute(move || temporary_password(&p, &t))
                            .await??;
                        (Password::parse(text.clone())?, Some(text))
                    }
                };
                let hash = self
                    .hash_new_password(&policy, &target, &password, true)
                    .await?;
                let notices = to_verified_contacts(
                    &target,
                    &Template::PasswordChanged {
                        account: target.qualified_name.clone(),
                        suggest_emergency_contact: false,
                    },
                )?;
                self.store
                    .set_password_by_admin(
                        target.id,
                        &hash,
                        true,
                        policy.history_depth,
                        &notices,
                        &event,
                        now,
                    )
                    .await?;
                self.outbox_wake.notify_one();
                Ok(ResetOutcome::Temporary { generated })
            }
            ResetMode::Link => {
                let flow_id = random_token()?;
                let token = random_token()?;
                let link = self.reset_link(tenant, &flow_id, &token);
                let messages = to_verified_contacts(
                    &target,
                    &Template::ResetLink {
                        account: target.qualified_name.clone(),
                        link,
                        hours: RESET_LINK_SECS / 3600,
                    },
                )?;
                if messages.is_empty() {
                    return Err(AppError::NoVerifiedContact);
                }
                let hints = crate::recovery::masked_contacts(&target);
                let record = FlowRecord {
                    id_hash: token_hash(&flow_id),
                    tenant_id: tenant.id,
                    account_id: Some(target.id),
                    contact: None,
                    flow: Flow {
                        state: FlowState::Verified,
                        decoy: false,
                        offers: Vec::new(),
                        method: None,
                        destination: None,
                        code_expires_at: None,
                        wrong_tries: 0,
                        messages_sent: 0,
                        last_sent_at: None,
                        expires_at: now.plus_secs(RESET_LINK_SECS),
                        reset_expires_at: Some(now.plus_secs(RESET_LINK_SECS)),
                        progress: Default::default(),
                    },
                    code_hmac: None,
                    last_message_id: None,
                    reset_token_hash: Some(token_hash(&token)),
                    version: 0,
                    created_at: now,
                    account_locale: None,
                };
                self.store
                    .issue_reset_link(&record, target.id, &messages, &event, now)
                    .await?;
                self.outbox_wake.notify_one();
                Ok(ResetOutcome::LinkSent { hints })
            }
        }
    }

    /// Disables or enables `target_id` as `actor` (disabling revokes its
    /// sessions).
    pub async fn set_account_disabled(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        target_id: i64,
        disabled: bool,
        client: Option<&Client>,
    ) -> Result<Account, AppError> {
        let target = self.managed_account(tenant, actor, target_id).await?;
        let now = self.clock.now();
        let action = if disabled {
            "account.disable"
        } else {
            "account.enable"
        };
        let event = AuditEvent::new(
            Some(tenant.id),
            action,
            &actor.name(),
            &format!("account:{}", target.id),
            &actor.ip(client),
            "success",
        );
        self.store
            .set_disabled_audited(target.id, disabled, &event, now)
            .await?;
        Ok(Account { disabled, ..target })
    }
}

/// A random password that meets `policy`: letters, digits and punctuation,
/// at least 16 characters (more if the policy asks).
fn temporary_password(policy: &PasswordPolicy, target: &Account) -> Result<String, AppError> {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const DIGIT: &[u8] = b"23456789";
    const PUNCT: &[u8] = b"-_.!#%+";
    let len = (policy.min_length as usize).clamp(16, policy.max_length as usize);
    let email = target.email_parsed();
    for _ in 0..20 {
        let mut bytes = vec![0u8; len];
        getrandom::fill(&mut bytes)
            .map_err(|e| AppError::internal(format!("OS random source failed: {e}")))?;
        let text: String = bytes
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let set = [UPPER, LOWER, DIGIT, PUNCT][i % 4];
                char::from(set[usize::from(*b) % set.len()])
            })
            .collect();
        let subject = Subject {
            username: Some(&target.username),
            email: email.as_ref(),
        };
        if policy.check(&text, subject).is_empty() {
            return Ok(text);
        }
    }
    Err(AppError::internal(
        "could not generate a temporary password that meets the policy",
    ))
}
