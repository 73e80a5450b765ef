//! `/v1/audit`, `/v1/settings`, `/v1/companies`, `/v1/maintenance/run`.

use actix_web::{web, HttpResponse};
use anyhow::anyhow;
use serde::Deserialize;
use utoipa::IntoParams;

use super::common::{AuditList, CompanyList, ErrorBody};
use super::wire::companies::{CreateCompany, UpdateSettings};
use crate::domain::caller::Caller;
use crate::domain::listing::{time_filter, AuditFilter};
use crate::error::{ApiError, ApiResult};
use crate::jobs::{self, MaintenanceReport};
use crate::service::companies::{self, CompanyView, SettingsView};
use crate::service::{audit, Page};
use crate::state::Shared;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub actor_id: Option<i64>,
    pub token_id: Option<i64>,
    /// A dotted action name, e.g. `token.created`.
    pub action: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD hh:mm:ss` (UTC).
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl AuditQuery {
    pub fn filter(&self) -> ApiResult<AuditFilter> {
        Ok(AuditFilter {
            company_id: None,
            actor_id: self.actor_id,
            token_id: self.token_id,
            action: AuditFilter::action(self.action.as_deref())?,
            since: time_filter(self.since.as_deref(), "since")?,
            until: time_filter(self.until.as_deref(), "until")?,
        })
    }
}

/// List audit events.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "listAuditEvents", tag = "admin", params(AuditQuery),
    responses((status = 200, description = "A page of audit events, newest first", body = AuditList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn audit_list(
    state: Shared,
    caller: Caller,
    q: super::common::Query<AuditQuery>,
) -> ApiResult<HttpResponse> {
    let page = Page::parse(&state.keys, q.limit, q.cursor.as_deref())?;
    let filter = q.filter()?;
    let keys = state.keys.clone();
    let items = state
        .read(move |c| audit::list(c, &caller, filter, page))
        .await?;
    let next = page.next_cursor(&keys, items.last().map(|e| e.id), items.len());
    Ok(AuditList::respond(items, next))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompanyQuery {
    /// Global administrators: another company's settings.
    pub company_id: Option<i64>,
}

/// Get the company token policy.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "getSettings", tag = "admin", params(CompanyQuery),
    responses((status = 200, description = "The policy", body = SettingsView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn settings_get(
    state: Shared,
    caller: Caller,
    q: super::common::Query<CompanyQuery>,
) -> ApiResult<HttpResponse> {
    let company = q.company_id;
    let s = state
        .read(move |c| companies::settings(c, &caller, company))
        .await?;
    Ok(HttpResponse::Ok().json(s))
}

/// Change the company token policy.
#[utoipa::path(patch, path = super::IN_TABLE, operation_id = "updateSettings", tag = "admin", params(CompanyQuery),
    request_body = UpdateSettings,
    responses((status = 200, description = "The policy as changed", body = SettingsView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn settings_update(
    state: Shared,
    caller: Caller,
    q: super::common::Query<CompanyQuery>,
    body: super::common::JsonBody<UpdateSettings>,
) -> ApiResult<HttpResponse> {
    let env = state.env();
    let company = q.company_id;
    let input = companies::UpdateSettings::from(body.into_inner()?);
    let c = caller.clone();
    let input = state
        .blocking(move |st| companies::check_settings(&c, input, st.config.webhook_allow_private))
        .await?;
    let s = state
        .write(move |tx| companies::update_settings(tx, &env, &caller, company, input))
        .await?;
    Ok(HttpResponse::Ok().json(s))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List companies (global administrators).
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "listCompanies", tag = "admin", params(PageQuery),
    responses((status = 200, description = "A page of companies", body = CompanyList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn companies_list(
    state: Shared,
    caller: Caller,
    q: super::common::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = Page::parse(&state.keys, q.limit, q.cursor.as_deref())?;
    let env = state.env();
    let (items, next) = state
        .read(move |c| companies::list(c, &env, &caller, page))
        .await?;
    Ok(CompanyList::respond(items, next))
}

/// Create a company (global administrators).
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "createCompany", tag = "admin", request_body = CreateCompany,
    responses((status = 201, description = "The company", body = CompanyView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn companies_create(
    state: Shared,
    caller: Caller,
    body: super::common::JsonBody<CreateCompany>,
) -> ApiResult<HttpResponse> {
    let env = state.env();
    let input = companies::CreateCompany::from(body.into_inner()?);
    let c = state
        .write(move |tx| companies::create(tx, &env, &caller, input))
        .await?;
    Ok(HttpResponse::Created().json(c))
}

/// Run the scheduler's jobs now.
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "runMaintenance", tag = "admin",
    responses((status = 200, description = "What each job did", body = MaintenanceReport), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn maintenance(state: Shared, caller: Caller) -> ApiResult<HttpResponse> {
    crate::service::require(
        &caller,
        crate::domain::permissions::Permission::MaintenanceRun,
    )?;
    let st = state.0.clone();
    let report = web::block(move || jobs::run_all(&st))
        .await
        .map_err(|e| ApiError::Internal(anyhow!("{e}")))??;
    Ok(HttpResponse::Ok().json(report))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    pub items: Vec<crate::service::webhooks::DeliveryView>,
    pub next_cursor: Option<String>,
}

/// List webhook deliveries.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "listWebhookDeliveries", tag = "admin", params(PageQuery),
    responses((status = 200, description = "A page of deliveries", body = DeliveryList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn webhook_deliveries(
    state: Shared,
    caller: Caller,
    q: super::common::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = Page::parse(&state.keys, q.limit, q.cursor.as_deref())?;
    let keys = state.keys.clone();
    let items = state
        .read(move |c| crate::service::webhooks::deliveries(c, &caller, page))
        .await?;
    let next_cursor = page.next_cursor(&keys, items.last().map(|d| d.id), items.len());
    Ok(HttpResponse::Ok().json(DeliveryList { items, next_cursor }))
}
