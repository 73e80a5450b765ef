//! The twins cannot drift from the services' types: the field lists are checked by the
//! compiler (`From<service type>` destructures every field); here, samples check that both
//! serialize alike (the serde attributes were copied) and that the schema the document
//! shows has exactly the keys the service really sends.

use serde::Serialize;
use serde_json::{json, Value};
use utoipa::PartialSchema;

use super::{companies, domain, nodes, scopes, system, tokens, users};
use crate::domain::caller::AuthMethod;
use crate::domain::limits::{Quota, QuotaPeriod, RateLimit};
use crate::domain::permissions::PermissionSet;
use crate::domain::roles::Role;
use crate::domain::secret::Secret;
use crate::domain::token::{Audience, TokenKind};
use crate::service::{self as svc, tokens::TokenView};

/// The keys of an object schema's `properties`, sorted.
fn schema_keys<S: PartialSchema>() -> Vec<String> {
    let schema = serde_json::to_value(S::schema()).expect("a schema serializes");
    let mut keys: Vec<String> = schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("an object schema: {schema}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
    keys.sort();
    keys
}

/// `sample` serializes the same as its twin; returns the service's JSON.
fn same<S: Serialize, W: From<S> + Serialize>(sample: S) -> Value {
    let service = serde_json::to_value(&sample).expect("serializes");
    let twin = serde_json::to_value(W::from(sample)).expect("serializes");
    assert_eq!(service, twin, "the twin serializes differently");
    service
}

/// A sample with every optional field set: its keys are the schema's properties.
fn full<S: Serialize + PartialSchema, W: From<S> + Serialize>(sample: S) {
    let v = same::<S, W>(sample);
    assert_eq!(
        keys(&v),
        schema_keys::<S>(),
        "schema and JSON keys differ: {v}"
    );
}

fn perms() -> PermissionSet {
    PermissionSet::parse_names(&["tokens:read"]).expect("a permission")
}

fn user_ref(name: Option<&str>) -> svc::tokens::UserRef {
    svc::tokens::UserRef {
        id: 1,
        email: "a@example.com".into(),
        name: name.map(str::to_string),
    }
}

fn token(all: bool) -> TokenView {
    let some = |s: &str| all.then(|| s.to_string());
    TokenView {
        id: 1,
        name: "t".into(),
        description: "d".into(),
        kind: TokenKind::Shared,
        audience: all.then_some(Audience::Company),
        owner: user_ref(some("A").as_deref()),
        creator: all.then(|| user_ref(None)),
        delegated: false,
        company_id: 1,
        permissions: all.then(perms),
        role_template: some("admin"),
        enabled: true,
        disabled_reason: some("expired"),
        disabled_at: some("2026-01-01T00:00:00Z"),
        purge_at: some("2026-01-01T00:00:00Z"),
        expires_at: some("2026-01-01T00:00:00Z"),
        created_at: "2026-01-01T00:00:00Z".into(),
        updated_at: "2026-01-01T00:00:00Z".into(),
        last_used_at: some("2026-01-01T00:00:00Z"),
        last_used_ip: some("10.0.0.1"),
        value_hint: "tok_…abcd".into(),
        can_reveal: true,
        allowed_cidrs: vec!["10.0.0.0/8".into()],
        rate_limit: all.then_some(RateLimit {
            requests: 1,
            per_seconds: 1,
        }),
        quota: all.then_some(Quota {
            limit: 1,
            period: QuotaPeriod::Day,
        }),
        quota_remaining: all.then_some(1),
        previous_value_expires_at: some("2026-01-01T00:00:00Z"),
        recent_ips: all.then(|| {
            vec![svc::tokens::RecentIp {
                ip: "10.0.0.1".into(),
                first_seen_at: "2026-01-01T00:00:00Z".into(),
                last_seen_at: "2026-01-01T00:00:00Z".into(),
            }]
        }),
    }
}

#[test]
fn wire_token_schemas_match_what_the_service_sends() {
    full::<_, tokens::TokenView>(token(true));
    let sparse = same::<_, tokens::TokenView>(token(false));
    for absent in ["audience", "permissions", "recent_ips"] {
        assert!(sparse.get(absent).is_none(), "{absent} in {sparse}");
    }
    assert!(same::<_, tokens::UserRef>(user_ref(None))
        .get("name")
        .is_none());
    let with_value = same::<_, tokens::TokenWithValue>(svc::tokens::TokenWithValue {
        token: token(true),
        value: Secret::new("tok_value"),
    });
    assert_eq!(with_value["value"], "tok_value");
    assert_eq!(with_value["id"], 1, "flattened: {with_value}");
    let error = svc::tokens::BulkError {
        code: "not_found".into(),
        message: "m".into(),
    };
    full::<_, tokens::BulkResult>(svc::tokens::BulkResult {
        id: 1,
        ok: false,
        error: Some(error),
    });
    let ok = same::<_, tokens::BulkResult>(svc::tokens::BulkResult {
        id: 1,
        ok: true,
        error: None,
    });
    assert!(ok.get("error").is_none());
    full::<_, tokens::UsageView>(svc::tokens::UsageView {
        bucket: "hour".into(),
        items: vec![svc::tokens::UsageItem {
            start: "2026-01-01T00:00:00Z".into(),
            allowed: 1,
            refused: 0,
        }],
    });
}

fn node_view(all: bool) -> svc::nodes::NodeView {
    svc::nodes::NodeView {
        id: 1,
        company_id: 1,
        name: "n".into(),
        created_at: "2026-01-01T00:00:00Z".into(),
        last_seen_at: None,
        last_seen_ip: None,
        version: None,
        token_hint: "tkn_…abcd".into(),
        token_disabled_reason: all.then(|| "leaked".into()),
    }
}

#[test]
fn wire_user_and_node_schemas_match_what_the_service_sends() {
    let user = |role_id| svc::users::UserView {
        id: 1,
        company_id: 1,
        email: "a@example.com".into(),
        name: "A".into(),
        role: Role::Company,
        role_id,
        permissions: perms(),
        enabled: true,
        sso: false,
        created_at: "2026-01-01T00:00:00Z".into(),
        updated_at: "2026-01-01T00:00:00Z".into(),
    };
    full::<_, users::UserView>(user(Some(2)));
    assert!(same::<_, users::UserView>(user(None))
        .get("role_id")
        .is_none());
    full::<_, users::LegacyCredentials>(svc::legacy::LegacyCredentials {
        uuid: "u".into(),
        secret: Secret::new("s"),
        token_id: 1,
    });

    full::<_, nodes::NodeView>(node_view(true));
    assert!(same::<_, nodes::NodeView>(node_view(false))
        .get("token_disabled_reason")
        .is_none());
    full::<_, nodes::NodeCreated>(svc::nodes::NodeCreated {
        node: node_view(true),
        token: svc::nodes::NodeToken {
            id: 1,
            kind: "node".into(),
            value: Secret::new("tkn_value"),
            value_hint: "tkn_…abcd".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
        },
    });
}

#[test]
fn wire_role_and_scope_schemas_match_what_the_service_sends() {
    let role = |all: bool| svc::roles::RoleView {
        id: all.then_some(1),
        name: "r".into(),
        description: "d".into(),
        permissions: perms(),
        builtin: !all,
        users: all.then_some(1),
        updated_at: all.then(|| "2026-01-01T00:00:00Z".into()),
    };
    full::<_, scopes::RoleView>(role(true));
    let builtin = same::<_, scopes::RoleView>(role(false));
    for absent in ["id", "users", "updated_at"] {
        assert!(builtin.get(absent).is_none(), "{absent} in {builtin}");
    }
    let loss = || svc::scopes::TokenLoss {
        token_id: 1,
        name: "t".into(),
        owner_id: 1,
        lost: perms(),
        disabled: false,
    };
    full::<_, scopes::RoleChangePreview>(svc::roles::RoleChangePreview {
        role: role(true),
        users: 1,
        tokens: vec![loss()],
        hidden_tokens: 0,
    });
    let named = || svc::scopes::Named {
        id: 1,
        name: "n".into(),
    };
    full::<_, scopes::ScopeDeletePreview>(svc::scopes::ScopeDeletePreview {
        scope: svc::scopes::ScopeView {
            id: 1,
            name: "s".into(),
            description: "d".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
        },
        tokens: vec![loss()],
        hidden_tokens: 0,
        roles: vec![named()],
        users: vec![named()],
    });
}

#[test]
fn wire_admin_schemas_match_what_the_service_sends() {
    full::<_, companies::CompanyView>(svc::companies::CompanyView {
        id: 1,
        name: "c".into(),
        created_at: "2026-01-01T00:00:00Z".into(),
    });
    full::<_, companies::SettingsView>(svc::companies::SettingsView {
        company_id: 1,
        token_reveal: "allowed".into(),
        max_token_lifetime_days: Some(1),
        idle_disable_days: Some(1),
        default_token_lifetime_days: 30,
        webhook_url: Some("https://example.com/h".into()),
        webhook_secret_set: true,
    });
    full::<_, system::RevokeAccepted>(svc::revoke::RevokeAccepted { accepted: 1 });
    full::<_, system::DeliveryView>(svc::webhooks::DeliveryView {
        id: 1,
        event_id: "e".into(),
        event_type: "token.created".into(),
        token_id: Some(1),
        attempts: 1,
        delivered_at: None,
        next_attempt_at: None,
        last_error: None,
        created_at: "2026-01-01T00:00:00Z".into(),
    });
    full::<_, system::AuditView>(svc::audit::AuditView {
        id: 1,
        action: "token.created".into(),
        company_id: Some(1),
        actor_id: Some(1),
        actor_email: Some("a@example.com".into()),
        token_id: Some(1),
        user_id: Some(1),
        ip: Some("10.0.0.1".into()),
        details: json!({}),
        created_at: "2026-01-01T00:00:00Z".into(),
        via: "token".into(),
        credential_id: Some(1),
        on_behalf_of: Some(1),
    });
    full::<_, system::MaintenanceReport>(crate::jobs::MaintenanceReport::default());
}

/// Every value of a service enum serializes as its twin does, and is one the schema lists.
fn enum_values<S: Serialize + PartialSchema + Copy, W: From<S> + Serialize>(all: &[S]) {
    let schema = serde_json::to_value(S::schema()).expect("a schema serializes");
    let listed = schema["enum"].as_array().expect("an enum schema").clone();
    let sent: Vec<Value> = all.iter().map(|v| same::<S, W>(*v)).collect();
    assert_eq!(sent, listed, "schema enum and values differ");
}

#[test]
fn wire_enum_schemas_list_the_values_the_service_sends() {
    enum_values::<_, domain::Role>(&[
        Role::GlobalAdmin,
        Role::Admin,
        Role::Analyst,
        Role::ApiDeveloper,
        Role::ReadOnly,
        Role::Deploy,
        Role::Custom,
        Role::Company,
    ]);
    enum_values::<_, domain::TokenKind>(&[
        TokenKind::Private,
        TokenKind::Shared,
        TokenKind::Legacy,
    ]);
    enum_values::<_, domain::Audience>(&[Audience::Administrators, Audience::Company]);
    enum_values::<_, domain::AuthMethod>(&[
        AuthMethod::Token,
        AuthMethod::Legacy,
        AuthMethod::Session,
        AuthMethod::Cli,
    ]);
    enum_values::<_, domain::QuotaPeriod>(&[
        QuotaPeriod::Day,
        QuotaPeriod::Month,
        QuotaPeriod::Total,
    ]);
    full::<_, domain::Quota>(Quota {
        limit: 1,
        period: QuotaPeriod::Month,
    });
    full::<_, domain::RateLimit>(RateLimit {
        requests: 1,
        per_seconds: 60,
    });
}
