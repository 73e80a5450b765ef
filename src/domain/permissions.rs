//! The permission catalogue of docs/RULES.md and `PermissionSet`, a bit set over it.
//!
//! A set is a `u32` bitmask, so subset checks and intersections on the hot path are one
//! instruction; it serialises as a sorted list of `resource:action` names.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! catalogue {
    ($( $variant:ident = $name:literal : $desc:literal ),+ $(,)?) => {
        /// One scope of the catalogue. The discriminant is the bit index in a `PermissionSet`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Permission { $( $variant ),+ }

        impl Permission {
            /// Every permission, in catalogue order.
            pub const ALL: &'static [Permission] = &[ $( Permission::$variant ),+ ];

            /// The wire name, e.g. `tokens:read`.
            pub fn name(self) -> &'static str {
                match self { $( Permission::$variant => $name ),+ }
            }

            /// A one-line description for `GET /v1/permissions` and the console.
            pub fn description(self) -> &'static str {
                match self { $( Permission::$variant => $desc ),+ }
            }

            /// Parses a wire name; `None` for anything outside the catalogue.
            pub fn parse(s: &str) -> Option<Permission> {
                match s { $( $name => Some(Permission::$variant), )+ _ => None }
            }
        }
    };
}

catalogue! {
    AttacksRead = "attacks:read": "View detected attacks",
    AttacksWrite = "attacks:write": "Manage detected attacks",
    VulnerabilitiesRead = "vulnerabilities:read": "View vulnerabilities",
    VulnerabilitiesWrite = "vulnerabilities:write": "Manage vulnerabilities",
    IncidentsRead = "incidents:read": "View incidents",
    IncidentsWrite = "incidents:write": "Manage incidents",
    ApiDiscoveryRead = "api_discovery:read": "View the discovered API inventory",
    ApiDiscoveryWrite = "api_discovery:write": "Manage the discovered API inventory",
    RulesRead = "rules:read": "View filtering rules",
    RulesWrite = "rules:write": "Manage filtering rules",
    IntegrationsRead = "integrations:read": "View integrations",
    IntegrationsWrite = "integrations:write": "Manage integrations",
    NodesRead = "nodes:read": "View filtering nodes",
    NodesWrite = "nodes:write": "Create and delete filtering nodes",
    UsersRead = "users:read": "View users of the company",
    UsersWrite = "users:write": "Create, change and disable users",
    AuditRead = "audit:read": "Read the audit log",
    SettingsRead = "settings:read": "View company settings",
    SettingsWrite = "settings:write": "Change company settings",
    TokensRead = "tokens:read": "View own API tokens",
    TokensWrite = "tokens:write": "Create and manage own API tokens",
    TokensAdmin = "tokens:admin": "Manage all API tokens of the company, and shared tokens",
    CompaniesRead = "companies:read": "View companies (global administrators)",
    CompaniesWrite = "companies:write": "Create companies (global administrators)",
    MaintenanceRun = "maintenance:run": "Run the scheduler's jobs now (server-wide; global administrators)",
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of permissions. Always a subset of the catalogue by construction.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PermissionSet(u32);

impl PermissionSet {
    pub const EMPTY: PermissionSet = PermissionSet(0);

    pub fn all() -> PermissionSet {
        Self::from_iter(Permission::ALL.iter().copied())
    }

    pub fn bits(self) -> u32 {
        self.0
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & (1 << p as u8) != 0
    }

    pub fn insert(&mut self, p: Permission) {
        self.0 |= 1 << p as u8;
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn is_subset_of(self, other: PermissionSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn intersection(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 & other.0)
    }

    pub fn union(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 | other.0)
    }

    /// The permissions in `self` that `other` lacks.
    pub fn difference(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 & !other.0)
    }

    /// The members in catalogue order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Permission::name).collect()
    }

    /// Parses a list of names; the first unknown name is returned as the error.
    pub fn parse_names<S: AsRef<str>>(names: &[S]) -> Result<PermissionSet, String> {
        let mut set = PermissionSet::EMPTY;
        for n in names {
            let n = n.as_ref().trim();
            match Permission::parse(n) {
                Some(p) => set.insert(p),
                None => return Err(n.to_string()),
            }
        }
        Ok(set)
    }

    /// Storage form: space-separated names.
    pub fn to_storage(self) -> String {
        self.names().join(" ")
    }

    /// Reads the storage form. Unknown names (from a future version) are ignored, so a
    /// downgrade can only narrow a token, never widen it.
    pub fn from_storage(s: &str) -> PermissionSet {
        s.split_whitespace().filter_map(Permission::parse).collect()
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut set = PermissionSet::EMPTY;
        for p in iter {
            set.insert(p);
        }
        set
    }
}

impl fmt::Debug for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl Serialize for PermissionSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Permission::name))
    }
}

impl<'de> Deserialize<'de> for PermissionSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        PermissionSet::parse_names(&names)
            .map_err(|n| serde::de::Error::custom(format!("unknown permission `{n}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_the_25_scopes_and_round_trips() {
        assert_eq!(Permission::ALL.len(), 25);
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.name()), Some(*p));
        }
        let all = PermissionSet::all();
        assert_eq!(PermissionSet::from_storage(&all.to_storage()), all);
    }

    #[test]
    fn subset_and_intersection() {
        let a: PermissionSet = [Permission::TokensRead, Permission::TokensWrite]
            .into_iter()
            .collect();
        let b: PermissionSet = [Permission::TokensRead].into_iter().collect();
        assert!(b.is_subset_of(a));
        assert!(!a.is_subset_of(b));
        assert_eq!(a.intersection(b), b);
        assert_eq!(a.difference(b).names(), vec!["tokens:write"]);
    }

    #[test]
    fn unknown_names_are_rejected_on_parse() {
        assert_eq!(
            PermissionSet::parse_names(&["tokens:read", "tokens:root"]),
            Err("tokens:root".to_string())
        );
    }
}
