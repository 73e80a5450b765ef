//! Users (administrators): the list, the create form and the edit form (role, custom
//! permissions, enable/disable, SSO, password). Saving a change is in `user_actions.rs`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;

use super::auth::{PageUser, SignedForm};
use super::form::path_id;
use super::form::{explain, with_query, FieldErrors, FormData};
use super::render::{on_form, Flash, Layout, PageError, PageResult, Section};
use super::view::{self, perm_boxes, role_options, Opt, PermBox};
use crate::domain::permissions::{Permission, PermissionSet};
use crate::domain::roles::Role;
use crate::domain::secret::Secret;
use crate::error::ApiError;
use crate::routes::passwords::hash_password;
use crate::service::audit::Actor;
use crate::service::users::{self as svc, CreateUser, UserView};
use crate::service::Page;
use crate::state::Shared;

pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: &'static str,
    pub enabled: bool,
    pub sso: bool,
    pub created: String,
}

impl From<&UserView> for UserRow {
    fn from(u: &UserView) -> Self {
        UserRow {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role.label(),
            enabled: u.enabled,
            sso: u.sso,
            created: view::time(&u.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "users/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<UserRow>,
    can_write: bool,
    next_url: Option<String>,
}

/// `GET /users`.
pub async fn list(state: Shared, user: PageUser, req: HttpRequest) -> PageResult {
    let q = FormData::query(&req);
    let page = Page::parse(&state.keys, None, q.get("cursor")).unwrap_or(Page {
        before: None,
        limit: 50,
    });
    let env = state.env();
    let caller = user.caller.clone();
    let (items, next) = state
        .read(move |c| svc::list(c, &env, &caller, None, page))
        .await?;
    user.page(&ListPage {
        layout: user.layout("Users", Section::Users),
        rows: items.iter().map(UserRow::from).collect(),
        can_write: user.has(Permission::UsersWrite),
        next_url: next.map(|n| with_query("/users", &[("cursor", &n)])),
    })
}

/// The user form as typed.
#[derive(Debug, Clone, Default)]
pub struct UserForm {
    pub email: String,
    pub name: String,
    pub role: String,
    pub permissions: PermissionSet,
    pub enabled: bool,
    pub sso: bool,
    pub password: Secret,
    /// Rule 37: one's own current password, asked when one changes one's own email or
    /// password. Never rendered back.
    pub current_password: Secret,
}

impl UserForm {
    pub fn from_form(f: &FormData) -> UserForm {
        UserForm {
            email: f.text("email").trim().to_string(),
            name: f.text("name").trim().to_string(),
            role: f.text("role"),
            permissions: PermissionSet::from_storage(&f.all("permissions").join(" ")),
            enabled: f.checked("enabled"),
            sso: f.checked("sso"),
            password: Secret::new(f.text("password")),
            current_password: Secret::new(f.text("current_password")),
        }
    }

    fn of(u: &UserView) -> UserForm {
        UserForm {
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role.name().into(),
            permissions: u.permissions.clone(),
            enabled: u.enabled,
            sso: u.sso,
            password: Secret::default(),
            current_password: Secret::default(),
        }
    }

    pub fn custom_list(&self) -> Option<Vec<String>> {
        (self.role == Role::Custom.name()).then(|| {
            self.permissions
                .names()
                .iter()
                .map(|s| s.to_string())
                .collect()
        })
    }

    fn checked(&self) -> PermissionSet {
        match Role::parse(&self.role) {
            Some(Role::Custom) | None => self.permissions.clone(),
            Some(r) => r.permissions(),
        }
    }
}

#[derive(Template)]
#[template(path = "users/form.html")]
struct FormPage {
    layout: Layout,
    /// `None` on the create page.
    u: Option<UserRow>,
    is_self: bool,
    form: UserForm,
    roles: Vec<Opt>,
    perms: Vec<PermBox>,
    errors: FieldErrors,
    error: Option<String>,
}

pub fn render_form(
    user: &PageUser,
    status: StatusCode,
    u: Option<&UserView>,
    form: UserForm,
    errors: FieldErrors,
    error: Option<String>,
) -> PageResult {
    let title = match u {
        Some(u) => u.email.clone(),
        None => "Create user".to_string(),
    };
    let offered = user.caller.permissions.clone();
    user.page_status(
        status,
        &FormPage {
            layout: user.layout(title, Section::Users),
            is_self: u.is_some_and(|u| u.id == user.caller.user.id),
            u: u.map(UserRow::from),
            roles: role_options(&form.role, &user.caller),
            perms: perm_boxes(&user.scopes, offered.clone(), offered, form.checked()),
            form,
            errors,
            error,
        },
    )
}

pub fn ensure_write(user: &PageUser) -> Result<(), PageError> {
    Ok(crate::service::require(
        &user.caller,
        Permission::UsersWrite,
    )?)
}

/// `GET /users/new`.
pub async fn new_form(user: PageUser) -> PageResult {
    ensure_write(&user)?;
    let form = UserForm {
        role: Role::ReadOnly.name().into(),
        enabled: true,
        ..UserForm::default()
    };
    render_form(
        &user,
        StatusCode::OK,
        None,
        form,
        FieldErrors::default(),
        None,
    )
}

/// `POST /users`.
pub async fn create(state: Shared, sf: SignedForm) -> PageResult {
    let SignedForm { user, form: f } = sf;
    ensure_write(&user)?;
    let form = UserForm::from_form(&f);
    let input = CreateUser {
        email: form.email.clone(),
        name: Some(form.name.clone()).filter(|n| !n.is_empty()),
        role: form.role.clone(),
        permissions: form.custom_list(),
        enabled: Some(form.enabled),
        sso: Some(form.sso),
        password: Some(form.password.clone()).filter(|p| !p.is_empty()),
        company_id: None,
        role_id: None,
    };
    let caller = user.caller.clone();
    let result: Result<_, ApiError> = async {
        let valid = svc::validate_create(&caller, input)?;
        let hash = hash_password(&state, valid.password.clone()).await?;
        let env = state.env();
        Ok(state
            .write(move |tx| svc::insert(tx, &env, &Actor::of(&caller), &valid, hash.as_deref()))
            .await?)
    }
    .await;
    match result {
        Ok(u) => Ok(user.redirect(&format!("/users/{}", u.id), Flash::ok("User created."))),
        Err(e) => {
            let (errors, banner) = explain(&on_form(e)?, &[]);
            render_form(
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                form,
                errors,
                Some(banner),
            )
        }
    }
}

pub async fn load(state: &Shared, user: &PageUser, id: i64) -> Result<UserView, PageError> {
    let caller = user.caller.clone();
    Ok(state.read(move |c| svc::get(c, &caller, id)).await?)
}

/// `GET /users/{id}`.
pub async fn show(state: Shared, user: PageUser, path: web::Path<String>) -> PageResult {
    let id = path_id(&path)?;
    let u = load(&state, &user, id).await?;
    render_form(
        &user,
        StatusCode::OK,
        Some(&u),
        UserForm::of(&u),
        FieldErrors::default(),
        None,
    )
}
