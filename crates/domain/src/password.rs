//! The plaintext password as it travels from the edge to the hasher.

use std::fmt;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

/// Longest password accepted at the edge, in bytes. Policies may demand less;
/// this bound only keeps absurd inputs (a 1 MiB "password") away from the
/// hasher and the policy engine, and it does not depend on any account.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A plaintext password. Zeroed on drop; `Debug` never prints it.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

/// Why a password was refused before any account was looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordInputError {
    /// Nothing was given.
    #[error("the password is empty")]
    Empty,
    /// More than [`MAX_PASSWORD_BYTES`].
    #[error("the password is longer than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    /// A NUL or other control character, which no keyboard produces.
    #[error("the password contains a control character")]
    ControlCharacter,
}

impl Password {
    /// Accepts any non-empty password within [`MAX_PASSWORD_BYTES`] that has
    /// no control characters. Content rules are the policy's business.
    pub fn parse(raw: String) -> Result<Password, PasswordInputError> {
        let raw = Zeroizing::new(raw);
        if raw.is_empty() {
            return Err(PasswordInputError::Empty);
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordInputError::TooLong);
        }
        if raw.chars().any(char::is_control) {
            return Err(PasswordInputError::ControlCharacter);
        }
        Ok(Password(raw))
    }

    /// The plaintext, for the policy engine only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the hasher sees: the NFKC form, so that the same password typed
    /// on keyboards that compose characters differently still verifies, and
    /// so that the hash covers exactly what the policy measured.
    pub fn hashing_input(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.nfkc().collect())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let p = Password::parse("hunter2-secret".into()).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn hashing_input_is_nfkc() {
        let composed = Password::parse("caf\u{e9}-\u{fb01}".into()).unwrap();
        let decomposed = Password::parse("cafe\u{301}-fi".into()).unwrap();
        assert_eq!(*composed.hashing_input(), *decomposed.hashing_input());
    }

    #[test]
    fn edges() {
        assert_eq!(
            Password::parse(String::new()).unwrap_err(),
            PasswordInputError::Empty
        );
        assert!(Password::parse("a".repeat(MAX_PASSWORD_BYTES)).is_ok());
        assert_eq!(
            Password::parse("a".repeat(MAX_PASSWORD_BYTES + 1)).unwrap_err(),
            PasswordInputError::TooLong
        );
        assert_eq!(
            Password::parse("ab\0cd".into()).unwrap_err(),
            PasswordInputError::ControlCharacter
        );
    }
}
