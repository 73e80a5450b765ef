//! The profile page: the signed-in user, what they may do, and their own API tokens.

use askama::Template;

use super::auth::PageUser;
use super::render::{Layout, PageResult, Section};
use super::tokens::TokenItem;
use crate::domain::listing::TokenFilter;
use crate::domain::permissions::Permission;
use crate::service::console::{self, Controls};
use crate::service::tokens as svc;
use crate::service::Page;
use crate::state::Shared;

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    layout: Layout,
    email: String,
    name: String,
    role: &'static str,
    sso: bool,
    permissions: Vec<(&'static str, &'static str)>,
    has_tokens: bool,
    can_create: bool,
    tokens: Vec<TokenItem>,
    more: bool,
    /// Where the status toggle returns.
    back: &'static str,
}

/// `GET /profile`: who I am, what I may do, and my own API tokens.
pub async fn profile(state: Shared, user: PageUser) -> PageResult {
    let has_tokens = user.has_tokens_section();
    let env = state.env();
    let now = env.now;
    let caller = user.caller.clone();
    let (items, next) = if has_tokens {
        let filter = TokenFilter {
            owner_id: Some(caller.user.id),
            ..TokenFilter::default()
        };
        state
            .read(move |c| {
                let (items, next) = svc::list(
                    c,
                    &env,
                    &caller,
                    &filter,
                    Page {
                        before: None,
                        limit: 20,
                    },
                )?;
                let ids: Vec<i64> = items.iter().map(|t| t.id).collect();
                let controls = console::controls(c, &caller, &ids)?;
                let rows = items
                    .iter()
                    .map(|v| {
                        TokenItem::new(
                            v,
                            controls.get(&v.id).copied().unwrap_or(Controls::default()),
                            now,
                        )
                    })
                    .collect::<Vec<_>>();
                Ok((rows, next))
            })
            .await?
    } else {
        (Vec::new(), None)
    };
    let u = &user.caller.user;
    user.page(&ProfilePage {
        layout: user.layout("Profile", Section::Profile),
        email: u.email.clone(),
        name: u.name.clone(),
        role: u.role.label(),
        sso: u.sso,
        permissions: u
            .permissions()
            .iter()
            .map(|p| (p.name(), p.description()))
            .collect(),
        has_tokens,
        can_create: has_tokens && user.has(Permission::TokensWrite),
        tokens: items,
        more: next.is_some(),
        back: "/profile",
    })
}
