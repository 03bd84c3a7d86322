//! Keyed hashes and one-time codes under the server's secret key.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::secret_key::SecretKey;
use crate::AppError;

/// HMAC-SHA256 under the server key over `parts` (each length-prefixed, so
/// `("ab", "c")` and `("a", "bc")` differ), as raw bytes.
pub fn hmac_bytes(key: &SecretKey, parts: &[&[u8]]) -> [u8; 32] {
    hmac_with(key.bytes(), parts)
}

fn hmac_with(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; 32],
    };
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Whether `stored` is the HMAC of `parts` under any key still accepted
/// (the current one, or the one before a rotation), in constant time.
pub fn hmac_matches(key: &SecretKey, parts: &[&[u8]], stored: &str) -> bool {
    key.all().fold(false, |found, k| {
        let candidate = hex::encode(hmac_with(k, parts));
        found | same(stored, &candidate)
    })
}

/// [`hmac_bytes`] as lower-case hex, the stored form.
pub fn hmac_hex(key: &SecretKey, parts: &[&[u8]]) -> String {
    hex::encode(hmac_bytes(key, parts))
}

/// Constant-time comparison of two stored hashes.
pub fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A uniformly random six-digit code from the OS CSPRNG.
pub fn six_digit_code() -> Result<String, AppError> {
    // Reject the top of the u32 range so every code is equally likely.
    const LIMIT: u32 = u32::MAX - (u32::MAX % 1_000_000);
    loop {
        let mut buf = [0u8; 4];
        getrandom::fill(&mut buf)
            .map_err(|e| AppError::internal(format!("OS random source failed: {e}")))?;
        let n = u32::from_le_bytes(buf);
        if n < LIMIT {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> =
            (0..200).map(|_| six_digit_code().unwrap()).collect();
        assert!(codes.len() > 190);
        assert!(codes
            .iter()
            .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())));
    }

    #[test]
    fn hmacs_are_keyed_and_length_prefixed() {
        let k1 = SecretKey::from_hex(&"11".repeat(32)).unwrap();
        let k2 = SecretKey::from_hex(&"22".repeat(32)).unwrap();
        assert_ne!(hmac_hex(&k1, &[b"a"]), hmac_hex(&k2, &[b"a"]));
        assert_ne!(hmac_hex(&k1, &[b"ab", b"c"]), hmac_hex(&k1, &[b"a", b"bc"]));
        assert!(same(&hmac_hex(&k1, &[b"x"]), &hmac_hex(&k1, &[b"x"])));
    }
}
