//! Creating an API token: the form (`GET /tokens/new`) and its submission (`POST /tokens`),
//! which redirects to the one-time value page (post/redirect/get, `token_value.rs`).
//!
//! Least privilege by default: no role template is preselected and no permission is ticked,
//! so the person creating the token chooses what it may do. The *User* field takes an email
//! or a name: one match selects that user; several ask to choose one (*Select*); none says so.

use actix_web::http::StatusCode;
use actix_web::HttpRequest;
use askama::Template;
use chrono::{DateTime, Utc};

use super::auth::{PageUser, SignedForm};
use super::form::{explain, time_field, with_query, FieldErrors, FormData};
use super::render::{in_place, Layout, PageError, PageResult, Section};
use super::token_value::{remember_value, ValuePage};
use super::view::{self, options, perm_boxes, template_options, Opt, PermBox, UserOption};
use crate::domain::permissions::{Permission, PermissionSet};
use crate::domain::roles::{parse_template, Role};
use crate::service::console::UserMatch;
use crate::service::tokens::{self as svc, CreateToken};
use crate::service::{companies, console};
use crate::state::Shared;

/// The fields of the token form as typed (shared by the create and edit pages).
#[derive(Debug, Clone, Default)]
pub struct TokenForm {
    pub name: String,
    pub owner: String,
    pub description: String,
    pub kind: String,
    pub audience: String,
    pub template: String,
    /// The checked permission boxes (used with the Custom template).
    pub permissions: PermissionSet,
    pub set_expiry: bool,
    pub expires_at: String,
    pub enabled: bool,
    /// "Allowed IP addresses" as typed (edit form only): one address or CIDR per line.
    pub allowed_cidrs: String,
    /// *Rate limit*: requests per seconds, as typed (both empty: none).
    pub rate_requests: String,
    pub rate_seconds: String,
    /// *Quota*: successful uses per period, as typed (empty: none).
    pub quota_limit: String,
    /// `day`, `month` or `total`.
    pub quota_period: String,
    /// The page the user came from (a local path), where *Close* returns after create.
    pub back: String,
}

impl TokenForm {
    pub fn from_form(f: &FormData) -> TokenForm {
        TokenForm {
            name: f.text("name"),
            owner: f.text("owner").trim().to_string(),
            description: f.text("description"),
            kind: f.opt("kind").unwrap_or_else(|| "private".into()),
            audience: f.opt("audience").unwrap_or_else(|| "administrators".into()),
            template: f.opt("role_template").unwrap_or_default(),
            permissions: PermissionSet::from_storage(&f.all("permissions").join(" ")),
            set_expiry: f.checked("set_expiry"),
            expires_at: f.text("expires_at"),
            enabled: f.checked("enabled"),
            allowed_cidrs: f.text("allowed_cidrs"),
            rate_requests: f.text("rate_requests").trim().to_string(),
            rate_seconds: f.text("rate_seconds").trim().to_string(),
            quota_limit: f.text("quota_limit").trim().to_string(),
            quota_period: f.opt("quota_period").unwrap_or_else(|| "day".into()),
            back: f.back("/"),
        }
    }

    /// The permission part of a request: a template, or Custom with the checked boxes; nothing
    /// when no template is chosen and no box is ticked (the service then asks for one).
    pub fn requested(&self) -> (Option<String>, Option<Vec<String>>) {
        match parse_template(&self.template) {
            Some(r) if r != Role::Custom => (Some(r.name().to_string()), None),
            None if self.permissions.is_empty() => (None, None),
            _ => (
                Some("custom".into()),
                Some(
                    self.permissions
                        .names()
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                ),
            ),
        }
    }

    /// The boxes to show checked: the template's permissions, or the chosen set for Custom.
    pub fn checked(&self) -> PermissionSet {
        match parse_template(&self.template) {
            Some(r) if r != Role::Custom => r.permissions(),
            _ => self.permissions.clone(),
        }
    }

    /// The *Rate limit* fields as the API's `rate_limit` (`null` when both are empty). A
    /// number that does not parse is passed as typed: the service says what is wrong.
    pub fn rate_limit(&self) -> serde_json::Value {
        if self.rate_requests.is_empty() && self.rate_seconds.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::json!({
            "requests": number_or_text(&self.rate_requests),
            "per_seconds": number_or_text(&self.rate_seconds),
        })
    }

    /// The *Quota* fields as the API's `quota` (`null` when the limit is empty).
    pub fn quota(&self) -> serde_json::Value {
        if self.quota_limit.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::json!({
            "limit": number_or_text(&self.quota_limit),
            "period": self.quota_period,
        })
    }

    /// The options of the *Quota period* select.
    pub fn quota_periods(&self) -> Vec<Opt> {
        [
            ("day", "per day (UTC)"),
            ("month", "per month (UTC)"),
            ("total", "in total"),
        ]
        .iter()
        .map(|(value, label)| Opt {
            value: (*value).into(),
            label: (*label).into(),
            selected: self.quota_period == *value,
            ..Opt::default()
        })
        .collect()
    }

    /// The "Allowed IP addresses" entries: one per line (commas and spaces also separate).
    pub fn cidr_list(&self) -> Vec<String> {
        self.allowed_cidrs
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The expiry asked for: `None` unless "Set expiration date and time" is checked.
    pub fn expiry(&self, errors: &mut FieldErrors) -> Option<DateTime<Utc>> {
        if !self.set_expiry {
            return None;
        }
        let t = time_field(
            Some(self.expires_at.clone()).filter(|v| !v.trim().is_empty()),
            "expires_at",
            errors,
        );
        if t.is_none() && errors.get("expires_at").is_none() {
            errors.set(
                "expires_at",
                "enter a date and time, or uncheck “Set expiration date and time”",
            );
        }
        t
    }
}

fn number_or_text(s: &str) -> serde_json::Value {
    s.parse::<i64>()
        .map(serde_json::Value::from)
        .unwrap_or_else(|_| serde_json::Value::from(s))
}

/// What the form needs besides its fields: the users to pick from and the owner's bound.
struct Context {
    users: Vec<UserOption>,
    owner_permissions: PermissionSet,
    /// The user the *User* field names, or why it names none (several, or nobody).
    owner: UserMatch,
    /// The expiry proposed for a new token of the owner's company, as the field shows it.
    default_expiry: String,
    /// How long a disabled token is kept before it is purged, in words ("7 days").
    retention: String,
}

impl Context {
    /// The *User* field's problem, if it does not name exactly one user.
    fn owner_problem(&self) -> Option<String> {
        self.owner.problem()
    }
}

async fn context(state: &Shared, user: &PageUser, owner: &str) -> Result<Context, PageError> {
    let env = state.env();
    let caller = user.caller.clone();
    let list = user.is_token_admin() && user.has(Permission::UsersRead);
    let owner = owner.to_string();
    let retention = view::duration_words(state.config.disabled_retention);
    Ok(state
        .read(move |c| {
            let users = console::user_choices(c, &env, &caller, list)?;
            let found = console::match_user(c, &caller, &owner, false)?;
            let (owner_permissions, company) = match &found {
                UserMatch::One(u) => (u.permissions.clone(), u.company_id),
                _ => (caller.user.permissions(), caller.user.company_id),
            };
            let expiry = companies::default_expiry(c, company, env.now)?;
            Ok::<_, crate::service::Error>(Context {
                users: users.iter().map(UserOption::from).collect(),
                owner_permissions,
                owner: found,
                default_expiry: view::input_time_of(expiry),
                retention,
            })
        })
        .await?)
}

/// The *Select* page searching for what was typed in *User*, carrying the rest of the form.
fn select_url(form: &TokenForm) -> String {
    let perms = form.permissions.names();
    let mut pairs: Vec<(&str, &str)> = vec![
        ("q", form.owner.as_str()),
        ("name", form.name.as_str()),
        ("description", form.description.as_str()),
        ("kind", form.kind.as_str()),
        ("audience", form.audience.as_str()),
        ("role_template", form.template.as_str()),
        ("expires_at", form.expires_at.as_str()),
        ("back", form.back.as_str()),
    ];
    pairs.extend(perms.iter().map(|p| ("permissions", *p)));
    if form.set_expiry {
        pairs.push(("set_expiry", "1"));
    }
    if form.enabled {
        pairs.push(("enabled", "1"));
    }
    with_query("/tokens/new/owner", &pairs)
}

#[derive(Template)]
#[template(path = "tokens/new.html")]
struct NewPage {
    layout: Layout,
    admin: bool,
    form: TokenForm,
    users: Vec<UserOption>,
    templates: Vec<Opt>,
    kinds: Vec<Opt>,
    audiences: Vec<Opt>,
    perms: Vec<PermBox>,
    errors: FieldErrors,
    error: Option<String>,
    /// The *Select* link shown beside a *User* field that names several users or nobody.
    owner_select: String,
    /// How long a disabled token is kept before it is purged ("7 days").
    retention: String,
}

/// Who may use a shared token besides administrators (rule 9).
pub fn audience_options(selected: &str) -> Vec<Opt> {
    options(
        &[
            ("administrators", "Administrators only"),
            ("company", "Everyone in the company"),
        ],
        selected,
    )
}

fn ensure_can_create(user: &PageUser) -> Result<(), PageError> {
    crate::service::policy::ensure_not_sso(&user.caller)?;
    Ok(crate::service::require(
        &user.caller,
        Permission::TokensWrite,
    )?)
}

fn render_new(
    user: &PageUser,
    status: StatusCode,
    form: TokenForm,
    ctx: Context,
    errors: FieldErrors,
    error: Option<String>,
) -> PageResult {
    let owner_select = if errors.get("owner").is_some() && user.has(Permission::UsersRead) {
        select_url(&form)
    } else {
        String::new()
    };
    let page = NewPage {
        owner_select,
        retention: ctx.retention.clone(),
        layout: user.layout("Create API token", Section::Tokens),
        admin: user.is_token_admin(),
        templates: new_template_options(&form, &ctx, user),
        kinds: options(&[("private", "Private"), ("shared", "Shared")], &form.kind),
        audiences: audience_options(&form.audience),
        perms: perm_boxes(
            &user.scopes,
            user.caller.permissions.union(&ctx.owner_permissions),
            ctx.owner_permissions,
            form.checked(),
        ),
        users: ctx.users,
        form,
        errors,
        error,
    };
    user.page_status(status, &page)
}

/// The templates of the create form, after a first "Choose a template" entry selected
/// until the user picks one (no template is preselected).
fn new_template_options(form: &TokenForm, ctx: &Context, user: &PageUser) -> Vec<Opt> {
    let mut templates = vec![Opt {
        value: String::new(),
        label: "Choose a template…".into(),
        selected: parse_template(&form.template).is_none(),
        ..Opt::default()
    }];
    templates.extend(template_options(
        &form.template,
        (&form.owner, ctx.owner_permissions.clone(), &user.caller),
    ));
    templates
}

/// The create form as first shown, or again for a newly typed owner: no errors but the
/// *User* field's, when it names several users or nobody.
fn render_fresh(user: &PageUser, mut form: TokenForm, ctx: Context) -> PageResult {
    let mut errors = FieldErrors::default();
    match (&ctx.owner, ctx.owner_problem()) {
        (UserMatch::One(u), _) => form.owner = u.email.clone(),
        (_, Some(problem)) if user.is_token_admin() => errors.set("owner", problem),
        _ => {}
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_new(user, status, form, ctx, errors, None)
}

/// `GET /tokens/new`: the create form with the console's defaults.
pub async fn new_form(state: Shared, user: PageUser, req: HttpRequest) -> PageResult {
    ensure_can_create(&user)?;
    let q = FormData::query(&req);
    let owner = q
        .opt("owner")
        .filter(|_| user.is_token_admin())
        .unwrap_or_else(|| user.email().to_string());
    let ctx = context(&state, &user, &owner).await?;
    // Least privilege: no template chosen and no permission ticked; the user chooses.
    let form = TokenForm {
        owner,
        kind: "private".into(),
        audience: "administrators".into(),
        template: String::new(),
        permissions: PermissionSet::EMPTY,
        enabled: true,
        set_expiry: true,
        expires_at: ctx.default_expiry.clone(),
        back: q.back("/"),
        ..TokenForm::default()
    };
    render_fresh(&user, form, ctx)
}

/// `POST /tokens/new`: the create form again with what was typed, for a newly chosen owner
/// (the *Apply* button, or a pick on the *Select* page): the templates and permissions offered
/// follow the owner, and nothing is created.
pub async fn refresh(state: Shared, sf: SignedForm) -> PageResult {
    let SignedForm { user, form: f } = sf;
    ensure_can_create(&user)?;
    let mut form = TokenForm::from_form(&f);
    if !user.is_token_admin() || form.owner.is_empty() {
        form.owner = user.email().to_string();
    }
    let ctx = context(&state, &user, &form.owner).await?;
    form.permissions = form.permissions.intersection(&ctx.owner_permissions);
    let fits = parse_template(&form.template)
        .is_none_or(|r| r.permissions().is_subset_of(&ctx.owner_permissions));
    if !fits {
        form.template = String::new();
    }
    render_fresh(&user, form, ctx)
}

/// `POST /tokens`: creates the token and shows its value once.
pub async fn create(state: Shared, sf: SignedForm) -> PageResult {
    let SignedForm { user, form: f } = sf;
    ensure_can_create(&user)?;
    let admin = user.is_token_admin();
    let mut form = TokenForm::from_form(&f);
    if !admin || form.owner.is_empty() {
        form.owner = user.email().to_string();
    }
    let mut errors = FieldErrors::default();
    let expires_at = form.expiry(&mut errors);
    if !errors.is_empty() {
        let ctx = context(&state, &user, &form.owner).await?;
        let msg = Some("Please correct the highlighted fields.".to_string());
        return render_new(
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
            ctx,
            errors,
            msg,
        );
    }
    let (role_template, permissions) = form.requested();
    let input = CreateToken {
        name: form.name.clone(),
        description: Some(form.description.clone()),
        owner_id: None,
        kind: admin.then(|| form.kind.clone()),
        audience: (admin && form.kind == "shared").then(|| form.audience.clone()),
        role_template,
        permissions,
        expires_at,
        enabled: Some(form.enabled),
        allowed_cidrs: None,
        rate_limit: Some(form.rate_limit()).filter(|v| !v.is_null()),
        quota: Some(form.quota()).filter(|v| !v.is_null()),
    };
    let owner = form.owner.clone();
    let env = state.env();
    let caller = user.caller.clone();
    let result = state
        .write(move |tx| {
            let mut input = input;
            let owner = match console::match_user(tx, &caller, &owner, false)? {
                UserMatch::One(u) => u,
                other => {
                    let problem = other.problem().unwrap_or_default();
                    return Err(crate::service::Error::field("owner_id", problem));
                }
            };
            input.owner_id = Some(owner.id);
            svc::create(tx, &env, &caller, input)
        })
        .await;
    match result {
        Ok(created) => {
            Ok(remember_value(&state, &user, ValuePage::created(&created, &form.back)).await?)
        }
        Err(e) => {
            let (errors, banner) = explain(&in_place(e)?, &[("owner_id", "owner")]);
            let ctx = context(&state, &user, &form.owner).await?;
            render_new(
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                ctx,
                errors,
                Some(banner),
            )
        }
    }
}
