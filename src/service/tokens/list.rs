//! Token lists: newest first with a signed cursor (the API), or sorted by a column with page
//! numbers and a total (the console). Both show exactly the tokens `policy::access` lets the
//! caller see; the scope is turned into SQL once, in `db::tokens::list`.

use std::collections::HashMap;

use crate::db::Connection;

use super::rules::company;
use super::types::{view, TokenView};
use crate::db;
use crate::db::companies::Company;
use crate::db::tokens::TokenRow;
use crate::domain::caller::Caller;
use crate::domain::listing::{TokenFilter, TokenSort};
use crate::domain::permissions::Permission;
use crate::service::error::Result;
use crate::service::policy::{ensure_not_sso, list_scope};
use crate::service::{require, Env, Page};

/// The largest page the console offers.
pub const MAX_PAGE_SIZE: usize = 100;

/// `GET /v1/tokens`: one page newest first, and the cursor of the next page.
pub fn list(
    conn: &Connection,
    env: &Env,
    caller: &Caller,
    filter: &TokenFilter,
    page: Page,
) -> Result<(Vec<TokenView>, Option<String>)> {
    ensure_not_sso(caller)?;
    require(caller, Permission::TokensRead)?;
    let filter = &filter.at(env.now_ms());
    let rows = db::tokens::list(conn, list_scope(caller), filter, page.before, page.limit)?;
    let items = views(conn, env, caller, &rows)?;
    let next = page.next_cursor(&env.keys, rows.last().map(|t| t.id), rows.len());
    Ok((items, next))
}

/// One numbered page of a sorted list, and how many tokens match in all.
#[derive(Debug, Default)]
pub struct ListPage {
    pub items: Vec<TokenView>,
    pub total: i64,
    /// 1-based, clamped to the last page.
    pub page: usize,
    pub per_page: usize,
}

impl ListPage {
    pub fn pages(&self) -> usize {
        page_count(self.total, self.per_page)
    }
}

/// How many pages `total` rows fill at `per_page` a page (an empty list is one page; a
/// page size of 0, as in `ListPage::default()`, counts as 1).
fn page_count(total: i64, per_page: usize) -> usize {
    (total.max(0) as usize).div_ceil(per_page.max(1)).max(1)
}

/// The console's list: sorted by `sort`, page `page` (1-based) of `per_page` rows (at most
/// [`MAX_PAGE_SIZE`]). A page past the end shows the last one.
pub fn list_page(
    conn: &Connection,
    env: &Env,
    caller: &Caller,
    filter: &TokenFilter,
    sort: TokenSort,
    page: usize,
    per_page: usize,
) -> Result<ListPage> {
    ensure_not_sso(caller)?;
    require(caller, Permission::TokensRead)?;
    let scope = list_scope(caller);
    let filter = &filter.at(env.now_ms());
    let per_page = per_page.clamp(1, MAX_PAGE_SIZE);
    let total = db::tokens::count(conn, scope, filter)?;
    let page = page.clamp(1, page_count(total, per_page));
    let rows = db::tokens::list_sorted(conn, scope, filter, sort, (page - 1) * per_page, per_page)?;
    Ok(ListPage {
        items: views(conn, env, caller, &rows)?,
        total,
        page,
        per_page,
    })
}

fn views(
    conn: &Connection,
    env: &Env,
    caller: &Caller,
    rows: &[TokenRow],
) -> Result<Vec<TokenView>> {
    let mut companies: HashMap<i64, Company> = HashMap::new();
    let mut items = Vec::with_capacity(rows.len());
    for t in rows {
        if let std::collections::hash_map::Entry::Vacant(e) = companies.entry(t.company_id) {
            e.insert(company(conn, t.company_id)?);
        }
        items.push(view(t, caller, &companies[&t.company_id], env));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_default_page_counts_one_page_without_dividing_by_zero() {
        assert_eq!(ListPage::default().pages(), 1);
        assert_eq!(page_count(5, 0), 5);
        assert_eq!(page_count(-3, 10), 1);
        assert_eq!(page_count(101, 50), 3);
    }
}
