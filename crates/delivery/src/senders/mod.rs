//! The senders, one per channel as configured, behind one `send` call.

mod file;
mod sms_http;
mod smtp;

use std::path::Path;

pub use sms_http::sign;

use regain_store::{Channel, OutboxMessage};

use crate::config::{DeliveryConfig, EmailSender, SmsSender};

/// Why a send failed, coarse enough to show a person ("why didn't I get the
/// code?") and to decide between retrying and giving up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The next hop could not be reached.
    Unreachable,
    /// The next hop did not answer in time.
    Timeout,
    /// The next hop refused the message.
    Rejected,
    /// The recipient address is not usable.
    InvalidRecipient,
    /// Regain's own delivery settings are wrong.
    Configuration,
}

impl ErrorClass {
    /// The stable name stored with the message and shown in flow status.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Unreachable => "unreachable",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Rejected => "rejected",
            ErrorClass::InvalidRecipient => "invalid_recipient",
            ErrorClass::Configuration => "configuration",
        }
    }
}

/// A failed send.
#[derive(Debug, thiserror::Error)]
#[error("{} ({detail})", class.as_str())]
pub struct SendError {
    /// The class of failure.
    pub class: ErrorClass,
    /// Retrying cannot help.
    pub permanent: bool,
    /// Detail for the operator's log (never contains the message body).
    pub detail: String,
}

impl SendError {
    pub(crate) fn new(class: ErrorClass, permanent: bool, detail: impl Into<String>) -> Self {
        SendError {
            class,
            permanent,
            detail: detail.into(),
        }
    }
}

enum EmailTransport {
    File(file::FileSender),
    Smtp(Box<smtp::SmtpSender>),
    Log,
}

enum SmsTransport {
    File(file::FileSender),
    Http(sms_http::SmsHttpSender),
    Log,
}

/// The configured senders.
pub struct Senders {
    email: EmailTransport,
    sms: SmsTransport,
}

impl Senders {
    /// Builds the senders of `config`; the file sender defaults to
    /// `outbox.jsonl` in `data_dir`.
    pub fn from_config(config: &DeliveryConfig, data_dir: &Path) -> Result<Senders, SendError> {
        let path = if config.file.as_os_str().is_empty() {
            data_dir.join("outbox.jsonl")
        } else {
            config.file.clone()
        };
        let email = match config.email {
            EmailSender::File => EmailTransport::File(file::FileSender::new(path.clone())),
            EmailSender::Smtp => {
                EmailTransport::Smtp(Box::new(smtp::SmtpSender::new(&config.smtp)?))
            }
            EmailSender::Log => EmailTransport::Log,
        };
        let sms = match config.sms {
            SmsSender::File => SmsTransport::File(file::FileSender::new(path)),
            SmsSender::SmsHttp => {
                SmsTransport::Http(sms_http::SmsHttpSender::new(&config.sms_http)?)
            }
            SmsSender::Log => SmsTransport::Log,
        };
        Ok(Senders { email, sms })
    }

    /// Hands `m` to the sender of its channel.
    pub async fn send(
        &self,
        m: &OutboxMessage,
        now: regain_domain::clock::Timestamp,
    ) -> Result<(), SendError> {
        match (m.channel, &self.email, &self.sms) {
            (Channel::Email, EmailTransport::File(f), _)
            | (Channel::Sms, _, SmsTransport::File(f)) => f.send(m).await,
            (Channel::Email, EmailTransport::Smtp(s), _) => s.send(m).await,
            (Channel::Sms, _, SmsTransport::Http(h)) => h.send(m, now).await,
            (Channel::Email, EmailTransport::Log, _) | (Channel::Sms, _, SmsTransport::Log) => {
                // Development only, and deliberately not through `tracing`:
                // the body may hold a code, which must never reach the log.
                eprintln!(
                    "--- {} to {} ({}) ---\n{}\n{}\n---",
                    m.channel.as_str(),
                    m.recipient,
                    m.idempotency_key,
                    m.subject,
                    m.body
                );
                Ok(())
            }
        }
    }
}
