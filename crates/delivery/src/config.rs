//! Delivery settings: which sender handles each channel, and how.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How messages leave the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Sender for email: `file`, `smtp` or `log`.
    pub email: EmailSender,
    /// Sender for SMS: `file`, `sms_http` or `log`.
    pub sms: SmsSender,
    /// The JSONL file of the `file` sender; empty means `outbox.jsonl` in
    /// the data folder.
    pub file: PathBuf,
    /// Give up on a message this long after it was queued.
    pub retry_horizon_minutes: u32,
    /// How often the worker looks for due messages (it is also woken when
    /// a message is queued by this process).
    pub poll_interval_ms: u64,
    /// SMTP settings for `email = "smtp"`.
    pub smtp: SmtpConfig,
    /// Gateway settings for `sms = "sms_http"`.
    pub sms_http: SmsHttpConfig,
}

/// The email sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailSender {
    /// Append to the outbox file.
    File,
    /// An SMTP relay.
    Smtp,
    /// Print to standard error (development only: it shows codes).
    Log,
}

/// The SMS sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsSender {
    /// Append to the outbox file.
    File,
    /// A signed JSON POST to an HTTP gateway.
    SmsHttp,
    /// Print to standard error (development only: it shows codes).
    Log,
}

/// Transport security towards the SMTP relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// No TLS (a relay on a trusted network or loopback).
    Plain,
    /// Upgrade with STARTTLS (usually port 587).
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

/// An SMTP relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Transport security.
    pub security: SmtpSecurity,
    /// User name for AUTH (empty: no authentication).
    pub username: String,
    /// Password for AUTH.
    pub password: String,
    /// The From address.
    pub from: String,
    /// Seconds before a connection or command times out.
    pub timeout_secs: u64,
}

/// A signed HTTP SMS gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsHttpConfig {
    /// Where to POST `{to, text, id}`.
    pub url: String,
    /// Key of the HMAC-SHA256 signature over `timestamp.body`.
    pub secret: String,
    /// Seconds before the request times out.
    pub timeout_secs: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            email: EmailSender::File,
            sms: SmsSender::File,
            file: PathBuf::new(),
            retry_horizon_minutes: 24 * 60,
            poll_interval_ms: 1000,
            smtp: SmtpConfig::default(),
            sms_http: SmsHttpConfig::default(),
        }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: 25,
            security: SmtpSecurity::Plain,
            username: String::new(),
            password: String::new(),
            from: "Regain <no-reply@localhost>".into(),
            timeout_secs: 10,
        }
    }
}

impl Default for SmsHttpConfig {
    fn default() -> Self {
        SmsHttpConfig {
            url: String::new(),
            secret: String::new(),
            timeout_secs: 10,
        }
    }
}
