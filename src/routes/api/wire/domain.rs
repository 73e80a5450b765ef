//! Schemas of the domain types that answers carry.

use super::schema_of;
use crate::domain::{caller, limits, roles, token};

schema_of!(token::TokenKind =>
    #[serde(rename_all = "snake_case")]
    enum TokenKind {
        Private,
        Shared,
        Legacy,
    }
);

schema_of!(token::Audience =>
    /// Who besides administrators may list and use a shared token (rule 9).
    #[serde(rename_all = "snake_case")]
    enum Audience {
        Administrators,
        Company,
    }
);

schema_of!(caller::AuthMethod =>
    /// How the caller authenticated. Serialised as the audit log's `via` (rule 27), which adds
    /// `sso`, `node` and `system` for events no `Caller` makes.
    #[serde(rename_all = "snake_case")]
    enum AuthMethod {
        Token,
        Legacy,
        Session,
        /// The command line, acting for a user it names (the operator holds the database).
        Cli,
    }
);

schema_of!(roles::Role =>
    /// A user's role. `Custom` carries its explicit set on the user, not here; so does `Company`
    /// (a role the company defined, SPEC §18: the user row names it by `role_id` and holds a copy
    /// of its set, kept in step whenever the role changes).
    #[serde(rename_all = "snake_case")]
    enum Role {
        GlobalAdmin,
        Admin,
        Analyst,
        ApiDeveloper,
        ReadOnly,
        Deploy,
        Custom,
        Company,
    }
);

schema_of!(limits::RateLimit =>
    /// At most `requests` authentications per `per_seconds` seconds.
    struct RateLimit {
        requests: i64,
        per_seconds: i64,
    }
);

schema_of!(limits::QuotaPeriod =>
    #[serde(rename_all = "lowercase")]
    enum QuotaPeriod {
        Day,
        Month,
        Total,
    }
);

schema_of!(limits::Quota =>
    /// At most `limit` successful authentications per `period`.
    struct Quota {
        limit: i64,
        period: limits::QuotaPeriod,
    }
);
