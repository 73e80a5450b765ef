//! Permission checkboxes bounded by what the owner holds.

use crate::domain::permissions::{Permission, PermissionSet};

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
