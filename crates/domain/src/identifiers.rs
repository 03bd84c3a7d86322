//! Identifiers parsed at the edge: tenant slugs, usernames, qualified
//! `root/sub` names, emails and phones, and the login identifier that may be
//! any of them. Raw strings never travel further than the parser.

use std::fmt;

/// Why an identifier was refused. Each variant has a stable [`code`](Self::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    /// Not a valid tenant slug.
    #[error(
        "a tenant slug is 1 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit"
    )]
    Slug,
    /// Not a valid username.
    #[error("a username is 1 to 64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")]
    Username,
    /// Not a valid email address.
    #[error("not a valid email address")]
    Email,
    /// Not a phone number in international form.
    #[error("a phone number must be in international form, such as +8613812345678 (8 to 15 digits after '+')")]
    Phone,
    /// A login identifier that is none of the accepted forms.
    #[error("enter a username, a root/sub name, an email address or a phone number")]
    Identifier,
}

impl IdentifierError {
    /// The stable, machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            IdentifierError::Slug => "invalid_slug",
            IdentifierError::Username => "invalid_username",
            IdentifierError::Email => "invalid_email",
            IdentifierError::Phone => "invalid_phone",
            IdentifierError::Identifier => "invalid_identifier",
        }
    }
}

fn is_slug_like(s: &str, max: usize, extra: &[char]) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit() => {}
        _ => return false,
    }
    s.len() <= max
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(&c))
}

/// A tenant's address: lowercase letters, digits and dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantSlug(String);

impl TenantSlug {
    /// Parses a slug; upper case is folded to lower case.
    pub fn parse(raw: &str) -> Result<Self, IdentifierError> {
        let s = raw.trim().to_ascii_lowercase();
        if is_slug_like(&s, 63, &['-']) {
            Ok(TenantSlug(s))
        } else {
            Err(IdentifierError::Slug)
        }
    }

    /// The slug text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An account's name among its siblings (or among the tenant's roots).
/// Case-insensitive, stored lower-case; never contains '/', '@' or '+' so it
/// cannot be confused with the other identifier forms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Parses a username; upper case is folded to lower case.
    pub fn parse(raw: &str) -> Result<Self, IdentifierError> {
        let s = raw.trim().to_ascii_lowercase();
        if is_slug_like(&s, 64, &['-', '_', '.']) {
            Ok(Username(s))
        } else {
            Err(IdentifierError::Username)
        }
    }

    /// The username text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A path down the account tree: `root/sub[/sub…]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QualifiedName(Vec<Username>);

impl QualifiedName {
    /// Parses `root/sub[/sub…]`; at least two segments, each a [`Username`].
    pub fn parse(raw: &str) -> Result<Self, IdentifierError> {
        let segments = raw
            .trim()
            .split('/')
            .map(Username::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if segments.len() < 2 || segments.len() > 16 {
            return Err(IdentifierError::Identifier);
        }
        Ok(QualifiedName(segments))
    }

    /// The segments, root first.
    pub fn segments(&self) -> &[Username] {
        &self.0
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<&str> = self.0.iter().map(Username::as_str).collect();
        f.write_str(&parts.join("/"))
    }
}

/// An email address: the local part as given, the domain lower-cased.
/// [`Email::key`] is the case-insensitive form used for lookups.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

const LOCAL_FORBIDDEN: &[char] = &['"', '(', ')', ',', ':', ';', '<', '>', '@', '[', '\\', ']'];

impl Email {
    /// Parses and validates an address (a pragmatic subset of RFC 5321:
    /// no quoted local parts, no IP-literal domains).
    pub fn parse(raw: &str) -> Result<Self, IdentifierError> {
        let raw = raw.trim();
        let (local, domain) = raw.rsplit_once('@').ok_or(IdentifierError::Email)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_graphic() && !LOCAL_FORBIDDEN.contains(&c));
        let domain = domain.to_ascii_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = domain.len() <= 253
            && labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()));
        if local_ok && domain_ok {
            Ok(Email(format!("{local}@{domain}")))
        } else {
            Err(IdentifierError::Email)
        }
    }

    /// The address as it should be written to.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased form used to find accounts and to compare.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// The part before the '@'.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(l, _)| l)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 form: `+` then 8 to 15 digits, not starting with 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// Parses an international number. Spaces, dashes, dots and parentheses
    /// are dropped; `00` is accepted for `+`. Anything else is refused.
    pub fn parse(raw: &str) -> Result<Self, IdentifierError> {
        let raw = raw.trim();
        let rest = raw
            .strip_prefix('+')
            .or_else(|| raw.strip_prefix("00"))
            .ok_or(IdentifierError::Phone)?;
        let mut digits = String::with_capacity(15);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(IdentifierError::Phone),
            }
        }
        if (8..=15).contains(&digits.len()) && !digits.starts_with('0') {
            Ok(Phone(format!("+{digits}")))
        } else {
            Err(IdentifierError::Phone)
        }
    }

    /// The E.164 text, `+` included.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a person may type in the login box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginIdentifier {
    /// A root account's username.
    Username(Username),
    /// `root/sub[/sub…]`.
    Qualified(QualifiedName),
    /// A verified email bound to exactly one account.
    Email(Email),
    /// A verified phone bound to exactly one account.
    Phone(Phone),
}

impl LoginIdentifier {
    /// Decides the form by shape: '@' means email, a leading '+' or "00"
    /// followed by digits means phone, '/' means a qualified name, anything
    /// else must be a username.
    pub fn parse(raw: &str) -> Result<Self, IdentifierError> {
        let s = raw.trim();
        if s.is_empty() || s.len() > 320 || s.chars().any(char::is_control) {
            return Err(IdentifierError::Identifier);
        }
        if s.contains('@') {
            return Email::parse(s).map(LoginIdentifier::Email);
        }
        if s.starts_with('+') {
            return Phone::parse(s).map(LoginIdentifier::Phone);
        }
        if s.contains('/') {
            return QualifiedName::parse(s).map(LoginIdentifier::Qualified);
        }
        if s.starts_with("00") && s.len() >= 10 {
            if let Ok(phone) = Phone::parse(s) {
                return Ok(LoginIdentifier::Phone(phone));
            }
        }
        Username::parse(s).map(LoginIdentifier::Username)
    }

    /// A stable, lower-cased text for this identifier, used to key throttles
    /// identically whether or not an account exists behind it.
    pub fn throttle_key(&self) -> String {
        match self {
            LoginIdentifier::Username(u) => format!("u:{u}"),
            LoginIdentifier::Qualified(q) => format!("q:{q}"),
            LoginIdentifier::Email(e) => format!("e:{}", e.key()),
            LoginIdentifier::Phone(p) => format!("p:{p}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn usernames() {
        assert_eq!(Username::parse("Alice").unwrap().as_str(), "alice");
        assert!(Username::parse("a.b_c-1").is_ok());
        assert!(Username::parse(&"a".repeat(64)).is_ok());
        for bad in [
            "",
            ".a",
            "-a",
            "a b",
            "a/b",
            "a@b",
            "a\0b",
            "é",
            &"a".repeat(65),
        ] {
            assert_eq!(
                Username::parse(bad),
                Err(IdentifierError::Username),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(TenantSlug::parse("Demo-1").unwrap().as_str(), "demo-1");
        for bad in ["", "-x", "a_b", "a.b", &"a".repeat(64)] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn qualified_names() {
        let q = QualifiedName::parse("Acme/ops/Bob").unwrap();
        assert_eq!(q.to_string(), "acme/ops/bob");
        assert_eq!(q.segments().len(), 3);
        for bad in ["acme", "acme/", "/bob", "acme//bob", "acme/b b"] {
            assert!(QualifiedName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn emails_lowercase_the_domain_only() {
        let e = Email::parse(" Alice.Smith@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Alice.Smith@example.com");
        assert_eq!(e.key(), "alice.smith@example.com");
        assert_eq!(e.local_part(), "Alice.Smith");
        for good in ["a@b.co", "a+tag@mail.example.org", "x_y@xn--fiqs8s.cn"] {
            assert!(Email::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@b.com",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a..b@c.com",
            ".a@c.com",
            "a@-b.com",
            "a@b-.com",
            "a@b..com",
            "a@1.2",
            "a\0@b.com",
            "a@b_c.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn phones_normalize_to_e164() {
        assert_eq!(
            Phone::parse("+86 138-1234-5678").unwrap().as_str(),
            "+8613812345678"
        );
        assert_eq!(
            Phone::parse("0044 (20) 7946.0958").unwrap().as_str(),
            "+442079460958"
        );
        for bad in [
            "13812345678",
            "+1234567",
            "+0123456789",
            "+1234567890123456",
            "+86abc12345678",
            "+",
            "++8613812345678",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn login_identifier_forms() {
        assert!(matches!(
            LoginIdentifier::parse("alice"),
            Ok(LoginIdentifier::Username(_))
        ));
        assert!(matches!(
            LoginIdentifier::parse("acme/bob"),
            Ok(LoginIdentifier::Qualified(_))
        ));
        assert!(matches!(
            LoginIdentifier::parse("a@b.com"),
            Ok(LoginIdentifier::Email(_))
        ));
        assert!(matches!(
            LoginIdentifier::parse("+8613812345678"),
            Ok(LoginIdentifier::Phone(_))
        ));
        assert!(matches!(
            LoginIdentifier::parse("008613812345678"),
            Ok(LoginIdentifier::Phone(_))
        ));
        assert!(matches!(
            LoginIdentifier::parse("12345"),
            Ok(LoginIdentifier::Username(_))
        ));
        assert!(LoginIdentifier::parse("ali\0ce").is_err());
        assert!(LoginIdentifier::parse("   ").is_err());
    }

    proptest! {
        #[test]
        fn parsed_usernames_are_canonical(s in "\\PC{0,80}") {
            if let Ok(u) = Username::parse(&s) {
                prop_assert_eq!(Username::parse(u.as_str()).unwrap(), u.clone());
                prop_assert!(u.as_str().chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c)));
            }
        }

        #[test]
        fn parsed_phones_are_e164(s in "[+0-9 ()-]{0,24}") {
            if let Ok(p) = Phone::parse(&s) {
                let digits = &p.as_str()[1..];
                prop_assert!(p.as_str().starts_with('+'));
                prop_assert!((8..=15).contains(&digits.len()));
                prop_assert!(digits.chars().all(|c| c.is_ascii_digit()));
                prop_assert_eq!(Phone::parse(p.as_str()).unwrap(), p.clone());
            }
        }

        #[test]
        fn parsed_emails_reparse_to_themselves(local in "[a-zA-Z0-9._+-]{1,20}", domain in "[a-zA-Z0-9-]{1,10}\\.[a-zA-Z]{2,6}") {
            let raw = format!("{local}@{domain}");
            if let Ok(e) = Email::parse(&raw) {
                prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e.clone());
                prop_assert_eq!(e.local_part(), local.as_str());
            }
        }
    }
}
