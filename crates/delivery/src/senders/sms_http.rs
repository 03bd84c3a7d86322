//! The SMS gateway sender: `POST {to, text, id}` as JSON, with
//! `X-Regain-Timestamp` and `X-Regain-Signature: sha256=<hex HMAC-SHA256 of
//! "timestamp.body">`, so the gateway can tell a genuine request from a
//! forged or replayed one.

use std::time::Duration;

use hmac::{Hmac, Mac};
use regain_store::OutboxMessage;
use sha2::Sha256;

use super::{ErrorClass, SendError};
use crate::config::SmsHttpConfig;

pub(super) struct SmsHttpSender {
    client: reqwest::Client,
    url: String,
    secret: String,
}

/// The signature header value for `timestamp` and `body` under `secret`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex = hex::encode(mac.finalize().into_bytes());
    format!("sha256={hex}")
}

impl SmsHttpSender {
    pub(super) fn new(c: &SmsHttpConfig) -> Result<Self, SendError> {
        if c.url.is_empty() || c.secret.is_empty() {
            return Err(SendError::new(
                ErrorClass::Configuration,
                true,
                "sms_http needs delivery.sms_http.url and delivery.sms_http.secret",
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(c.timeout_secs.max(1)))
            .build()
            .map_err(|e| SendError::new(ErrorClass::Configuration, true, e.to_string()))?;
        Ok(SmsHttpSender {
            client,
            url: c.url.clone(),
            secret: c.secret.clone(),
        })
    }

    /// Sends `m`, signed with the time of this attempt (not of queueing),
    /// so a gateway can refuse stale or replayed requests.
    pub(super) async fn send(
        &self,
        m: &OutboxMessage,
        now: regain_domain::clock::Timestamp,
    ) -> Result<(), SendError> {
        let body = serde_json::json!({"to": m.recipient, "text": m.body, "id": m.idempotency_key})
            .to_string();
        let timestamp = now.0.max(0).to_string();
        let signature = sign(self.secret.as_bytes(), &timestamp, body.as_bytes());
        let res = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-regain-timestamp", &timestamp)
            .header("x-regain-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                let class = if e.is_timeout() {
                    ErrorClass::Timeout
                } else {
                    ErrorClass::Unreachable
                };
                // Without the URL: it may carry credentials.
                SendError::new(class, false, e.without_url().to_string())
            })?;
        let status = res.status();
        if status.is_success() {
            Ok(())
        } else if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
            Err(SendError::new(
                ErrorClass::Rejected,
                true,
                format!("gateway answered {status}"),
            ))
        } else {
            Err(SendError::new(
                ErrorClass::Rejected,
                false,
                format!("gateway answered {status}"),
            ))
        }
    }
}
