//! Small view models and display helpers shared by the console's templates: times, labels,
//! select options, permission checkboxes. Presentation only; no rule lives here.

use chrono::{DateTime, Utc};

use crate::domain::model::Caller;
use crate::domain::permissions::{Permission, PermissionSet};
use crate::domain::roles::{Role, TEMPLATES};
use crate::domain::time::relative;
use crate::service::tokens::TokenView;
use crate::service::users::UserView;

/// An RFC 3339 time as the console shows it: `2030-01-31 12:00 UTC`.
pub fn time(rfc: &str) -> String {
    DateTime::parse_from_rfc3339(rfc)
        .map(|t| {
            t.with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|_| rfc.to_string())
}

/// An RFC 3339 time to the second: `2030-01-31 12:00:07 UTC` (the audit log).
pub fn time_secs(rfc: &str) -> String {
    DateTime::parse_from_rfc3339(rfc)
        .map(|t| {
            t.with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        })
        .unwrap_or_else(|_| rfc.to_string())
}

/// A time as lists show it: the UTC time and, beside it, how far it is from the server's
/// clock ("in 3 days", "2 h ago"). `iso` is empty for "never".
#[derive(Debug, Clone, Default)]
pub struct When {
    pub iso: String,
    /// The UTC time, or the word for "none" (`Never`).
    pub text: String,
    /// The whole time to the second, for the title.
    pub full: String,
    pub rel: String,
}

impl When {
    /// `fmt` renders the UTC time (`time` or `time_secs`).
    pub fn of(rfc: &str, now: DateTime<Utc>, fmt: fn(&str) -> String) -> When {
        match DateTime::parse_from_rfc3339(rfc) {
            Ok(t) => When {
                iso: rfc.to_string(),
                text: fmt(rfc),
                full: time_secs(rfc),
                rel: relative(t.with_timezone(&Utc), now),
            },
            Err(_) => When {
                text: rfc.to_string(),
                ..When::default()
            },
        }
    }

    pub fn opt(rfc: &Option<String>, none: &str, now: DateTime<Utc>) -> When {
        match rfc {
            Some(r) => When::of(r, now, time),
            None => When {
                text: none.to_string(),
                ..When::default()
            },
        }
    }

    /// One line: `2030-01-31 12:00 UTC (in 3 days)`.
    pub fn line(&self) -> String {
        if self.rel.is_empty() {
            self.text.clone()
        } else {
            format!("{} ({})", self.text, self.rel)
        }
    }
}

/// An optional time, or `none` when absent.
pub fn opt_time(rfc: &Option<String>, none: &str) -> String {
    rfc.as_deref().map(time).unwrap_or_else(|| none.to_string())
}

/// An RFC 3339 time as the expiry field shows it (`2030-01-31 12:00:00`, UTC).
pub fn input_time(rfc: &str) -> String {
    DateTime::parse_from_rfc3339(rfc)
        .map(|t| input_time_of(t.with_timezone(&Utc)))
        .unwrap_or_default()
}

/// A time as the expiry field shows it and people type it: `YYYY-MM-DD hh:mm:ss`, UTC.
pub fn input_time_of(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub fn kind_label(v: &TokenView) -> &'static str {
    use crate::domain::model::{Audience, TokenKind};
    match (v.kind, v.audience) {
        (TokenKind::Private, _) => "Private",
        (TokenKind::Shared, Some(Audience::Company)) => "Shared (company)",
        (TokenKind::Shared, _) => "Shared (admins)",
        (TokenKind::Legacy, _) => "Legacy",
    }
}

/// A disabled reason in words.
pub fn reason_label(reason: Option<&str>) -> &'static str {
    match reason {
        Some("manual") => "disabled by hand",
        Some("expired") => "expired",
        Some("owner_disabled") => "its owner was disabled",
        Some("owner_sso") => "its owner was switched to single sign-on",
        Some("no_permissions") => "no permissions left",
        Some("leaked") => "reported as leaked",
        Some("idle") => "unused for too long",
        _ => "disabled",
    }
}

/// A disabled reason in a few words, shown beside the *Disabled* badge (empty: none known).
pub fn reason_short(reason: Option<&str>) -> &'static str {
    match reason {
        Some("manual") => "by hand",
        Some("expired") => "expired",
        Some("owner_disabled") => "owner disabled",
        Some("owner_sso") => "owner uses SSO",
        Some("no_permissions") => "no permissions",
        Some("leaked") => "leaked",
        Some("idle") => "unused",
        _ => "",
    }
}

/// The permissions column: the template's name when the set is exactly a role's, else the
/// names (short sets) or a count; the full list goes into the cell's title.
pub fn permission_summary(v: &TokenView) -> (String, String) {
    let Some(set) = v.permissions.clone() else {
        return (
            "Owner's role".into(),
            "Legacy tokens always carry their owner's role permissions".into(),
        );
    };
    let full = set.names().join(", ");
    let role = v.role_template.as_deref().and_then(Role::parse);
    let short = match role {
        Some(r) if r != Role::Custom && r.permissions() == set => {
            format!("{} ({})", r.label(), set.len())
        }
        _ if set.is_empty() => "None".into(),
        _ if set.len() <= 2 => full.clone(),
        _ => format!("Custom ({})", set.len()),
    };
    (short, full)
}

/// One `<option>`; `data` goes into a `data-perms` attribute for the console script.
#[derive(Debug, Clone, Default)]
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
    pub data: String,
    /// Why the option cannot be chosen (empty: it can).
    pub disabled: String,
}

pub fn options(pairs: &[(&str, &str)], selected: &str) -> Vec<Opt> {
    pairs
        .iter()
        .map(|(v, l)| Opt {
            value: (*v).into(),
            label: (*l).into(),
            selected: *v == selected,
            data: String::new(),
            disabled: String::new(),
        })
        .collect()
}

/// How long the previous value keeps working after a regenerate (`RenewToken::grace_seconds`):
/// seconds, label, and the sentence the confirm dialog adds for that choice.
pub const GRACE_CHOICES: [(&str, &str, &str); 4] = [
    ("0", "None", "The current value stops working at once."),
    (
        "3600",
        "1 hour",
        "The current value keeps working for 1 hour.",
    ),
    (
        "86400",
        "24 hours",
        "The current value keeps working for 24 hours.",
    ),
    (
        "604800",
        "7 days",
        "The current value keeps working for 7 days.",
    ),
];

/// The "Keep the previous value working for" options; `data` is the dialog's sentence.
pub fn grace_options(selected: &str) -> Vec<Opt> {
    let selected = if selected.trim().is_empty() {
        "0"
    } else {
        selected.trim()
    };
    GRACE_CHOICES
        .iter()
        .map(|(v, l, note)| Opt {
            value: (*v).into(),
            label: (*l).into(),
            selected: *v == selected,
            data: (*note).into(),
            disabled: String::new(),
        })
        .collect()
}

/// The role templates of rule 11, each with its permissions for the script.
/// The role templates for a token of `owner` made by `caller`: a template granting something
/// the owner or the caller lacks is offered disabled, with the reason (a token never holds
/// more than its owner, nor more than the person making it).
pub fn template_options(
    selected: &str,
    (owner, held, caller): (&str, PermissionSet, &Caller),
) -> Vec<Opt> {
    TEMPLATES
        .iter()
        .map(|r| {
            let perms = r.permissions();
            let owner_lacks = perms.difference(&held);
            let caller_lacks = perms.difference(&caller.permissions);
            let disabled = if *r == Role::Custom {
                String::new()
            } else if !owner_lacks.is_empty() {
                format!("{owner} does not hold {}", owner_lacks.names().join(", "))
            } else if !caller_lacks.is_empty() {
                format!("you do not hold {}", caller_lacks.names().join(", "))
            } else {
                String::new()
            };
            Opt {
                value: r.name().into(),
                label: r.label().into(),
                selected: r.name() == selected,
                data: perms.names().join(" "),
                disabled,
            }
        })
        .collect()
}

/// The roles a user may be given, for the users form: those whose permissions the signed-in
/// user holds (the service refuses the others), plus the current one.
pub fn role_options(selected: &str, caller: &Caller) -> Vec<Opt> {
    let mut out: Vec<Opt> = Role::ALL
        .iter()
        .filter(|r| caller.covers(&r.permissions()) || r.name() == selected)
        .map(|r| Opt {
            value: r.name().into(),
            label: r.label().into(),
            selected: r.name() == selected,
            data: r.permissions().names().join(" "),
            disabled: String::new(),
        })
        .collect();
    // A user holding a company role keeps it unless another role is picked (Settings → Roles
    // and the API assign company roles).
    if selected == Role::Company.name() {
        out.push(Opt {
            value: Role::Company.name().into(),
            label: Role::Company.label().into(),
            selected: true,
            data: String::new(),
            disabled: String::new(),
        });
    }
    out
}

/// A duration in the words the console uses: whole days ("7 days"), hours ("36 hours"),
/// minutes, or seconds.
pub fn duration_words(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = match secs {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3_600 && s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// One permission checkbox. `hidden` when the token's owner does not hold it.
#[derive(Debug, Clone)]
pub struct PermBox {
    pub name: String,
    pub description: String,
    /// `orders` for `orders:write`; the grid heads each group with it.
    pub prefix: String,
    pub first_of_group: bool,
    pub checked: bool,
    pub hidden: bool,
}

/// Checkboxes for every permission in `offered` — its management permissions, then the
/// company's API scopes (`catalogue`, by name) it holds — hidden where `owner` lacks it.
/// Consecutive boxes of one prefix (`orders:read`, `orders:write`) form a group.
pub fn perm_boxes(
    catalogue: &[(String, String)],
    offered: PermissionSet,
    owner: PermissionSet,
    checked: PermissionSet,
) -> Vec<PermBox> {
    let management = offered
        .iter()
        .map(|p| (p.name().to_string(), p.description().to_string()));
    let scopes = catalogue
        .iter()
        .filter(|(n, _)| offered.has_scope(n))
        .cloned();
    let mut all: Vec<(String, String)> = management.chain(scopes).collect();
    all.sort_by(|a, b| {
        crate::domain::permissions::list_rank(&a.0)
            .cmp(&crate::domain::permissions::list_rank(&b.0))
    });
    let mut last_prefix = String::new();
    all.into_iter()
        .map(|(n, d)| {
            let prefix = n.split(':').next().unwrap_or("").to_string();
            let first_of_group = prefix != last_prefix;
            last_prefix = prefix.clone();
            PermBox {
                checked: checked.has_name(&n) && owner.has_name(&n),
                hidden: !owner.has_name(&n),
                description: if d.is_empty() {
                    describe(&n).to_string()
                } else {
                    d
                },
                name: n,
                prefix,
                first_of_group,
            }
        })
        .collect()
}

/// A permission's description: a management permission's own, a seed scope's.
pub fn describe(name: &str) -> &'static str {
    match Permission::parse(name) {
        Some(p) => p.description(),
        None => crate::domain::permissions::SEED_SCOPES
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, d)| d),
    }
}

/// A user for `<datalist>` type-ahead: email, name and permissions (for the script).
#[derive(Debug, Clone)]
pub struct UserOption {
    pub email: String,
    pub name: String,
    pub perms: String,
}

impl From<&UserView> for UserOption {
    fn from(u: &UserView) -> Self {
        UserOption {
            email: u.email.clone(),
            name: u.name.clone(),
            perms: u.permissions.names().join(" "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_words() {
        use std::time::Duration;
        assert_eq!(duration_words(Duration::from_secs(7 * 86_400)), "7 days");
        assert_eq!(duration_words(Duration::from_secs(86_400)), "1 day");
        assert_eq!(duration_words(Duration::from_secs(36 * 3_600)), "36 hours");
        assert_eq!(duration_words(Duration::from_secs(90)), "90 seconds");
    }

    #[test]
    fn times_render_in_utc() {
        assert_eq!(time("2030-01-31T12:00:00Z"), "2030-01-31 12:00 UTC");
        assert_eq!(input_time("2030-01-31T12:00:07Z"), "2030-01-31 12:00:07");
        assert_eq!(opt_time(&None, "never"), "never");
        assert_eq!(time_secs("2030-01-31T12:00:07Z"), "2030-01-31 12:00:07 UTC");
        let now = DateTime::parse_from_rfc3339("2030-01-28T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let w = When::of("2030-01-31T12:00:00Z", now, time);
        assert_eq!(w.line(), "2030-01-31 12:00 UTC (in 3 days)");
        assert_eq!(When::opt(&None, "Never", now).line(), "Never");
    }
}
