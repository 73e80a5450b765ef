//! Settings → Scopes and Settings → Roles (SPEC §18): the company's API scopes (list, define,
//! delete after a confirmation that says what loses it) and its roles (list, define, edit
//! with a preview of what every holder's tokens lose, delete after a confirmation). Plain
//! forms: everything works without JavaScript. The service decides every permission.

use actix_web::web;
use askama::Template;

use super::auth::{PageUser, SignedForm};
use super::confirm::confirm;
use super::render::{in_place, on_form, Flash, Layout, PageError, PageResult, Section};
use crate::domain::permissions::{Permission, PermissionSet};
use crate::error::ApiError;
use crate::service::roles::{self, CreateRole, RoleView, UpdateRole};
use crate::service::scopes::{self, CreateScope, ScopeView};
use crate::state::Shared;

/// One checkbox of a permission grid.
pub struct Check {
    pub name: String,
    pub description: String,
    pub checked: bool,
}

/// Checkboxes of one prefix (`orders` for `orders:read`, `orders:write`).
pub struct Group {
    pub prefix: String,
    pub checks: Vec<Check>,
}

/// The grid of a role form: management permissions, then the company's scopes grouped by
/// prefix.
pub fn groups(catalogue: &[ScopeView], checked: &PermissionSet) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    let mut push = |name: &str, description: &str| {
        let prefix = name.split(':').next().unwrap_or(name).to_string();
        let check = Check {
            name: name.to_string(),
            description: description.to_string(),
            checked: checked.has_name(name),
        };
        match out.last_mut() {
            Some(g) if g.prefix == prefix => g.checks.push(check),
            _ => out.push(Group {
                prefix,
                checks: vec![check],
            }),
        }
    };
    for p in Permission::ALL {
        push(p.name(), p.description());
    }
    for s in catalogue {
        push(&s.name, &s.description);
    }
    out
}

#[derive(Template)]
#[template(path = "settings/scopes.html")]
struct ScopesPage {
    layout: Layout,
    scopes: Vec<ScopeView>,
    can_write: bool,
    name: String,
    description: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/roles.html")]
struct RolesPage {
    layout: Layout,
    roles: Vec<RoleView>,
    can_write: bool,
    name: String,
    description: String,
    groups: Vec<Group>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/role.html")]
struct RolePage {
    layout: Layout,
    id: i64,
    users: usize,
    can_write: bool,
    name: String,
    description: String,
    groups: Vec<Group>,
    error: Option<String>,
}

fn field_message(e: &ApiError) -> String {
    match e.fields().and_then(|f| f.iter().next()) {
        Some((field, m)) => format!("{}: {m}", capitalise(field)),
        None => e.to_string(),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f
            .to_uppercase()
            .chain(c)
            .collect::<String>()
            .replace('_', " "),
        None => String::new(),
    }
}

fn status_of(error: &Option<String>) -> actix_web::http::StatusCode {
    if error.is_some() {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        actix_web::http::StatusCode::OK
    }
}

async fn render_scopes(
    state: &Shared,
    user: &PageUser,
    (name, description): (String, String),
    error: Option<String>,
) -> PageResult {
    let caller = user.caller.clone();
    let list = state.read(move |c| scopes::list(c, &caller)).await?;
    user.page_status(
        status_of(&error),
        &ScopesPage {
            layout: user.layout("API scopes", Section::Settings),
            scopes: list,
            can_write: user.has(Permission::SettingsWrite),
            name,
            description,
            error,
        },
    )
}

/// `GET /settings/scopes`.
pub async fn scopes_page(state: Shared, user: PageUser) -> PageResult {
    render_scopes(&state, &user, (String::new(), String::new()), None).await
}

/// `POST /settings/scopes`: defines a scope.
pub async fn scopes_create(state: Shared, sf: SignedForm) -> PageResult {
    let SignedForm { user, form } = sf;
    let (name, description) = (form.text("name"), form.text("description"));
    let input = CreateScope {
        name: name.trim().to_string(),
        description: Some(description.clone()),
    };
    let env = state.env();
    let caller = user.caller.clone();
    match state
        .write(move |tx| scopes::create(tx, &env, &caller, input))
        .await
    {
        Ok(s) => Ok(user.redirect(
            "/settings/scopes",
            Flash::ok(format!("Scope “{}” defined.", s.name)),
        )),
        Err(e) => {
            let m = field_message(&on_form(e)?);
            render_scopes(&state, &user, (name, description), Some(m)).await
        }
    }
}

/// `POST /settings/scopes/{id}/delete`: asks first, saying which tokens, roles and users lose
/// the scope; then deletes it.
pub async fn scopes_delete(state: Shared, path: web::Path<String>, sf: SignedForm) -> PageResult {
    let id = super::form::path_id(&path)?;
    let SignedForm { user, form } = sf;
    let caller = user.caller.clone();
    if !form.checked("confirmed") {
        let p = state
            .read(move |c| scopes::delete_preview(c, &caller, id))
            .await?;
        let mut lines = vec![format!(
            "Delete the scope “{}”? It is removed from every role, user and token of the company at once. This cannot be undone.",
            p.scope.name
        )];
        for t in &p.tokens {
            lines.push(format!(
                "Token “{}” loses it{}.",
                t.name,
                if t.disabled {
                    " and is disabled (nothing left)"
                } else {
                    ""
                }
            ));
        }
        if p.hidden_tokens > 0 {
            lines.push(format!(
                "{} token(s) you cannot see lose it too.",
                p.hidden_tokens
            ));
        }
        for r in &p.roles {
            lines.push(format!("Role “{}” loses it.", r.name));
        }
        for u in &p.users {
            lines.push(format!("User {} loses it.", u.name));
        }
        return confirm(
            &user,
            &form,
            &format!("/settings/scopes/{id}/delete"),
            "Delete scope?",
            &lines.join(" "),
            "Delete",
            "/settings/scopes",
        );
    }
    let env = state.env();
    match state
        .write(move |tx| scopes::delete(tx, &env, &caller, id))
        .await
    {
        Ok(p) => Ok(user.redirect(
            "/settings/scopes",
            Flash::ok(format!(
                "Scope “{}” deleted; {} token(s) changed.",
                p.scope.name,
                p.tokens.len() + p.hidden_tokens
            )),
        )),
        Err(e) => Ok(user.redirect("/settings/scopes", Flash::error(in_place(e)?.to_string()))),
    }
}

async fn catalogue(state: &Shared, user: &PageUser) -> Result<Vec<ScopeView>, PageError> {
    let company = user.caller.user.company_id;
    Ok(state
        .read(move |c| crate::service::scopes::catalogue(c, company))
        .await?)
}

async fn render_roles(
    state: &Shared,
    user: &PageUser,
    (name, description, checked): (String, String, PermissionSet),
    error: Option<String>,
) -> PageResult {
    let caller = user.caller.clone();
    let list = state.read(move |c| roles::list(c, &caller)).await?;
    let cat = catalogue(state, user).await?;
    user.page_status(
        status_of(&error),
        &RolesPage {
            layout: user.layout("Roles", Section::Settings),
            roles: list,
            can_write: user.has(Permission::SettingsWrite),
            name,
            description,
            groups: groups(&cat, &checked),
            error,
        },
    )
}

/// `GET /settings/roles`.
pub async fn roles_page(state: Shared, user: PageUser) -> PageResult {
    crate::service::require(&user.caller, Permission::SettingsRead)?;
    render_roles(
        &state,
        &user,
        (String::new(), String::new(), PermissionSet::EMPTY),
        None,
    )
    .await
}

/// `POST /settings/roles`: defines a role.
pub async fn roles_create(state: Shared, sf: SignedForm) -> PageResult {
    let SignedForm { user, form } = sf;
    let (name, description) = (form.text("name"), form.text("description"));
    let perms = form.all("permissions");
    let input = CreateRole {
        name: name.clone(),
        description: Some(description.clone()),
        permissions: Some(perms.clone()),
        template: None,
    };
    let env = state.env();
    let caller = user.caller.clone();
    match state
        .write(move |tx| roles::create(tx, &env, &caller, input))
        .await
    {
        Ok(r) => Ok(user.redirect(
            "/settings/roles",
            Flash::ok(format!("Role “{}” created.", r.name)),
        )),
        Err(e) => {
            let m = field_message(&in_place(e)?);
            let checked = PermissionSet::parse_names(&perms).unwrap_or_default();
            render_roles(&state, &user, (name, description, checked), Some(m)).await
        }
    }
}

async fn render_role(
    state: &Shared,
    user: &PageUser,
    id: i64,
    typed: Option<(String, String, PermissionSet)>,
    error: Option<String>,
) -> PageResult {
    let caller = user.caller.clone();
    let r = state.read(move |c| roles::get(c, &caller, id)).await?;
    let (name, description, checked) =
        typed.unwrap_or((r.name.clone(), r.description.clone(), r.permissions.clone()));
    let cat = catalogue(state, user).await?;
    user.page_status(
        status_of(&error),
        &RolePage {
            layout: user.layout(format!("Role {}", r.name), Section::Settings),
            id,
            users: r.users.unwrap_or(0),
            can_write: user.has(Permission::SettingsWrite),
            name,
            description,
            groups: groups(&cat, &checked),
            error,
        },
    )
}

/// `GET /settings/roles/{id}`.
pub async fn role_page(state: Shared, path: web::Path<String>, user: PageUser) -> PageResult {
    let id = super::form::path_id(&path)?;
    render_role(&state, &user, id, None, None).await
}

/// `POST /settings/roles/{id}`: shows what the change takes from every holder's tokens and
/// asks; saves once confirmed.
pub async fn role_update(state: Shared, path: web::Path<String>, sf: SignedForm) -> PageResult {
    let id = super::form::path_id(&path)?;
    let SignedForm { user, form } = sf;
    let (name, description) = (form.text("name"), form.text("description"));
    let perms = form.all("permissions");
    let input = UpdateRole {
        name: Some(name.clone()),
        description: Some(description.clone()),
        permissions: Some(perms.clone()),
    };
    let caller = user.caller.clone();
    let typed = |e: &ApiError| {
        (
            name.clone(),
            description.clone(),
            PermissionSet::parse_names(&perms).unwrap_or_default(),
            field_message(e),
        )
    };
    if !form.checked("confirmed") {
        let probe = input.clone();
        match state
            .read(move |c| roles::preview_update(c, &caller, id, &probe))
            .await
        {
            Ok(p) if p.tokens.is_empty() && p.hidden_tokens == 0 => {}
            Ok(p) => {
                let mut lines = vec![format!(
                    "Save the role “{}”? {} user(s) hold it; their tokens lose what it no longer grants, at once:",
                    p.role.name, p.users
                )];
                for t in &p.tokens {
                    lines.push(format!(
                        "token “{}” loses {}{};",
                        t.name,
                        t.lost.names().join(", "),
                        if t.disabled { " and is disabled" } else { "" }
                    ));
                }
                if p.hidden_tokens > 0 {
                    lines.push(format!("and {} token(s) you cannot see.", p.hidden_tokens));
                }
                return confirm(
                    &user,
                    &form,
                    &format!("/settings/roles/{id}"),
                    "Save role?",
                    &lines.join(" "),
                    "Save",
                    &format!("/settings/roles/{id}"),
                );
            }
            Err(e) => {
                let (n, d, c, m) = typed(&in_place(e)?);
                return render_role(&state, &user, id, Some((n, d, c)), Some(m)).await;
            }
        }
    }
    let env = state.env();
    let caller = user.caller.clone();
    match state
        .write(move |tx| roles::update(tx, &env, &caller, id, input))
        .await
    {
        Ok(r) => Ok(user.redirect(
            &format!("/settings/roles/{id}"),
            Flash::ok(format!("Role “{}” saved.", r.name)),
        )),
        Err(e) => {
            let (n, d, c, m) = typed(&in_place(e)?);
            render_role(&state, &user, id, Some((n, d, c)), Some(m)).await
        }
    }
}

/// `POST /settings/roles/{id}/delete`, after a confirmation.
pub async fn role_delete(state: Shared, path: web::Path<String>, sf: SignedForm) -> PageResult {
    let id = super::form::path_id(&path)?;
    let SignedForm { user, form } = sf;
    let name = form.text("name");
    if !form.checked("confirmed") {
        return confirm(
            &user,
            &form,
            &format!("/settings/roles/{id}/delete"),
            "Delete role?",
            &format!("Delete the role “{name}”? This cannot be undone."),
            "Delete",
            "/settings/roles",
        );
    }
    let env = state.env();
    let caller = user.caller.clone();
    match state
        .write(move |tx| roles::delete(tx, &env, &caller, id))
        .await
    {
        Ok(()) => Ok(user.redirect(
            "/settings/roles",
            Flash::ok(format!("Role “{name}” deleted.")),
        )),
        Err(e) => Ok(user.redirect("/settings/roles", Flash::error(in_place(e)?.to_string()))),
    }
}
