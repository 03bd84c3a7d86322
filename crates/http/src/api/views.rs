//! Response shapes shared by several resources.

use regain_domain::account::Position;
use regain_domain::clock::Timestamp;
use regain_store::Account;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// RFC 3339 text of a timestamp.
pub(crate) fn rfc3339(t: Timestamp) -> String {
    OffsetDateTime::from_unix_timestamp(t.0)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// An account as its owner sees it.
#[derive(Serialize, ToSchema)]
pub(crate) struct AccountView {
    /// Internal id.
    id: i64,
    /// Name among siblings.
    username: String,
    /// `root/sub/…`; equal to `username` for a root account.
    qualified_name: String,
    /// `individual` or `enterprise` for a root account.
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    /// `admin` or `member` for a sub-account.
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    /// Human name.
    display_name: Option<String>,
    /// Bound email.
    email: Option<String>,
    /// Whether the email is verified.
    email_verified: bool,
    /// Bound phone (E.164).
    phone: Option<String>,
    /// Whether the phone is verified.
    phone_verified: bool,
    /// A disabled account cannot log in.
    disabled: bool,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        let (kind, role) = match a.position {
            Position::Root(k) => (Some(k.as_str()), None),
            Position::Sub(r) => (None, Some(r.as_str())),
        };
        AccountView {
            id: a.id,
            username: a.username.clone(),
            qualified_name: a.qualified_name.clone(),
            kind,
            role,
            display_name: a.display_name.clone(),
            email: a.email.clone(),
            email_verified: a.email_verified,
            phone: a.phone.clone(),
            phone_verified: a.phone_verified,
            disabled: a.disabled,
        }
    }
}
