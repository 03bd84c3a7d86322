//! Forgot username: every username bound to a verified contact is sent to
//! that contact. The answer is the same whether or not anything is bound.

use regain_delivery::templates::{Locale, Template};
use regain_domain::identifiers::{Email, Phone};
use regain_store::{Channel, Tenant, ThrottleRule};

use crate::auth::Client;
use crate::messages::message;
use crate::{App, AppError};

impl App {
    /// Sends the usernames bound to `contact` (an email or an E.164 phone).
    pub async fn remind_usernames(
        &self,
        tenant: &Tenant,
        contact: &str,
        captcha_id: Option<&str>,
        captcha_answer: Option<&str>,
        client: &Client,
    ) -> Result<(), AppError> {
        let s = &tenant.settings.recovery;
        let (channel, recipient) = if contact.contains('@') {
            (Channel::Email, Email::parse(contact)?.as_str().to_string())
        } else {
            (Channel::Sms, Phone::parse(contact)?.as_str().to_string())
        };
        let window = |max| ThrottleRule {
            max_attempts: max,
            window_secs: 900,
            lock_secs: 900,
        };
        let ip_key = format!("recovery:ip:{}:{}", tenant.id, client.throttle_address());
        let contact_key = format!("reminder:{}:{}", tenant.id, recipient.to_lowercase());
        self.count_attempts(&[(&ip_key, window(s.requests_per_ip))])
            .await?;
        self.check_captcha(tenant, captcha_id, captcha_answer)
            .await?;
        self.count_attempts(&[(&contact_key, window(s.requests_per_identifier))])
            .await?;
        self.audit_event(
            tenant,
            "username.reminder",
            "anonymous",
            "contact",
            client,
            "success",
        )
        .await?;
        let cap = i64::from(tenant.settings.max_accounts_per_contact);
        let accounts = match channel {
            Channel::Email => {
                let email = Email::parse(&recipient)?;
                self.store
                    .accounts_by_verified_email(tenant.id, &email, cap)
                    .await?
            }
            Channel::Sms => {
                let phone = Phone::parse(&recipient)?;
                self.store
                    .accounts_by_verified_phone(tenant.id, &phone, cap)
                    .await?
            }
        };
        // Bound or not, the destination's hourly budget is counted the
        // same way, so both answers cost the same work.
        let destination_key = format!("dest:{}:{}", tenant.id, recipient.to_lowercase());
        let within_cap = self
            .count_destination(&destination_key, s.max_messages_per_destination_per_hour)
            .await
            .is_ok();
        let Some(first) = accounts.iter().find(|a| !a.disabled) else {
            return Ok(());
        };
        if !within_cap {
            // Same answer as always: the person already got several messages.
            return Ok(());
        }
        let now = self.clock.now();
        let names = accounts.iter().map(|a| a.qualified_name.clone()).collect();
        let m = message(
            tenant.id,
            channel,
            &recipient,
            &Template::UsernameReminder { accounts: names },
            Locale::parse(&first.locale),
        )?;
        self.store.enqueue_messages(&[m], now).await?;
        self.outbox_wake.notify_one();
        Ok(())
    }
}
