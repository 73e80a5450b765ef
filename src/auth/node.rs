//! The `NodeCaller` extractor: a filtering node authenticated by its node token (rule 22).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use super::client_ip::client_ip;
use super::extract::{authenticate_token, credential, invalid, Credential};
use crate::db;
use crate::db::nodes::NodeRow;
use crate::domain::token_value::{TokenDigest, TokenValue, ValueKind};
use crate::error::{ApiError, ApiResult, Challenge};
use crate::state::{AppState, Shared};

pub(super) async fn node_lookup(
    state: &Arc<AppState>,
    digest: TokenDigest,
) -> ApiResult<Option<NodeRow>> {
    state
        .metrics
        .auth_db_reads
        .with_label_values(&["node"])
        .inc();
    state
        .read(move |c| Ok(db::nodes::by_digest(c, &digest)?))
        .await
}

/// A filtering node authenticated by its node token (rule 22).
pub struct NodeCaller {
    pub node: NodeRow,
    pub ip: String,
}

impl FromRequest for NodeCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<NodeCaller, ApiError>>>>;

    fn from_request(req: &HttpRequest, pl: &mut Payload) -> Self::Future {
        let req = req.clone();
        let state = Shared::from_request(&req, pl).into_inner();
        Box::pin(async move {
            let state = state?.0;
            let ip = client_ip(&req, &state.config.trusted_proxies);
            let raw = match credential(&req, state.config.secure_cookies) {
                Credential::Token(v) => v,
                Credential::None => return Err(ApiError::Unauthenticated(Challenge::Missing)),
                _ => return Err(crate::service::policy::refusals::node_token_needed().into()),
            };
            let value = TokenValue::parse(&raw).map_err(|_| invalid(&state, "malformed"))?;
            let digest = value.digest();
            if !state.index.might_exist(&digest) {
                return Err(invalid(&state, "unknown"));
            }
            if value.kind() == ValueKind::Api {
                // A valid API token is authenticated, but may not act as a node.
                authenticate_token(&state, &raw, ip).await?;
                return Err(crate::service::policy::refusals::node_token_needed().into());
            }
            let node = node_lookup(&state, digest)
                .await?
                .ok_or_else(|| invalid(&state, "unknown"))?;
            if node.token_disabled_reason.is_some() {
                // Revoked as leaked (rule 35).
                return Err(invalid(&state, "disabled"));
            }
            state.metrics.auth("ok");
            Ok(NodeCaller {
                node,
                ip: ip.to_string(),
            })
        })
    }
}
