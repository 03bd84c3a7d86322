//! The policies that ship with Regain (DESIGN §3).

use super::{CharacterSet, PasswordPolicy};

/// A named starting point for a tenant's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Cloud-console style: 8–128 printable ASCII characters, at least 2 of
    /// 4 classes, no spaces, not the username, not a common password.
    Cloud,
    /// Hosted-mail style: 8–64 characters, at least 3 of 4 classes, no
    /// spaces, not the email or username, no weak keywords, last 3 not reused.
    Mail,
    /// NIST SP 800-63B: at least 8 characters, up to 128, any characters
    /// including spaces, no composition rules, a blocklist of common passwords
    /// and context words.
    Nist,
}

impl Preset {
    /// Every preset, for listings.
    pub const ALL: [Preset; 3] = [Preset::Cloud, Preset::Mail, Preset::Nist];

    /// The preset's name, as used in configuration and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Cloud => "cloud",
            Preset::Mail => "mail",
            Preset::Nist => "nist",
        }
    }

    /// Looks a preset up by name.
    pub fn parse(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The full policy of this preset.
    pub fn policy(self) -> PasswordPolicy {
        match self {
            Preset::Cloud => PasswordPolicy {
                min_length: 8,
                max_length: 128,
                allowed_characters: CharacterSet::PrintableAscii,
                allow_spaces: false,
                min_character_classes: 2,
                forbid_username: true,
                forbid_email: false,
                weak_keywords: Vec::new(),
                history_depth: 0,
                max_age_days: 0,
                reject_common: true,
                min_strength_score: 0,
            },
            Preset::Mail => PasswordPolicy {
                min_length: 8,
                max_length: 64,
                allowed_characters: CharacterSet::PrintableAscii,
                allow_spaces: false,
                min_character_classes: 3,
                forbid_username: true,
                forbid_email: true,
                weak_keywords: ["password", "admin", "qwerty", "123456", "abc123"]
                    .map(String::from)
                    .to_vec(),
                history_depth: 3,
                max_age_days: 0,
                reject_common: true,
                min_strength_score: 0,
            },
            Preset::Nist => PasswordPolicy {
                min_length: 8,
                max_length: 128,
                allowed_characters: CharacterSet::Any,
                allow_spaces: true,
                min_character_classes: 0,
                forbid_username: true,
                forbid_email: true,
                weak_keywords: Vec::new(),
                history_depth: 0,
                max_age_days: 0,
                reject_common: true,
                min_strength_score: 0,
            },
        }
    }
}
