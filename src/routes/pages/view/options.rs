//! Select options: generic ones, grace periods, role templates, roles, user choices.

use crate::domain::caller::Caller;
use crate::domain::permissions::PermissionSet;
use crate::domain::roles::{Role, TEMPLATES};
use crate::service::users::UserView;

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
