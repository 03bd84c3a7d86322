//! A tenant: an isolated realm with its own accounts and rules.

use serde::{Deserialize, Serialize};

use crate::branding::{Branding, BrandingError};
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

/// A KYC/liveness provider for the `face` method (see
/// `docs/kyc-provider.md`): Regain creates a session at `session_url` with
/// `api_key`, and the provider posts the result to
/// `/api/v1/webhooks/kyc/{name}`, signed with `webhook_secret`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KycProvider {
    /// The provider's name in the webhook path.
    pub name: String,
    /// Where sessions are created (POST).
    pub session_url: String,
    /// Sent as a bearer token when creating a session.
    pub api_key: String,
    /// Signs the webhook calls (HMAC-SHA256).
    pub webhook_secret: String,
}

/// An OpenID Connect provider for the `external_identity` method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProvider {
    /// Shown to the person as the method's hint (e.g. "PayCo").
    pub name: String,
    /// The issuer URL (discovery at `/.well-known/openid-configuration`).
    pub issuer: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// The claim that carries the verified identity number.
    #[serde(default = "default_identity_claim")]
    pub identity_claim: String,
    /// The claim that carries the account type (`individual` or
    /// `enterprise`).
    #[serde(default = "default_type_claim")]
    pub type_claim: String,
}

fn default_identity_claim() -> String {
    "id_number".into()
}

fn default_type_claim() -> String {
    "account_type".into()
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
    /// The KYC provider of the `face` method; without it the method is
    /// not offered.
    pub kyc: Option<KycProvider>,
    /// The OpenID Connect provider of the `external_identity` method;
    /// without it the method is not offered.
    pub oidc: Option<OidcProvider>,
    /// Largest attachment of an appeal, in bytes (at most 4 MiB).
    pub appeal_max_attachment_bytes: u32,
    /// The accent colour and logo of the hosted pages.
    pub branding: Branding,
}

impl TenantSettings {
    /// Checks what serde cannot: the branding's colour and logo.
    pub fn validate(&self) -> Result<(), BrandingError> {
        self.branding.validate()
    }
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            max_accounts_per_contact: 5,
            captcha: CaptchaMode::Builtin,
            captcha_provider: None,
            recovery: RecoverySettings::default(),
            kyc: None,
            oidc: None,
            appeal_max_attachment_bytes: 1024 * 1024,
            branding: Branding::default(),
        }
    }
}
