//! Binding and unbinding an account's email or phone. A new contact is bound
//! as verified only after the code sent to it is entered; the old contact is
//! told when it is replaced or removed. The account itself (or an account
//! that manages it) acts, with a recent password.

use regain_delivery::templates::{Locale, Template};
use regain_domain::identifiers::{Email, Phone};
use regain_domain::recovery::{mask_email, mask_phone};
use regain_store::{Account, AuditEvent, Channel, ContactKind, Tenant};

use crate::admin::{Actor, Reach};
use crate::auth::Client;
use crate::keys::{hmac_hex, six_digit_code};
use crate::messages::message;
use crate::{App, AppError};

/// How long a contact code is valid.
const CODE_SECS: i64 = 15 * 60;
/// Wrong codes before the pending contact is dropped.
const MAX_TRIES: i64 = 5;

/// A parsed contact: the value to store, its lookup key and its mask.
fn parse(kind: ContactKind, raw: &str) -> Result<(String, String, String), AppError> {
    Ok(match kind {
        ContactKind::Email => {
            let e = Email::parse(raw)?;
            (e.as_str().to_string(), e.key(), mask_email(&e))
        }
        ContactKind::Phone => {
            let p = Phone::parse(raw)?;
            (
                p.as_str().to_string(),
                p.as_str().to_string(),
                mask_phone(&p),
            )
        }
    })
}

fn channel(kind: ContactKind) -> Channel {
    match kind {
        ContactKind::Email => Channel::Email,
        ContactKind::Phone => Channel::Sms,
    }
}

fn code_hmac(app: &App, account_id: i64, kind: ContactKind, key: &str, code: &str) -> String {
    hmac_hex(
        &app.secret,
        &[
            b"contact",
            account_id.to_string().as_bytes(),
            kind.as_str().as_bytes(),
            key.as_bytes(),
            code.as_bytes(),
        ],
    )
}

impl App {
    /// Sends a code to a new contact for `account_id`; returns its mask.
    pub async fn start_contact_binding(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        account_id: i64,
        kind: ContactKind,
        value: &str,
    ) -> Result<String, AppError> {
        let account = self
            .target(tenant, actor, account_id, Reach::SelfOrManaged, true)
            .await?;
        let (value, key, hint) = parse(kind, value)?;
        let destination_key = format!("dest:{}:{}", tenant.id, key.to_lowercase());
        self.count_destination(
            &destination_key,
            tenant
                .settings
                .recovery
                .max_messages_per_destination_per_hour,
        )
        .await?;
        let code = six_digit_code()?;
        let now = self.clock.now();
        let m = message(
            tenant.id,
            channel(kind),
            &value,
            &Template::ContactVerification {
                code: code.clone(),
                minutes: CODE_SECS / 60,
            },
            Locale::parse(&account.locale),
        )?;
        self.store
            .start_contact_verification(
                account.id,
                kind,
                &value,
                &code_hmac(self, account.id, kind, &key, &code),
                now.plus_secs(CODE_SECS),
                &m,
                now,
            )
            .await?;
        self.outbox_wake.notify_one();
        Ok(hint)
    }

    /// Binds the pending contact of `kind` once `code` is right.
    pub async fn confirm_contact(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        account_id: i64,
        kind: ContactKind,
        code: &str,
        client: Option<&Client>,
    ) -> Result<Account, AppError> {
        let account = self
            .target(tenant, actor, account_id, Reach::SelfOrManaged, true)
            .await?;
        let pending =
            self.store
                .pending_contact(account.id, kind)
                .await?
                .ok_or(AppError::Invalid {
                    code: "no_pending_contact",
                    message: "ask for a code first".into(),
                })?;
        if self.clock.now() >= pending.expires_at {
            return Err(AppError::Recovery(
                regain_domain::recovery::FlowError::CodeExpired,
            ));
        }
        let (value, key, _) = parse(kind, &pending.value)?;
        let code = code.trim();
        // Counted before the comparison, so parallel guesses cannot exceed it.
        let tries_key = format!("contact:verify:{}:{}", account.id, kind.as_str());
        let rule = regain_store::ThrottleRule {
            max_attempts: u32::try_from(MAX_TRIES).unwrap_or(5),
            window_secs: CODE_SECS,
            lock_secs: CODE_SECS,
        };
        self.count_attempts(&[(&tries_key, rule)]).await?;
        let id_text = account.id.to_string();
        let parts: [&[u8]; 5] = [
            b"contact",
            id_text.as_bytes(),
            kind.as_str().as_bytes(),
            key.as_bytes(),
            code.as_bytes(),
        ];
        if !crate::keys::hmac_matches(&self.secret, &parts, &pending.code_hmac) {
            self.store
                .contact_wrong_try(account.id, kind, MAX_TRIES)
                .await?;
            let left = u32::try_from((MAX_TRIES - pending.tries - 1).max(0)).unwrap_or(0);
            return Err(AppError::Recovery(
                regain_domain::recovery::FlowError::WrongCode { tries_left: left },
            ));
        }
        self.replace_contact(tenant, actor, &account, kind, Some((value, key)), client)
            .await
    }

    /// Removes the contact of `kind` (the old contact is told).
    pub async fn unbind_contact(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        account_id: i64,
        kind: ContactKind,
        client: Option<&Client>,
    ) -> Result<Account, AppError> {
        let account = self
            .target(tenant, actor, account_id, Reach::SelfOrManaged, true)
            .await?;
        self.replace_contact(tenant, actor, &account, kind, None, client)
            .await
    }

    async fn replace_contact(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        account: &Account,
        kind: ContactKind,
        new: Option<(String, String)>,
        client: Option<&Client>,
    ) -> Result<Account, AppError> {
        let old = match kind {
            ContactKind::Email => account.email.clone().filter(|_| account.email_verified),
            ContactKind::Phone => account.phone.clone().filter(|_| account.phone_verified),
        };
        let mut notices = Vec::new();
        if let Some(old) =
            old.filter(|o| new.as_ref().is_none_or(|(v, _)| !v.eq_ignore_ascii_case(o)))
        {
            notices.push(message(
                tenant.id,
                channel(kind),
                &old,
                &Template::ContactChanged {
                    account: account.qualified_name.clone(),
                },
                Locale::parse(&account.locale),
            )?);
        }
        let action = if new.is_some() {
            "contact.bind"
        } else {
            "contact.unbind"
        };
        let actor_name = match actor {
            Actor::Account(a) => format!("account:{}", a.account.id),
            Actor::Operator => "operator".into(),
        };
        let mut event = AuditEvent::new(
            Some(tenant.id),
            action,
            &actor_name,
            &format!("account:{}", account.id),
            &client.map_or("-".to_string(), |c| c.ip.to_string()),
            "success",
        );
        event.detail = serde_json::json!({ "kind": kind.as_str() }).to_string();
        self.store
            .set_contact(
                account.id,
                kind,
                new.as_ref().map(|(v, k)| (v.as_str(), k.as_str())),
                tenant.settings.max_accounts_per_contact,
                &notices,
                &event,
                self.clock.now(),
            )
            .await?;
        self.outbox_wake.notify_one();
        self.store
            .account(tenant.id, account.id)
            .await?
            .ok_or_else(AppError::account_not_found)
    }
}
