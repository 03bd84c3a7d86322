//! Self-service recovery (DESIGN §3): the methods a flow offers, the masked
//! hints it shows, the decoys it answers for unknown identifiers, and the
//! state machine that every flow follows.

pub mod answers;
mod decoy;
pub mod eligibility;
mod flow;
mod mask;

pub use decoy::decoy_offers;
pub use flow::{Flow, FlowError, FlowState, Progress, Send, Verdict};
pub use mask::{mask_email, mask_phone};

use serde::{Deserialize, Serialize};

use crate::identifiers::{Email, Phone};

/// How long an administrator has to answer an approval request; a flow
/// waiting for one lives that long.
pub const APPROVAL_TTL_SECS: i64 = 24 * 3600;

/// A way to prove who you are. The order is the order methods are listed
/// in (codes first, then the stronger and slower ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A code sent by SMS to the bound, verified phone.
    SmsCode,
    /// A code sent by email to the bound, verified email.
    EmailCode,
    /// N of the account's security questions.
    SecurityQuestions,
    /// An external account (OpenID Connect) whose verified identity matches
    /// the account's identity record.
    ExternalIdentity,
    /// A liveness/face check at a KYC provider of the owner (individual) or
    /// the legal representative (enterprise).
    Face,
    /// An administrator of the enterprise vouches.
    AdminApproval,
    /// A trusted contact relays a code.
    EmergencyContact,
}

impl Method {
    /// Every method, in listing order.
    pub const ALL: [Method; 7] = [
        Method::SmsCode,
        Method::EmailCode,
        Method::SecurityQuestions,
        Method::ExternalIdentity,
        Method::Face,
        Method::AdminApproval,
        Method::EmergencyContact,
    ];

    /// The stable name used in the API and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::SmsCode => "sms_code",
            Method::EmailCode => "email_code",
            Method::SecurityQuestions => "security_questions",
            Method::ExternalIdentity => "external_identity",
            Method::Face => "face",
            Method::AdminApproval => "admin_approval",
            Method::EmergencyContact => "emergency_contact",
        }
    }

    /// Parses the stable name.
    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether the method sends a one-time code to a bound contact.
    pub fn sends_code(self) -> bool {
        matches!(self, Method::SmsCode | Method::EmailCode)
    }

    /// Whether choosing the method sends a message (a code, or a request
    /// to an administrator), so it counts against the flow's messages.
    pub fn messages_someone(self) -> bool {
        matches!(
            self,
            Method::SmsCode | Method::EmailCode | Method::EmergencyContact | Method::AdminApproval
        )
    }

    /// Whether the evidence arrives from elsewhere (an administrator, an
    /// identity or KYC provider) rather than from the person's `verify`.
    pub fn has_external_step(self) -> bool {
        matches!(
            self,
            Method::ExternalIdentity | Method::Face | Method::AdminApproval
        )
    }
}

/// One method a flow offers, with the masked hint shown to the person and,
/// server-side only, where the code would go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The method.
    pub method: Method,
    /// What the person sees, e.g. `138****1234`.
    pub hint: String,
    /// The full contact; `None` on a decoy, which sends nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Decoys only: the contact the person typed to start, which a real
    /// flow would accept when asked to type the full contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
}

impl Offer {
    /// The offer of a code to a verified email.
    pub fn email(email: &Email) -> Offer {
        Offer {
            method: Method::EmailCode,
            hint: mask_email(email),
            destination: Some(email.as_str().to_string()),
            expected: None,
        }
    }

    /// The offer of a code to a verified phone.
    pub fn sms(phone: &Phone) -> Offer {
        Offer {
            method: Method::SmsCode,
            hint: mask_phone(phone),
            destination: Some(phone.as_str().to_string()),
            expected: None,
        }
    }
}

/// Whether what the person typed is the contact behind a hint: emails
/// compare case-insensitively, phones after E.164 normalization.
pub fn contact_matches(method: Method, destination: &str, typed: &str) -> bool {
    use subtle::ConstantTimeEq;
    let (a, b) = match method {
        Method::EmailCode => match (Email::parse(destination), Email::parse(typed)) {
            (Ok(a), Ok(b)) => (a.key(), b.key()),
            _ => return false,
        },
        Method::SmsCode => match (Phone::parse(destination), Phone::parse(typed)) {
            (Ok(a), Ok(b)) => (a.as_str().to_string(), b.as_str().to_string()),
            _ => return false,
        },
        // No contact is typed for the other methods.
        _ => return false,
    };
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A tenant's recovery rules (DESIGN §3 defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoverySettings {
    /// How long a code is valid.
    pub code_ttl_secs: i64,
    /// Wrong codes (or wrong typed contacts) before the flow fails.
    pub max_wrong_tries: u32,
    /// Wait between two messages of one flow.
    pub resend_cooldown_secs: i64,
    /// Messages one flow may send.
    pub max_messages_per_flow: u32,
    /// Messages one destination may receive per hour, across flows.
    pub max_messages_per_destination_per_hour: u32,
    /// How long a flow lives.
    pub flow_ttl_secs: i64,
    /// How long a reset token is valid.
    pub reset_token_ttl_secs: i64,
    /// The person must type the full contact behind the hint.
    pub require_full_contact: bool,
    /// Recovery requests (start, challenge, verify, reminders) per client
    /// address per 15 minutes.
    pub requests_per_ip: u32,
    /// Recovery starts and reminders per identifier per 15 minutes.
    pub requests_per_identifier: u32,
    /// Which methods are offered, and how.
    pub methods: eligibility::MethodSettings,
}

impl Default for RecoverySettings {
    fn default() -> Self {
        RecoverySettings {
            code_ttl_secs: 15 * 60,
            max_wrong_tries: 5,
            resend_cooldown_secs: 60,
            max_messages_per_flow: 5,
            max_messages_per_destination_per_hour: 5,
            flow_ttl_secs: 30 * 60,
            reset_token_ttl_secs: 15 * 60,
            require_full_contact: false,
            requests_per_ip: 60,
            requests_per_identifier: 10,
            methods: eligibility::MethodSettings::default(),
        }
    }
}
