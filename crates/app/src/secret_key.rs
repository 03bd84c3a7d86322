//! The server's secret key: generated on first start, kept in the data
//! directory with mode 0600, never logged.
//!
//! The file holds one key per line, the current one first. `regain key
//! rotate` puts a new key in front and keeps the previous one, so HMACs made
//! before the rotation (codes, CAPTCHA answers) still verify until they
//! expire; the key before that is dropped.

use std::fmt;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use zeroize::Zeroizing;

type Key = Zeroizing<[u8; 32]>;

/// The current key and the previous one. `Debug` prints nothing of them.
pub struct SecretKey {
    keys: Vec<Key>,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

fn random_key() -> anyhow::Result<Key> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut()).map_err(|e| anyhow::anyhow!("OS random source failed: {e}"))?;
    Ok(bytes)
}

fn hex(key: &Key) -> Zeroizing<String> {
    Zeroizing::new(hex::encode(key))
}

/// Writes `keys` to `path` with mode 0600, atomically (a temporary file
/// renamed into place).
fn write_keys(path: &Path, keys: &[&Key], create_new: bool) -> anyhow::Result<()> {
    let text = Zeroizing::new(
        keys.iter()
            .map(|k| format!("{}\n", hex(k).as_str()))
            .collect::<String>(),
    );
    let target = if create_new {
        path.to_path_buf()
    } else {
        path.with_extension("key.new")
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&target)
        .with_context(|| format!("creating the secret key file {}", target.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    if !create_new {
        std::fs::rename(&target, path).with_context(|| format!("replacing {}", path.display()))?;
    }
    Ok(())
}

impl SecretKey {
    /// Reads `path`, or creates it with a fresh key (mode 0600) if absent.
    pub fn load_or_create(path: &Path) -> anyhow::Result<SecretKey> {
        match std::fs::read_to_string(path) {
            Ok(text) => SecretKey::from_lines(&Zeroizing::new(text))
                .with_context(|| format!("reading the secret key in {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = random_key()?;
                write_keys(path, &[&key], true)?;
                tracing::info!(path = %path.display(), "generated a new secret key");
                Ok(SecretKey { keys: vec![key] })
            }
            Err(e) => {
                Err(e).with_context(|| format!("reading the secret key in {}", path.display()))
            }
        }
    }

    /// Puts a new key in front of the current one in `path`, dropping any
    /// older key. Running servers pick it up at their next start.
    pub fn rotate(path: &Path) -> anyhow::Result<()> {
        let old = SecretKey::load_or_create(path)?;
        let new = random_key()?;
        write_keys(path, &[&new, &old.keys[0]], false)
    }

    /// Keys from the file's text: one per line, the current one first.
    pub fn from_lines(text: &str) -> anyhow::Result<SecretKey> {
        let keys = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(parse_hex)
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!keys.is_empty(), "the secret key file is empty");
        Ok(SecretKey { keys })
    }

    /// A single key from 64 hex digits.
    pub fn from_hex(hex: &str) -> anyhow::Result<SecretKey> {
        Ok(SecretKey {
            keys: vec![parse_hex(hex)?],
        })
    }

    /// The current key, for new HMACs.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.keys[0]
    }

    /// Every key still accepted, current first, for checking HMACs.
    pub fn all(&self) -> impl Iterator<Item = &[u8; 32]> {
        self.keys.iter().map(|k| &**k)
    }
}

fn parse_hex(hex: &str) -> anyhow::Result<Key> {
    anyhow::ensure!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "the secret key must be 64 hex digits"
    );
    let mut bytes = Zeroizing::new([0u8; 32]);
    for (i, b) in bytes.iter_mut().enumerate() {
        *b =
            u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).context("the secret key must be hex")?;
    }
    Ok(bytes)
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
    fn rotation_keeps_the_previous_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let first = *SecretKey::load_or_create(&path).unwrap().bytes();
        SecretKey::rotate(&path).unwrap();
        let after_one = SecretKey::load_or_create(&path).unwrap();
        assert_ne!(*after_one.bytes(), first);
        assert_eq!(
            after_one.all().nth(1),
            Some(&first),
            "the previous key still verifies"
        );
        SecretKey::rotate(&path).unwrap();
        let after_two = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(after_two.all().count(), 2);
        assert!(
            after_two.all().all(|k| *k != first),
            "older keys are dropped"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
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
