//! The sortable headings and the numbered pager of the API tokens list.

use super::form::with_query;
use super::tokens::Filters;
use crate::domain::listing::{SortKey, TokenSort};
use crate::service::tokens::ListPage;

/// A sortable column heading: a link that sorts by it (or flips the order when it already
/// does), with the arrow and `aria-sort` of the current order.
pub struct Column {
    pub label: &'static str,
    pub href: String,
    pub arrow: &'static str,
    pub aria_sort: &'static str,
}

pub fn columns(path: &str, f: &Filters, sort: TokenSort) -> Vec<Column> {
    let label = |k: SortKey| match k {
        SortKey::Name => "Name",
        SortKey::Owner => "Owner",
        SortKey::Creator => "Creator",
        SortKey::Kind => "Kind",
        SortKey::Expires => "Expires",
        SortKey::LastUsed => "Last used",
        SortKey::Status => "Status",
        SortKey::Created => "Created",
    };
    SortKey::ALL
        .into_iter()
        .map(|k| {
            let current = sort.key == k;
            let order = if current && !sort.descending {
                "desc"
            } else {
                "asc"
            };
            let mut pairs = f.pairs(false);
            pairs.extend([("sort", k.as_str()), ("order", order)]);
            let (arrow, aria_sort) = match (current, sort.descending) {
                (false, _) => ("", "none"),
                (true, false) => ("▲", "ascending"),
                (true, true) => ("▼", "descending"),
            };
            Column {
                label: label(k),
                href: with_query(path, &pairs),
                arrow,
                aria_sort,
            }
        })
        .collect()
}

/// A page-number link of the pager; `href` is `None` for the current page and for gaps.
pub struct PageLink {
    pub label: String,
    pub href: Option<String>,
    pub current: bool,
}

/// Links to the first and last page, and to two pages either side of the current one.
pub fn page_links(path: &str, f: &Filters, list: &ListPage) -> Vec<PageLink> {
    let (current, last) = (list.page, list.pages());
    let mut out = Vec::new();
    let mut previous = 0;
    for n in 1..=last {
        if n != 1 && n != last && n.abs_diff(current) > 2 {
            continue;
        }
        if n > previous + 1 {
            out.push(PageLink {
                label: "…".into(),
                href: None,
                current: false,
            });
        }
        let number = n.to_string();
        let mut pairs = f.pairs(true);
        pairs.push(("page", number.as_str()));
        out.push(PageLink {
            href: (n != current).then(|| with_query(path, &pairs)),
            label: number,
            current: n == current,
        });
        previous = n;
    }
    out
}
