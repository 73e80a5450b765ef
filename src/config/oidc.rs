//! OpenID Connect settings (`--oidc-*`, `TOKEND_OIDC_*`, `oidc_*` in the TOML file): all of
//! issuer, client id and client secret, or none of them. See docs/SSO.md.

use serde::{Deserialize, Serialize, Serializer};

use super::ConfigError;
use crate::domain::roles::Role;

/// A secret setting: never shown by `Debug`, and printed as `<redacted>` by `tokend config`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Secret, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

/// A validated OpenID Connect client configuration.
#[derive(Debug, Clone, Serialize)]
pub struct OidcConfig {
    #[serde(rename = "oidc_issuer")]
    pub issuer: String,
    #[serde(rename = "oidc_client_id")]
    pub client_id: String,
    #[serde(rename = "oidc_client_secret")]
    pub client_secret: Secret,
    /// Where the provider sends the browser back; `None`: derived from each request's host.
    #[serde(rename = "oidc_redirect_url", skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// The role of users created on their first sign-in; `None`: no automatic creation.
    #[serde(
        rename = "oidc_auto_provision",
        skip_serializing_if = "Option::is_none"
    )]
    pub auto_provision: Option<Role>,
}

/// The settings as given (each may be missing).
pub struct RawOidc {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub redirect_url: Option<String>,
    pub auto_provision: Option<String>,
}

fn loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

/// An absolute `https` URL (plain `http` only on loopback, for development and tests).
fn web_url(name: &str, v: &str) -> Result<url::Url, ConfigError> {
    let url = url::Url::parse(v)
        .map_err(|_| ConfigError(format!("{name}: `{v}` is not an absolute URL")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback(&url) => Ok(url),
        _ => Err(ConfigError(format!(
            "{name}: `{v}` must be an https URL (http only on loopback)"
        ))),
    }
}

fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// `None` when OpenID Connect is not configured at all; an error for half a configuration.
pub fn resolve(r: RawOidc) -> Result<Option<OidcConfig>, ConfigError> {
    let issuer = given(r.issuer);
    let client_id = given(r.client_id);
    let secret = r.client_secret.filter(|s| !s.0.trim().is_empty());
    let redirect = given(r.redirect_url);
    let provision = given(r.auto_provision);
    let set = [
        ("oidc_issuer", issuer.is_some()),
        ("oidc_client_id", client_id.is_some()),
        ("oidc_client_secret", secret.is_some()),
        ("oidc_redirect_url", redirect.is_some()),
        ("oidc_auto_provision", provision.is_some()),
    ];
    let (Some(issuer), Some(client_id), Some(client_secret)) = (&issuer, client_id, secret) else {
        if set.iter().all(|(_, on)| !on) {
            return Ok(None);
        }
        let missing: Vec<&str> = set[..3]
            .iter()
            .filter(|(_, on)| !on)
            .map(|(name, _)| *name)
            .collect();
        return Err(ConfigError(format!(
            "OpenID Connect needs oidc_issuer, oidc_client_id and oidc_client_secret together \
             (or TOKEND_OIDC_ISSUER, TOKEND_OIDC_CLIENT_ID, TOKEND_OIDC_CLIENT_SECRET); \
             missing: {}",
            missing.join(", ")
        )));
    };
    web_url("oidc_issuer", issuer)?;
    if let Some(r) = &redirect {
        web_url("oidc_redirect_url", r)?;
    }
    let auto_provision = match provision {
        None => None,
        Some(p) => match Role::parse(&p) {
            // Rule 48: a sign-in at the provider never creates a global administrator.
            Some(Role::GlobalAdmin) => {
                return Err(ConfigError(
                    "oidc_auto_provision: `global_admin` cannot be given on sign-in; \
                     provision admin or a narrower role, and promote by hand"
                        .into(),
                ))
            }
            Some(Role::Custom) | None => {
                return Err(ConfigError(format!(
                    "oidc_auto_provision: `{p}` is not a role that can be given on sign-in \
                     (one of admin, analyst, api_developer, read_only, deploy)"
                )))
            }
            Some(role) => Some(role),
        },
    };
    Ok(Some(OidcConfig {
        issuer: issuer.clone(),
        client_id,
        client_secret,
        redirect_url: redirect,
        auto_provision,
    }))
}
