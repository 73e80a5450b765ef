//! TLS to PostgreSQL with libpq's settings and meanings, taken from the database URL:
//! `sslmode` (`disable`, `prefer` — the default —, `require`, `verify-ca`, `verify-full`),
//! `sslrootcert` (a PEM file of trusted CAs, or `system`), `sslcert` and `sslkey` (a client
//! certificate). The `postgres` crate knows only `disable`/`prefer`/`require` and rejects the
//! other parameters, so they are taken out of the URL here ([`split`]) and the connector is
//! built with rustls ([`Tls::connector`]), which needs no system library.
//!
//! As in libpq: `prefer` and `require` encrypt without checking the server's certificate,
//! unless a root certificate file is given (or `~/.postgresql/root.crt` exists), in which case
//! `require` checks it as `verify-ca` does; `verify-ca` checks that the certificate chains to a
//! trusted CA; `verify-full` also checks that it names the host connected to.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::error::{Error, Result};

/// The URL parameters read here, removed before the URL reaches the `postgres` crate.
const KEYS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode> {
        Ok(match s {
            "disable" => SslMode::Disable,
            // libpq's `allow` (plain first, TLS if refused) is served as `prefer`.
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                return Err(Error::Other(format!(
                    "invalid PostgreSQL URL: sslmode={s} is not one of disable, prefer, \
                     require, verify-ca, verify-full"
                )))
            }
        })
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        })
    }
}

/// The TLS settings of a database URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub mode: SslMode,
    /// `sslrootcert`: a PEM file, or `system` (the bundled Mozilla roots).
    pub root_cert: Option<String>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// `url` without the TLS parameters, and those parameters. The query starts at the first `?`
/// after the first `@` (or after the scheme when there is no `@`), as the `postgres` crate
/// reads it, so what is removed here is exactly what it would have seen.
pub fn split(url: &str) -> Result<(String, Tls)> {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let after_user = url[scheme_end..]
        .find('@')
        .map_or(scheme_end, |i| scheme_end + i + 1);
    let mut tls = Tls {
        mode: SslMode::Prefer,
        root_cert: None,
        cert: None,
        key: None,
    };
    let Some(q) = url[after_user..].find('?') else {
        return Ok((url.to_string(), tls));
    };
    let q = after_user + q;
    let mut kept = Vec::new();
    for item in url[q + 1..].split('&') {
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        let key = percent_decode_str(k).decode_utf8_lossy();
        if !KEYS.contains(&key.as_ref()) {
            kept.push(item);
            continue;
        }
        let value = percent_decode_str(v).decode_utf8_lossy().into_owned();
        match key.as_ref() {
            "sslmode" => tls.mode = SslMode::parse(&value)?,
            "sslrootcert" => tls.root_cert = Some(value),
            "sslcert" => tls.cert = Some(value.into()),
            _ => tls.key = Some(value.into()),
        }
    }
    let mut out = url[..q].to_string();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    Ok((out, tls))
}

/// libpq's default root certificate file, `~/.postgresql/root.crt`.
fn default_root_cert() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let path = Path::new(&home).join(".postgresql/root.crt");
    path.is_file().then_some(path)
}

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    None,
    Chain,
    ChainAndName,
}

impl Tls {
    /// The mode the `postgres` crate is given: whether TLS is tried, and whether it must be.
    pub fn crate_mode(&self) -> postgres::config::SslMode {
        match self.mode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        }
    }

    /// The rustls connector for these settings. A CA, certificate or key file that cannot be
    /// read is an error here, before any connection is tried.
    pub fn connector(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let root = self
            .root_cert
            .clone()
            .or_else(|| default_root_cert().map(|p| p.to_string_lossy().into_owned()));
        let check = match (self.mode, &root) {
            (SslMode::VerifyFull, _) => Check::ChainAndName,
            (SslMode::VerifyCa, _) | (SslMode::Require, Some(_)) => Check::Chain,
            _ => Check::None,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match check {
            Check::None => Arc::new(NoCheck(provider.clone())),
            _ => {
                let roots = roots(root.as_deref(), self.mode)?;
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| tls_setup(format!("cannot use the CA certificates: {e}")))?;
                Arc::new(ChainCheck {
                    webpki,
                    name: check == Check::ChainAndName,
                })
            }
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_setup(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let certs = CertificateDer::pem_file_iter(cert)
                    .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                    .map_err(|e| {
                        tls_setup(format!("cannot read sslcert {}: {e}", cert.display()))
                    })?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| tls_setup(format!("cannot read sslkey {}: {e}", key.display())))?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| tls_setup(format!("cannot use sslcert/sslkey: {e}")))?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => {
                return Err(tls_setup(
                    "sslcert and sslkey go together: give both or neither".into(),
                ))
            }
        };
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }
}

fn tls_setup(why: String) -> Error {
    Error::Other(format!("PostgreSQL TLS: {why}"))
}

/// The trusted CAs: the `sslrootcert` PEM file, or the bundled Mozilla roots for `system`.
fn roots(root: Option<&str>, mode: SslMode) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match root {
        Some("system") => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(file) => {
            let certs = CertificateDer::pem_file_iter(file)
                .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| tls_setup(format!("cannot read sslrootcert {file}: {e}")))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(tls_setup(format!(
                    "sslrootcert {file} holds no CA certificate"
                )));
            }
        }
        None => {
            return Err(tls_setup(format!(
                "sslmode={mode} checks the server's certificate, so it needs \
                 sslrootcert=<CA file> (or ~/.postgresql/root.crt, or sslrootcert=system)"
            )))
        }
    }
    Ok(store)
}

/// `prefer` and `require` without a root certificate: encrypted, the server not checked
/// (the handshake's signatures still are).
#[derive(Debug)]
struct NoCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca` (chain only) and `verify-full` (chain and host name). webpki checks the chain
/// before the name, so a name error on `verify-ca` means the chain was good.
#[derive(Debug)]
struct ChainCheck {
    webpki: Arc<WebPkiServerVerifier>,
    name: bool,
}

impl ServerCertVerifier for ChainCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_leave_the_url_and_the_rest_stays() {
        let (url, tls) = split(
            "postgres://u:p?w@h1:5432,h2/db?sslmode=verify-full&target_session_attrs=read-write\
             &sslrootcert=%2Fetc%2Fca.pem&sslcert=/c.pem&sslkey=/k.pem",
        )
        .expect("split");
        assert_eq!(
            url,
            "postgres://u:p?w@h1:5432,h2/db?target_session_attrs=read-write"
        );
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.root_cert.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(tls.cert, Some(PathBuf::from("/c.pem")));
        assert_eq!(tls.key, Some(PathBuf::from("/k.pem")));

        let (url, tls) = split("postgres://h/db").expect("split");
        assert_eq!(
            (url.as_str(), tls.mode),
            ("postgres://h/db", SslMode::Prefer)
        );
        let (url, tls) = split("postgres://h/db?sslmode=disable").expect("split");
        assert_eq!(
            (url.as_str(), tls.mode),
            ("postgres://h/db", SslMode::Disable)
        );
        assert!(split("postgres://h/db?sslmode=sometimes").is_err());
    }

    #[test]
    fn verifying_modes_without_a_ca_say_what_is_missing() {
        let tls = Tls {
            mode: SslMode::VerifyFull,
            root_cert: Some("/nonexistent/ca.pem".into()),
            cert: None,
            key: None,
        };
        let e = tls.connector().err().expect("an error").to_string();
        assert!(e.contains("TLS") && e.contains("sslrootcert"), "{e}");
        let plain = Tls {
            mode: SslMode::Require,
            root_cert: None,
            cert: None,
            key: None,
        };
        assert!(plain.connector().is_ok());
    }
}
