//! Masked hints: enough for the owner to recognise the contact, too little
//! for anyone else to learn it.

use crate::identifiers::{Email, Phone};

/// `alice@example.com` → `a***e@example.com`; one-letter local parts
/// become `*`. Always lower-case, so the hint does not depend on how the
/// address was typed or stored.
pub fn mask_email(email: &Email) -> String {
    let key = email.key();
    let text = key.as_str();
    let (local, domain) = text.rsplit_once('@').unwrap_or((text, ""));
    let chars: Vec<char> = local.chars().collect();
    let masked = match chars.as_slice() {
        [] | [_] => "*".to_string(),
        [first, .., last] => format!("{first}***{last}"),
    };
    format!("{masked}@{domain}")
}

/// `+8613812341234` → `138****1234`: the first three and the last four
/// digits of the national number (its last 11 digits at most).
pub fn mask_phone(phone: &Phone) -> String {
    let digits: Vec<char> = phone
        .as_str()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let national = &digits[digits.len().saturating_sub(11)..];
    let head: String = national.iter().take(3).collect();
    let tail: String = national[national.len().saturating_sub(4)..]
        .iter()
        .collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        let m = |s: &str| mask_email(&Email::parse(s).unwrap());
        assert_eq!(m("alice@example.com"), "a***e@example.com");
        assert_eq!(m("Al@Example.com"), "a***l@example.com");
        assert_eq!(m("x@example.com"), "*@example.com");
    }

    #[test]
    fn phones() {
        let m = |s: &str| mask_phone(&Phone::parse(s).unwrap());
        assert_eq!(m("+8613812341234"), "138****1234");
        assert_eq!(m("+14155550123"), "141****0123");
        assert_eq!(m("+4420794609"), "442****4609");
    }
}
