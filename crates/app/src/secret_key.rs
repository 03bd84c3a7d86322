//! The server's secret key: generated on first start, kept in the data
//! directory with mode 0600, never logged.

use std::fmt;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use zeroize::Zeroizing;

/// 32 secret bytes. `Debug` prints nothing of them.
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl SecretKey {
    /// Reads `path`, or creates it with a fresh key (mode 0600) if absent.
    pub fn load_or_create(path: &Path) -> anyhow::Result<SecretKey> {
        match std::fs::read_to_string(path) {
            Ok(text) => SecretKey::from_hex(text.trim())
                .with_context(|| format!("reading the secret key in {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = Zeroizing::new([0u8; 32]);
                getrandom::fill(bytes.as_mut())
                    .map_err(|e| anyhow::anyhow!("OS random source failed: {e}"))?;
                let hex =
                    Zeroizing::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options
                    .open(path)
                    .with_context(|| format!("creating the secret key file {}", path.display()))?;
                file.write_all(hex.as_bytes())?;
                file.sync_all()?;
                tracing::info!(path = %path.display(), "generated a new secret key");
                Ok(SecretKey(bytes))
            }
            Err(e) => {
                Err(e).with_context(|| format!("reading the secret key in {}", path.display()))
            }
        }
    }

    /// A key from 64 hex digits.
    pub fn from_hex(hex: &str) -> anyhow::Result<SecretKey> {
        anyhow::ensure!(
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "the secret key must be 64 hex digits"
        );
        let mut bytes = Zeroizing::new([0u8; 32]);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .context("the secret key must be hex")?;
        }
        Ok(SecretKey(bytes))
    }

    /// The raw key bytes, for HMAC.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_mode_0600_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let a = SecretKey::load_or_create(&path).unwrap();
        let b = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(a.bytes(), b.bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn debug_is_redacted() {
        let k = SecretKey::from_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(format!("{k:?}"), "SecretKey([redacted])");
        assert!(SecretKey::from_hex("zz").is_err());
        assert!(
            SecretKey::from_hex(&"é".repeat(32)).is_err(),
            "64 bytes of non-ASCII, no panic"
        );
        assert!(SecretKey::from_hex(&"+f".repeat(32)).is_err());
    }
}
