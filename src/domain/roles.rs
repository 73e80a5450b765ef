//! Roles and role templates (rule 11).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::permissions::{Permission as P, PermissionSet};

/// A user's role. `Custom` carries its explicit set on the user, not here; so does `Company`
/// (a role the company defined, SPEC §18: the user row names it by `role_id` and holds a copy
/// of its set, kept in step whenever the role changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    GlobalAdmin,
    Admin,
    Analyst,
    ApiDeveloper,
    ReadOnly,
    Deploy,
    Custom,
    Company,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::GlobalAdmin,
        Role::Admin,
        Role::Analyst,
        Role::ApiDeveloper,
        Role::ReadOnly,
        Role::Deploy,
        Role::Custom,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::GlobalAdmin => "global_admin",
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::ApiDeveloper => "api_developer",
            Role::ReadOnly => "read_only",
            Role::Deploy => "deploy",
            Role::Custom => "custom",
            Role::Company => "company",
        }
    }

    /// The label the console shows.
    pub fn label(self) -> &'static str {
        match self {
            Role::GlobalAdmin => "Global administrator",
            Role::Admin => "Administrator",
            Role::Analyst => "Analyst",
            Role::ApiDeveloper => "API Developer",
            Role::ReadOnly => "Read only",
            Role::Deploy => "Deploy",
            Role::Custom => "Custom",
            Role::Company => "Company role",
        }
    }

    /// Parses a built-in role name (`company` is not one: it is stored, never asked for).
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }

    /// Parses a stored role column, `company` included.
    pub fn parse_stored(s: &str) -> Option<Role> {
        if s == "company" {
            Some(Role::Company)
        } else {
            Role::parse(s)
        }
    }

    /// The fixed permissions of the role; `Custom` and `Company` have none of their own.
    /// The administrator roles hold every API scope their company defines; the others hold
    /// their seed-catalogue scopes (SPEC §3) where the company still defines them.
    pub fn permissions(self) -> PermissionSet {
        const SEED_READS: [&str; 6] = [
            "attacks:read",
            "vulnerabilities:read",
            "incidents:read",
            "api_discovery:read",
            "rules:read",
            "integrations:read",
        ];
        let own_tokens = [P::TokensRead, P::TokensWrite];
        match self {
            Role::GlobalAdmin => PermissionSet::all(),
            Role::Admin => {
                let mut s = PermissionSet::all();
                s = s.difference(&PermissionSet::management([
                    P::CompaniesRead,
                    P::CompaniesWrite,
                    P::MaintenanceRun,
                ]));
                s
            }
            Role::Analyst => {
                PermissionSet::management(own_tokens.into_iter().chain([P::NodesRead]))
                    .with_scopes(SEED_READS)
                    .with_scopes([
                        "attacks:write",
                        "vulnerabilities:write",
                        "incidents:write",
                        "rules:write",
                    ])
            }
            Role::ApiDeveloper => {
                PermissionSet::management(own_tokens).with_scopes(["api_discovery:read"])
            }
            Role::ReadOnly => {
                PermissionSet::management(own_tokens.into_iter().chain([P::NodesRead]))
                    .with_scopes(SEED_READS)
            }
            Role::Deploy => PermissionSet::management(
                [P::NodesRead, P::NodesWrite].into_iter().chain(own_tokens),
            ),
            Role::Custom | Role::Company => PermissionSet::EMPTY,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The templates an administrator may pick when creating a token (rule 11).
pub const TEMPLATES: [Role; 6] = [
    Role::Admin,
    Role::Analyst,
    Role::ApiDeveloper,
    Role::ReadOnly,
    Role::Deploy,
    Role::Custom,
];

/// Parses a role template name; `global_admin` is a role, not a template.
pub fn parse_template(s: &str) -> Option<Role> {
    Role::parse(s).filter(|r| TEMPLATES.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_table_matches_spec_section_3() {
        assert_eq!(Role::GlobalAdmin.permissions().len(), 25);
        assert_eq!(Role::Admin.permissions().len(), 22);
        assert!(Role::Admin.permissions().has_scope("orders:write"));
        assert!(!Role::Analyst.permissions().has_scope("orders:write"));
        assert!(!Role::Admin.permissions().contains(P::CompaniesRead));
        assert!(!Role::Admin.permissions().contains(P::MaintenanceRun));
        assert_eq!(
            Role::ApiDeveloper.permissions().names(),
            vec!["api_discovery:read", "tokens:read", "tokens:write"]
        );
        assert_eq!(
            Role::Deploy.permissions().names(),
            vec!["nodes:read", "nodes:write", "tokens:read", "tokens:write"]
        );
        let analyst = Role::Analyst.permissions();
        assert!(analyst.has_scope("rules:write") && !analyst.contains(P::UsersRead));
        assert!(!analyst.contains(P::AuditRead) && !analyst.contains(P::NodesWrite));
        let ro = Role::ReadOnly.permissions();
        assert_eq!(ro.len(), 9);
        assert!(ro.contains(P::TokensWrite) && !ro.has_scope("attacks:write"));
    }
}
