//! Token values: `tkd_` / `tkn_` + 30 random base62 characters + a 6-character
//! base62 CRC-32 checksum of those 30 characters.
//!
//! A `TokenValue` can only be built by `generate` or by a successful `parse`, so everything
//! after the parser knows the value is well-formed, and a malformed value never reaches the
//! database. Its `Debug` is redacted: a value must not end up in logs.

use std::fmt;

use rand::RngExt;
use sha2::{Digest, Sha256};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
const PREFIX_LEN: usize = 4;
/// Total length of a value: prefix + random part + checksum.
pub const VALUE_LEN: usize = PREFIX_LEN + RANDOM_LEN + CHECKSUM_LEN;

/// Which kind of credential a value is, told by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `tkd_`: an API token (private, shared or legacy).
    Api,
    /// `tkn_`: a filtering node's token.
    Node,
}

impl ValueKind {
    pub fn prefix(self) -> &'static str {
        match self {
            ValueKind::Api => "tkd_",
            ValueKind::Node => "tkn_",
        }
    }
}

/// Why a string is not a token value. Callers answer all of these the same way (401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("unknown prefix")]
    Prefix,
    #[error("wrong length")]
    Length,
    #[error("character outside the base62 alphabet")]
    Alphabet,
    #[error("checksum mismatch")]
    Checksum,
}

/// A well-formed token value.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenValue {
    value: String,
    kind: ValueKind,
}

/// SHA-256 of a value's full text: the lookup key stored in the database.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    pub fn of(text: &str) -> TokenDigest {
        TokenDigest(Sha256::digest(text.as_bytes()).into())
    }

    /// The first 8 bytes, used as the key of the in-memory filter.
    pub fn short(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(b)
    }

    pub fn from_slice(b: &[u8]) -> Option<TokenDigest> {
        <[u8; 32]>::try_from(b).ok().map(TokenDigest)
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenDigest({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

fn checksum(random: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut n = crc32fast::hash(random) as u64;
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out
}

fn is_base62(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

impl TokenValue {
    /// A fresh value from the OS CSPRNG (30 × log2(62) ≈ 178.6 bits).
    pub fn generate(kind: ValueKind) -> TokenValue {
        let mut rng = rand::rng();
        let random: Vec<u8> = (0..RANDOM_LEN)
            .map(|_| ALPHABET[rng.random_range(0..62)])
            .collect();
        let mut value = String::with_capacity(VALUE_LEN);
        value.push_str(kind.prefix());
        value.extend(random.iter().map(|&b| b as char));
        value.extend(checksum(&random).iter().map(|&b| b as char));
        TokenValue { value, kind }
    }

    /// Checks prefix, length, alphabet and checksum, with no I/O.
    pub fn parse(s: &str) -> Result<TokenValue, ValueError> {
        let kind = if s.starts_with("tkd_") {
            ValueKind::Api
        } else if s.starts_with("tkn_") {
            ValueKind::Node
        } else {
            return Err(ValueError::Prefix);
        };
        if s.len() != VALUE_LEN {
            return Err(ValueError::Length);
        }
        let body = &s.as_bytes()[PREFIX_LEN..];
        if !body.iter().copied().all(is_base62) {
            return Err(ValueError::Alphabet);
        }
        let (random, check) = body.split_at(RANDOM_LEN);
        if checksum(random) != check {
            return Err(ValueError::Checksum);
        }
        Ok(TokenValue {
            value: s.to_string(),
            kind,
        })
    }

    pub fn kind(&self) -> ValueKind {
        self.kind
    }

    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(&self.value)
    }

    /// The first 8 characters, shown to help people tell tokens apart (`value_hint`).
    pub fn hint(&self) -> String {
        self.value[..8].to_string()
    }

    /// The clear value, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for TokenValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenValue({}…)", &self.value[..8])
    }
}

/// The filter/cache key of legacy credentials: derived from the UUID, so an unknown UUID is
/// refused without a database read, like an unknown token value.
pub fn legacy_key(uuid: &str) -> TokenDigest {
    TokenDigest::of(&format!("legacy:{uuid}"))
}

/// Finds every well-formed value in a text (used by `tokend scan`).
pub fn find_values(text: &str) -> Vec<TokenValue> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + VALUE_LEN <= bytes.len() {
        let at_boundary = i == 0 || !is_base62(bytes[i - 1]);
        if at_boundary && (bytes[i..].starts_with(b"tkd_") || bytes[i..].starts_with(b"tkn_")) {
            let end = i + VALUE_LEN;
            let clean_end = end == bytes.len() || !is_base62(bytes[end]);
            if clean_end {
                if let Ok(v) = std::str::from_utf8(&bytes[i..end])
                    .map_err(|_| ValueError::Alphabet)
                    .and_then(TokenValue::parse)
                {
                    found.push(v);
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_values_parse_and_have_the_spec_shape() {
        for kind in [ValueKind::Api, ValueKind::Node] {
            let v = TokenValue::generate(kind);
            assert_eq!(v.expose().len(), 40);
            assert!(v.expose().starts_with(kind.prefix()));
            assert_eq!(TokenValue::parse(v.expose()).unwrap(), v);
        }
    }

    #[test]
    fn checksum_is_crc32_in_base62_left_padded() {
        // crc32("000000000000000000000000000000") computed independently with zlib.
        let random = "0".repeat(30);
        let crc = crc32fast::hash(random.as_bytes()) as u64;
        let mut expect = String::new();
        let mut n = crc;
        while n > 0 {
            expect.insert(0, ALPHABET[(n % 62) as usize] as char);
            n /= 62;
        }
        while expect.len() < 6 {
            expect.insert(0, '0');
        }
        let value = format!("tkd_{random}{expect}");
        assert!(TokenValue::parse(&value).is_ok());
    }

    #[test]
    fn rejects_each_kind_of_malformed_value() {
        let v = TokenValue::generate(ValueKind::Api);
        let s = v.expose();
        assert_eq!(
            TokenValue::parse(&s.replacen("tkd_", "tkx_", 1)),
            Err(ValueError::Prefix)
        );
        assert_eq!(TokenValue::parse(&s[..39]), Err(ValueError::Length));
        let mut bad = s.to_string();
        bad.replace_range(10..11, "-");
        assert_eq!(TokenValue::parse(&bad), Err(ValueError::Alphabet));
        assert_eq!(TokenValue::parse("tkd_é"), Err(ValueError::Length));
    }

    #[test]
    fn debug_never_shows_the_value() {
        let v = TokenValue::generate(ValueKind::Api);
        assert!(!format!("{v:?}").contains(&v.expose()[8..]));
    }

    #[test]
    fn scan_finds_values_in_text() {
        let v = TokenValue::generate(ValueKind::Api);
        let text = format!("export TOKEN={}\nnothing tkd_short here", v.expose());
        assert_eq!(find_values(&text), vec![v]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_single_character_corruption_is_rejected(pos in 4usize..40, c in "[0-9A-Za-z]") {
            let v = TokenValue::generate(ValueKind::Api);
            let mut bytes = v.expose().as_bytes().to_vec();
            let new = c.as_bytes()[0];
            prop_assume!(bytes[pos] != new);
            bytes[pos] = new;
            let s = String::from_utf8(bytes).unwrap();
            prop_assert!(TokenValue::parse(&s).is_err());
        }

        #[test]
        fn parse_never_panics_on_arbitrary_text(s in ".*") {
            let _ = TokenValue::parse(&s);
            let _ = find_values(&s);
        }
    }
}
