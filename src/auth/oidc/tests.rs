//! ID token verification against hand-made tokens: what a real provider never sends (a wrong
//! nonce, a tampered payload, another key under a known `kid`, HS256, a wrong audience or
//! issuer, an expired token); and the store of sign-ins in progress. The full flow is tested
//! in Chromium against a real provider (tests/console/oidc.rs).

use chrono::{Duration, Utc};
use openidconnect::core::{
    CoreHmacKey, CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, ClaimsVerificationError, EmptyAdditionalClaims, EndUserEmail, IssuerUrl,
    JsonWebKeyId, Nonce, PrivateSigningKey, SignatureVerificationError, StandardClaims,
    SubjectIdentifier,
};

use super::verify_id_token;

const ISSUER: &str = "https://idp.example.com";
const CLIENT: &str = "tokend";

// Test-only keys, generated for these tests; they protect nothing.
const KEY_A: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpQIBAAKCAQEA4PEa4cWaLm3TOamyfoUanjwxJzRVfg99fGqKKpTyNmPgVi5r\ngcNaT6fklTsHAaezDeLs5bSOmHWqpvl7zvArq515+VOU6zOWaWNUNFRrvlbqY6Wi\nBQal6uTMP7qaiRCeoSQeD4W7uGgptSNV5Mkvhbah42v9YnfbdlszGMnX7UGyp4/B\nDrkVLZ+WL1JcS4pyF0VGx0EYfe2dQL4GCCbZpM1teFZPdKHZE05UjkPBz3RGF2RF\nFd/ED7rNTai2ylIcznyIQsCeiyhv//oAlywlDOGmzGXsLv0yg6u0ZesLMlCAnRd9\nhKbk3Rqg+XT/Ax5xv2tSIKBmvg5Ee7VO44PRkwIDAQABAoIBABq3PWcag1EHsDJF\nX7K7zPPa2EenZTlUo6XBjZQNyVABFWWG8TPMkjmrChtYkwt08cTbcna8YWyQGmrn\nGfeeT2wm3D7ALjavvinZfJMT17wX3JIQhlQB0cuPzbEKpkyofFP30y4qxvyEOo04\nm3ynEbgtfxVgqmEl38Xd17gWTklE7ud3vmSz4RwjdicPdqM1I/UuG8awzXGzvPbo\n7xLhy6hdGHm7e5Kte0SbTW+be9vhjRJUNF4Ij/GdGPYXukKYAEWPumOe94laQf/V\n/gwesDoQah+wdoBkNNZ5jBWYC5b7ahHtV4+vyahBwmbxhhbU4HNvYxkEhk3eOTIR\nVxNPl0ECgYEA+BhkNWAqH1JagZaPRyoez7QZrPyUQOA0umUs7BSgksJamlureouk\nDeTMjWDu9ycrUmgiyNEyHtGnudt/9DThyLVKPTDwfUybw6XlYQEHtHLJVdJe/G53\nFo5JEN16hnMxn+QESHJfcWmtGI2RgOGgc+jnq1vb258OOIK0eV+TgDMCgYEA6Bvc\nTDk7qGEnmhxHAwTyDwsZ8MptCEw3YPTJC/fnMfNiO1VIQ1u9mzneL1GcYGE4LguW\n0knBrQVAUuTudSEwKm5WC64lfptWVBLdRj6IoaXszvYmFmQSCPhMv7yINC15rwbd\n5kR6j4xEf4d2nea4TlziOUnZwemw6a5vtd2HiSECgYEArWAmT2K3rRHZK+xyjlHy\nHEaJFumgFUJZttTTsturZ0QpGuvrBwWlDQySok5WUSPvU3RwspP3CbCMHQc3AQsf\nqip/Cgo0Vev+gphhlwuoPcNlzfLo7FGqKXoft4h/govn5wvqrlI3PsOR8rGkOEP0\n5Guj0o2sNGuP/Y/h3VwccR8CgYEAhMMa2QaLlx4rNr0h6Ro1EmG5Lr+6adqeenjJ\nXm0n8qxR7bo0IUMiSt1otwwpM/+n0L6UQCgr/blZN5D2zEx1bm+6C+hKTgav9Frt\n8jXmlP+BWkf1NS18G2FbFPjTt3Sje3ekCQf2SpFixMdJE7xag4ghZb9WLNJsfN1n\nzFCwK8ECgYEAs/7z+M1B5bnGQd7qMto6PI8zwQ1U7a2VHFp6qavqrWrUT1SCkJ13\n185mODFTclQgDXFiPI/kAX5qGtwhUA+U6iZCV9STfYFNocXGzWEfImW7orkW1oc5\nsY/mtYcl7p19TeyeWCuCDMZhcRIEe/Smz+6/wl9lVq+QGV7+AyeFEPE=\n-----END RSA PRIVATE KEY-----";
const KEY_B: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEogIBAAKCAQEAxyY56znml/0D0UYfulmiA73c40fb3qlOQP6mtxruVX5nxb3z\nak/uZYJwJeziYZ4aZJllgq8ObPR58fPaaHkUEroEZu74uSo7YnSr+kQSNm4zs3sv\nkY8D9HzzaxIv9cBaNnGh1Ebz78+agmO+KBOHbAcNEDcSh9NAGd4hakT0OJrUVkJZ\nGG2WsxdALsNjHJzSt8+mPZXy5hMbe2oePFl8Cx2KF+bhgu6BvsLgihZXYjqZqFun\n/H5tvne2bTmYE2b2cp5H5DYOBDzkxiLDqtdhbpmynbhr+KA9oyJPtHZ+w/+YZKgC\nyaEv9lc6T5C8waYMS6UrAlJhF06V3Hfb9x3o6QIDAQABAoH/Epwu8Egh/MjkV+QZ\nemf4mFS55I9CFF28hZyoObul93Q4gqdt4hRsKPcGO+QG/obhJvPEciIaOWlcA+BC\nbe8pgOytkweWPJUq9hMHv7EhK63QLCMQZFM9OE/XRBY2KwTZQ+PlKq6qmzLGoX1h\nR+Ikrr1ft/OTiTguJvoPJwhhzYeESQcPS4u9Adlgg6RRjVhCZosrttck4ai2gi0+\nYWvbrFuKnbNAGcyYegQoiBbgdHqwWQj5IISH+4MljgqY7ld2BSnvLYqGEcrgTjl4\nTtXjPkdf1qQ43W7CMEkDZGkr7mQeetEvg4SSigHhuU4r332a8LDP/gZ3NsReKKzy\nLG6fAoGBAPp93OYZlAlW4ZE4x6k9StE/YqykAnMw40a60en3lz4SehagXL7exkUI\nP/z8P7hmXlexKv2X0lubhSuwzI38dtQl49QuESxBglECHYaVT5FNPBbJN9BgGFSM\nxsq54VQwK8f6FgT1xyautlCiG9rGHmUzrZhXzAm97qWJ+h2zKqlnAoGBAMuHVTap\nBLu7Yyj9abphOboC/e5lqga1xWMaUnYnkLH4fLyQkjH48aljDFys6Iw0wSywrW+C\njOBKpLxn4uqgHq024SIn5LqOBIHCKTCDXmlhEGTmDhaeGniJkVXFD4hdH8zzl8VT\nu8XALV1YzCOdmvJutEi0ahVOeGmHASsk/FkvAoGAMvXqO/HWOTQwvc+0ZwzuLLXd\niEvxp6e5hUk6rYPOhDVUG0hStg4yfhbYlcpn2EcTSHnlyiPaCwMPy7yzUOuc7Tos\nKJ2apstJDNwGT7wOrPvujqAvN7hlGsZtJw879Vm7fnq1ghrSgl8m/i6MxixqQKKL\n3aN3AkBezdTNSr+JnV8CgYEAtOII/LRITaRjo3lc7tUb3dJs5eQasS35SHOLWBEf\nytwB2ABQvfL2q8koonDVmE4GZPZ8nX8UPv533C4kAMvfl6gPfDCiWp5/KOdrff8y\n+ErYrCO936IR+pCgxu6FOHczHQ5dE3WwizaZ2r1haEHZBJ8YwQj+wwLjhz4B7ttH\nHucCgYEAmn5bOIDk0+Hi9CPSTKtcQ2/KP3Bvj85zJiJutuqjM4KOIuzKk84uoG/8\nT5Bc8cQkq6anVd4WpEZoeKsQWwso87fEGiby0fmpg9tTeC29PaU0ydPmHb17Y4pm\n0I716IZtIRGzc+xL8SvS9GN/BO/oHJJ9aNz5CglSsFslWxraZHY=\n-----END RSA PRIVATE KEY-----";

fn rsa(pem: &str, kid: &str) -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(kid.into()))).expect("pem")
}

fn issuer() -> IssuerUrl {
    IssuerUrl::new(ISSUER.into()).expect("issuer")
}

struct Claims {
    issuer: &'static str,
    audience: &'static str,
    expires_in: Duration,
    nonce: &'static str,
    email: Option<&'static str>,
    verified: Option<bool>,
}

impl Default for Claims {
    fn default() -> Claims {
        Claims {
            issuer: ISSUER,
            audience: CLIENT,
            expires_in: Duration::minutes(5),
            nonce: "n-1",
            email: Some("carol@example.com"),
            verified: Some(true),
        }
    }
}

fn claims(c: Claims) -> CoreIdTokenClaims {
    let now = Utc::now();
    let standard = StandardClaims::new(SubjectIdentifier::new("carol".into()))
        .set_email(c.email.map(|e| EndUserEmail::new(e.into())))
        .set_email_verified(c.verified);
    CoreIdTokenClaims::new(
        IssuerUrl::new(c.issuer.into()).expect("issuer"),
        vec![Audience::new(c.audience.into())],
        now + c.expires_in,
        now,
        standard,
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(Nonce::new(c.nonce.into())))
}

fn signed(c: Claims, key: &CoreRsaPrivateSigningKey) -> CoreIdToken {
    CoreIdToken::new(
        claims(c),
        key,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        None,
        None,
    )
    .expect("sign")
}

fn keys() -> CoreJsonWebKeySet {
    CoreJsonWebKeySet::new(vec![rsa(KEY_A, "a").as_verification_key()])
}

fn check(
    token: &CoreIdToken,
    nonce: &str,
) -> Result<(Option<String>, Option<bool>), ClaimsVerificationError> {
    verify_id_token(
        CLIENT,
        &issuer(),
        &keys(),
        token,
        &Nonce::new(nonce.into()),
        Utc::now(),
    )
    .map(|i| (i.email, i.email_verified))
}

#[test]
fn a_valid_token_gives_the_email_and_its_verification() {
    let t = signed(Claims::default(), &rsa(KEY_A, "a"));
    assert_eq!(
        check(&t, "n-1").expect("valid"),
        (Some("carol@example.com".to_string()), Some(true))
    );
    let unverified = signed(
        Claims {
            verified: Some(false),
            ..Claims::default()
        },
        &rsa(KEY_A, "a"),
    );
    assert_eq!(check(&unverified, "n-1").expect("valid").1, Some(false));
}

#[test]
fn a_wrong_nonce_is_refused() {
    let t = signed(Claims::default(), &rsa(KEY_A, "a"));
    assert!(matches!(
        check(&t, "n-2"),
        Err(ClaimsVerificationError::InvalidNonce(_))
    ));
}

#[test]
fn a_tampered_token_is_refused() {
    let t = signed(Claims::default(), &rsa(KEY_A, "a"));
    let jwt = serde_json::to_value(&t).expect("jwt");
    let jwt = jwt.as_str().expect("compact form");
    let parts: Vec<&str> = jwt.split('.').collect();
    let other = signed(
        Claims {
            email: Some("mallory@example.com"),
            ..Claims::default()
        },
        &rsa(KEY_A, "a"),
    );
    let other = serde_json::to_value(&other).expect("jwt");
    let other_payload = other
        .as_str()
        .expect("compact")
        .split('.')
        .nth(1)
        .expect("payload");
    let forged = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
    let forged: CoreIdToken = serde_json::from_value(serde_json::json!(forged)).expect("parse");
    assert!(matches!(
        check(&forged, "n-1"),
        Err(ClaimsVerificationError::SignatureVerification(_))
    ));
}

#[test]
fn another_key_under_a_known_kid_is_refused() {
    let t = signed(Claims::default(), &rsa(KEY_B, "a"));
    assert!(matches!(
        check(&t, "n-1"),
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::CryptoError(_)
        ))
    ));
}

#[test]
fn an_unknown_kid_asks_for_a_key_refresh() {
    let t = signed(Claims::default(), &rsa(KEY_B, "b"));
    assert!(matches!(
        check(&t, "n-1"),
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey
        ))
    ));
}

#[test]
fn hs256_signed_with_the_client_secret_is_refused() {
    let key = CoreHmacKey::new("the client secret".as_bytes());
    let t = CoreIdToken::new(
        claims(Claims::default()),
        &key,
        CoreJwsSigningAlgorithm::HmacSha256,
        None,
        None,
    )
    .expect("sign");
    assert!(matches!(
        check(&t, "n-1"),
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::DisallowedAlg(_)
        ))
    ));
}

#[test]
fn wrong_audience_issuer_or_expiry_are_refused() {
    let key = rsa(KEY_A, "a");
    let aud = signed(
        Claims {
            audience: "another-client",
            ..Claims::default()
        },
        &key,
    );
    assert!(matches!(
        check(&aud, "n-1"),
        Err(ClaimsVerificationError::InvalidAudience(_))
    ));
    let iss = signed(
        Claims {
            issuer: "https://evil.example.com",
            ..Claims::default()
        },
        &key,
    );
    assert!(matches!(
        check(&iss, "n-1"),
        Err(ClaimsVerificationError::InvalidIssuer(_))
    ));
    let expired = signed(
        Claims {
            expires_in: Duration::minutes(-5),
            ..Claims::default()
        },
        &key,
    );
    assert!(matches!(
        check(&expired, "n-1"),
        Err(ClaimsVerificationError::Expired(_))
    ));
}

#[test]
fn a_token_without_email_leaves_it_to_userinfo() {
    let t = signed(
        Claims {
            email: None,
            verified: None,
            ..Claims::default()
        },
        &rsa(KEY_A, "a"),
    );
    assert_eq!(check(&t, "n-1").expect("valid"), (None, None));
}

/// A client whose provider does not answer (nothing listens on port 1).
fn offline_client() -> super::OidcClient {
    super::OidcClient::new(crate::config::OidcConfig {
        issuer: "http://127.0.0.1:1".into(),
        client_id: CLIENT.into(),
        client_secret: "secret".parse().expect("secret"),
        redirect_url: None,
        auto_provision: None,
    })
}

fn flow(state: &str, expires_ms: i64) -> super::Flow {
    super::Flow {
        state: state.into(),
        nonce: "n".into(),
        verifier: "v".repeat(43),
        redirect: "http://127.0.0.1/login/oidc/callback".into(),
        expires_ms,
    }
}

fn reason(r: Result<super::Verified, super::OidcError>) -> String {
    match r {
        Err(super::OidcError::Refused { reason, .. }) => reason.to_string(),
        Err(super::OidcError::Unavailable(_)) => "unavailable".into(),
        Ok(v) => panic!("signed in: {v:?}"),
    }
}

#[test]
fn a_state_is_bound_to_the_browser_and_expires() {
    let c = offline_client();
    let now = Utc::now();
    let later = now.timestamp_millis() + 60_000;
    let f = flow("s-1", later);
    assert_eq!(reason(c.finish("s-1", None, "code", now)), "state_mismatch");
    assert_eq!(
        reason(c.finish("s-2", Some(&f), "code", now)),
        "state_mismatch"
    );
    // The right browser: the (unreachable) provider is asked.
    assert_eq!(
        reason(c.finish("s-1", Some(&f), "code", now)),
        "unavailable"
    );
    let old = flow("s-3", now.timestamp_millis() - 1);
    assert_eq!(
        reason(c.finish("s-3", Some(&old), "code", now)),
        "state_unknown"
    );
}

#[test]
fn rule_41_a_flow_is_sealed_for_this_server_only() {
    let keys = crate::crypto::Keys::from_master(&[3; 32]);
    let sealed = flow("s-1", 5).seal(&keys);
    assert!(!sealed.contains("s-1"));
    let back = super::Flow::open(&keys, &sealed).expect("opens");
    assert_eq!(back.state(), "s-1");
    assert_eq!(back.expires_ms, 5);
    let other = crate::crypto::Keys::from_master(&[4; 32]);
    assert!(super::Flow::open(&other, &sealed).is_none());
    assert!(super::Flow::open(&keys, "s-1").is_none());
}

#[test]
fn an_unreachable_provider_is_unavailable_not_a_panic() {
    let c = offline_client();
    let r = c.begin("http://127.0.0.1/login/oidc/callback", 0);
    assert!(matches!(r, Err(super::OidcError::Unavailable(_))));
}
