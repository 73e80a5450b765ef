//! ID token verification: the `openidconnect` crate's verifier, restricted to RS256 and ES256.

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{ClaimsVerificationError, ClientId, IssuerUrl, Nonce};

/// What a verified ID token (or the userinfo answer) says about the person.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
}

/// The ID token's subject, email, `email_verified` and name, after every check of its
/// signature (RS256 or ES256 by a key of `keys`; never HS256) and of `iss`, `aud`, `exp` and
/// `nonce`.
pub(crate) fn verify_id_token(
    client_id: &str,
    issuer: &IssuerUrl,
    keys: &CoreJsonWebKeySet,
    id_token: &CoreIdToken,
    nonce: &Nonce,
    now: DateTime<Utc>,
) -> Result<Identity, ClaimsVerificationError> {
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(client_id.to_string()),
        issuer.clone(),
        keys.clone(),
    )
    .set_allowed_algs([
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    ])
    .set_time_fn(move || now);
    let claims = id_token.claims(&verifier, nonce)?;
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
