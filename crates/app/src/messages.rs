//! Building outbox messages from templates for a contact.

use regain_delivery::templates::{render, Locale, Template};
use regain_store::{Account, Channel, NewMessage};

use crate::tokens::random_token;
use crate::AppError;

/// A message for `recipient` on `channel`, rendered in `locale`.
pub(crate) fn message(
    tenant_id: i64,
    channel: Channel,
    recipient: &str,
    template: &Template,
    locale: Locale,
) -> Result<NewMessage, AppError> {
    let rendered = render(template, locale);
    Ok(NewMessage {
        tenant_id,
        channel,
        recipient: recipient.to_string(),
        subject: if channel == Channel::Email {
            rendered.subject
        } else {
            String::new()
        },
        body: rendered.body,
        idempotency_key: random_token()?,
    })
}

/// One message per verified contact of `account`.
pub(crate) fn to_verified_contacts(
    account: &Account,
    template: &Template,
) -> Result<Vec<NewMessage>, AppError> {
    let locale = Locale::parse(&account.locale);
    let mut out = Vec::new();
    if let (Some(email), true) = (&account.email, account.email_verified) {
        out.push(message(
            account.tenant_id,
            Channel::Email,
            email,
            template,
            locale,
        )?);
    }
    if let (Some(phone), true) = (&account.phone, account.phone_verified) {
        out.push(message(
            account.tenant_id,
            Channel::Sms,
            phone,
            template,
            locale,
        )?);
    }
    Ok(out)
}
