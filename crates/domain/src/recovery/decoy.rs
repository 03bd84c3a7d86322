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
    let email = |hint| Offer {
        method: Method::EmailCode,
        hint,
        destination: None,
    };
    let sms = |hint| Offer {
        method: Method::SmsCode,
        hint,
        destination: None,
    };
    let second = seed[0].is_multiple_of(2);
    let mut offers = Vec::new();
    match identifier {
        LoginIdentifier::Email(e) => {
            offers.push(email(super::mask_email(e)));
            if second {
                offers.push(sms(fake_phone_hint(seed)));
            }
        }
        LoginIdentifier::Phone(p) => {
            offers.push(sms(super::mask_phone(p)));
            if second {
                offers.push(email(fake_email_hint(seed)));
            }
        }
        LoginIdentifier::Username(_) | LoginIdentifier::Qualified(_) => {
            if second {
                offers.push(sms(fake_phone_hint(seed)));
            }
            offers.push(email(fake_email_hint(seed)));
        }
    }
    offers
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
        let email = LoginIdentifier::parse("ghost@example.com").unwrap();
        assert_eq!(decoy_offers(&email, &seed)[0].hint, "g***t@example.com");
        let other = [8u8; 32];
        assert_ne!(decoy_offers(&id, &seed), decoy_offers(&id, &other));
    }
}
