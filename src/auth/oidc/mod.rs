//! OpenID Connect sign-in (rule 18, docs/SSO.md): the authorization-code flow with PKCE
//! (S256), `state` and `nonce`, against the issuer's discovery document. The ID token's
//! signature is checked against the issuer's JWKS (RS256 or ES256; the key set is fetched
//! again when a token names a key id it does not hold), with `iss`, `aud`, `exp` and `nonce`.
//!
//! The protocol and JOSE work is the `openidconnect` crate's; its HTTP calls go through the
//! project's `ureq` agent (no redirects followed, bounded bodies, a timeout). Every method that
//! talks to the provider blocks: call it on the blocking pool. Nothing is fetched before the
//! first sign-in, so a server without OpenID Connect never touches the network for it.
//!
//! A started sign-in is kept by the browser, not the server (rule 41): its `state`, nonce,
//! PKCE verifier, redirect URL and expiry are sealed (AES-256-GCM under a key derived for this
//! purpose, [`crate::crypto::Keys::seal_cookie`]) into an HttpOnly, SameSite=Lax cookie. So
//! no number of anonymous starts fills anything on the server or refuses the next visitor.
//! The callback must bring the same `state` as the cookie; finishing clears the cookie, and
//! the provider accepts each code once.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    Scope, SignatureVerificationError, SubjectIdentifier, TokenResponse, UserInfoError,
};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::config::OidcConfig;
use crate::crypto::{same_secret, Keys};

mod http;
pub mod signin;
mod token;

use http::{error_chain, http_call, HttpFailure};
pub(crate) use token::verify_id_token;
use token::Identity;

/// How long a started sign-in may take at the provider.
pub const FLOW_TTL: Duration = Duration::from_secs(600);
/// The discovery document is fetched again after this long.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// After a failed discovery, the next attempt waits this long.
const RETRY_AFTER: Duration = Duration::from_secs(5);

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a sign-in did not produce a verified email.
#[derive(Debug)]
pub enum OidcError {
    /// The provider cannot be reached or answered something unusable.
    Unavailable(String),
    /// The sign-in is refused. `reason` is a stable code for the audit log; `email` is the
    /// verified token's email when the refusal came after verification of the token.
    Refused {
        reason: &'static str,
        detail: String,
        email: Option<String>,
    },
}

impl OidcError {
    fn refused(reason: &'static str, detail: impl Into<String>) -> OidcError {
        OidcError::Refused {
            reason,
            detail: detail.into(),
            email: None,
        }
    }
}

/// A started sign-in, carried by the browser in a sealed cookie until it comes back.
#[derive(Serialize, Deserialize)]
pub struct Flow {
    state: String,
    nonce: String,
    verifier: String,
    redirect: String,
    expires_ms: i64,
}

/// What the sealed cookie is bound to (the AEAD's associated data).
const FLOW_PURPOSE: &[u8] = b"tokend oidc flow v1";

impl Flow {
    /// The `state` the provider must send back.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The cookie value: the flow encrypted and authenticated under the server's keys.
    pub fn seal(&self, keys: &Keys) -> String {
        keys.seal_cookie(&serde_json::to_vec(self).unwrap_or_default(), FLOW_PURPOSE)
    }

    /// The flow in a cookie value; `None` when it was not sealed by this server (or altered).
    pub fn open(keys: &Keys, sealed: &str) -> Option<Flow> {
        serde_json::from_slice(&keys.open_cookie(sealed, FLOW_PURPOSE)?).ok()
    }
}

/// Where to send the browser, and the sign-in it must bring back (sealed into a cookie).
pub struct Started {
    pub url: String,
    pub flow: Flow,
}

/// The provider's verified answer: who signed in.
#[derive(Debug)]
pub struct Verified {
    pub email: String,
    pub name: Option<String>,
}

/// The OpenID Connect client of this server; `None` inside when it is not configured.
pub struct Oidc(Option<OidcClient>);

impl Oidc {
    pub fn from_config(config: Option<&OidcConfig>) -> Oidc {
        Oidc(config.cloned().map(OidcClient::new))
    }

    pub fn client(&self) -> Option<&OidcClient> {
        self.0.as_ref()
    }
}

pub struct OidcClient {
    config: OidcConfig,
    agent: ureq::Agent,
    metadata: Mutex<Option<(CoreProviderMetadata, Instant)>>,
    /// The last failed discovery: when, and why.
    failed: Mutex<Option<(Instant, String)>>,
}

impl OidcClient {
    pub fn new(config: OidcConfig) -> OidcClient {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("tokend/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        OidcClient {
            config,
            agent,
            metadata: Mutex::new(None),
            failed: Mutex::new(None),
        }
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    fn http(&self) -> impl Fn(HttpRequest) -> Result<HttpResponse, HttpFailure> + '_ {
        move |r| http_call(&self.agent, r)
    }

    /// The provider's metadata and keys: cached, fetched on first use and after an hour.
    fn metadata(&self) -> Result<CoreProviderMetadata, OidcError> {
        let cached = self.metadata.lock().clone();
        if let Some((m, at)) = &cached {
            if at.elapsed() < METADATA_TTL {
                return Ok(m.clone());
            }
        }
        // After a failure, wait a little before asking again: a provider that is down (or a
        // firewall that drops packets) must not hold a blocking thread per visitor.
        let failed = self.failed.lock().clone();
        let (result, tried) = match failed {
            Some((at, why)) if at.elapsed() < RETRY_AFTER => (Err(why), false),
            _ => (self.discover(), true),
        };
        match (result, cached) {
            (Ok(m), _) => {
                *self.metadata.lock() = Some((m.clone(), Instant::now()));
                *self.failed.lock() = None;
                Ok(m)
            }
            (Err(why), cached) => {
                if tried {
                    *self.failed.lock() = Some((Instant::now(), why.clone()));
                }
                match cached {
                    // A stale copy serves while the provider cannot be reached.
                    Some((m, _)) => Ok(m),
                    None => Err(OidcError::Unavailable(why)),
                }
            }
        }
    }

    fn discover(&self) -> Result<CoreProviderMetadata, String> {
        let issuer =
            IssuerUrl::new(self.config.issuer.clone()).map_err(|e| format!("issuer URL: {e}"))?;
        CoreProviderMetadata::discover(&issuer, &self.http())
            .map_err(|e| format!("discovery at {issuer} failed: {}", error_chain(&e)))
    }

    /// Fetches the key set again (a token named a key id the cached set does not hold).
    fn refresh_keys(&self, mut m: CoreProviderMetadata) -> Result<CoreProviderMetadata, OidcError> {
        let keys = CoreJsonWebKeySet::fetch(m.jwks_uri(), &self.http()).map_err(|e| {
            OidcError::Unavailable(format!("key set fetch failed: {}", error_chain(&e)))
        })?;
        m = m.set_jwks(keys);
        *self.metadata.lock() = Some((m.clone(), Instant::now()));
        Ok(m)
    }

    fn client(&self, m: CoreProviderMetadata, redirect: &str) -> Result<Client, OidcError> {
        let redirect = RedirectUrl::new(redirect.to_string())
            .map_err(|e| OidcError::Unavailable(format!("redirect URL: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            m,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(
                self.config.client_secret.expose().to_string(),
            )),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in: the provider's authorization URL for this browser. Blocks on the
    /// first call (discovery).
    pub fn begin(&self, redirect: &str, now_ms: i64) -> Result<Started, OidcError> {
        let client = self.client(self.metadata()?, redirect)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Started {
            url: url.to_string(),
            flow: Flow {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                verifier: verifier.secret().clone(),
                redirect: redirect.to_string(),
                expires_ms: now_ms + FLOW_TTL.as_millis() as i64,
            },
        })
    }

    /// Finishes a sign-in: `state` must be the one of this browser's sign-in (`flow`, from its
    /// cookie), not expired; the code is exchanged (with the PKCE verifier) and the ID token
    /// verified.
    pub fn finish(
        &self,
        state: &str,
        flow: Option<&Flow>,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<Verified, OidcError> {
        let browser_state = flow.map(|f| f.state.as_str());
        if !same_secret(state, browser_state) {
            return Err(OidcError::refused(
                "state_mismatch",
                "the state does not belong to this browser's sign-in",
            ));
        }
        let Some(p) = flow.filter(|f| f.expires_ms > now.timestamp_millis()) else {
            return Err(OidcError::refused(
                "state_unknown",
                "this sign-in has expired; start again",
            ));
        };
        let nonce = Nonce::new(p.nonce.clone());
        let verifier = PkceCodeVerifier::new(p.verifier.clone());
        let m = self.metadata()?;
        let client = self.client(m.clone(), &p.redirect)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Unavailable(format!("token endpoint: {e}")))?
            .set_pkce_verifier(verifier)
            .request(&self.http())
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => {
                    OidcError::refused("code_rejected", r.error().to_string())
                }
                other => {
                    OidcError::Unavailable(format!("code exchange failed: {}", error_chain(&other)))
                }
            })?;
        let id_token = token
            .id_token()
            .ok_or_else(|| OidcError::refused("id_token_missing", "no ID token in the answer"))?;
        let id = &self.config.client_id;
        let verified = match verify_id_token(id, m.issuer(), m.jwks(), id_token, &nonce, now) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // Key rotation: a new `kid` appeared; fetch the key set once and try again.
                let m = self.refresh_keys(m)?;
                verify_id_token(id, m.issuer(), m.jwks(), id_token, &nonce, now)
            }
            other => other,
        }
        .map_err(|e| OidcError::refused("id_token_invalid", error_chain(&e)))?;
        let who = match verified.email {
            Some(_) => verified,
            // Some providers put the email only in the userinfo answer.
            None => self.user_info(&client, token.access_token(), &verified.subject)?,
        };
        let Some(email) = who.email else {
            return Err(OidcError::refused(
                "email_missing",
                "neither the ID token nor the userinfo answer has an email claim",
            ));
        };
        if who.email_verified != Some(true) {
            return Err(OidcError::Refused {
                reason: "email_unverified",
                detail: "the provider does not vouch for this email (email_verified)".into(),
                email: Some(email),
            });
        }
        Ok(Verified {
            email,
            name: who.name,
        })
    }

    /// The userinfo endpoint's claims for `subject` (it must answer for the same subject).
    fn user_info(
        &self,
        client: &Client,
        access_token: &AccessToken,
        subject: &str,
    ) -> Result<Identity, OidcError> {
        let claims: CoreUserInfoClaims = client
            .user_info(
                access_token.clone(),
                Some(SubjectIdentifier::new(subject.to_string())),
            )
            .map_err(|_| {
                OidcError::refused(
                    "email_missing",
                    "the ID token has no email claim and the provider has no userinfo endpoint",
                )
            })?
            .request(&self.http())
            .map_err(|e| match e {
                UserInfoError::ClaimsVerification(e) => {
                    OidcError::refused("userinfo_invalid", error_chain(&e))
                }
                other => OidcError::Unavailable(format!("userinfo: {}", error_chain(&other))),
            })?;
        Ok(Identity {
            subject: claims.subject().as_str().to_string(),
            email: claims.email().map(|e| e.as_str().to_string()),
            email_verified: claims.email_verified(),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_string()),
        })
    }
}

#[cfg(test)]
mod tests;
