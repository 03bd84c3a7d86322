//! The CAPTCHA in front of recovery and reminders: the built-in image
//! challenge (answer stored as an HMAC, single use, five minutes,
//! case-insensitive), a siteverify-style provider, or none.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use regain_domain::tenant::CaptchaMode;
use regain_store::Tenant;

use crate::keys::hmac_hex;
use crate::tokens::{random_token, token_hash};
use crate::{App, AppError};

/// How long a built-in challenge lives.
pub const CAPTCHA_TTL_SECS: i64 = 5 * 60;

/// A new built-in challenge.
pub struct CaptchaChallenge {
    /// Identifies the challenge in the answer.
    pub id: String,
    /// The image as a `data:image/png;base64,…` URL.
    pub image: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

fn render() -> Option<(String, Vec<u8>)> {
    use captcha::filters::{Dots, Noise, Wave};
    let mut c = captcha::Captcha::new();
    c.set_chars(
        &"abcdefghjkmnpqrstuvwxyz23456789"
            .chars()
            .collect::<Vec<_>>(),
    )
    .add_chars(5)
    .apply_filter(Noise::new(0.15))
    .apply_filter(Wave::new(2.0, 12.0).horizontal())
    .apply_filter(Wave::new(2.0, 8.0).vertical())
    .view(220, 90)
    .apply_filter(Dots::new(8));
    c.as_tuple()
}

/// Whether `stored` is the keyed hash of `answer` (under the current or
/// the previous server key).
fn answer_matches(app: &App, id: &str, answer: &str, stored: &str) -> bool {
    let normalized = answer.trim().to_lowercase();
    crate::keys::hmac_matches(
        &app.secret,
        &[b"captcha", id.as_bytes(), normalized.as_bytes()],
        stored,
    )
}

fn answer_hmac(app: &App, id: &str, answer: &str) -> String {
    let normalized = answer.trim().to_lowercase();
    hmac_hex(
        &app.secret,
        &[b"captcha", id.as_bytes(), normalized.as_bytes()],
    )
}

impl App {
    /// Creates a built-in challenge for `tenant` (only when its mode is
    /// `builtin`).
    pub async fn new_captcha(
        &self,
        tenant: &Tenant,
        client: &crate::auth::Client,
    ) -> Result<CaptchaChallenge, AppError> {
        if tenant.settings.captcha != CaptchaMode::Builtin {
            return Err(AppError::Invalid {
                code: "captcha_not_builtin",
                message: "this tenant does not use the built-in CAPTCHA".into(),
            });
        }
        // Rendering costs CPU and a row: limited per client address.
        let key = format!("captcha:ip:{}:{}", tenant.id, client.throttle_address());
        let rule = regain_store::ThrottleRule {
            max_attempts: tenant.settings.recovery.requests_per_ip,
            window_secs: 900,
            lock_secs: 900,
        };
        self.count_attempts(&[(&key, rule)]).await?;
        let (answer, png) = tokio::task::spawn_blocking(render)
            .await
            .map_err(|e| AppError::internal(format!("captcha task: {e}")))?
            .ok_or_else(|| AppError::internal("captcha rendering failed"))?;
        let id = self.store_captcha(tenant, &answer).await?;
        Ok(CaptchaChallenge {
            image: format!("data:image/png;base64,{}", STANDARD.encode(png)),
            id,
            expires_in: CAPTCHA_TTL_SECS,
        })
    }

    /// Records a challenge whose answer is `answer` and returns its id.
    /// Used by [`App::new_captcha`] after rendering; public so tests can
    /// pose a challenge whose answer they know.
    pub async fn store_captcha(&self, tenant: &Tenant, answer: &str) -> Result<String, AppError> {
        let id = random_token()?;
        let now = self.clock.now();
        self.store
            .create_captcha(
                &token_hash(&id),
                tenant.id,
                &answer_hmac(self, &id, answer),
                now.plus_secs(CAPTCHA_TTL_SECS),
                now,
            )
            .await?;
        Ok(id)
    }

    /// Checks (and consumes) the CAPTCHA answer of a request.
    pub async fn check_captcha(
        &self,
        tenant: &Tenant,
        id: Option<&str>,
        answer: Option<&str>,
    ) -> Result<(), AppError> {
        match tenant.settings.captcha {
            CaptchaMode::Off => Ok(()),
            CaptchaMode::Builtin => {
                let Some(id) = id.filter(|id| id.len() <= 128) else {
                    return Err(AppError::CaptchaInvalid);
                };
                // Any try consumes the challenge, even one without an answer.
                let stored = self
                    .store
                    .take_captcha(&token_hash(id), tenant.id, self.clock.now())
                    .await?;
                let Some(answer) = answer.filter(|a| a.len() <= 64) else {
                    return Err(AppError::CaptchaInvalid);
                };
                match stored {
                    Some(h) if answer_matches(self, id, answer, &h) => Ok(()),
                    _ => Err(AppError::CaptchaInvalid),
                }
            }
            CaptchaMode::Provider => {
                let Some(provider) = &tenant.settings.captcha_provider else {
                    return Err(AppError::internal(
                        "captcha = provider but no captcha_provider is set",
                    ));
                };
                let token = answer
                    .filter(|t| !t.is_empty() && t.len() <= 4096)
                    .ok_or(AppError::CaptchaInvalid)?;
                let res = self
                    .http
                    .post(&provider.verify_url)
                    .form(&[("secret", provider.secret.as_str()), ("response", token)])
                    .send()
                    .await
                    .map_err(|e| {
                        AppError::internal(format!(
                            "captcha provider unreachable: {}",
                            e.without_url()
                        ))
                    })?;
                let body: serde_json::Value = res.json().await.map_err(|_| {
                    AppError::internal("captcha provider answered something else than JSON")
                })?;
                if body["success"] == serde_json::Value::Bool(true) {
                    Ok(())
                } else {
                    Err(AppError::CaptchaInvalid)
                }
            }
        }
    }
}
