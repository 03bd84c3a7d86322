//! Emergency contacts: a logged-in person names up to five trusted people
//! (a name plus an email or phone); each becomes usable once the code sent
//! to it is entered. In a recovery, a code goes to the chosen contact, who
//! relays it.

use regain_delivery::templates::{Locale, Template};
use regain_domain::identifiers::{Email, Phone};
use regain_store::{AuditEvent, Channel, ContactKind, EmergencyContact, Tenant};

use super::mask_contact;
use crate::admin::Actor;
use crate::auth::Client;
use crate::keys::{hmac_hex, hmac_matches, six_digit_code};
use crate::messages::message;
use crate::{App, AppError};

/// How long a set-up code is valid.
const CODE_SECS: i64 = 15 * 60;
/// Wrong set-up codes before the code stops working.
const MAX_TRIES: i64 = 5;
/// Longest name of a contact.
const MAX_NAME_CHARS: usize = 100;

/// An emergency contact as its owner sees it.
#[derive(Debug, Clone)]
pub struct ContactView {
    /// Its id.
    pub id: i64,
    /// The name given.
    pub name: String,
    /// `email` or `phone`.
    pub kind: ContactKind,
    /// Masked value.
    pub hint: String,
    /// Its code was entered.
    pub verified: bool,
}

fn view(c: &EmergencyContact) -> ContactView {
    ContactView {
        id: c.id,
        name: c.name.clone(),
        kind: c.kind,
        hint: mask_contact(c.kind, &c.value),
        verified: c.verified,
    }
}

/// The channel that reaches `value`.
pub(crate) fn channel_of(value: &str) -> Channel {
    if value.contains('@') {
        Channel::Email
    } else {
        Channel::Sms
    }
}

fn normalized(kind: ContactKind, raw: &str) -> Result<String, AppError> {
    Ok(match kind {
        ContactKind::Email => Email::parse(raw)?.as_str().to_string(),
        ContactKind::Phone => Phone::parse(raw)?.as_str().to_string(),
    })
}

fn code_parts<'a>(id: &'a str, value: &'a str, code: &'a str) -> [&'a [u8]; 4] {
    [
        b"emergency-contact",
        id.as_bytes(),
        value.as_bytes(),
        code.as_bytes(),
    ]
}

impl App {
    /// Names an emergency contact and sends it a code.
    pub async fn add_emergency_contact(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        account_id: i64,
        name: &str,
        kind: ContactKind,
        value: &str,
    ) -> Result<ContactView, AppError> {
        let account = self.own_account(tenant, actor, account_id).await?;
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(AppError::Invalid {
                code: "name_invalid",
                message: format!("give the contact a name of 1 to {MAX_NAME_CHARS} characters"),
            });
        }
        let value = normalized(kind, value)?;
        let own = [
            account.email.as_deref().unwrap_or_default(),
            account.phone.as_deref().unwrap_or_default(),
        ];
        if own.iter().any(|o| o.eq_ignore_ascii_case(&value)) {
            return Err(AppError::Invalid {
                code: "contact_is_own",
                message: "an emergency contact is someone else: not your own email or phone".into(),
            });
        }
        self.count_destination(
            &format!("dest:{}:{}", tenant.id, value.to_lowercase()),
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
            channel_of(&value),
            &value,
            &Template::EmergencyContactSetup {
                account: account.qualified_name.clone(),
                code: code.clone(),
                minutes: CODE_SECS / 60,
            },
            Locale::parse(&account.locale),
        )?;
        // The code is keyed by the account and value, so a renewed code for
        // the same contact replaces the old one.
        let key = format!("{}", account.id);
        let hmac = hmac_hex(&self.secret, &code_parts(&key, &value, &code));
        let id = self
            .store
            .add_emergency_contact(
                account.id,
                &name,
                kind,
                &value,
                &hmac,
                now.plus_secs(CODE_SECS),
                &m,
                now,
            )
            .await?;
        self.outbox_wake.notify_one();
        Ok(ContactView {
            id,
            name,
            kind,
            hint: mask_contact(kind, &value),
            verified: false,
        })
    }

    /// Confirms an emergency contact with the code it received.
    pub async fn confirm_emergency_contact(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        account_id: i64,
        contact_id: i64,
        code: &str,
        client: &Client,
    ) -> Result<ContactView, AppError> {
        let account = self.own_account(tenant, actor, account_id).await?;
        let contact = self
            .store
            .emergency_contacts(account.id)
            .await?
            .into_iter()
            .find(|c| c.id == contact_id)
            .ok_or(AppError::NotFound {
                code: "contact_not_found",
                message: "no such emergency contact",
            })?;
        if contact.verified {
            return Ok(view(&contact));
        }
        let (Some(hmac), Some(expires)) = (&contact.code_hmac, contact.code_expires_at) else {
            return Err(AppError::Invalid {
                code: "no_pending_code",
                message: "ask for a new code: add the contact again".into(),
            });
        };
        if self.clock.now() >= expires {
            return Err(AppError::Recovery(
                regain_domain::recovery::FlowError::CodeExpired,
            ));
        }
        let key = format!("{}", account.id);
        if !hmac_matches(
            &self.secret,
            &code_parts(&key, &contact.value, code.trim()),
            hmac,
        ) {
            self.store
                .emergency_wrong_try(contact.id, MAX_TRIES)
                .await?;
            let left = u32::try_from((MAX_TRIES - contact.tries - 1).max(0)).unwrap_or(0);
            return Err(AppError::Recovery(
                regain_domain::recovery::FlowError::WrongCode { tries_left: left },
            ));
        }
        let mut event = AuditEvent::new(
            Some(tenant.id),
            "credentials.emergency_contact",
            &format!("account:{}", account.id),
            &format!("account:{}", account.id),
            &client.ip.to_string(),
            "success",
        );
        event.detail =
            serde_json::json!({ "contact": contact.id, "kind": contact.kind.as_str() }).to_string();
        self.store
            .confirm_emergency_contact(contact.id, &event, self.clock.now())
            .await?;
        Ok(ContactView {
            verified: true,
            ..view(&contact)
        })
    }

    /// The actor's own emergency contacts.
    pub async fn emergency_contacts(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        account_id: i64,
    ) -> Result<Vec<ContactView>, AppError> {
        let account = self.own_account(tenant, actor, account_id).await?;
        Ok(self
            .store
            .emergency_contacts(account.id)
            .await?
            .iter()
            .map(view)
            .collect())
    }

    /// Removes one of the actor's emergency contacts.
    pub async fn remove_emergency_contact(
        &self,
        tenant: &Tenant,
        actor: &Actor<'_>,
        account_id: i64,
        contact_id: i64,
        client: &Client,
    ) -> Result<(), AppError> {
        let account = self.own_account(tenant, actor, account_id).await?;
        let mut event = AuditEvent::new(
            Some(tenant.id),
            "credentials.emergency_contact_removed",
            &format!("account:{}", account.id),
            &format!("account:{}", account.id),
            &client.ip.to_string(),
            "success",
        );
        event.detail = serde_json::json!({ "contact": contact_id }).to_string();
        if !self
            .store
            .remove_emergency_contact(account.id, contact_id, &event, self.clock.now())
            .await?
        {
            return Err(AppError::NotFound {
                code: "contact_not_found",
                message: "no such emergency contact",
            });
        }
        Ok(())
    }
}
