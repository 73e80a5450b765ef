//! Roles and role templates (rule 11).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::permissions::{Permission as P, PermissionSet};

/// A user's role. `Custom` carries its explicit set on the user, not here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    GlobalAdmin,
    Admin,
    Analyst,
    ApiDeveloper,
    ReadOnly,
    Deploy,
    Custom,
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
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }

    /// The fixed permissions of the role; `Custom` has none of its own.
    pub fn permissions(self) -> PermissionSet {
        let reads = [
            P::AttacksRead,
            P::VulnerabilitiesRead,
            P::IncidentsRead,
            P::ApiDiscoveryRead,
            P::RulesRead,
            P::IntegrationsRead,
            P::NodesRead,
            P::TokensRead,
        ];
        let own_tokens = [P::TokensRead, P::TokensWrite];
        match self {
            Role::GlobalAdmin => PermissionSet::all(),
            Role::Admin => PermissionSet::all()
                .iter()
                .filter(|p| !matches!(p, P::CompaniesRead | P::CompaniesWrite | P::MaintenanceRun))
                .collect(),
            Role::Analyst => reads
                .into_iter()
                .chain(own_tokens)
                .chain([
                    P::AttacksWrite,
                    P::VulnerabilitiesWrite,
                    P::IncidentsWrite,
                    P::RulesWrite,
                ])
                .collect(),
            Role::ApiDeveloper => [P::ApiDiscoveryRead]
                .into_iter()
                .chain(own_tokens)
                .collect(),
            Role::ReadOnly => reads.into_iter().chain(own_tokens).collect(),
            Role::Deploy => [P::NodesRead, P::NodesWrite]
                .into_iter()
                .chain(own_tokens)
                .collect(),
            Role::Custom => PermissionSet::EMPTY,
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
        assert!(analyst.contains(P::RulesWrite) && !analyst.contains(P::UsersRead));
        assert!(!analyst.contains(P::AuditRead) && !analyst.contains(P::NodesWrite));
        let ro = Role::ReadOnly.permissions();
        assert_eq!(ro.len(), 9);
        assert!(ro.contains(P::TokensWrite) && !ro.contains(P::AttacksWrite));
    }
}
