//! Login, sessions and the password change.
//!
//! Enumeration safety: an unknown account and a wrong password take the same
//! steps — the same throttle writes, one Argon2id verification (against a
//! dummy hash when there is no account) — and give the same error,
//! [`AppError::InvalidCredentials`].

use std::net::IpAddr;

use regain_domain::clock::Timestamp;
use regain_domain::identifiers::LoginIdentifier;
use regain_domain::password::Password;
use regain_store::{Account, AccountLookup, NewSession, Session, Tenant, ThrottleRule};

use crate::log_safe::LogSafe;
use crate::tokens::{random_token, token_hash};
use crate::{App, AppError};

/// Who is calling, as far as the edge can tell.
#[derive(Debug, Clone)]
pub struct Client {
    /// The socket peer, or the forwarded address from a trusted proxy.
    pub ip: IpAddr,
    /// The User-Agent header, truncated.
    pub user_agent: String,
}

impl Client {
    /// The address as rate limits see it: IPv6 clients by their /64, since
    /// one subscriber usually holds a whole /64.
    pub fn throttle_address(&self) -> String {
        match self.ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        }
    }
}

/// A successful login. No `Debug`: it holds the session token.
pub struct LoggedIn {
    /// The session token: returned once, stored only as a hash.
    pub token: String,
    /// When the session ends.
    pub expires_at: Timestamp,
    /// The account.
    pub account: Account,
}

/// An authenticated request's session and account.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The session.
    pub session: Session,
    /// Its account, as stored now.
    pub account: Account,
}

/// The refusal of an attempt over its budget, counted in the metrics:
/// `messages` for a destination's hourly cap, otherwise an attempt limit.
/// The attempt counter of one login identifier of a tenant.
pub(crate) fn login_id_key(tenant_id: i64, identifier: &LoginIdentifier) -> String {
    format!("login:id:{tenant_id}:{}", identifier.throttle_key())
}

/// The attempt counter of an account's password checks while logged in
/// (a change, an administrator's re-authentication).
pub(crate) fn password_check_key(account_id: i64) -> String {
    format!("password:acct:{account_id}")
}

pub(crate) fn over_budget(key: &str, messages: bool, now: Timestamp, until: Timestamp) -> AppError {
    if !key.is_empty() {
        crate::metrics::rate_limited(key);
    }
    let retry_after = now.secs_until(until).max(1);
    if messages {
        AppError::DestinationLimit { retry_after }
    } else {
        AppError::Throttled { retry_after }
    }
}

impl App {
    fn login_rule(&self, max: u32) -> ThrottleRule {
        ThrottleRule {
            max_attempts: max,
            window_secs: i64::from(self.config.login.window_minutes) * 60,
            lock_secs: i64::from(self.config.login.lock_minutes) * 60,
        }
    }

    /// Appends an audit event for a request of `client`.
    pub(crate) async fn audit_event(
        &self,
        tenant: &Tenant,
        action: &str,
        actor: &str,
        subject: &str,
        client: &Client,
        outcome: &str,
    ) -> Result<(), AppError> {
        let ip = client.ip.to_string();
        let event =
            regain_store::AuditEvent::new(Some(tenant.id), action, actor, subject, &ip, outcome);
        Ok(self.store.audit(&event, self.clock.now()).await?)
    }

    /// Counts an attempt on each key before the slow check it guards; the
    /// first refusal wins.
    pub(crate) async fn count_attempts(
        &self,
        keys: &[(&str, ThrottleRule)],
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        // One transaction for every key: on SQLite each write transaction
        // waits its turn at the single writer.
        match self.store.throttle_attempts(keys, now).await? {
            Some((i, until)) => {
                let key = keys.get(i).map_or("", |(key, _)| *key);
                Err(over_budget(key, false, now, until))
            }
            None => Ok(()),
        }
    }

    /// Logs in with any identifier form and a password.
    ///
    /// Attempts are limited per identifier (as typed, normalized) and per
    /// client address. There is deliberately no lock shared by the several
    /// identifiers of one account: it would let a prober learn which emails
    /// and phones belong to a known username. An account has at most three
    /// identifier forms (name, email, phone), so the cap stays at three
    /// times the per-identifier limit per window.
    pub async fn login(
        &self,
        tenant_slug: &str,
        identifier: &str,
        password: String,
        client: &Client,
    ) -> Result<LoggedIn, AppError> {
        // Boxed, as the recovery steps are (see `recovery`).
        let result = Box::pin(self.login_inner(tenant_slug, identifier, password, client)).await;
        crate::metrics::login(match &result {
            Ok(_) => "ok",
            Err(e) => crate::metrics::outcome_of(e),
        });
        if let Err(e) = &result {
            // The identifier helps an operator follow an attack; it is
            // escaped, so CR/LF or ANSI in it cannot forge a line.
            tracing::info!(
                tenant = %LogSafe(tenant_slug),
                identifier = %LogSafe(identifier),
                ip = %client.ip,
                outcome = e.code(),
                "login refused"
            );
        }
        result
    }

    async fn login_inner(
        &self,
        tenant_slug: &str,
        identifier: &str,
        password: String,
        client: &Client,
    ) -> Result<LoggedIn, AppError> {
        let tenant = self.tenant(tenant_slug).await?;
        let identifier = LoginIdentifier::parse(identifier)?;
        let password = Password::parse(password)?;
        let _place = self.hasher.admit()?;
        let now = self.clock.now();

        let id_key = login_id_key(tenant.id, &identifier);
        let ip_key = format!("login:ip:{}:{}", tenant.id, client.throttle_address());
        self.count_attempts(&[
            (&ip_key, self.login_rule(self.config.login.ip_max_failures)),
            (&id_key, self.login_rule(self.config.login.max_failures)),
        ])
        .await?;
        let account = self.find_login_account(&tenant, &identifier).await?;

        let hash = account.as_ref().and_then(|a| a.password_hash.clone());
        let verified = self.hasher.verify(password, hash).await?;
        let subject = account
            .as_ref()
            .map_or("unknown".to_string(), |a| format!("account:{}", a.id));
        let Some(account) = account.filter(|_| verified.matches) else {
            self.audit_event(&tenant, "login", "anonymous", &subject, client, "failure")
                .await?;
            return Err(AppError::InvalidCredentials);
        };
        if account.disabled {
            return Err(AppError::AccountDisabled);
        }
        let mut account = account;
        if let (Some(new_hash), Some(old_hash)) = (&verified.rehashed, &account.password_hash) {
            if self
                .store
                .rehash_password(account.id, old_hash, new_hash)
                .await?
            {
                account.password_hash = Some(new_hash.clone());
                tracing::info!(
                    account = account.id,
                    "password rehashed with the current parameters"
                );
            }
        }
        let policy = self.effective_policy(&tenant, &account).await?.policy;
        if let Some(changed) = account.password_changed_at {
            if !account.must_change_password && policy.is_expired(changed, now) {
                account.must_change_password = true;
            }
        }
        let token = random_token()?;
        let expires_at = now.plus_secs(i64::from(self.config.session.ttl_minutes) * 60);
        let session = NewSession {
            token_hash: token_hash(&token),
            tenant_id: tenant.id,
            account_id: account.id,
            expires_at,
            ip: client.ip.to_string(),
            user_agent: client.user_agent.chars().take(256).collect(),
        };
        // The session, its audit event and the settled attempt counters in
        // one write: the hash above is the only slow part of a log-on.
        let event = regain_store::AuditEvent::new(
            Some(tenant.id),
            "login",
            &subject,
            &subject,
            &client.ip.to_string(),
            "success",
        );
        self.store
            .open_session(&session, &event, &[&id_key], &[&ip_key], now)
            .await?;
        tracing::info!(tenant = %tenant.slug, account = account.id, ip = %client.ip, outcome = "success", "login");
        Ok(LoggedIn {
            token,
            expires_at,
            account,
        })
    }

    /// The one account an identifier names, if it names exactly one.
    pub(crate) async fn find_login_account(
        &self,
        tenant: &Tenant,
        identifier: &LoginIdentifier,
    ) -> Result<Option<Account>, AppError> {
        // A contact bound to several accounts is no login identifier.
        let found = self
            .store
            .accounts(tenant.id, AccountLookup::from(identifier), 2)
            .await?;
        Ok(single(found))
    }

    /// Resolves a session token. The session must be live and of this
    /// tenant, and the account enabled.
    pub async fn authenticate(
        &self,
        tenant: &Tenant,
        token: &str,
    ) -> Result<Authenticated, AppError> {
        if token.is_empty() || token.len() > 128 {
            return Err(AppError::Unauthenticated);
        }
        let now = self.clock.now();
        let session = self
            .store
            .live_session(&token_hash(token), now)
            .await?
            .filter(|s| s.tenant_id == tenant.id)
            .ok_or(AppError::Unauthenticated)?;
        let account = self
            .store
            .account(tenant.id, session.account_id)
            .await?
            .filter(|a| !a.disabled)
            .ok_or(AppError::Unauthenticated)?;
        Ok(Authenticated { session, account })
    }

    /// Whether the account may use anything but the password change now.
    pub async fn must_change_password(
        &self,
        tenant: &Tenant,
        account: &Account,
    ) -> Result<bool, AppError> {
        if account.must_change_password {
            return Ok(true);
        }
        let Some(changed) = account.password_changed_at else {
            return Ok(false);
        };
        let policy = self.effective_policy(tenant, account).await?.policy;
        Ok(policy.is_expired(changed, self.clock.now()))
    }

    /// Ends the session of `token`.
    pub async fn logout(&self, tenant: &Tenant, token: &str) -> Result<(), AppError> {
        let auth = self.authenticate(tenant, token).await?;
        self.store
            .revoke_session(&auth.session.token_hash, self.clock.now())
            .await?;
        Ok(())
    }

    /// The account's live sessions, newest first; the caller's is among them.
    pub async fn own_sessions(&self, auth: &Authenticated) -> Result<Vec<Session>, AppError> {
        Ok(self
            .store
            .live_sessions(auth.account.id, self.clock.now())
            .await?)
    }

    /// Signs out every other session of the account (a lost phone, a
    /// shared computer); returns how many ended.
    pub async fn sign_out_other_sessions(
        &self,
        tenant: &Tenant,
        auth: &Authenticated,
        client: &Client,
    ) -> Result<u64, AppError> {
        let event = regain_store::AuditEvent::new(
            Some(tenant.id),
            "session.others_revoked",
            &format!("account:{}", auth.account.id),
            &format!("account:{}", auth.account.id),
            &client.ip.to_string(),
            "success",
        );
        Ok(self
            .store
            .revoke_other_sessions(
                auth.account.id,
                &auth.session.token_hash,
                &event,
                self.clock.now(),
            )
            .await?)
    }

    /// Changes the logged-in account's password: the current one must be
    /// right, the new one must meet the policy (history included). Other
    /// sessions of the account are revoked; this one stays.
    pub async fn change_password(
        &self,
        tenant: &Tenant,
        auth: &Authenticated,
        current: String,
        new: String,
    ) -> Result<(), AppError> {
        let current = Password::parse(current).map_err(|_| AppError::InvalidCredentials)?;
        let new = Password::parse(new)?;
        let now = self.clock.now();
        let account = &auth.account;
        let key = password_check_key(account.id);
        self.count_attempts(&[(&key, self.login_rule(self.config.login.max_failures))])
            .await?;
        let verified = self
            .hasher
            .verify(current, account.password_hash.clone())
            .await?;
        if !verified.matches {
            return Err(AppError::InvalidCredentials);
        }
        self.store.throttle_clear(&key).await?;
        let policy = self.effective_policy(tenant, account).await?.policy;
        let hash = self.hash_new_password(&policy, account, &new, true).await?;
        self.store
            .set_password(
                account.id,
                &hash,
                false,
                policy.history_depth,
                Some(&auth.session.token_hash),
                now,
            )
            .await?;
        let client = Client {
            ip: auth
                .session
                .ip
                .parse()
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            user_agent: String::new(),
        };
        let who = format!("account:{}", account.id);
        self.audit_event(tenant, "password.change", &who, &who, &client, "success")
            .await?;
        tracing::info!(tenant = %tenant.slug, account = account.id, "password changed");
        Ok(())
    }
}

fn single(mut accounts: Vec<Account>) -> Option<Account> {
    if accounts.len() == 1 {
        accounts.pop()
    } else {
        None
    }
}
