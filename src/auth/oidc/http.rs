//! The `openidconnect` crate's HTTP calls over the project's `ureq` agent (both speak the
//! `http` 1 types): no redirects followed, bounded bodies, the agent's timeout.

use openidconnect::{HttpRequest, HttpResponse};

const MAX_BODY: u64 = 1 << 20;

/// An HTTP failure talking to the provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpFailure(String);

/// One HTTP exchange with the provider over `ureq`, in the shape `openidconnect` expects.
pub(super) fn http_call(
    agent: &ureq::Agent,
    req: HttpRequest,
) -> Result<HttpResponse, HttpFailure> {
    let (parts, body) = req.into_parts();
    let res = if body.is_empty() {
        agent.run(openidconnect::http::Request::from_parts(parts, ()))
    } else {
        agent.run(openidconnect::http::Request::from_parts(parts, body))
    }
    .map_err(|e| HttpFailure(e.to_string()))?;
    let (parts, mut body) = res.into_parts();
    let bytes = body
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| HttpFailure(e.to_string()))?;
    Ok(openidconnect::http::Response::from_parts(parts, bytes))
}

/// An error with its sources, on one line (for the log and the audit detail).
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
