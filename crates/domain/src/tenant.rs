//! A tenant: an isolated realm with its own accounts and rules.

use serde::{Deserialize, Serialize};

/// Settings of a tenant that are not part of the password policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantSettings {
    /// How many accounts one verified email or phone may be bound to.
    pub max_accounts_per_contact: u32,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            max_accounts_per_contact: 5,
        }
    }
}
