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
    let mut shown = vec![1, last];
    shown.extend(current.saturating_sub(2).max(1)..=(current + 2).min(last));
    shown.sort_unstable();
    shown.dedup();
    let mut out = Vec::new();
    let mut previous = 0;
    for n in shown {
        if n > previous + 1 {
            out.push(PageLink {
                label: "…".into(),
                href: None,
                current: false,
            });
        }
        out.push(PageLink {
            href: (n != current).then(|| page_url(path, f, n)),
            label: n.to_string(),
            current: n == current,
        });
        previous = n;
    }
    out
}

/// The URL of page `n` of this view (filters and order kept).
pub fn page_url(path: &str, f: &Filters, n: usize) -> String {
    let number = n.to_string();
    let mut pairs = f.pairs(true);
    pairs.push(("page", number.as_str()));
    with_query(path, &pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(page: usize, total: i64) -> Vec<String> {
        let list = ListPage {
            total,
            page,
            per_page: 10,
            ..ListPage::default()
        };
        page_links("/", &Filters::default(), &list)
            .into_iter()
            .map(|l| l.label)
            .collect()
    }

    #[test]
    fn the_pager_shows_the_ends_and_two_pages_either_side() {
        assert_eq!(
            labels(5, 100),
            ["1", "…", "3", "4", "5", "6", "7", "…", "10"]
        );
        assert_eq!(labels(1, 100), ["1", "2", "3", "…", "10"]);
        assert_eq!(labels(10, 100), ["1", "…", "8", "9", "10"]);
        assert_eq!(labels(1, 0), ["1"], "an empty list is one page");
        assert_eq!(labels(2, 25), ["1", "2", "3"]);
    }
}
