//! Validated text fields: token names, descriptions, emails, user names, passwords.

use std::fmt;

/// A token name: 1–128 characters after trimming (rule 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(s: &str) -> Result<TokenName, &'static str> {
        let t = s.trim();
        let n = t.chars().count();
        if n == 0 {
            return Err("name is required");
        }
        if n > 128 {
            return Err("name must be at most 128 characters");
        }
        if t.chars().any(char::is_control) {
            return Err("name must not contain control characters");
        }
        Ok(TokenName(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The uniqueness key: names are unique per owner, ignoring case.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A description: at most 1024 characters (rule 7); tab and line breaks allowed, no other
/// control character (rule 44).
pub fn parse_description(s: &str) -> Result<String, &'static str> {
    let t = s.trim();
    if t.chars().count() > 1024 {
        return Err("description must be at most 1024 characters");
    }
    multiline_text(t).map_err(|_| {
        "description must not contain control characters other than tab and line breaks"
    })?;
    Ok(t.to_string())
}

/// What an input holding a control character is told (rule 44).
pub const NO_CONTROLS: &str = "must not contain control characters";

/// Rule 44: `s` when it holds no control character (C0 — NUL included —, DEL or C1): the
/// check of every one-line text that reaches storage or a query (names, filters, URLs,
/// secrets, versions). A database may refuse some of them (PostgreSQL refuses NUL in text),
/// so they are refused here, as invalid input, before any work.
pub fn plain_text(s: &str) -> Result<&str, &'static str> {
    if s.chars().any(char::is_control) {
        Err(NO_CONTROLS)
    } else {
        Ok(s)
    }
}

/// Rule 44 for texts that may span lines (descriptions): as [`plain_text`], but tab, line
/// feed and carriage return (a browser sends line breaks as CR LF) are allowed.
pub fn multiline_text(s: &str) -> Result<&str, &'static str> {
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        Err(NO_CONTROLS)
    } else {
        Ok(s)
    }
}

/// Longest email address accepted (rule 28).
pub const MAX_EMAIL: usize = 254;
/// Longest password accepted, in bytes (rule 28).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest text accepted in any other input field, in bytes (rule 28).
pub const MAX_TEXT_BYTES: usize = 4096;

/// An email address, stored lower-cased so uniqueness ignores case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Email, &'static str> {
        // Rule 28: bounded before any other work (no lower-casing of a huge text).
        if s.trim().len() > MAX_EMAIL {
            return Err("email must be at most 254 characters");
        }
        let t = s.trim().to_lowercase();
        let valid = t.len() <= MAX_EMAIL
            && t.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            })
            && !t.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid {
            Ok(Email(t))
        } else {
            Err("a valid email address is required")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name: 1–128 characters.
pub fn parse_person_name(s: &str) -> Result<String, &'static str> {
    let t = s.trim();
    if t.len() > 4 * 128 {
        return Err("name must be at most 128 characters");
    }
    match t.chars().count() {
        0 => Err("name is required"),
        n if n > 128 => Err("name must be at most 128 characters"),
        _ if t.chars().any(char::is_control) => Err("name must not contain control characters"),
        _ => Ok(t.to_string()),
    }
}

/// Password length rule (rule 28): at least 8 characters, at most 1024 bytes, never
/// truncated. Checked before any hashing.
pub fn check_password(p: &str) -> Result<(), &'static str> {
    if p.len() > MAX_PASSWORD_BYTES {
        return Err("password must be at most 1024 bytes");
    }
    if p.chars().count() < 8 {
        return Err("password must be at least 8 characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names_are_trimmed_and_bounded() {
        assert_eq!(TokenName::parse("  ci  ").unwrap().as_str(), "ci");
        assert!(TokenName::parse("   ").is_err());
        assert!(TokenName::parse(&"x".repeat(128)).is_ok());
        assert!(TokenName::parse(&"x".repeat(129)).is_err());
        assert_eq!(TokenName::parse("CI").unwrap().key(), "ci");
    }

    #[test]
    fn rule_28_emails_names_and_passwords_are_bounded() {
        let local = "a".repeat(250);
        assert!(
            Email::parse(&format!("{local}@b.io")).is_err(),
            "255 characters"
        );
        assert!(Email::parse(&format!("{}@b.io", "a".repeat(249))).is_ok());
        assert!(parse_person_name(&"n".repeat(129)).is_err());
        assert!(parse_person_name(&"n".repeat(128)).is_ok());
        assert!(check_password(&"p".repeat(1024)).is_ok());
        assert!(check_password(&"p".repeat(1025)).is_err());
        // 1024 bytes, not characters: 300 four-byte characters are 1200 bytes.
        assert!(check_password(&"\u{1F511}".repeat(300)).is_err());
        assert!(check_password("short").is_err());
    }

    #[test]
    fn rule_44_control_characters_are_refused() {
        for bad in ["a\0b", "a\u{1}", "\u{1b}[31m", "a\u{7f}", "a\u{85}b"] {
            assert!(plain_text(bad).is_err(), "{bad:?}");
            assert!(multiline_text(bad).is_err(), "{bad:?}");
            assert!(parse_description(bad).is_err(), "{bad:?}");
            assert!(TokenName::parse(bad).is_err(), "{bad:?}");
            assert!(parse_person_name(bad).is_err(), "{bad:?}");
            assert!(Email::parse(&format!("{bad}@b.io")).is_err(), "{bad:?}");
        }
        let lines = "first line\r\n\tsecond line\nthird";
        assert_eq!(parse_description(lines).unwrap(), lines);
        assert!(plain_text(lines).is_err());
        assert!(TokenName::parse("a\tb").is_err());
        assert_eq!(plain_text("caf\u{e9} \u{1F511}"), Ok("caf\u{e9} \u{1F511}"));
    }

    #[test]
    fn emails_are_lowercased() {
        assert_eq!(Email::parse(" A@B.io ").unwrap().as_str(), "a@b.io");
        for bad in ["", "a", "@b", "a@", "a b@c", "a@.c"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
