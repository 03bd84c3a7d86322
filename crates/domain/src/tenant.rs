//! A tenant: an isolated realm with its own accounts and rules.

use serde::{Deserialize, Serialize};

use crate::recovery::RecoverySettings;

/// How a tenant protects recovery and reminders from automation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptchaMode {
    /// The built-in image CAPTCHA.
    Builtin,
    /// A siteverify-style check at an external CAPTCHA service.
    Provider,
    /// No CAPTCHA (tests, benchmarks, trusted networks).
    Off,
}

/// A siteverify-style CAPTCHA service: Regain POSTs `secret` and the
/// client's `response` token to `verify_url` and expects `{"success": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptchaProvider {
    /// The verification endpoint.
    pub verify_url: String,
    /// The shared secret.
    pub secret: String,
}

/// Settings of a tenant that are not part of the password policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantSettings {
    /// How many accounts one verified email or phone may be bound to.
    pub max_accounts_per_contact: u32,
    /// The CAPTCHA in front of recovery and reminders.
    pub captcha: CaptchaMode,
    /// The external CAPTCHA service, for `captcha = "provider"`.
    pub captcha_provider: Option<CaptchaProvider>,
    /// Recovery rules.
    pub recovery: RecoverySettings,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            max_accounts_per_contact: 5,
            captcha: CaptchaMode::Builtin,
            captcha_provider: None,
            recovery: RecoverySettings::default(),
        }
    }
}
