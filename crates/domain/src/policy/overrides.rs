//! Field-by-field overrides: a tenant sets a full policy, any account may
//! override some fields for its subtree, and the nearest override wins per
//! field. [`resolve`] also says where each field's value came from, so
//! admins can see why a rule applies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CharacterSet, PasswordPolicy};

/// Where a field of an effective policy was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "level", rename_all = "snake_case")]
pub enum Source {
    /// The tenant's policy.
    Tenant,
    /// The override on this account (an ancestor of, or the account itself).
    Account {
        /// The overriding account.
        account_id: i64,
    },
}

/// The policy an account must meet, with the origin of each field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolved {
    /// The merged policy.
    pub policy: PasswordPolicy,
    /// Field name → where its value was set.
    pub sources: BTreeMap<&'static str, Source>,
}

macro_rules! override_fields {
    ($($field:ident : $ty:ty),* $(,)?) => {
        /// Some fields of a [`PasswordPolicy`]; absent fields inherit.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct PolicyOverride {
            $(
                #[allow(missing_docs)]
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }

        impl PolicyOverride {
            fn apply(&self, policy: &mut PasswordPolicy, sources: &mut BTreeMap<&'static str, Source>, source: Source) {
                $(
                    if let Some(value) = &self.$field {
                        policy.$field = value.clone();
                        sources.insert(stringify!($field), source);
                    }
                )*
            }

            /// True when the override sets nothing.
            pub fn is_empty(&self) -> bool {
                true $(&& self.$field.is_none())*
            }

            /// Every field name, for provenance of tenant-level values.
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];
        }
    };
}

override_fields! {
    min_length: u32,
    max_length: u32,
    allowed_characters: CharacterSet,
    allow_spaces: bool,
    min_character_classes: u8,
    forbid_username: bool,
    forbid_email: bool,
    weak_keywords: Vec<String>,
    history_depth: u32,
    max_age_days: u32,
    reject_common: bool,
    min_strength_score: u8,
}

/// Why an override was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The bounds make every password fail, or exceed what the service accepts.
    #[error("min_length must be at least 1 and at most max_length, and max_length at most 1024")]
    Lengths,
    /// More than four classes, or a score above four.
    #[error("min_character_classes and min_strength_score range from 0 to 4")]
    Range,
    /// History deeper than the service keeps.
    #[error("history_depth is at most 24")]
    History,
}

impl PasswordPolicy {
    /// Refuses policies no password could meet, or beyond the service's limits.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.min_length == 0 || self.min_length > self.max_length || self.max_length > 1024 {
            return Err(PolicyError::Lengths);
        }
        if self.min_character_classes > 4 || self.min_strength_score > 4 {
            return Err(PolicyError::Range);
        }
        if self.history_depth > 24 {
            return Err(PolicyError::History);
        }
        Ok(())
    }
}

/// Merges `overrides` (ordered from the root down to the account itself)
/// onto the tenant's `base`: nearest override wins, field by field.
pub fn resolve(base: &PasswordPolicy, overrides: &[(i64, PolicyOverride)]) -> Resolved {
    let mut policy = base.clone();
    let mut sources: BTreeMap<&'static str, Source> = PolicyOverride::FIELDS
        .iter()
        .map(|f| (*f, Source::Tenant))
        .collect();
    for (account_id, o) in overrides {
        o.apply(
            &mut policy,
            &mut sources,
            Source::Account {
                account_id: *account_id,
            },
        );
    }
    Resolved { policy, sources }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::presets::Preset;

    #[test]
    fn nearest_override_wins_field_by_field() {
        let base = Preset::Cloud.policy();
        let root = PolicyOverride {
            min_length: Some(10),
            history_depth: Some(3),
            ..Default::default()
        };
        let domain = PolicyOverride {
            min_length: Some(12),
            weak_keywords: Some(vec!["acme".into()]),
            ..Default::default()
        };
        let r = resolve(&base, &[(1, root), (10, domain)]);
        assert_eq!(r.policy.min_length, 12);
        assert_eq!(r.policy.history_depth, 3);
        assert_eq!(r.policy.weak_keywords, vec!["acme".to_string()]);
        assert_eq!(r.policy.max_length, base.max_length);
        assert_eq!(r.sources["min_length"], Source::Account { account_id: 10 });
        assert_eq!(
            r.sources["history_depth"],
            Source::Account { account_id: 1 }
        );
        assert_eq!(r.sources["max_length"], Source::Tenant);
        assert_eq!(r.sources.len(), PolicyOverride::FIELDS.len());
    }

    #[test]
    fn no_overrides_is_the_tenant_policy() {
        let base = Preset::Nist.policy();
        let r = resolve(&base, &[]);
        assert_eq!(r.policy, base);
        assert!(r.sources.values().all(|s| *s == Source::Tenant));
    }

    #[test]
    fn overrides_parse_from_partial_json_and_refuse_unknown_fields() {
        let o: PolicyOverride = serde_json::from_str(r#"{"min_length": 9}"#).unwrap();
        assert_eq!(o.min_length, Some(9));
        assert!(!o.is_empty());
        assert!(serde_json::from_str::<PolicyOverride>(r#"{"min_lenght": 9}"#).is_err());
    }

    #[test]
    fn validation() {
        let mut p = Preset::Cloud.policy();
        assert!(p.validate().is_ok());
        p.min_length = 200;
        assert_eq!(p.validate(), Err(PolicyError::Lengths));
        let mut p = Preset::Cloud.policy();
        p.min_character_classes = 5;
        assert_eq!(p.validate(), Err(PolicyError::Range));
    }
}
