//! Permissions: tokend's own fixed *management permissions* (`Permission`, a bit each) and
//! the *API scopes* a company defines for the APIs tokend guards (SPEC §18), and
//! `PermissionSet`, a set of both.
//!
//! Management permissions are a `u32` bitmask, so subset checks and intersections on the hot
//! path are one instruction. API scopes are held by name (a scope's identity inside its
//! company), sorted and shared (`Arc`), so a set is cloned without allocating, membership is a
//! binary search, and an intersection whose one side covers the other reuses that side. A set
//! may also hold *every* API scope of its company (`all_scopes`: the `admin` and
//! `global_admin` roles), whatever the company defines now or later. A set serialises as a
//! sorted list of names.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! catalogue {
    ($( $variant:ident = $name:literal : $desc:literal ),+ $(,)?) => {
        /// One management permission. The discriminant is the bit index in a `PermissionSet`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Permission { $( $variant ),+ }

        impl Permission {
            /// Every management permission, in catalogue order.
            pub const ALL: &'static [Permission] = &[ $( Permission::$variant ),+ ];

            /// The wire name, e.g. `tokens:read`.
            pub fn name(self) -> &'static str {
                match self { $( Permission::$variant => $name ),+ }
            }

            /// A one-line description for `GET /v1/permissions` and the console.
            pub fn description(self) -> &'static str {
                match self { $( Permission::$variant => $desc ),+ }
            }

            /// Parses a wire name; `None` for anything that is not a management permission.
            pub fn parse(s: &str) -> Option<Permission> {
                match s { $( $name => Some(Permission::$variant), )+ _ => None }
            }
        }
    };
}

catalogue! {
    NodesRead = "nodes:read": "View filtering nodes",
    NodesWrite = "nodes:write": "Create and delete filtering nodes",
    UsersRead = "users:read": "View users of the company",
    UsersWrite = "users:write": "Create, change and disable users",
    AuditRead = "audit:read": "Read the audit log",
    SettingsRead = "settings:read": "View company settings, API scopes and roles",
    SettingsWrite = "settings:write": "Change company settings, API scopes and roles",
    TokensRead = "tokens:read": "View own API tokens",
    TokensWrite = "tokens:write": "Create and manage own API tokens",
    TokensAdmin = "tokens:admin": "Manage all API tokens of the company, and shared tokens",
    CompaniesRead = "companies:read": "View companies (global administrators)",
    CompaniesWrite = "companies:write": "Create companies (global administrators)",
    MaintenanceRun = "maintenance:run": "Run the scheduler's jobs now (server-wide; global administrators)",
}

/// The API scopes every company starts with (the seed catalogue), with their descriptions.
pub const SEED_SCOPES: &[(&str, &str)] = &[
    ("attacks:read", "View detected attacks"),
    ("attacks:write", "Manage detected attacks"),
    ("vulnerabilities:read", "View vulnerabilities"),
    ("vulnerabilities:write", "Manage vulnerabilities"),
    ("incidents:read", "View incidents"),
    ("incidents:write", "Manage incidents"),
    ("api_discovery:read", "View the discovered API inventory"),
    ("api_discovery:write", "Manage the discovered API inventory"),
    ("rules:read", "View filtering rules"),
    ("rules:write", "Manage filtering rules"),
    ("integrations:read", "View integrations"),
    ("integrations:write", "Manage integrations"),
];

/// Where a name sorts in lists: the catalogue's order from before API scopes were per company
/// (the seed scopes, then the management permissions, each as declared), then every other
/// name alphabetically.
pub fn list_rank(name: &str) -> (usize, &str) {
    let seeds = SEED_SCOPES.len();
    let rank = SEED_SCOPES
        .iter()
        .position(|(n, _)| *n == name)
        .or_else(|| Permission::parse(name).map(|p| seeds + p as usize))
        .unwrap_or(seeds + Permission::ALL.len());
    (rank, name)
}

/// The name that asks for every API scope of the company, defined now or later (what the
/// administrator roles hold). Stored like any name; lists of names leave it out.
pub const WILDCARD: &str = "*";

/// Most API scopes one company may define.
pub const MAX_SCOPES_PER_COMPANY: usize = 500;
/// Longest API scope description.
pub const MAX_SCOPE_DESCRIPTION: usize = 256;

/// Whether `s` is a well-formed API scope name:
/// `^[a-z][a-z0-9_.-]{0,62}:[a-z][a-z0-9_.-]{0,30}$`, and not a management permission.
pub fn valid_scope_name(s: &str) -> Result<(), &'static str> {
    fn part(p: &str, max: usize) -> bool {
        let b = p.as_bytes();
        !b.is_empty()
            && b.len() <= max
            && b[0].is_ascii_lowercase()
            && b[1..].iter().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'.' | b'-')
            })
    }
    let Some((resource, action)) = s.split_once(':') else {
        return Err("must look like resource:action (e.g. orders:write)");
    };
    if !part(resource, 63) || !part(action, 31) {
        return Err("must match ^[a-z][a-z0-9_.-]{0,62}:[a-z][a-z0-9_.-]{0,30}$");
    }
    if is_management_resource(resource) {
        return Err("names a management permission of tokend (tokens, users, audit, settings, companies, nodes, maintenance)");
    }
    Ok(())
}

/// Whether `resource` is one of tokend's own (management) resources.
pub fn is_management_resource(resource: &str) -> bool {
    matches!(
        resource,
        "tokens" | "users" | "audit" | "settings" | "companies" | "nodes" | "maintenance"
    )
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A sorted, de-duplicated, shared list of API scope names (`None`: empty, no allocation).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
struct Scopes(Option<Arc<[Box<str>]>>);

impl Scopes {
    fn as_slice(&self) -> &[Box<str>] {
        self.0.as_deref().unwrap_or(&[])
    }

    fn from_sorted(v: Vec<Box<str>>) -> Scopes {
        if v.is_empty() {
            Scopes(None)
        } else {
            Scopes(Some(v.into()))
        }
    }

    fn from_unsorted(mut v: Vec<Box<str>>) -> Scopes {
        v.sort_unstable();
        v.dedup();
        Scopes::from_sorted(v)
    }

    fn contains(&self, name: &str) -> bool {
        self.as_slice()
            .binary_search_by(|n| (**n).cmp(name))
            .is_ok()
    }

    fn is_subset_of(&self, other: &Scopes) -> bool {
        let (a, b) = (self.as_slice(), other.as_slice());
        if a.len() > b.len() {
            return false;
        }
        let mut j = 0;
        for n in a {
            while j < b.len() && b[j] < *n {
                j += 1;
            }
            if j == b.len() || b[j] != *n {
                return false;
            }
            j += 1;
        }
        true
    }

    fn filter(&self, keep: impl Fn(&str) -> bool) -> Scopes {
        Scopes::from_sorted(
            self.as_slice()
                .iter()
                .filter(|n| keep(n))
                .cloned()
                .collect(),
        )
    }

    fn union(&self, other: &Scopes) -> Scopes {
        if other.is_subset_of(self) {
            return self.clone();
        }
        if self.is_subset_of(other) {
            return other.clone();
        }
        Scopes::from_unsorted(
            self.as_slice()
                .iter()
                .chain(other.as_slice())
                .cloned()
                .collect(),
        )
    }
}

/// A set of management permissions and API scopes (see the module's comment).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct PermissionSet {
    bits: u32,
    all_scopes: bool,
    scopes: Scopes,
}

impl PermissionSet {
    pub const EMPTY: PermissionSet = PermissionSet {
        bits: 0,
        all_scopes: false,
        scopes: Scopes(None),
    };

    /// Every management permission and every API scope of the company.
    pub fn all() -> PermissionSet {
        let mut s = Self::management(Permission::ALL.iter().copied());
        s.all_scopes = true;
        s.scopes = Scopes::from_unsorted(SEED_SCOPES.iter().map(|(n, _)| (*n).into()).collect());
        s
    }

    /// A set of management permissions only.
    pub fn management(ps: impl IntoIterator<Item = Permission>) -> PermissionSet {
        let mut set = PermissionSet::EMPTY;
        for p in ps {
            set.insert(p);
        }
        set
    }

    /// This set plus the named API scopes.
    pub fn with_scopes<S: AsRef<str>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        let mut v: Vec<Box<str>> = self.scopes.as_slice().to_vec();
        v.extend(names.into_iter().map(|n| n.as_ref().into()));
        self.scopes = Scopes::from_unsorted(v);
        self
    }

    /// This set, holding every API scope of its company too.
    pub fn with_all_scopes(mut self) -> Self {
        self.all_scopes = true;
        self
    }

    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Whether the set holds every API scope of its company (the administrator roles).
    pub fn all_scopes(&self) -> bool {
        self.all_scopes
    }

    /// The management part alone.
    pub fn management_part(&self) -> PermissionSet {
        PermissionSet {
            bits: self.bits,
            ..PermissionSet::EMPTY
        }
    }

    /// The API scopes named explicitly (without the `all_scopes` wildcard).
    pub fn scope_names(&self) -> impl Iterator<Item = &str> {
        self.scopes.as_slice().iter().map(|n| &**n)
    }

    pub fn contains(&self, p: Permission) -> bool {
        self.bits & (1 << p as u8) != 0
    }

    /// Whether the set holds the API scope `name` (assumed defined by the company: the
    /// `all_scopes` wildcard holds any name). No allocation.
    pub fn has_scope(&self, name: &str) -> bool {
        self.all_scopes || self.scopes.contains(name)
    }

    /// Whether the set names the API scope `name` itself (not only through the wildcard).
    pub fn names_scope(&self, name: &str) -> bool {
        self.scopes.contains(name)
    }

    /// Whether the set holds `name`, a management permission or an API scope.
    pub fn has_name(&self, name: &str) -> bool {
        match Permission::parse(name) {
            Some(p) => self.contains(p),
            None => self.has_scope(name),
        }
    }

    pub fn insert(&mut self, p: Permission) {
        self.bits |= 1 << p as u8;
    }

    pub fn is_empty(&self) -> bool {
        self.bits == 0 && !self.all_scopes && self.scopes.0.is_none()
    }

    pub fn len(&self) -> usize {
        self.bits.count_ones() as usize + self.scopes.as_slice().len()
    }

    pub fn is_subset_of(&self, other: &PermissionSet) -> bool {
        self.bits & !other.bits == 0
            && (other.all_scopes || (!self.all_scopes && self.scopes.is_subset_of(&other.scopes)))
    }

    pub fn intersection(&self, other: &PermissionSet) -> PermissionSet {
        let scopes = match (self.all_scopes, other.all_scopes) {
            (true, true) => self.scopes.union(&other.scopes),
            (true, false) => other.scopes.clone(),
            (false, true) => self.scopes.clone(),
            (false, false) => {
                if self.scopes.is_subset_of(&other.scopes) {
                    self.scopes.clone()
                } else if other.scopes.is_subset_of(&self.scopes) {
                    other.scopes.clone()
                } else {
                    self.scopes.filter(|n| other.scopes.contains(n))
                }
            }
        };
        PermissionSet {
            bits: self.bits & other.bits,
            all_scopes: self.all_scopes && other.all_scopes,
            scopes,
        }
    }

    pub fn union(&self, other: &PermissionSet) -> PermissionSet {
        PermissionSet {
            bits: self.bits | other.bits,
            all_scopes: self.all_scopes || other.all_scopes,
            scopes: self.scopes.union(&other.scopes),
        }
    }

    /// The permissions in `self` that `other` lacks. (A wildcard minus a list stays a
    /// wildcard: it is not empty, which is what the rules ask.)
    pub fn difference(&self, other: &PermissionSet) -> PermissionSet {
        let scopes = if other.all_scopes {
            Scopes(None)
        } else {
            self.scopes.filter(|n| !other.scopes.contains(n))
        };
        PermissionSet {
            bits: self.bits & !other.bits,
            all_scopes: self.all_scopes && !other.all_scopes,
            scopes,
        }
    }

    /// The same set without the API scope `name`.
    pub fn without_scope(&self, name: &str) -> PermissionSet {
        PermissionSet {
            bits: self.bits,
            all_scopes: self.all_scopes,
            scopes: self.scopes.filter(|n| n != name),
        }
    }

    /// The management permissions in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
    }

    /// Every name listed: management permissions and API scopes named explicitly.
    pub fn names(&self) -> Vec<&str> {
        // The order of the catalogue before §18 first (so existing answers do not change),
        // then the company's own scopes, sorted.
        let mut v: Vec<&str> = self.scope_names().collect();
        for p in self.iter() {
            v.push(p.name());
        }
        v.sort_by(|a, b| list_rank(a).cmp(&list_rank(b)));
        v
    }

    /// Parses a list of names: management permissions, and anything well-formed as an API
    /// scope (whether the company defines it is the service's check). The first name that is
    /// neither is returned as the error.
    pub fn parse_names<S: AsRef<str>>(names: &[S]) -> Result<PermissionSet, String> {
        let mut set = PermissionSet::EMPTY;
        let mut scopes: Vec<Box<str>> = Vec::new();
        for n in names {
            let n = n.as_ref().trim();
            match Permission::parse(n) {
                Some(p) => set.insert(p),
                None if n == WILDCARD => set.all_scopes = true,
                None if valid_scope_name(n).is_ok() => scopes.push(n.into()),
                None => return Err(n.chars().take(100).collect()),
            }
        }
        set.scopes = Scopes::from_unsorted(scopes);
        Ok(set)
    }

    /// Storage form: space-separated names, and `*` for the wildcard.
    pub fn to_storage(&self) -> String {
        let mut v = self.names();
        if self.all_scopes {
            v.push(WILDCARD);
        }
        v.join(" ")
    }

    /// The names, and `*` for the wildcard: what a client sends to ask for this set.
    pub fn request_names(&self) -> Vec<String> {
        self.to_storage()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    /// Reads the storage form. Malformed names are ignored, so a set can only narrow.
    pub fn from_storage(s: &str) -> PermissionSet {
        let mut set = PermissionSet::EMPTY;
        let mut scopes: Vec<Box<str>> = Vec::new();
        for n in s.split_whitespace() {
            match Permission::parse(n) {
                Some(p) => set.insert(p),
                None if n == WILDCARD => set.all_scopes = true,
                None if valid_scope_name(n).is_ok() => scopes.push(n.into()),
                None => {}
            }
        }
        set.scopes = Scopes::from_unsorted(scopes);
        set
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        PermissionSet::management(iter)
    }
}

impl fmt::Debug for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_set();
        d.entries(self.names());
        if self.all_scopes {
            d.entry(&"*");
        }
        d.finish()
    }
}

impl Serialize for PermissionSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
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
    fn management_catalogue_has_13_permissions_and_round_trips() {
        assert_eq!(Permission::ALL.len(), 13);
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.name()), Some(*p));
        }
        let all = PermissionSet::all();
        assert_eq!(all.names().len(), 25);
        let stored = PermissionSet::from_storage(&all.to_storage());
        assert_eq!(stored, all);
        assert!(stored.all_scopes(), "the wildcard is stored as `*`");
        assert!(!all.names().contains(&"*"));
    }

    #[test]
    fn subset_and_intersection() {
        let a: PermissionSet = [Permission::TokensRead, Permission::TokensWrite]
            .into_iter()
            .collect();
        let b: PermissionSet = [Permission::TokensRead].into_iter().collect();
        assert!(b.is_subset_of(&a));
        assert!(!a.is_subset_of(&b));
        assert_eq!(a.intersection(&b), b);
        assert_eq!(a.difference(&b).names(), vec!["tokens:write"]);
    }

    #[test]
    fn scopes_compare_by_name_and_the_wildcard_covers_any() {
        let t = PermissionSet::EMPTY.with_scopes(["orders:write", "orders:read"]);
        let o = PermissionSet::EMPTY.with_scopes(["orders:read"]);
        assert!(!t.is_subset_of(&o));
        assert_eq!(t.intersection(&o).names(), vec!["orders:read"]);
        assert_eq!(t.difference(&o).names(), vec!["orders:write"]);
        let admin = PermissionSet::EMPTY.with_all_scopes();
        assert!(t.is_subset_of(&admin) && !admin.is_subset_of(&t));
        assert_eq!(t.intersection(&admin), t);
        assert!(t.has_scope("orders:write") && !t.has_scope("orders:delete"));
        assert!(t.difference(&admin).is_empty());
    }

    #[test]
    fn names_keep_the_old_catalogue_order_then_own_scopes() {
        let s = PermissionSet::from_storage("tokens:read zz:a attacks:read orders:write");
        assert_eq!(
            s.names(),
            vec!["attacks:read", "tokens:read", "orders:write", "zz:a"]
        );
    }

    #[test]
    fn scope_names_follow_the_pattern() {
        for ok in ["orders:write", "a:b", "billing.v2:read-all", "x_y:z.1"] {
            assert!(valid_scope_name(ok).is_ok(), "{ok}");
        }
        let long = format!("{}:a", "a".repeat(64));
        for bad in [
            "orders",
            "Orders:write",
            "1a:b",
            "a:",
            ":b",
            "a:b:c",
            "tokens:x",
            &long,
        ] {
            assert!(valid_scope_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_names_are_rejected_on_parse() {
        assert_eq!(
            PermissionSet::parse_names(&["tokens:read", "tokens:root"]),
            Err("tokens:root".to_string())
        );
    }
}
