//! Changing a user: save (after a preview of what the change does to the user's tokens),
//! issue legacy credentials (shown once), delete (with confirmation).

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;

use super::auth::SignedForm;
use super::confirm::confirm;
use super::form::explain;
use super::form::path_id;
use super::render::{in_place, on_form, Flash, Layout, PageResult, Section};
use super::users::{ensure_write, load, render_form, UserForm};
use crate::domain::roles::Role;
use crate::error::ApiError;
use crate::routes::passwords::prepare_user_change;
use crate::service::legacy;
use crate::service::users::TokenLoss;
use crate::service::users::{self as svc, UpdateUser, UserView};
use crate::state::Shared;

/// The changed fields only (so a self-edit of one's name does not touch one's role).
fn changes(u: &UserView, form: &UserForm) -> UpdateUser {
    let mut input = UpdateUser::default();
    if form.email != u.email {
        input.email = Some(form.email.clone());
    }
    if form.name != u.name {
        input.name = Some(form.name.clone());
    }
    if form.role != u.role.name() {
        input.role = Some(form.role.clone());
    }
    if form.role == Role::Custom.name()
        && (form.permissions != u.permissions || input.role.is_some())
    {
        input.permissions = form.custom_list();
    }
    if form.enabled != u.enabled {
        input.enabled = Some(form.enabled);
    }
    if form.sso != u.sso {
        input.sso = Some(form.sso);
    }
    if !form.password.is_empty() {
        input.password = Some(form.password.clone());
    }
    if !form.current_password.is_empty() {
        input.current_password = Some(form.current_password.clone());
    }
    input
}

struct LossRow {
    token_id: i64,
    name: String,
    lost: Vec<String>,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "users/preview.html")]
struct PreviewPage {
    layout: Layout,
    id: i64,
    email: String,
    losses: Vec<LossRow>,
    fields: Vec<(String, String)>,
    /// The form set a new password: it is asked again, never replayed (rule 34).
    password_again: bool,
    /// The change needs one's current password (rule 37): asked again, never replayed.
    current_again: bool,
}

/// `POST /users/{id}`: saves, after showing which tokens lose which permissions (rule 16)
/// or get disabled (rules 15, 18) when the change affects any. The preview is computed only
/// for a change the caller may make, and lists only tokens it may see (rule 46); a refused
/// change shows the refusal (403) and no token. Changing one's own email or password needs
/// one's current password (rule 37), verified only when the change is saved.
pub async fn update(state: Shared, path: web::Path<String>, sf: SignedForm) -> PageResult {
    let id = path_id(&path)?;
    let SignedForm { user, form: f } = sf;
    ensure_write(&user)?;
    let u = load(&state, &user, id).await?;
    let form = UserForm::from_form(&f);
    let input = changes(&u, &form);
    let caller = user.caller.clone();
    let confirmed = f.checked("confirmed");
    let result: Result<Option<Vec<TokenLoss>>, ApiError> = async {
        if !confirmed {
            svc::validate_update(&caller, id, &input)?;
            let (c2, i2) = (caller.clone(), input.clone());
            let losses = state
                .read(move |c| svc::preview_update(c, &c2, id, &i2))
                .await?;
            if !losses.is_empty() {
                return Ok(Some(losses));
            }
        }
        let hash = prepare_user_change(&state, &caller, id, &input).await?;
        let env = state.env();
        state
            .write(move |tx| svc::update(tx, &env, &caller, id, input, hash))
            .await?;
        Ok(None)
    }
    .await;
    match result {
        Ok(None) => Ok(user.redirect(&format!("/users/{id}"), Flash::ok("User saved."))),
        Ok(Some(losses)) => user.page(&PreviewPage {
            layout: user.layout("Confirm user change", Section::Users),
            id,
            email: u.email.clone(),
            losses: losses
                .into_iter()
                .map(|l| LossRow {
                    token_id: l.token_id,
                    name: l.name,
                    lost: l.lost.names().into_iter().map(str::to_owned).collect(),
                    disabled: l.disabled,
                })
                .collect(),
            fields: f.replay(),
            password_again: !form.password.is_empty(),
            current_again: !form.current_password.is_empty(),
        }),
        Err(e) if e.code() == "current_password_wrong" => {
            let (errors, banner) = explain(&e, &[]);
            render_form(
                &user,
                StatusCode::FORBIDDEN,
                Some(&u),
                form,
                errors,
                Some(banner),
            )
        }
        // Rule 46: a change the caller may not make shows its refusal, nothing of the user's
        // tokens.
        Err(e) => {
            let (errors, banner) = explain(&on_form(e)?, &[]);
            render_form(
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&u),
                form,
                errors,
                Some(banner),
            )
        }
    }
}

#[derive(Template)]
#[template(path = "users/credentials.html")]
struct CredentialsPage {
    layout: Layout,
    id: i64,
    email: String,
    uuid: String,
    secret: String,
}

/// `POST /users/{id}/legacy`: issues legacy UUID + secret credentials, shown once.
pub async fn legacy_credentials(
    state: Shared,
    path: web::Path<String>,
    sf: SignedForm,
) -> PageResult {
    let id = path_id(&path)?;
    let user = sf.user;
    let u = load(&state, &user, id).await?;
    let env = state.env();
    let caller = user.caller.clone();
    match state
        .write(move |tx| legacy::issue(tx, &env, &caller, id, Default::default()))
        .await
    {
        Ok(c) => user.page(&CredentialsPage {
            layout: user.layout("Legacy credentials", Section::Users),
            id,
            email: u.email,
            uuid: c.uuid,
            secret: c.secret.expose().to_string(),
        }),
        Err(e) => Ok(user.redirect(
            &format!("/users/{id}"),
            Flash::error(in_place(e)?.to_string()),
        )),
    }
}

/// `POST /users/{id}/delete` (with confirmation).
pub async fn delete(state: Shared, path: web::Path<String>, sf: SignedForm) -> PageResult {
    let id = path_id(&path)?;
    let SignedForm { user, form } = sf;
    let u = load(&state, &user, id).await?;
    if !form.checked("confirmed") {
        return confirm(
            &user,
            &form,
            &format!("/users/{id}/delete"),
            "Delete user?",
            &format!(
                "Delete {} and all of their API tokens? Applications using those tokens stop \
                 working at once. This cannot be undone.",
                u.email
            ),
            "Delete user",
            &format!("/users/{id}"),
        );
    }
    let env = state.env();
    let caller = user.caller.clone();
    match state
        .write(move |tx| svc::delete(tx, &env, &caller, id))
        .await
    {
        Ok(()) => Ok(user.redirect("/users", Flash::ok(format!("User {} deleted.", u.email)))),
        Err(e) => Ok(user.redirect(
            &format!("/users/{id}"),
            Flash::error(in_place(e)?.to_string()),
        )),
    }
}
