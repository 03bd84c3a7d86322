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

    /// Hands each of `messages` to the sender of its channel: those bound
    /// for the outbox file in one write, the others one after another
    /// until `deadline`. The outcomes in order; `None` for a message not
    /// tried because the deadline had passed.
    pub async fn send_all(
        &self,
        messages: &[OutboxMessage],
        now: regain_domain::clock::Timestamp,
        deadline: std::time::Instant,
    ) -> Vec<Option<Result<(), SendError>>> {
        let mut outcomes: Vec<Option<Result<(), SendError>>> =
            messages.iter().map(|_| None).collect();
        for channel in [Channel::Email, Channel::Sms] {
            let Some(file) = self.file_for(channel) else {
                continue;
            };
            let (indices, batch): (Vec<usize>, Vec<&OutboxMessage>) = messages
                .iter()
                .enumerate()
                .filter(|(_, m)| m.channel == channel)
                .unzip();
            if batch.is_empty() {
                continue;
            }
            let outcome = file.send_all(&batch).await;
            for i in indices {
                outcomes[i] = Some(match &outcome {
                    Ok(()) => Ok(()),
                    Err(e) => Err(SendError::new(e.class, e.permanent, e.detail.clone())),
                });
            }
        }
        for (m, outcome) in messages.iter().zip(outcomes.iter_mut()) {
            if outcome.is_some() {
                continue;
            }
            if std::time::Instant::now() >= deadline {
                break;
            }
            *outcome = Some(self.send(m, now).await);
        }
        outcomes
    }

    /// The outbox file, when `channel` goes there.
    fn file_for(&self, channel: Channel) -> Option<&file::FileSender> {
        match (channel, &self.email, &self.sms) {
            (Channel::Email, EmailTransport::File(f), _)
            | (Channel::Sms, _, SmsTransport::File(f)) => Some(f),
            _ => None,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EmailSender, SmsSender};
    use regain_domain::clock::Timestamp;
    use std::time::{Duration, Instant};

    fn message(id: i64, channel: Channel) -> OutboxMessage {
        OutboxMessage {
            id,
            channel,
            recipient: format!("to-{id}"),
            subject: "s".into(),
            body: format!("body {id}"),
            idempotency_key: format!("k{id}"),
            attempts: 1,
            created_at: Timestamp(1),
        }
    }

    #[tokio::test]
    async fn the_file_gets_a_batch_at_once_and_the_rest_waits_for_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let config = DeliveryConfig {
            email: EmailSender::File,
            sms: SmsSender::Log,
            ..DeliveryConfig::default()
        };
        let senders = Senders::from_config(&config, dir.path()).unwrap();
        let batch = [
            message(1, Channel::Email),
            message(2, Channel::Sms),
            message(3, Channel::Email),
        ];
        // Past its deadline, only the file's messages (one write) go.
        let outcomes = senders.send_all(&batch, Timestamp(2), Instant::now()).await;
        let sent: Vec<Option<bool>> = outcomes
            .iter()
            .map(|o| o.as_ref().map(Result::is_ok))
            .collect();
        assert_eq!(sent, [Some(true), None, Some(true)]);
        let file = std::fs::read_to_string(dir.path().join("outbox.jsonl")).unwrap();
        let ids: Vec<String> = file
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(ids, ["k1", "k3"], "one line each, in order");
        // Before it, everything.
        let later = Instant::now() + Duration::from_secs(30);
        let outcomes = senders.send_all(&batch[1..2], Timestamp(2), later).await;
        assert!(matches!(outcomes[..], [Some(Ok(()))]));
    }
}
