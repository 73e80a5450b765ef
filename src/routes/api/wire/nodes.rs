//! Filtering nodes: the create and heartbeat bodies, the node and node-token schemas.

use serde::Deserialize;
use utoipa::ToSchema;

use super::{into_service, schema_of};
use crate::domain::secret::Secret;
use crate::service::nodes as svc;

schema_of!(svc::NodeView =>
    struct NodeView {
        id: i64,
        company_id: i64,
        name: String,
        created_at: String,
        last_seen_at: Option<String>,
        last_seen_ip: Option<String>,
        version: Option<String>,
        token_hint: String,
        /// `leaked` once the node token was revoked (rule 35); absent while it works.
        #[serde(skip_serializing_if = "Option::is_none")]
        token_disabled_reason: Option<String>,
    }
);

schema_of!(svc::NodeToken =>
    struct NodeToken {
        id: i64,
        kind: String,
        #[schema(value_type = String)]
        value: Secret,
        value_hint: String,
        created_at: String,
    }
);

schema_of!(svc::NodeCreated =>
    struct NodeCreated {
        node: svc::NodeView,
        token: svc::NodeToken,
    }
);

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNode {
    pub name: String,
}

into_service!(CreateNode => svc::CreateNode { name });

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    #[serde(default)]
    pub version: Option<String>,
}

into_service!(Heartbeat => svc::Heartbeat { version });
