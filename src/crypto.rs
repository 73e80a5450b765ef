//! Server keys and what they protect: token values encrypted at rest (AES-256-GCM), legacy
//! secrets stored as keyed digests (HMAC-SHA256), signed list cursors, and state the browser
//! carries for the server (sealed cookies, AES-256-GCM under a key of their own).
//!
//! One 32-byte master key lives in a file (mode 0600, created on first start); purpose keys
//! are derived from it with HMAC so no key serves two purposes.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{bail, Context};
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngExt;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

pub struct Keys {
    cipher: Aes256Gcm,
    cookies: Aes256Gcm,
    legacy: [u8; 32],
    cursor: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// HMAC-SHA256 of `body` under `key`, hex-encoded (webhook signatures).
pub fn hmac_hex(key: &[u8], body: &[u8]) -> String {
    hmac(key, &[body])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Random bytes from the OS CSPRNG.
/// Whether `sent` is the non-empty secret `expected` (CSRF tokens, sign-in state), compared in
/// constant time. The one place such a comparison is written.
pub fn same_secret(expected: &str, sent: Option<&str>) -> bool {
    use subtle::ConstantTimeEq;
    !expected.is_empty()
        && sent.is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected.as_bytes())))
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill(&mut b[..]);
    b
}

/// A random URL-safe string with `N` bytes of entropy (session ids, CSRF tokens, secrets).
pub fn random_token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

impl Keys {
    pub fn from_master(master: &[u8; 32]) -> Keys {
        let enc = hmac(master, &[b"tokend value encryption v1"]);
        let cookies = hmac(master, &[b"tokend sealed cookie v1"]);
        Keys {
            cipher: Aes256Gcm::new_from_slice(&enc).expect("32-byte key"),
            cookies: Aes256Gcm::new_from_slice(&cookies).expect("32-byte key"),
            legacy: hmac(master, &[b"tokend legacy secret v1"]),
            cursor: hmac(master, &[b"tokend cursor v1"]),
        }
    }

    /// Loads the master key file, creating it (mode 0600) when it does not exist.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Keys> {
        if path.exists() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read master key file {}", path.display()))?;
            let bytes = STANDARD
                .decode(text.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok());
            let Some(master) = bytes else {
                bail!(
                    "master key file {} does not hold 32 base64-encoded bytes",
                    path.display()
                );
            };
            return Ok(Keys::from_master(&master));
        }
        let master = random_bytes::<32>();
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(path)
            .with_context(|| format!("cannot create master key file {}", path.display()))?;
        writeln!(f, "{}", STANDARD.encode(master))?;
        f.sync_all()?;
        Ok(Keys::from_master(&master))
    }

    /// Encrypts a token value; `aad` binds the ciphertext to its token's digest.
    pub fn seal(&self, value: &str, aad: &[u8]) -> Vec<u8> {
        let nonce = random_bytes::<12>();
        let ct = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: value.as_bytes(),
                    aad,
                },
            )
            .expect("AES-GCM encryption of a short message cannot fail");
        let mut out = nonce.to_vec();
        out.extend(ct);
        out
    }

    /// Decrypts what `seal` produced; `None` if it was tampered with or the key changed.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Option<String> {
        if sealed.len() < 12 {
            return None;
        }
        let (nonce, ct) = sealed.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let pt = self
            .cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
            .ok()?;
        String::from_utf8(pt).ok()
    }

    /// Encrypts and authenticates `plain` for a cookie (URL-safe base64); `purpose` binds it
    /// to one use, so a value sealed for one cookie does not open as another.
    pub fn seal_cookie(&self, plain: &[u8], purpose: &[u8]) -> String {
        let nonce = random_bytes::<12>();
        let ct = self
            .cookies
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: purpose,
                },
            )
            .expect("AES-GCM encryption of a short message cannot fail");
        let mut out = nonce.to_vec();
        out.extend(ct);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// What `seal_cookie` sealed for `purpose`; `None` when the value is malformed, was
    /// altered, or was sealed under another key or purpose.
    pub fn open_cookie(&self, sealed: &str, purpose: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() > 4096 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if raw.len() < 12 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        self.cookies
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: purpose,
                },
            )
            .ok()
    }

    /// The stored form of a legacy secret: HMAC-SHA256 under a server key. The secrets are
    /// high-entropy, so a fast keyed digest is as strong as argon2 here and keeps the legacy
    /// header path off the password hasher.
    pub fn legacy_digest(&self, secret: &str) -> [u8; 32] {
        hmac(&self.legacy, &[secret.as_bytes()])
    }

    pub fn legacy_matches(&self, secret: &str, stored: &[u8]) -> bool {
        self.legacy_digest(secret).ct_eq(stored).into()
    }

    /// An opaque, tamper-evident list cursor carrying the last id of a page.
    pub fn cursor(&self, last_id: i64) -> String {
        let id = last_id.to_be_bytes();
        let mac = hmac(&self.cursor, &[&id]);
        let mut raw = id.to_vec();
        raw.extend_from_slice(&mac[..12]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Reads a cursor; `None` if it is malformed or was not made by this server.
    pub fn parse_cursor(&self, s: &str) -> Option<i64> {
        let raw = URL_SAFE_NO_PAD.decode(s).ok()?;
        if raw.len() != 20 {
            return None;
        }
        let (id, mac) = raw.split_at(8);
        let expect = hmac(&self.cursor, &[id]);
        if !bool::from(expect[..12].ct_eq(mac)) {
            return None;
        }
        Some(i64::from_be_bytes(id.try_into().ok()?))
    }
}

/// Password hashing: argon2id with the OWASP minimum (m = 19456 KiB, t = 2, p = 1), which is
/// `Argon2::default()`. Slow by design (a server hashes in a `state::slots::HashSlot`).
/// The PHC string of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
}

/// Whether `password` matches the PHC string `phc`. A malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    argon2::password_hash::phc::PasswordHash::new(phc)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let k = Keys::from_master(&[7; 32]);
        let sealed = k.seal("tkd_secret", b"digest-a");
        assert_eq!(k.open(&sealed, b"digest-a").as_deref(), Some("tkd_secret"));
        assert_eq!(k.open(&sealed, b"digest-b"), None);
        assert!(!sealed.windows(10).any(|w| w == b"tkd_secret"));
    }

    #[test]
    fn sealed_cookies_open_only_unaltered_for_their_purpose_and_key() {
        let k = Keys::from_master(&[7; 32]);
        let sealed = k.seal_cookie(b"state=abc", b"flow");
        assert_eq!(
            k.open_cookie(&sealed, b"flow").as_deref(),
            Some(&b"state=abc"[..])
        );
        assert_eq!(k.open_cookie(&sealed, b"other"), None);
        assert_eq!(
            Keys::from_master(&[8; 32]).open_cookie(&sealed, b"flow"),
            None
        );
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(k.open_cookie(&altered, b"flow"), None);
        assert_eq!(k.open_cookie("garbage", b"flow"), None);
        assert!(!sealed.contains("abc"));
    }

    #[test]
    fn cursors_are_tamper_evident() {
        let k = Keys::from_master(&[1; 32]);
        let c = k.cursor(42);
        assert_eq!(k.parse_cursor(&c), Some(42));
        let other = Keys::from_master(&[2; 32]).cursor(41);
        assert_eq!(k.parse_cursor(&other), None);
        assert_eq!(k.parse_cursor("garbage"), None);
    }

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterx", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}
