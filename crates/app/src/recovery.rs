//! Self-service recovery (DESIGN §3): start, challenge, resend, verify,
//! reset, and the status a person checks when no code arrives.
//!
//! Unknown identifiers get a decoy flow: same answer shape, methods and
//! hints derived from a keyed hash of the identifier (stable across
//! probes), the same database work, nothing ever sent, and verification
//! that fails exactly like a wrong code.
//!
//! Each step's public method boxes its `_inner` future: a step's future
//! holds the state of every branch it may take (several kilobytes for
//! `challenge`), and the HTTP layers move it a few times before it first
//! runs; boxed, they move a pointer (in `regain bench`'s challenge step
//! the HTTP layers' memory copies fell from about 3% of the server's
//! samples to 1.4%).

use regain_delivery::templates::{Locale, Template};
use regain_domain::clock::Timestamp;
use regain_domain::identifiers::{Email, LoginIdentifier, Phone};
use regain_domain::password::Password;
use regain_domain::recovery::{decoy_offers, FlowState, Method, Offer, Verdict};
use regain_domain::tenant::CaptchaMode;
use regain_store::{
    Account, AccountLookup, AuditEvent, Channel, CompletedReset, Counted, FlowRecord, SetupCounts,
    Tenant, ThrottleRule,
};

use crate::auth::{login_id_key, over_budget, password_check_key, Client};
use crate::keys::{hmac_bytes, hmac_hex, same, six_digit_code};
use crate::messages::{message, to_verified_contacts};
use crate::tokens::{random_token, token_hash};
use crate::{App, AppError};

/// What to do after `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Pick one of the offered methods.
    ChooseMethod,
    /// The account has no self-service method: ask an administrator.
    AskAdministrator,
}

/// The answer to `start`.
#[derive(Debug, Clone)]
pub struct Started {
    /// The flow id (a capability: keep it private). `None` when `next` is
    /// `AskAdministrator`.
    pub flow_id: Option<String>,
    /// When the flow ends.
    pub expires_at: Option<Timestamp>,
    /// `(method, masked hint)` pairs.
    pub methods: Vec<(Method, String)>,
    /// What the person does next.
    pub next: Next,
    /// Whether this is a decoy (for metrics only; never shown).
    pub(crate) decoy: bool,
}

/// Where a flow stands, for `GET …/recovery/{flow_id}`.
#[derive(Debug, Clone)]
pub struct Status {
    /// State at the time of asking.
    pub state: FlowState,
    /// The chosen method.
    pub method: Option<Method>,
    /// `(method, hint)` pairs offered.
    pub methods: Vec<(Method, String)>,
    /// Wrong tries left.
    pub attempts_left: u32,
    /// When another code may be asked for.
    pub resend_available_at: Option<Timestamp>,
    /// When the flow ends.
    pub expires_at: Timestamp,
    /// The last message's delivery: `queued`, `sent` or `failed`, with the
    /// class of the last error.
    pub delivery: Option<(String, Option<String>)>,
    /// `security_questions`: the questions to answer, in order.
    pub questions: Vec<String>,
    /// Methods passed already (when a second one is required).
    pub proven: Vec<Method>,
    /// Why the flow ended, when someone said no (an administrator).
    pub reason: Option<String>,
    /// Where to go for the external step (the provider's page).
    pub url: Option<String>,
    /// The external step passed (an approval given, an identity matched):
    /// `verify` will succeed, so a page polling the status can go on.
    pub ready: bool,
}

/// The evidence a person gives to `verify`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evidence<'a> {
    /// The code received (code methods, emergency contact).
    pub code: Option<&'a str>,
    /// The answers, in the order the questions were shown.
    pub answers: Option<&'a [String]>,
}

/// The answer to a successful `verify`.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Authorizes one password reset; `None` when another method must be
    /// passed first (`methods` lists what is left).
    pub reset_token: Option<String>,
    /// When it stops working.
    pub expires_at: Option<Timestamp>,
    /// The methods left to choose from, when another one is needed.
    pub methods: Vec<(Method, String)>,
    /// For a flow started from a contact bound to several accounts: the
    /// accounts to choose from (`id`, qualified name).
    pub accounts: Vec<(i64, String)>,
}

const WINDOW: i64 = 15 * 60;

fn rule(max: u32) -> ThrottleRule {
    ThrottleRule {
        max_attempts: max,
        window_secs: WINDOW,
        lock_secs: WINDOW,
    }
}

/// Messages to one destination: at most `max` an hour.
fn destination_rule(max: u32) -> ThrottleRule {
    ThrottleRule {
        max_attempts: max,
        window_secs: 3600,
        lock_secs: 3600,
    }
}

/// An attempt budget counted in a step's write: the address's recovery
/// requests, or a destination's messages per hour (`messages`, refused with
/// its own error).
struct Budget {
    key: String,
    rule: ThrottleRule,
    messages: bool,
}

/// The store's view of `budgets`: a key and a rule each.
fn attempts_of(budgets: &[Budget]) -> Vec<(&str, ThrottleRule)> {
    budgets.iter().map(|b| (b.key.as_str(), b.rule)).collect()
}

/// The error for the refused budget number `index`.
fn refusal(budgets: &[Budget], index: usize, now: Timestamp, until: Timestamp) -> AppError {
    match budgets.get(index) {
        Some(b) => over_budget(&b.key, b.messages, now, until),
        None => over_budget("", false, now, until),
    }
}

fn offers_of(account: &Account) -> Vec<Offer> {
    let mut offers = Vec::new();
    if let (Some(p), true) = (&account.phone, account.phone_verified) {
        if let Ok(p) = Phone::parse(p) {
            offers.push(Offer::sms(&p));
        }
    }
    if let (Some(e), true) = (&account.email, account.email_verified) {
        if let Ok(e) = Email::parse(e) {
            offers.push(Offer::email(&e));
        }
    }
    offers
}

/// The masked verified contacts of an account.
pub(crate) fn masked_contacts(account: &Account) -> Vec<String> {
    offers_of(account).into_iter().map(|o| o.hint).collect()
}

fn listed(offers: &[Offer]) -> Vec<(Method, String)> {
    offers.iter().map(|o| (o.method, o.hint.clone())).collect()
}

impl App {
    fn recovery_ip_key(&self, tenant: &Tenant, client: &Client) -> String {
        format!("recovery:ip:{}:{}", tenant.id, client.throttle_address())
    }

    /// The client address's recovery budget, to count with a write.
    fn request_budget(&self, tenant: &Tenant, client: &Client) -> Budget {
        Budget {
            key: self.recovery_ip_key(tenant, client),
            rule: rule(tenant.settings.recovery.requests_per_ip),
            messages: false,
        }
    }

    /// Saves a flow after counting `budgets` in the same transaction: one
    /// write for a whole step (on SQLite every write transaction waits its
    /// turn at the single writer). A refusal changes nothing but the counts.
    async fn save_counted(
        &self,
        budgets: &[Budget],
        r: &FlowRecord,
        message: Option<&regain_store::NewMessage>,
        event: Option<&AuditEvent>,
        now: Timestamp,
    ) -> Result<Option<i64>, AppError> {
        match self
            .store
            .save_flow_counted(&attempts_of(budgets), r, message, event, now)
            .await?
        {
            Counted::Done(id) => Ok(id),
            Counted::Refused { index, until } => Err(refusal(budgets, index, now, until)),
        }
    }

    /// Counts `budgets` in a write of their own.
    async fn count_budgets(&self, budgets: &[Budget]) -> Result<(), AppError> {
        let now = self.clock.now();
        match self
            .store
            .throttle_attempts(&attempts_of(budgets), now)
            .await?
        {
            Some((index, until)) => Err(refusal(budgets, index, now, until)),
            None => Ok(()),
        }
    }

    /// The flow of a step that counts its request with the flow's own
    /// write; an unknown flow is counted here.
    async fn load_counted_flow(
        &self,
        tenant: &Tenant,
        flow_id: &str,
        client: &Client,
    ) -> Result<FlowRecord, AppError> {
        match self.load_flow(tenant, flow_id).await {
            Ok(r) => Ok(r),
            Err(e) => {
                self.count_recovery_request(tenant, client).await?;
                Err(e)
            }
        }
    }

    /// Counts one recovery request against the client address's budget.
    pub(crate) async fn count_recovery_request(
        &self,
        tenant: &Tenant,
        client: &Client,
    ) -> Result<(), AppError> {
        self.count_budgets(&[self.request_budget(tenant, client)])
            .await
    }

    /// Starts a recovery for `identifier`, behind the CAPTCHA.
    pub async fn start_recovery(
        &self,
        tenant: &Tenant,
        identifier: &str,
        captcha_id: Option<&str>,
        captcha_answer: Option<&str>,
        client: &Client,
    ) -> Result<Started, AppError> {
        let result = Box::pin(self.start_recovery_inner(
            tenant,
            identifier,
            captcha_id,
            captcha_answer,
            client,
        ))
        .await;
        let outcome = match &result {
            Ok(s) if s.next == Next::AskAdministrator => "no_method",
            Ok(s) if s.decoy => "decoy",
            Ok(_) => "ok",
            Err(e) => crate::metrics::outcome_of(e),
        };
        crate::metrics::recovery_step("start", outcome);
        result
    }

    async fn start_recovery_inner(
        &self,
        tenant: &Tenant,
        identifier: &str,
        captcha_id: Option<&str>,
        captcha_answer: Option<&str>,
        client: &Client,
    ) -> Result<Started, AppError> {
        let s = &tenant.settings.recovery;
        let identifier = LoginIdentifier::parse(identifier)?;
        // The identifier's budget is counted only after the CAPTCHA, so
        // nobody can exhaust a victim's recovery without solving one. The
        // budgets left are counted in the flow's own write (one write for
        // the step; on SQLite every write waits its turn at the writer).
        let id = Budget {
            key: format!("recovery:id:{}:{}", tenant.id, identifier.throttle_key()),
            rule: rule(s.requests_per_identifier),
            messages: false,
        };
        let mut budgets = vec![self.request_budget(tenant, client)];
        if tenant.settings.captcha == CaptchaMode::Off {
            budgets.push(id);
        } else {
            self.count_budgets(&budgets).await?;
            self.check_captcha(tenant, captcha_id, captcha_answer)
                .await?;
            budgets = vec![id];
        }
        let now = self.clock.now();

        let cap = i64::from(tenant.settings.max_accounts_per_contact) + 1;
        let lookup = AccountLookup::from(&identifier);
        let contact = match &identifier {
            LoginIdentifier::Email(e) => Some(Offer::email(e)),
            LoginIdentifier::Phone(p) => Some(Offer::sms(p)),
            LoginIdentifier::Username(_) | LoginIdentifier::Qualified(_) => None,
        };
        let mut found = self
            .store
            .accounts_with_setup(tenant.id, lookup, cap)
            .await?;
        // A name is one account; a contact may be bound to several.
        let bound = if contact.is_some() { found.len() } else { 1 };
        let account = if found.len() == 1 { found.pop() } else { None };
        let (offers, decoy, account_id, contact_value) = match (account, contact) {
            (Some((a, setup)), _) if !a.disabled => {
                let offers = self.offers_for(tenant, &a, setup).await?;
                if offers.is_empty() {
                    self.count_budgets(&budgets).await?;
                    tracing::info!(tenant = %tenant.slug, "recovery: no self-service method");
                    return Ok(Started {
                        flow_id: None,
                        expires_at: None,
                        methods: Vec::new(),
                        next: Next::AskAdministrator,
                        decoy: false,
                    });
                }
                (offers, false, Some(a.id), None)
            }
            // A contact bound to several accounts: prove the contact first,
            // pick the account after.
            (None, Some(offer)) if bound > 1 => {
                let value = offer.destination.clone();
                (vec![offer], false, None, value)
            }
            _ => {
                let seed = hmac_bytes(
                    &self.secret,
                    &[
                        b"decoy",
                        tenant.slug.as_bytes(),
                        identifier.throttle_key().as_bytes(),
                    ],
                );
                (decoy_offers(&identifier, &seed), true, None, None)
            }
        };
        let flow_id = random_token()?;
        let flow = regain_domain::recovery::Flow::start(offers, decoy, now, s);
        let record = FlowRecord {
            id_hash: token_hash(&flow_id),
            tenant_id: tenant.id,
            account_id,
            contact: contact_value,
            flow,
            code_hmac: None,
            last_message_id: None,
            reset_token_hash: None,
            version: 0,
            created_at: now,
            account_locale: None,
        };
        let event = AuditEvent::new(
            Some(tenant.id),
            "recovery.start",
            "anonymous",
            &flow_subject(&record),
            &client.ip.to_string(),
            "success",
        );
        let attempts = attempts_of(&budgets);
        if let Counted::Refused { index, until } =
            self.store.create_flow(&attempts, &record, &event).await?
        {
            return Err(refusal(&budgets, index, now, until));
        }
        Ok(Started {
            expires_at: Some(record.flow.expires_at),
            methods: listed(&record.flow.offers),
            flow_id: Some(flow_id),
            next: Next::ChooseMethod,
            decoy: record.flow.decoy,
        })
    }

    async fn load_flow(&self, tenant: &Tenant, flow_id: &str) -> Result<FlowRecord, AppError> {
        let not_found = || AppError::NotFound {
            code: "flow_not_found",
            message: "no such recovery; start again",
        };
        if flow_id.is_empty() || flow_id.len() > 128 {
            return Err(not_found());
        }
        self.store
            .flow(tenant.id, &token_hash(flow_id))
            .await?
            .ok_or_else(not_found)
    }

    /// Where a flow stands, including the delivery of its last message.
    pub async fn recovery_status(
        &self,
        tenant: &Tenant,
        flow_id: &str,
    ) -> Result<Status, AppError> {
        let r = self.load_flow(tenant, flow_id).await?;
        let delivery = match r.last_message_id {
            Some(id) => self
                .store
                .message_status(id)
                .await?
                .map(|(state, error)| (state.as_str().to_string(), error)),
            None => None,
        };
        self.status_of(tenant, &r, delivery).await
    }

    /// The status of `r` as just read or saved, its last message (if it
    /// has one) being in `delivery`'s state.
    async fn status_of(
        &self,
        tenant: &Tenant,
        r: &FlowRecord,
        delivery: Option<(String, Option<String>)>,
    ) -> Result<Status, AppError> {
        let s = &tenant.settings.recovery;
        let now = self.clock.now();
        let delivery = match (delivery, r.flow.decoy, r.flow.last_sent_at) {
            (Some(d), _, _) => Some(d),
            // A decoy reports what a working delivery would: queued at
            // first, sent a moment later.
            (None, true, Some(at)) if now.0 <= at.0 => Some(("queued".to_string(), None)),
            (None, true, Some(_)) => Some(("sent".to_string(), None)),
            _ => None,
        };
        let delivery = delivery.map(|(state, error)| {
            // "sending" is an internal step; to a person it is still queued.
            let state = if state == "sending" {
                "queued".to_string()
            } else {
                state
            };
            (state, error)
        });
        let questions = match (r.flow.method, r.flow.state, r.account_id) {
            (Some(Method::SecurityQuestions), FlowState::Challenged, Some(account)) => {
                self.questions_at(account, &r.flow.progress.asked).await?
            }
            _ => Vec::new(),
        };
        Ok(Status {
            questions,
            proven: r.flow.progress.proven.clone(),
            reason: r.flow.progress.reason.clone(),
            url: r.flow.progress.url.clone(),
            ready: r.flow.progress.passed,
            state: r.flow.state_at(now),
            method: r.flow.method,
            methods: listed(&r.flow.offers),
            attempts_left: r.flow.tries_left(s),
            resend_available_at: r.flow.resend_available_at(s),
            expires_at: r.flow.expires_at,
            delivery,
        })
    }

    /// The policy a verified flow's new password must meet, for the pages'
    /// checklist (before verification it tells nothing: the tenant's).
    pub async fn recovery_policy(
        &self,
        tenant: &Tenant,
        flow_id: &str,
    ) -> Result<regain_domain::policy::PasswordPolicy, AppError> {
        let r = self.load_flow(tenant, flow_id).await?;
        let verified = r.flow.state_at(self.clock.now()) == FlowState::Verified;
        match (r.account_id, verified) {
            (Some(id), true) => match self.store.account(tenant.id, id).await? {
                Some(account) => Ok(self.effective_policy(tenant, &account).await?.policy),
                None => Ok(tenant.policy.clone()),
            },
            _ => Ok(tenant.policy.clone()),
        }
    }

    /// Chooses a method (and, among several offers of it, the one shown as
    /// `hint`) and starts it: a code is sent, questions are picked, an
    /// administrator is asked. `contact` is the full phone or email behind
    /// a code's hint when the tenant requires it.
    pub async fn challenge_recovery(
        &self,
        tenant: &Tenant,
        flow_id: &str,
        method: Method,
        hint: Option<&str>,
        contact: Option<&str>,
        client: &Client,
    ) -> Result<Status, AppError> {
        let result =
            Box::pin(self.challenge_recovery_inner(tenant, flow_id, method, hint, contact, client))
                .await;
        crate::metrics::recovery_step(
            "challenge",
            match &result {
                Ok(_) => "ok",
                Err(e) => crate::metrics::outcome_of(e),
            },
        );
        result
    }

    async fn challenge_recovery_inner(
        &self,
        tenant: &Tenant,
        flow_id: &str,
        method: Method,
        hint: Option<&str>,
        contact: Option<&str>,
        client: &Client,
    ) -> Result<Status, AppError> {
        let s = &tenant.settings.recovery;
        let mut r = self.load_counted_flow(tenant, flow_id, client).await?;
        let now = self.clock.now();
        let outcome = r.flow.choose(method, hint, contact, now, s);
        // A code (or a refusal) is saved with the request's count, its
        // message and its audit event in one write; the other methods count
        // first and write their own way.
        let code = outcome.is_err()
            || !(method == Method::SecurityQuestions || method.has_external_step());
        if !code {
            self.count_recovery_request(tenant, client).await?;
        }
        let success = AuditEvent::new(
            Some(tenant.id),
            "recovery.challenge",
            "anonymous",
            &flow_subject(&r),
            &client.ip.to_string(),
            "success",
        );
        let sent = match (&outcome, method) {
            (Ok(_), Method::SecurityQuestions) => self
                .ask_questions(tenant, r.clone(), now)
                .await
                .map(|()| None),
            (Ok(_), Method::Face) => self
                .start_face(tenant, r.clone(), client)
                .await
                .map(|()| None),
            (Ok(_), Method::ExternalIdentity) => self
                .start_external_identity(tenant, r.clone(), client)
                .await
                .map(|()| None),
            (Ok(send), Method::AdminApproval) => {
                let approver = send
                    .destination
                    .as_deref()
                    .and_then(|d| d.parse::<i64>().ok());
                match approver {
                    Some(id) => self
                        .request_approval(tenant, r.clone(), id, client)
                        .await
                        .map(|()| None),
                    None => Err(AppError::internal("an approval offer without its approver")),
                }
            }
            _ => {
                let budget = self.request_budget(tenant, client);
                self.send_code(
                    tenant,
                    flow_id,
                    r.clone(),
                    outcome,
                    now,
                    (budget, Some(&success)),
                )
                .await
                .map(Some)
            }
        };
        match &sent {
            Ok(_) if code => {}
            Ok(_) => self.store.audit(&success, now).await?,
            // Over the address's budget: refused before anything happened,
            // as when the budget was counted first.
            Err(AppError::Throttled { .. }) => {}
            Err(_) => {
                self.audit_event(
                    tenant,
                    "recovery.challenge",
                    "anonymous",
                    &flow_subject(&r),
                    client,
                    "denied",
                )
                .await?;
            }
        }
        // A code's flow is known as saved; the other methods saved theirs
        // their own way.
        match sent? {
            Some(saved) => self.status_of(tenant, &saved, just_queued(&saved)).await,
            None => self.recovery_status(tenant, flow_id).await,
        }
    }

    /// Sends a new code by the chosen method (after the cooldown). The
    /// count of wrong tries is kept.
    pub async fn resend_recovery(
        &self,
        tenant: &Tenant,
        flow_id: &str,
        client: &Client,
    ) -> Result<Status, AppError> {
        let result = Box::pin(self.resend_recovery_inner(tenant, flow_id, client)).await;
        crate::metrics::recovery_step(
            "resend",
            match &result {
                Ok(_) => "ok",
                Err(e) => crate::metrics::outcome_of(e),
            },
        );
        result
    }

    async fn resend_recovery_inner(
        &self,
        tenant: &Tenant,
        flow_id: &str,
        client: &Client,
    ) -> Result<Status, AppError> {
        let s = &tenant.settings.recovery;
        let mut r = self.load_counted_flow(tenant, flow_id, client).await?;
        let now = self.clock.now();
        let outcome = r.flow.resend(now, s);
        let budget = self.request_budget(tenant, client);
        let saved = self
            .send_code(tenant, flow_id, r, outcome, now, (budget, None))
            .await?;
        self.status_of(tenant, &saved, just_queued(&saved)).await
    }

    /// Persists a challenge or resend, counting the `request` budget (and
    /// the destination's) in the same write: on refusal the (possibly
    /// counted) wrong try; on success a fresh code, its message and
    /// `audit`. Returns the flow as saved.
    async fn send_code(
        &self,
        tenant: &Tenant,
        flow_id: &str,
        mut r: FlowRecord,
        outcome: Result<regain_domain::recovery::Send, regain_domain::recovery::FlowError>,
        now: Timestamp,
        (request, audit): (Budget, Option<&AuditEvent>),
    ) -> Result<FlowRecord, AppError> {
        let s = &tenant.settings.recovery;
        let send = match outcome {
            Ok(send) => send,
            Err(e) => {
                self.save_counted(&[request], &r, None, None, now).await?;
                return Err(e.into());
            }
        };
        // Messages per destination per hour, counted atomically; a decoy
        // counts against its hint exactly as a real flow counts against its
        // contact, so the cap answers the same either way.
        let hint = r
            .flow
            .offers
            .iter()
            .find(|o| o.method == send.method)
            .map(|o| o.hint.clone())
            .unwrap_or_default();
        let destination_key = match &send.destination {
            Some(d) => format!("dest:{}:{}", tenant.id, d.to_lowercase()),
            None => format!("dest:{}:decoy:{hint}", tenant.id),
        };
        let destination = Budget {
            key: destination_key,
            rule: destination_rule(s.max_messages_per_destination_per_hour),
            messages: true,
        };
        let code = six_digit_code()?;
        r.code_hmac = Some(code_hmac(self, flow_id, &code));
        let message = match &send.destination {
            Some(destination) => {
                let locale = Self::flow_locale(&r);
                let minutes = s.code_ttl_secs / 60;
                let (channel, template) = match send.method {
                    Method::EmailCode => (Channel::Email, Template::RecoveryCode { code, minutes }),
                    Method::SmsCode => (Channel::Sms, Template::RecoveryCode { code, minutes }),
                    Method::EmergencyContact => {
                        let account = match r.account_id {
                            Some(id) => self.store.account(tenant.id, id).await?,
                            None => None,
                        }
                        .ok_or_else(AppError::account_not_found)?;
                        (
                            crate::methods::emergency::channel_of(destination),
                            Template::RelayCode {
                                account: account.qualified_name,
                                code,
                                minutes,
                            },
                        )
                    }
                    other => {
                        return Err(AppError::Internal(format!(
                            "{} sends no code",
                            other.as_str()
                        )))
                    }
                };
                Some(message(tenant.id, channel, destination, &template, locale)?)
            }
            None => None,
        };
        let queued = self
            .save_counted(&[request, destination], &r, message.as_ref(), audit, now)
            .await?;
        if queued.is_some() {
            self.outbox_wake.notify_one();
            r.last_message_id = queued;
        }
        r.version += 1;
        Ok(r)
    }

    /// Picks the questions of a flow (once: a second challenge shows the
    /// same ones, so nobody can draw until they get the ones they know).
    async fn ask_questions(
        &self,
        tenant: &Tenant,
        mut r: FlowRecord,
        now: Timestamp,
    ) -> Result<(), AppError> {
        if r.flow.progress.asked.is_empty() {
            let account = r.account_id.ok_or_else(AppError::account_not_found)?;
            let total = self.store.setup_counts(account).await?.questions;
            let asked = tenant.settings.recovery.methods.questions_asked.max(2);
            r.flow.progress.asked = crate::methods::questions::pick(total, asked)?;
        }
        self.store.save_flow(&r, None, None, now).await?;
        Ok(())
    }

    /// Counts one message to a destination; refuses the one over the
    /// hourly cap.
    pub(crate) async fn count_destination(&self, key: &str, max: u32) -> Result<(), AppError> {
        let rule = destination_rule(max);
        let now = self.clock.now();
        match self.store.throttle_attempt(key, rule, now).await? {
            Some(until) => Err(over_budget(key, true, now, until)),
            None => Ok(()),
        }
    }

    /// The language of a flow's messages: its account's, as read with the
    /// flow (English for a decoy).
    fn flow_locale(r: &FlowRecord) -> Locale {
        r.account_locale
            .as_deref()
            .map_or(Locale::En, Locale::parse)
    }

    /// Checks the evidence of the chosen method; on success issues the
    /// reset token, or asks for one more method.
    pub async fn verify_recovery(
        &self,
        tenant: &Tenant,
        flow_id: &str,
        evidence: Evidence<'_>,
        client: &Client,
    ) -> Result<Verified, AppError> {
        let result = Box::pin(self.verify_recovery_inner(tenant, flow_id, evidence, client)).await;
        crate::metrics::recovery_step(
            "verify",
            match &result {
                Ok(_) => "ok",
                Err(e) => crate::metrics::outcome_of(e),
            },
        );
        result
    }

    async fn verify_recovery_inner(
        &self,
        tenant: &Tenant,
        flow_id: &str,
        evidence: Evidence<'_>,
        client: &Client,
    ) -> Result<Verified, AppError> {
        let s = &tenant.settings.recovery;
        let mut r = self.load_counted_flow(tenant, flow_id, client).await?;
        let now = self.clock.now();
        // The request is counted with the flow's write, except before the
        // answers to security questions, which are hashed: a slow check is
        // counted before it runs.
        let mut request = vec![self.request_budget(tenant, client)];
        if r.flow.method == Some(Method::SecurityQuestions) {
            self.count_recovery_request(tenant, client).await?;
            request.clear();
        }
        let matches = match (r.flow.method, r.account_id) {
            (Some(Method::SecurityQuestions), Some(account)) => {
                let answers = evidence.answers.unwrap_or_default();
                self.answers_match(account, &r.flow.progress.asked, answers)
                    .await?
            }
            _ => {
                let code = evidence.code.unwrap_or_default().trim();
                let well_formed = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
                well_formed
                    && r.code_hmac.as_deref().is_some_and(|h| {
                        crate::keys::hmac_matches(
                            &self.secret,
                            &[b"recovery-code", flow_id.as_bytes(), code.as_bytes()],
                            h,
                        )
                    })
            }
        };
        let verdict = r.flow.verify(matches, now, s);
        if let Err(e) = verdict {
            if e == regain_domain::recovery::FlowError::Pending {
                if !request.is_empty() {
                    self.count_recovery_request(tenant, client).await?;
                }
                return Err(e.into());
            }
            let event = verify_event(tenant, &r, client, "failure");
            self.save_counted(&request, &r, None, Some(&event), now)
                .await?;
            return Err(e.into());
        }

        r.code_hmac = None;
        if verdict == Ok(Verdict::AnotherMethod) {
            let event = verify_event(tenant, &r, client, "another_method");
            self.save_counted(&request, &r, None, Some(&event), now)
                .await?;
            return Ok(Verified {
                reset_token: None,
                expires_at: None,
                methods: listed(&r.flow.offers),
                accounts: Vec::new(),
            });
        }
        let reset_token = random_token()?;
        r.reset_token_hash = Some(token_hash(&reset_token));
        let event = verify_event(tenant, &r, client, "success");
        self.save_counted(&request, &r, None, Some(&event), now)
            .await?;
        let accounts = match &r.contact {
            Some(contact) => self
                .accounts_bound_to(tenant, contact)
                .await?
                .into_iter()
                .map(|(a, _)| (a.id, a.qualified_name))
                .collect(),
            None => Vec::new(),
        };
        Ok(Verified {
            reset_token: Some(reset_token),
            expires_at: Some(r.flow.reset_expires_at.unwrap_or(now)),
            methods: Vec::new(),
            accounts,
        })
    }

    /// The accounts bound to a proven contact, each with what it has set
    /// up; a disabled account is not offered, nor reset.
    async fn accounts_bound_to(
        &self,
        tenant: &Tenant,
        contact: &str,
    ) -> Result<Vec<(Account, SetupCounts)>, AppError> {
        let cap = i64::from(tenant.settings.max_accounts_per_contact);
        let (email, phone) = (Email::parse(contact), Phone::parse(contact));
        let lookup = match (&email, &phone) {
            (Ok(e), _) => AccountLookup::VerifiedEmail(e),
            (_, Ok(p)) => AccountLookup::VerifiedPhone(p),
            _ => return Ok(Vec::new()),
        };
        let found = self
            .store
            .accounts_with_setup(tenant.id, lookup, cap)
            .await?;
        Ok(found.into_iter().filter(|(a, _)| !a.disabled).collect())
    }

    /// Sets a new password with a reset token. Does not log anyone in.
    #[allow(clippy::too_many_arguments)]
    pub async fn reset_password(
        &self,
        tenant: &Tenant,
        flow_id: &str,
        reset_token: &str,
        new_password: String,
        confirm_password: String,
        account_id: Option<i64>,
        client: &Client,
    ) -> Result<(), AppError> {
        // A refused reset counts against the address's recovery budget —
        // a wrong token is a secret checked, a refused password cost a
        // policy check on the hashing pool — and an address over it is
        // refused before any check. A completed reset is not counted (its
        // token is spent), so the step that succeeds writes once.
        let budget = [self.request_budget(tenant, client)];
        let now = self.clock.now();
        let result = match self
            .store
            .throttle_locked_until(&budget[0].key, now)
            .await?
        {
            Some(until) => Err(refusal(&budget, 0, now, until)),
            None => {
                let done = Box::pin(self.reset_password_inner(
                    tenant,
                    flow_id,
                    reset_token,
                    new_password,
                    confirm_password,
                    account_id,
                    client,
                ))
                .await;
                match done {
                    Err(e) if !matches!(e, AppError::Internal(_) | AppError::Busy) => {
                        self.count_budgets(&budget).await.and(Err(e))
                    }
                    other => other,
                }
            }
        };
        crate::metrics::recovery_step(
            "reset",
            match &result {
                Ok(_) => "ok",
                Err(e) => crate::metrics::outcome_of(e),
            },
        );
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn reset_password_inner(
        &self,
        tenant: &Tenant,
        flow_id: &str,
        reset_token: &str,
        new_password: String,
        confirm_password: String,
        account_id: Option<i64>,
        client: &Client,
    ) -> Result<(), AppError> {
        if new_password != confirm_password {
            return Err(AppError::Invalid {
                code: "passwords_differ",
                message: "the two passwords differ".into(),
            });
        }
        let r = self.load_flow(tenant, flow_id).await?;
        let now = self.clock.now();
        let token_hash_value = token_hash(reset_token);
        let token_ok = r
            .reset_token_hash
            .as_deref()
            .is_some_and(|h| same(h, &token_hash_value));
        if !token_ok || !r.flow.can_reset(now) {
            return Err(AppError::ResetTokenInvalid);
        }
        // The account with what it has set up (for the notice's hint), in
        // one read.
        let (account, setup) = match (r.account_id, &r.contact) {
            (Some(id), _) => self
                .store
                .accounts_with_setup(tenant.id, AccountLookup::Id(id), 1)
                .await?
                .pop(),
            (None, Some(contact)) => {
                let chosen = account_id.ok_or(AppError::Invalid {
                    code: "account_required",
                    message: "choose which account to reset (account_id)".into(),
                })?;
                self.accounts_bound_to(tenant, contact)
                    .await?
                    .into_iter()
                    .find(|(a, _)| a.id == chosen)
            }
            (None, None) => None,
        }
        .ok_or(AppError::ResetTokenInvalid)?;
        if account.disabled {
            return Err(AppError::AccountDisabled);
        }
        let password = Password::parse(new_password)?;
        let policy = self.effective_policy(tenant, &account).await?.policy;
        let new_hash = self
            .hash_new_password(&policy, &account, &password, false)
            .await?;
        // Next time should be easier: an account with nobody to relay a
        // code is invited to name someone.
        let suggest_emergency_contact = tenant
            .settings
            .recovery
            .methods
            .enabled
            .contains(&Method::EmergencyContact)
            && setup.emergency_contacts == 0;
        let notices = to_verified_contacts(
            &account,
            &Template::PasswordChanged {
                account: account.qualified_name.clone(),
                suggest_emergency_contact,
            },
        )?;
        let reset = CompletedReset {
            id_hash: r.id_hash.clone(),
            token_hash: token_hash_value,
            account_id: account.id,
            new_hash,
            keep_history: policy.history_depth,
            notices,
            clear_throttles: login_lock_keys(tenant, &account),
            audit: AuditEvent::new(
                Some(tenant.id),
                "password.reset",
                "recovery",
                &format!("account:{}", account.id),
                &client.ip.to_string(),
                "success",
            ),
            bind_contact: appeal_contact(&r, tenant),
        };
        if !self.store.complete_reset(&reset, now).await? {
            return Err(AppError::ResetTokenInvalid);
        }
        self.outbox_wake.notify_one();
        tracing::info!(tenant = %tenant.slug, account = account.id, "password reset through recovery");
        Ok(())
    }
}

/// The attempt counters a reset lifts with the old password: the login
/// lock of each of the account's identifiers, and its password-change
/// counter. The person proved who they are; the locks an attacker caused
/// must not keep them out.
fn login_lock_keys(tenant: &Tenant, account: &Account) -> Vec<String> {
    let verified_email = account.email.iter().filter(|_| account.email_verified);
    let verified_phone = account.phone.iter().filter(|_| account.phone_verified);
    std::iter::once(&account.qualified_name)
        .chain(verified_email)
        .chain(verified_phone)
        .filter_map(|raw| LoginIdentifier::parse(raw).ok())
        .map(|id| login_id_key(tenant.id, &id))
        .chain(std::iter::once(password_check_key(account.id)))
        .collect()
}

/// The audit subject of a flow: its account, or what stands for it.
/// The delivery of the message the save that produced `r` queued (none
/// for a decoy's): queued, as it was when saved.
fn just_queued(r: &FlowRecord) -> Option<(String, Option<String>)> {
    r.last_message_id.map(|_| ("queued".to_string(), None))
}

fn flow_subject(r: &FlowRecord) -> String {
    match (r.account_id, &r.contact) {
        (Some(id), _) => format!("account:{id}"),
        (None, Some(_)) => "shared-contact".to_string(),
        (None, None) => "unknown".to_string(),
    }
}

/// An approved appeal's new contact, bound with the new password.
fn appeal_contact(
    r: &FlowRecord,
    tenant: &Tenant,
) -> Option<(regain_store::ContactKind, String, String, u32)> {
    let from_appeal = r
        .flow
        .progress
        .reference
        .as_deref()
        .is_some_and(|p| p.starts_with("appeal:"));
    let contact = r.contact.as_deref().filter(|_| from_appeal)?;
    let cap = tenant.settings.max_accounts_per_contact;
    if let Ok(e) = Email::parse(contact) {
        Some((
            regain_store::ContactKind::Email,
            e.as_str().to_string(),
            e.key(),
            cap,
        ))
    } else if let Ok(p) = Phone::parse(contact) {
        let value = p.as_str().to_string();
        Some((regain_store::ContactKind::Phone, value.clone(), value, cap))
    } else {
        None
    }
}

fn code_hmac(app: &App, flow_id: &str, code: &str) -> String {
    hmac_hex(
        &app.secret,
        &[b"recovery-code", flow_id.as_bytes(), code.as_bytes()],
    )
}

/// The audit event of a `verify`, written with the flow it changed.
fn verify_event(tenant: &Tenant, r: &FlowRecord, client: &Client, outcome: &str) -> AuditEvent {
    AuditEvent::new(
        Some(tenant.id),
        "recovery.verify",
        "anonymous",
        &flow_subject(r),
        &client.ip.to_string(),
        outcome,
    )
}
