//! Decoys: what an unknown identifier is answered. Derived from a keyed hash
//! of the identifier, so repeated probes see the same plausible methods and
//! hints, and nobody without the server key can tell a decoy from a real
//! account.

use super::{Method, Offer};
use crate::identifiers::LoginIdentifier;

const DOMAINS: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "qq.com",
    "163.com",
    "yahoo.com",
    "icloud.com",
    "hotmail.com",
    "126.com",
];

fn letter(b: u8) -> char {
    char::from(b'a' + b % 26)
}

fn fake_email_hint(seed: &[u8; 32]) -> String {
    let domain = DOMAINS[usize::from(seed[3]) % DOMAINS.len()];
    format!("{}***{}@{domain}", letter(seed[1]), letter(seed[2]))
}

fn fake_phone_hint(seed: &[u8; 32]) -> String {
    let head = format!("1{}{}", 3 + seed[4] % 7, seed[5] % 10);
    let tail: String = seed[6..10]
        .iter()
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    format!("{head}****{tail}")
}

/// The offers of a decoy flow for `identifier`; `seed` is a keyed hash
/// (HMAC under the server key) of the tenant and the identifier. A typed
/// email or phone is offered back with its own mask, as a real one would be.
pub fn decoy_offers(identifier: &LoginIdentifier, seed: &[u8; 32]) -> Vec<Offer> {
    let offer = |method, hint, expected| Offer {
        method,
        hint,
        destination: None,
        expected,
    };
    let second = seed[0].is_multiple_of(2);
    // Same order as a real account's offers: SMS first, then email.
    let (sms, email) = match identifier {
        LoginIdentifier::Email(e) => (
            second.then(|| offer(Method::SmsCode, fake_phone_hint(seed), None)),
            Some(offer(
                Method::EmailCode,
                super::mask_email(e),
                Some(e.key()),
            )),
        ),
        LoginIdentifier::Phone(p) => (
            Some(offer(
                Method::SmsCode,
                super::mask_phone(p),
                Some(p.as_str().to_string()),
            )),
            second.then(|| offer(Method::EmailCode, fake_email_hint(seed), None)),
        ),
        LoginIdentifier::Username(_) | LoginIdentifier::Qualified(_) => (
            second.then(|| offer(Method::SmsCode, fake_phone_hint(seed), None)),
            Some(offer(Method::EmailCode, fake_email_hint(seed), None)),
        ),
    };
    sms.into_iter().chain(email).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_for_a_seed_and_shaped_like_real_offers() {
        let id = LoginIdentifier::parse("nobody").unwrap();
        let seed = [7u8; 32];
        assert_eq!(decoy_offers(&id, &seed), decoy_offers(&id, &seed));
        for offer in decoy_offers(&id, &seed) {
            assert!(offer.destination.is_none(), "a decoy sends nothing");
            assert!(offer.hint.contains("***"));
        }
        let email = LoginIdentifier::parse("Ghost@Example.com").unwrap();
        let offers = decoy_offers(&email, &[1u8; 32]);
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].hint, "g***t@example.com");
        let two = decoy_offers(&email, &[2u8; 32]);
        assert_eq!(
            two[0].method,
            Method::SmsCode,
            "SMS first, as for real accounts"
        );
        let other = [8u8; 32];
        assert_ne!(decoy_offers(&id, &seed), decoy_offers(&id, &other));
    }
}
