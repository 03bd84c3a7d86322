//! The SMTP sender (lettre): plain, STARTTLS or TLS, with optional AUTH.
//! The idempotency key travels as the Message-ID.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use regain_store::OutboxMessage;

use super::{ErrorClass, SendError};
use crate::config::{SmtpConfig, SmtpSecurity};

pub(super) struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpSender {
    pub(super) fn new(c: &SmtpConfig) -> Result<Self, SendError> {
        let config_error = |e: &dyn std::fmt::Display| {
            SendError::new(ErrorClass::Configuration, true, e.to_string())
        };
        let builder = match c.security {
            SmtpSecurity::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)
                .map_err(|e| config_error(&e))?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host)
                .map_err(|e| config_error(&e))?,
        };
        let mut builder = builder
            .port(c.port)
            .timeout(Some(Duration::from_secs(c.timeout_secs.max(1))));
        if !c.username.is_empty() {
            builder = builder.credentials(Credentials::new(c.username.clone(), c.password.clone()));
        }
        let from: Mailbox = c.from.parse().map_err(|e| config_error(&e))?;
        Ok(SmtpSender {
            transport: builder.build(),
            from,
        })
    }

    pub(super) async fn send(&self, m: &OutboxMessage) -> Result<(), SendError> {
        let to: Mailbox = m
            .recipient
            .parse()
            .map_err(|e| SendError::new(ErrorClass::InvalidRecipient, true, format!("{e}")))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            .message_id(Some(format!("<{}@regain>", m.idempotency_key)))
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.clone())
            .map_err(|e| SendError::new(ErrorClass::Configuration, true, e.to_string()))?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => {
                Err(SendError::new(ErrorClass::Rejected, true, e.to_string()))
            }
            Err(e) if e.is_transient() => {
                Err(SendError::new(ErrorClass::Rejected, false, e.to_string()))
            }
            Err(e) if e.is_timeout() => {
                Err(SendError::new(ErrorClass::Timeout, false, e.to_string()))
            }
            Err(e) => Err(SendError::new(
                ErrorClass::Unreachable,
                false,
                e.to_string(),
            )),
        }
    }
}
