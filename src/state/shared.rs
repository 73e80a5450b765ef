//! The state as a request extractor.

use std::sync::Arc;

use anyhow::anyhow;

use super::AppState;
use crate::error::ApiError;

/// The state as a request extractor: `state: Shared` in a handler.
#[derive(Clone)]
pub struct Shared(pub Arc<AppState>);

impl std::ops::Deref for Shared {
    type Target = Arc<AppState>;
    fn deref(&self) -> &Arc<AppState> {
        &self.0
    }
}

impl actix_web::FromRequest for Shared {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Shared, ApiError>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            req.app_data::<actix_web::web::Data<AppState>>()
                .map(|d| Shared(d.clone().into_inner()))
                .ok_or_else(|| ApiError::Internal(anyhow!("application state missing"))),
        )
    }
}
