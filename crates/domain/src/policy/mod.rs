//! The password policy engine: every rule of DESIGN §3, each violation with a
//! stable code and an English message, all violations reported at once.
//!
//! Policies are set on a tenant and overridden per account subtree
//! ([`overrides`]); three presets ship ([`presets`]). Password history is the
//! one rule that needs the stored hashes: the caller checks it and adds
//! [`Violation::Reused`] to the list.

mod common;
pub mod overrides;
pub mod presets;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::clock::Timestamp;
use crate::identifiers::Email;

/// Which characters a password may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CharacterSet {
    /// Any printable Unicode character.
    Any,
    /// Printable ASCII only (0x20–0x7E).
    PrintableAscii,
}

/// A complete password policy: every field has a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Fewest characters (Unicode scalar values after NFKC).
    pub min_length: u32,
    /// Most characters (Unicode scalar values after NFKC).
    pub max_length: u32,
    /// Characters allowed at all.
    pub allowed_characters: CharacterSet,
    /// Whether a space may appear.
    pub allow_spaces: bool,
    /// How many of {upper, lower, digit, punctuation} must appear (0–4).
    pub min_character_classes: u8,
    /// Refuse passwords containing the username (case-insensitive).
    pub forbid_username: bool,
    /// Refuse passwords containing the email or its local part.
    pub forbid_email: bool,
    /// Refuse passwords containing any of these words (case-insensitive).
    pub weak_keywords: Vec<String>,
    /// Refuse the last N passwords of the account (0 = off).
    pub history_depth: u32,
    /// Days after which login requires a change (0 = never).
    pub max_age_days: u32,
    /// Refuse passwords found in the common-password dictionary.
    pub reject_common: bool,
    /// Minimum zxcvbn strength score 0–4 (0 = not checked).
    pub min_strength_score: u8,
}

/// One broken rule. [`Violation::code`] is stable; the message is English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// Fewer characters than the minimum.
    TooShort {
        /// The policy's minimum.
        min: u32,
    },
    /// More characters than the maximum.
    TooLong {
        /// The policy's maximum.
        max: u32,
    },
    /// A character outside the allowed set.
    DisallowedCharacter,
    /// A space where spaces are not allowed.
    ContainsSpace,
    /// Too few character classes.
    TooFewClasses {
        /// Classes required.
        required: u8,
    },
    /// The username appears inside the password.
    ContainsUsername,
    /// The email (or its local part) appears inside the password.
    ContainsEmail,
    /// A weak keyword of the tenant or subtree appears inside the password.
    ContainsWeakKeyword,
    /// One of the last `depth` passwords.
    Reused {
        /// How many previous passwords are remembered.
        depth: u32,
    },
    /// Found in the common-password dictionary.
    CommonPassword,
    /// Below the required strength score.
    TooWeak {
        /// The required zxcvbn score.
        min_score: u8,
    },
}

impl Violation {
    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Violation::TooShort { .. } => "too_short",
            Violation::TooLong { .. } => "too_long",
            Violation::DisallowedCharacter => "disallowed_character",
            Violation::ContainsSpace => "contains_space",
            Violation::TooFewClasses { .. } => "too_few_classes",
            Violation::ContainsUsername => "contains_username",
            Violation::ContainsEmail => "contains_email",
            Violation::ContainsWeakKeyword => "contains_weak_keyword",
            Violation::Reused { .. } => "reused_password",
            Violation::CommonPassword => "common_password",
            Violation::TooWeak { .. } => "too_weak",
        }
    }

    /// A human message in English. It never repeats the password, nor the
    /// keyword that matched (that would hand out the tenant's list).
    pub fn message(&self) -> String {
        match self {
            Violation::TooShort { min } => format!("Use at least {min} characters."),
            Violation::TooLong { max } => format!("Use at most {max} characters."),
            Violation::DisallowedCharacter => {
                "Use only printable ASCII characters (letters, digits and punctuation).".into()
            }
            Violation::ContainsSpace => "Do not use spaces.".into(),
            Violation::TooFewClasses { required } => format!(
                "Use at least {required} of: upper-case letters, lower-case letters, digits, punctuation."
            ),
            Violation::ContainsUsername => "Do not include your username.".into(),
            Violation::ContainsEmail => "Do not include your email address or its name part.".into(),
            Violation::ContainsWeakKeyword => {
                "Do not include easily guessed words such as the organization's name.".into()
            }
            Violation::Reused { depth: 1 } => "Choose a password other than your current one.".into(),
            Violation::Reused { depth } => {
                format!("Do not reuse any of your last {depth} passwords.")
            }
            Violation::CommonPassword => "This password is too common; choose another.".into(),
            Violation::TooWeak { .. } => {
                "This password is too easy to guess; make it longer or less predictable.".into()
            }
        }
    }
}

/// Who the password is for: the facts the context rules compare against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    /// The account's username.
    pub username: Option<&'a str>,
    /// The account's email, if it has one.
    pub email: Option<&'a Email>,
}

/// Shorter identifiers are not looked for inside passwords: "al" is in too
/// many good passwords for the rule to mean anything.
const MIN_CONTEXT_LEN: usize = 3;

/// Longest input handed to the strength estimator: a longer password is
/// judged on its first 64 characters. The estimator's cost grows steeply
/// with length (a random 100-character password took up to 0.7 s of CPU,
/// 64 l33t characters 0.24 s), and a weak beginning padded out is weak.
const MAX_ESTIMATED_CHARS: usize = 64;

impl PasswordPolicy {
    /// Checks `password` against every rule except history and returns all
    /// violations, in a stable order. An empty list means acceptable.
    pub fn check(&self, password: &str, subject: Subject<'_>) -> Vec<Violation> {
        let normalized: String = password.nfkc().collect();
        let length = normalized.chars().count();
        let lowered = normalized.to_lowercase();
        let mut out = Vec::new();

        if length < self.min_length as usize {
            out.push(Violation::TooShort {
                min: self.min_length,
            });
        }
        if length > self.max_length as usize {
            out.push(Violation::TooLong {
                max: self.max_length,
            });
        }
        let allowed = |c: char| match self.allowed_characters {
            CharacterSet::Any => !c.is_control(),
            CharacterSet::PrintableAscii => (' '..='~').contains(&c),
        };
        if !normalized.chars().all(allowed) {
            out.push(Violation::DisallowedCharacter);
        }
        if !self.allow_spaces && normalized.chars().any(char::is_whitespace) {
            out.push(Violation::ContainsSpace);
        }
        let required = self.min_character_classes.min(4);
        if character_classes(&normalized) < required {
            out.push(Violation::TooFewClasses { required });
        }
        let contains = |needle: &str| {
            let needle = needle.to_lowercase();
            needle.chars().count() >= MIN_CONTEXT_LEN && lowered.contains(&needle)
        };
        if self.forbid_username && subject.username.is_some_and(contains) {
            out.push(Violation::ContainsUsername);
        }
        if self.forbid_email
            && subject
                .email
                .is_some_and(|e| contains(e.as_str()) || contains(e.local_part()))
        {
            out.push(Violation::ContainsEmail);
        }
        if self
            .weak_keywords
            .iter()
            .any(|k| !k.trim().is_empty() && lowered.contains(&k.trim().to_lowercase()))
        {
            out.push(Violation::ContainsWeakKeyword);
        }
        let ask_common = self.reject_common && length <= common::LONGEST_COMMON;
        if (ask_common || self.min_strength_score > 0) && !normalized.is_empty() {
            let estimated = match normalized.char_indices().nth(MAX_ESTIMATED_CHARS) {
                Some((end, _)) => &normalized[..end],
                None => &normalized[..],
            };
            let estimate = common::estimate(estimated);
            if self.reject_common && estimate.is_common {
                out.push(Violation::CommonPassword);
            }
            if estimate.score < self.min_strength_score {
                out.push(Violation::TooWeak {
                    min_score: self.min_strength_score,
                });
            }
        }
        out
    }

    /// Whether a password set at `changed_at` must be changed at `now`.
    pub fn is_expired(&self, changed_at: Timestamp, now: Timestamp) -> bool {
        self.max_age_days > 0 && now.0 >= changed_at.0 + i64::from(self.max_age_days) * 86_400
    }
}

/// How many of {upper, lower, digit, punctuation} appear.
fn character_classes(s: &str) -> u8 {
    let mut classes = [false; 4];
    for c in s.chars() {
        if c.is_uppercase() {
            classes[0] = true;
        } else if c.is_lowercase() {
            classes[1] = true;
        } else if c.is_numeric() {
            classes[2] = true;
        } else if !c.is_alphanumeric() && !c.is_whitespace() && !c.is_control() {
            classes[3] = true;
        }
    }
    classes.iter().filter(|&&b| b).count() as u8
}

#[cfg(test)]
mod tests;
