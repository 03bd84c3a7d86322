//! Password hashes made by other systems, accepted at import and upgraded to
//! Argon2id at the first successful login.
//!
//! Migrating to Regain must not force every person through recovery: an
//! operator imports the hashes the old system kept, and each one is checked
//! with its own algorithm until the person next logs in, when it is replaced
//! by an Argon2id hash with the configured parameters.
//!
//! Accepted forms:
//! - Argon2 (`$argon2id$…`, `$argon2i$…`, `$argon2d$…`) in PHC form;
//! - bcrypt (`$2a$`, `$2b$`, `$2y$`), as crypt(3) writes it;
//! - PBKDF2-HMAC-SHA256/SHA512 in PHC form
//!   (`$pbkdf2-sha256$i=600000,l=32$<salt>$<hash>`, B64 without padding), and
//!   the form Python's passlib writes (`$pbkdf2-sha256$29000$<salt>$<hash>`,
//!   its "adapted" base64 with `.` for `+`).

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

/// The algorithm family of a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Argon2 in PHC form (ours, or another system's).
    Argon2,
    /// bcrypt in crypt(3) form.
    Bcrypt,
    /// PBKDF2 with HMAC-SHA256 or HMAC-SHA512.
    Pbkdf2,
}

/// Iteration bounds: below the floor a hash is too weak to keep trusting;
/// above the ceiling one login would occupy a hashing thread for minutes.
const PBKDF2_MIN_ITERATIONS: u32 = 1_000;
const PBKDF2_MAX_ITERATIONS: u32 = 10_000_000;
const BCRYPT_MAX_COST: u32 = 16;

/// Recognizes a stored hash and checks that it is well-formed, without
/// checking any password. The message says what is wrong, never echoing
/// the hash.
pub fn recognize(stored: &str) -> Result<Scheme, String> {
    if stored.starts_with("$argon2") {
        let parsed =
            argon2::PasswordHash::new(stored).map_err(|e| format!("malformed Argon2 hash: {e}"))?;
        argon2::Params::try_from(&parsed)
            .map_err(|e| format!("unusable Argon2 parameters: {e}"))?;
        argon2::Algorithm::new(parsed.algorithm.as_str())
            .map_err(|e| format!("unknown Argon2 variant: {e}"))?;
        return Ok(Scheme::Argon2);
    }
    if ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
    {
        let parts = bcrypt_parts(stored)?;
        if parts.cost > BCRYPT_MAX_COST {
            return Err(format!(
                "bcrypt cost {} is above {BCRYPT_MAX_COST}",
                parts.cost
            ));
        }
        return Ok(Scheme::Bcrypt);
    }
    if stored.starts_with("$pbkdf2") {
        pbkdf2_parts(stored)?;
        return Ok(Scheme::Pbkdf2);
    }
    Err("unsupported hash: expected Argon2 (PHC), bcrypt ($2b$) or PBKDF2 (PHC)".into())
}

/// Checks `password` (the bytes the other system received) against a bcrypt
/// or PBKDF2 hash.
pub fn matches(password: &[u8], stored: &str) -> Result<bool, String> {
    match recognize(stored)? {
        Scheme::Bcrypt => bcrypt::verify(password, stored).map_err(|e| e.to_string()),
        Scheme::Pbkdf2 => {
            let parts = pbkdf2_parts(stored)?;
            let mut computed = vec![0u8; parts.expected.len()];
            match parts.digest {
                Digest::Sha256 => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                    password,
                    &parts.salt,
                    parts.iterations,
                    &mut computed,
                ),
                Digest::Sha512 => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(
                    password,
                    &parts.salt,
                    parts.iterations,
                    &mut computed,
                ),
            }
            Ok(bool::from(computed.ct_eq(&parts.expected)))
        }
        Scheme::Argon2 => Err("Argon2 hashes are checked by the pool itself".into()),
    }
}

struct BcryptParts {
    cost: u32,
}

fn bcrypt_parts(stored: &str) -> Result<BcryptParts, String> {
    // $2b$12$<22 chars of salt><31 chars of hash>
    let mut fields = stored.split('$');
    let (Some(""), Some(_variant), Some(cost), Some(rest), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err("malformed bcrypt hash".into());
    };
    let cost: u32 = cost
        .parse()
        .map_err(|_| "malformed bcrypt cost".to_string())?;
    let alphabet = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '/';
    if rest.len() != 53 || !rest.chars().all(alphabet) || !(4..=31).contains(&cost) {
        return Err("malformed bcrypt hash".into());
    }
    Ok(BcryptParts { cost })
}

enum Digest {
    Sha256,
    Sha512,
}

struct Pbkdf2Parts {
    digest: Digest,
    iterations: u32,
    salt: Vec<u8>,
    expected: Vec<u8>,
}

fn pbkdf2_parts(stored: &str) -> Result<Pbkdf2Parts, String> {
    let fields: Vec<&str> = stored.split('$').collect();
    let ["", algorithm, params, salt, hash] = fields.as_slice() else {
        return Err("malformed PBKDF2 hash: expected $pbkdf2-sha256$<params>$<salt>$<hash>".into());
    };
    let digest = match *algorithm {
        "pbkdf2-sha256" => Digest::Sha256,
        "pbkdf2-sha512" => Digest::Sha512,
        other => return Err(format!("unsupported PBKDF2 variant {other:?}")),
    };
    // PHC writes `i=N[,l=L]`; passlib writes the bare count and an adapted
    // base64 alphabet ('.' instead of '+').
    let (iterations, passlib) = if let Some(list) = params.strip_prefix("i=") {
        let count = list.split(',').next().unwrap_or_default();
        (count.parse::<u32>(), false)
    } else {
        (params.parse::<u32>(), true)
    };
    let iterations = iterations.map_err(|_| "malformed PBKDF2 iteration count".to_string())?;
    if !(PBKDF2_MIN_ITERATIONS..=PBKDF2_MAX_ITERATIONS).contains(&iterations) {
        return Err(format!(
            "PBKDF2 iteration count {iterations} is outside {PBKDF2_MIN_ITERATIONS}..={PBKDF2_MAX_ITERATIONS}"
        ));
    }
    let decode = |text: &str, what: &str| {
        let text = if passlib {
            text.replace('.', "+")
        } else {
            text.to_string()
        };
        STANDARD_NO_PAD
            .decode(text)
            .map_err(|_| format!("malformed PBKDF2 {what}"))
    };
    let salt = decode(salt, "salt")?;
    let expected = decode(hash, "hash")?;
    if salt.is_empty() || !(16..=64).contains(&expected.len()) {
        return Err("malformed PBKDF2 hash: empty salt or unusual output length".into());
    }
    Ok(Pbkdf2Parts {
        digest,
        iterations,
        salt,
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers computed by an independent implementation (Python's
    // hashlib.pbkdf2_hmac) for "correct horse battery", salt
    // "saltsaltsalt1234", 1000 iterations.
    const PBKDF2_SHA256_PHC: &str =
        "$pbkdf2-sha256$i=1000,l=32$c2FsdHNhbHRzYWx0MTIzNA$wheZis4WMGFy+7bhdev/G/YeD76DK1WUFiU5ngBGWLk";
    const PBKDF2_SHA256_PASSLIB: &str =
        "$pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0MTIzNA$wheZis4WMGFy.7bhdev/G/YeD76DK1WUFiU5ngBGWLk";
    const PBKDF2_SHA512_PHC: &str = "$pbkdf2-sha512$i=1000$c2FsdHNhbHRzYWx0MTIzNA$RZbZe+j+eO3ppjfgCbqwWaBiL5hmBVncFc9GxXViBOpF3juLu704DU62THcuI+x2BSamf++aK6jccCLUbSrIcg";
    // The crypt_blowfish test vector for "U*U".
    const BCRYPT_VECTOR: &str = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

    #[test]
    fn pbkdf2_known_answers_match_and_others_do_not() {
        for stored in [PBKDF2_SHA256_PHC, PBKDF2_SHA256_PASSLIB, PBKDF2_SHA512_PHC] {
            assert_eq!(recognize(stored), Ok(Scheme::Pbkdf2));
            assert_eq!(
                matches(b"correct horse battery", stored),
                Ok(true),
                "{stored}"
            );
            assert_eq!(
                matches(b"correct horse batterY", stored),
                Ok(false),
                "{stored}"
            );
        }
    }

    #[test]
    fn bcrypt_known_answer_matches_and_others_do_not() {
        assert_eq!(recognize(BCRYPT_VECTOR), Ok(Scheme::Bcrypt));
        assert_eq!(matches(b"U*U", BCRYPT_VECTOR), Ok(true));
        assert_eq!(matches(b"U*V", BCRYPT_VECTOR), Ok(false));
    }

    #[test]
    fn malformed_and_unsupported_hashes_are_refused_with_a_reason() {
        for bad in [
            "",
            "plaintext",
            "$1$md5crypt$abcdefgh",
            "$2b$99$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            "$2b$05$short",
            "$pbkdf2-sha1$i=1000$c2FsdA$aGFzaA",
            "$pbkdf2-sha256$i=10$c2FsdHNhbHRzYWx0MTIzNA$wheZis4WMGFy+7bhdev/G/YeD76DK1WUFiU5ngBGWLk",
            "$pbkdf2-sha256$i=1000$!!$wheZis4WMGFy+7bhdev/G/YeD76DK1WUFiU5ngBGWLk",
            "$argon2id$v=19$m=x$salt$hash",
        ] {
            let err = recognize(bad).expect_err(bad);
            assert!(!err.is_empty());
        }
        // The cost ceiling is what keeps a hostile import from pinning a thread.
        assert!(
            recognize("$2b$17$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
                .unwrap_err()
                .contains("cost")
        );
    }
}
