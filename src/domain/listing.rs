//! What a list of tokens or audit events asks for: who may see which rows ([`Scope`]), the
//! filters ([`TokenFilter`], [`AuditFilter`]) and the order ([`TokenSort`]). One type each,
//! shared by the JSON API and the console, and parsed from text in one place.

use super::names::plain_text;
use super::time::parse_time;
use super::token::TokenKind;

/// A filter value that cannot be understood: the field and what to enter instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
    /// The value is not text that any input may carry (a control character, rule 44), as
    /// opposed to a value that names no status, kind, time or column.
    pub invalid_text: bool,
}

impl FieldError {
    fn new(field: &'static str, message: &str) -> FieldError {
        FieldError {
            field,
            message: message.to_string(),
            invalid_text: false,
        }
    }
}

/// Who may see which tokens in a list (the row side of the visibility policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every token (callers that reach every company).
    All,
    /// Every token of one company (administrators of it).
    Company(i64),
    /// Own tokens, plus shared tokens of the company whose audience is `company`.
    Own { user_id: i64, company_id: i64 },
}

/// A token's status as lists show and filter it. *Expired* is told apart from *Disabled*:
/// a token is expired when its expiry time has passed (whatever its stored flag says: the
/// scheduler that marks it may not have run yet) or when it was disabled because it expired.
/// *Disabled* is every other disabled token; *Enabled* is enabled and not expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Enabled,
    Disabled,
    Expired,
}

impl TokenStatus {
    pub const ALL: [TokenStatus; 3] = [
        TokenStatus::Enabled,
        TokenStatus::Disabled,
        TokenStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Enabled => "enabled",
            TokenStatus::Disabled => "disabled",
            TokenStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<TokenStatus> {
        TokenStatus::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The status of a token: its stored flag, its disabled reason, its expiry (ms) and now.
    pub fn of(enabled: bool, reason: Option<&str>, expires_at: Option<i64>, now: i64) -> Self {
        let past = expires_at.is_some_and(|e| e <= now);
        if past || (!enabled && reason == Some("expired")) {
            TokenStatus::Expired
        } else if enabled {
            TokenStatus::Enabled
        } else {
            TokenStatus::Disabled
        }
    }
}

/// Tokens expiring within this many days are marked "expires soon".
pub const EXPIRES_SOON_DAYS: i64 = 7;

/// The largest `expires_within_days` accepted (100 years).
pub const MAX_WITHIN_DAYS: u32 = 36_500;

/// The filters of a token list. Owner and creator are ids here; the console resolves the
/// emails people type before filling them in.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TokenFilter {
    pub name: Option<String>,
    pub owner_id: Option<i64>,
    pub creator_id: Option<i64>,
    pub status: Option<TokenStatus>,
    pub kind: Option<TokenKind>,
    pub expires_before: Option<i64>,
    pub expires_after: Option<i64>,
    /// "Expires in less than N days": not expired yet, and expiring before now + N days.
    pub expires_within_days: Option<u32>,
    /// The time (ms) `status` and `expires_within_days` are measured against; the service
    /// sets it from its clock ([`TokenFilter::at`]).
    pub now: i64,
}

/// The text filters of a token list as they arrive (query string or form).
#[derive(Debug, Default, Clone, Copy)]
pub struct TokenFilterText<'a> {
    pub name: Option<&'a str>,
    pub status: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub expires_before: Option<&'a str>,
    pub expires_after: Option<&'a str>,
    pub expires_within_days: Option<&'a str>,
}

/// A value with surrounding blanks removed; nothing left means "not given".
fn blank(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

impl TokenFilter {
    /// Parses the text filters; blank values mean "any". Owner and creator stay unset.
    pub fn parse(t: TokenFilterText) -> Result<TokenFilter, FieldError> {
        Ok(TokenFilter {
            name: text_filter(t.name, "name")?,
            owner_id: None,
            creator_id: None,
            status: match blank(t.status) {
                None => None,
                Some(s) => Some(TokenStatus::parse(s).ok_or_else(|| {
                    FieldError::new("status", "status must be `enabled`, `disabled` or `expired`")
                })?),
            },
            kind: match blank(t.kind) {
                None => None,
                Some(k) => Some(TokenKind::parse(k).ok_or_else(|| {
                    FieldError::new(
                        "kind",
                        "kind must be `private`, `shared` or `legacy` (node tokens are listed under /v1/nodes)",
                    )
                })?),
            },
            expires_before: time_filter(blank(t.expires_before), "expires_before")?,
            expires_after: time_filter(blank(t.expires_after), "expires_after")?,
            expires_within_days: match blank(t.expires_within_days) {
                None => None,
                Some(n) => Some(
                    n.parse::<u32>()
                        .ok()
                        .filter(|n| (1..=MAX_WITHIN_DAYS).contains(n))
                        .ok_or_else(|| {
                            FieldError::new(
                                "expires_within_days",
                                "expires_within_days must be a whole number of days from 1 to 36500",
                            )
                        })?,
                ),
            },
            now: 0,
        })
    }

    /// The filter measured at `now` (ms): the moment that tells expired tokens apart.
    pub fn at(&self, now: i64) -> TokenFilter {
        TokenFilter {
            now,
            ..self.clone()
        }
    }
}

/// A text filter: blank means "any"; a control character (rule 44) is refused, so no such
/// text reaches a query (PostgreSQL refuses NUL outright).
pub fn text_filter(v: Option<&str>, field: &'static str) -> Result<Option<String>, FieldError> {
    match blank(v) {
        None => Ok(None),
        Some(t) => plain_text(t)
            .map(|t| Some(t.to_string()))
            .map_err(|m| FieldError {
                invalid_text: true,
                ..FieldError::new(field, m)
            }),
    }
}

/// What to type where a date and time is asked for (every time field says the same).
pub const TIME_HINT: &str = "enter a date and time, e.g. 2030-01-31 12:00:00";

/// A time filter in milliseconds; the message says what to type.
pub fn time_filter(v: Option<&str>, field: &'static str) -> Result<Option<i64>, FieldError> {
    blank(v)
        .map(|s| {
            parse_time(s)
                .map(|t| t.timestamp_millis())
                .map_err(|_| FieldError::new(field, TIME_HINT))
        })
        .transpose()
}

/// The columns a token list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Owner,
    Creator,
    Kind,
    Expires,
    LastUsed,
    Status,
    Created,
}

impl SortKey {
    pub const ALL: [SortKey; 8] = [
        SortKey::Name,
        SortKey::Owner,
        SortKey::Creator,
        SortKey::Kind,
        SortKey::Expires,
        SortKey::LastUsed,
        SortKey::Status,
        SortKey::Created,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Owner => "owner",
            SortKey::Creator => "creator",
            SortKey::Kind => "kind",
            SortKey::Expires => "expires",
            SortKey::LastUsed => "last_used",
            SortKey::Status => "status",
            SortKey::Created => "created",
        }
    }

    pub fn parse(s: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The order of a token list: a column and a direction. Ties are broken by id, so the order
/// is stable and page boundaries never repeat or skip a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for TokenSort {
    /// Newest first.
    fn default() -> TokenSort {
        TokenSort {
            key: SortKey::Created,
            descending: true,
        }
    }
}

impl TokenSort {
    /// Parses `sort` (a column) and `order` (`asc` or `desc`); blank means the default.
    pub fn parse(sort: Option<&str>, order: Option<&str>) -> Result<TokenSort, FieldError> {
        let key = match blank(sort) {
            None => return Ok(TokenSort::default()),
            Some(s) => SortKey::parse(s).ok_or_else(|| {
                FieldError::new(
                    "sort",
                    "sort must be one of name, owner, creator, kind, expires, last_used, status, created",
                )
            })?,
        };
        let descending = match blank(order) {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => return Err(FieldError::new("order", "order must be `asc` or `desc`")),
        };
        Ok(TokenSort { key, descending })
    }
}

/// The filters of the audit log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    pub company_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub token_id: Option<i64>,
    pub action: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// The stored audit code of regenerating a token's value. The console and the API call the
/// action *regenerate*; the code stays `token.renewed` so stored events, webhook consumers and
/// saved filters keep working, and `token.regenerated` is accepted as its filter alias.
pub const REGENERATED_CODE: &str = "token.renewed";

impl AuditFilter {
    /// The `action` filter (a dotted name such as `token.created`; blank means any).
    /// `token.regenerated` means the stored code `token.renewed`.
    pub fn action(v: Option<&str>) -> Result<Option<String>, FieldError> {
        Ok(text_filter(v, "action")?.map(|a| match a.as_str() {
            "token.regenerated" => REGENERATED_CODE.to_string(),
            _ => a,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_filters_mean_any() {
        let f = TokenFilter::parse(TokenFilterText {
            name: Some("  "),
            status: Some(""),
            ..TokenFilterText::default()
        })
        .unwrap();
        assert_eq!(f, TokenFilter::default());
    }

    #[test]
    fn bad_values_name_their_field() {
        let e = TokenFilter::parse(TokenFilterText {
            status: Some("on"),
            ..TokenFilterText::default()
        })
        .unwrap_err();
        assert_eq!(e.field, "status");
        let e = TokenFilter::parse(TokenFilterText {
            expires_after: Some("tomorrow"),
            ..TokenFilterText::default()
        })
        .unwrap_err();
        assert_eq!(e.field, "expires_after");
        assert_eq!(
            TokenSort::parse(Some("colour"), None).unwrap_err().field,
            "sort"
        );
        assert_eq!(
            TokenSort::parse(Some("name"), Some("up"))
                .unwrap_err()
                .field,
            "order"
        );
    }

    #[test]
    fn rule_44_text_filters_refuse_control_characters() {
        for bad in ["\0", "a\u{1}", "\u{1b}x"] {
            let e = TokenFilter::parse(TokenFilterText {
                name: Some(bad),
                ..TokenFilterText::default()
            })
            .unwrap_err();
            assert_eq!((e.field, e.invalid_text), ("name", true));
            assert_eq!(AuditFilter::action(Some(bad)).unwrap_err().field, "action");
        }
        assert_eq!(
            AuditFilter::action(Some(" token.created ")).unwrap(),
            Some("token.created".to_string())
        );
        assert_eq!(AuditFilter::action(Some("")).unwrap(), None);
    }

    #[test]
    fn first_hour_status_expired_is_apart_from_disabled() {
        let now = 1_000_000;
        let of = TokenStatus::of;
        assert_eq!(of(true, None, None, now), TokenStatus::Enabled);
        assert_eq!(of(true, None, Some(now + 1), now), TokenStatus::Enabled);
        // Past its expiry while still flagged enabled: the scheduler has not run yet.
        assert_eq!(of(true, None, Some(now), now), TokenStatus::Expired);
        assert_eq!(
            of(false, Some("expired"), Some(now - 5), now),
            TokenStatus::Expired
        );
        assert_eq!(
            of(false, Some("manual"), Some(now - 5), now),
            TokenStatus::Expired
        );
        assert_eq!(of(false, Some("manual"), None, now), TokenStatus::Disabled);
        assert_eq!(
            of(false, Some("owner_disabled"), None, now),
            TokenStatus::Disabled
        );
        for s in TokenStatus::ALL {
            let f = TokenFilter::parse(TokenFilterText {
                status: Some(s.as_str()),
                ..TokenFilterText::default()
            })
            .unwrap();
            assert_eq!(f.status, Some(s));
        }
    }

    #[test]
    fn first_hour_expires_within_days_is_a_bounded_whole_number() {
        let parse = |v: &str| {
            TokenFilter::parse(TokenFilterText {
                expires_within_days: Some(v),
                ..TokenFilterText::default()
            })
        };
        assert_eq!(parse("7").unwrap().expires_within_days, Some(7));
        assert_eq!(parse(" ").unwrap().expires_within_days, None);
        for bad in ["0", "-1", "1.5", "x", "36501", "99999999999"] {
            assert_eq!(
                parse(bad).unwrap_err().field,
                "expires_within_days",
                "{bad}"
            );
        }
    }

    #[test]
    fn first_hour_regenerated_is_an_alias_of_the_stored_code() {
        assert_eq!(
            AuditFilter::action(Some("token.regenerated")).unwrap(),
            Some("token.renewed".to_string())
        );
        assert_eq!(
            AuditFilter::action(Some("token.renewed")).unwrap(),
            Some("token.renewed".to_string())
        );
    }

    #[test]
    fn sort_defaults_to_newest_first_and_every_column_parses() {
        assert_eq!(
            TokenSort::parse(None, Some("asc")).unwrap(),
            TokenSort::default()
        );
        for k in SortKey::ALL {
            let s = TokenSort::parse(Some(k.as_str()), Some("desc")).unwrap();
            assert_eq!((s.key, s.descending), (k, true));
        }
    }
}
