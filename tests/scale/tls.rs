//! TLS to PostgreSQL (`sslmode`, `sslrootcert`, `sslcert`/`sslkey` with libpq's meanings)
//! against a server the test starts with `ssl = on`, `hostssl`-only access, and a CA, server
//! and client certificates the test makes with the openssl CLI. The server certificate names
//! `localhost` only, so `verify-full` to 127.0.0.1 is a name mismatch while `verify-ca` to
//! 127.0.0.1 is fine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tempfile::TempDir;

use crate::{until, Replica, Setup};
use tokend_test_support::pg::PgCluster;
use tokend_test_support::proc;

/// hostssl only: `postgres` trusted, `tokend_cert` by client certificate; nothing in clear.
const HBA: &str = "\
# TYPE   DATABASE  USER         ADDRESS       METHOD
hostssl  all       tokend_cert  127.0.0.1/32  cert
hostssl  all       postgres     127.0.0.1/32  trust
";

const SSL: &str = "
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'ca.crt'
";

/// A CA, another CA, server certificates from each (naming `localhost`) and a client
/// certificate for user `tokend_cert`, all made with the openssl CLI.
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn make() -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        pki.ca("ca", "tokend test CA");
        pki.ca("other-ca", "some other CA");
        pki.leaf(
            "server",
            "ca",
            "localhost",
            "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth",
        );
        pki.leaf(
            "other-server",
            "other-ca",
            "localhost",
            "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth",
        );
        pki.leaf("client", "ca", "tokend_cert", "extendedKeyUsage=clientAuth");
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("read a PKI file")
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run openssl (scripts/install-test-deps installs it)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn ca(&self, name: &str, cn: &str) {
        let (key, crt, subj) = (
            format!("{name}.key"),
            format!("{name}.crt"),
            format!("/CN={cn}"),
        );
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &crt,
            "-days",
            "2",
            "-subj",
            &subj,
        ]);
    }

    fn leaf(&self, name: &str, ca: &str, cn: &str, ext: &str) {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        let ext_file = format!("{name}.ext");
        std::fs::write(
            self.path(&ext_file),
            format!("basicConstraints=CA:FALSE\n{ext}\n"),
        )
        .expect("write extensions");
        let subj = format!("/CN={cn}");
        self.openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &subj,
        ]);
        let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &ext_file,
        ]);
    }

    /// The server with the certificate of `server` (`server` or `other-server`) in use.
    fn serve_cert(&self, pg: &PgCluster, server: &str) {
        pg.put_file("server.crt", &self.read(&format!("{server}.crt")));
        pg.put_file("server.key", &self.read(&format!("{server}.key")));
    }
}

/// A TLS-only cluster with database `tokend`, and database `certdb` owned by role
/// `tokend_cert` (which signs in with its client certificate).
fn tls_cluster(pki: &Pki) -> PgCluster {
    let (crt, key, ca) = (
        pki.read("server.crt"),
        pki.read("server.key"),
        pki.read("ca.crt"),
    );
    let files: [(&str, &[u8]); 3] = [("server.crt", &crt), ("server.key", &key), ("ca.crt", &ca)];
    let pg = PgCluster::start_with(SSL, HBA, &files);
    pg.psql("CREATE ROLE tokend_cert LOGIN");
    pg.create_database("tokend");
    pg.psql("CREATE DATABASE certdb OWNER tokend_cert");
    pg
}

/// `tokend --db URL migrate`: its exit code and stderr (within 30 s).
fn migrate(url: &str) -> (i32, String) {
    let mut cmd = proc::tokend(Path::new(url));
    cmd.arg("migrate")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn tokend migrate");
    let status = proc::wait_timeout(&mut child, Duration::from_secs(30)).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("tokend migrate did not finish on {url}")
    });
    let mut err = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut err);
    }
    (status.code().unwrap_or(-1), err)
}

#[test]
fn tls_sslmodes_have_libpq_meanings_against_a_hostssl_only_server() {
    let _serial = crate::serial();
    let started = Instant::now();
    let pki = Pki::make();
    let pg = tls_cluster(&pki);
    let port = pg.port();
    let ca = pki.path("ca.crt").to_string_lossy().into_owned();
    let other = pki.path("other-ca.crt").to_string_lossy().into_owned();
    let cert = pki.path("client.crt").to_string_lossy().into_owned();
    let key = pki.path("client.key").to_string_lossy().into_owned();
    let ip = format!("postgres://postgres@127.0.0.1:{port}/tokend");
    let name = format!("postgres://postgres@localhost:{port}/tokend");
    let cert_user = format!("postgres://tokend_cert@localhost:{port}/certdb");
    // (what, URL, expected exit code, words the error must hold)
    let cases: Vec<(&str, String, i32, &[&str])> = vec![
        ("no sslmode (prefer)", ip.clone(), 0, &[]),
        ("prefer", format!("{ip}?sslmode=prefer"), 0, &[]),
        ("require", format!("{ip}?sslmode=require"), 0, &[]),
        (
            "verify-ca, right CA, IP",
            format!("{ip}?sslmode=verify-ca&sslrootcert={ca}"),
            0,
            &[],
        ),
        (
            "verify-full, right CA, named host",
            format!("{name}?sslmode=verify-full&sslrootcert={ca}"),
            0,
            &[],
        ),
        (
            "verify-full + client certificate",
            format!("{cert_user}?sslmode=verify-full&sslrootcert={ca}&sslcert={cert}&sslkey={key}"),
            0,
            &[],
        ),
        (
            "verify-full, host not named by the certificate",
            format!("{ip}?sslmode=verify-full&sslrootcert={ca}"),
            1,
            &["TLS", "verify-full", "not valid for name"],
        ),
        (
            "verify-ca, wrong CA",
            format!("{ip}?sslmode=verify-ca&sslrootcert={other}"),
            1,
            &["TLS", "verify-ca", "UnknownIssuer"],
        ),
        (
            "verify-full, wrong CA",
            format!("{name}?sslmode=verify-full&sslrootcert={other}"),
            1,
            &["TLS", "UnknownIssuer"],
        ),
        (
            "require + sslrootcert = verify-ca, wrong CA",
            format!("{ip}?sslmode=require&sslrootcert={other}"),
            1,
            &["TLS", "UnknownIssuer"],
        ),
        (
            "verify-full without a CA file",
            format!("{name}?sslmode=verify-full"),
            1,
            &["TLS", "sslrootcert"],
        ),
        (
            "disable, refused by hostssl-only pg_hba",
            format!("{ip}?sslmode=disable"),
            1,
            &["no encryption"],
        ),
        (
            "client-certificate user without a certificate",
            format!("{cert_user}?sslmode=verify-full&sslrootcert={ca}"),
            1,
            &["certificate"],
        ),
    ];
    let mut failures = Vec::new();
    for (what, url, want, words) in &cases {
        let (code, err) = migrate(url);
        let outcome = if code == 0 {
            "connected".to_string()
        } else {
            err.trim().replace('\n', " | ")
        };
        eprintln!("tls: {what}: exit {code}: {outcome}");
        if code != *want || !words.iter().all(|w| err.contains(w)) {
            failures.push(format!(
                "{what}: exit {code} (want {want}, words {words:?}): {err}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!(
        "tls: {} modes tried in {:?}",
        cases.len(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_a_certificate_that_stops_verifying_answers_503_then_service_resumes() {
    let _serial = crate::serial();
    let pki = Pki::make();
    let pg = tls_cluster(&pki);
    let ca = pki.path("ca.crt").to_string_lossy().into_owned();
    let url = format!(
        "postgres://postgres@localhost:{}/tokend?sslmode=verify-full&sslrootcert={ca}",
        pg.port()
    );
    let setup = Setup::on(pg, url);
    let a: Replica = setup.replica(&[]);
    let admin = setup.admin.clone();
    let (_, value) = a
        .token(
            &admin,
            json!({ "name": "over-tls", "role_template": "read_only" }),
        )
        .await;
    assert_eq!(a.me(&value).await, 200);
    // The server now shows a certificate from another CA; tokend's connections are cut.
    pki.serve_cert(&setup.cluster, "other-server");
    setup.cluster.psql("SELECT pg_reload_conf()");
    let cut = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
               WHERE application_name = 'tokend'";
    setup.cluster.psql(cut);
    let last = std::sync::Mutex::new((0, json!(null)));
    let refused = until(Duration::from_secs(20), || async {
        let got = a.get("/v1/tokens", &admin).await;
        let done = got.0 == 503;
        *last.lock().unwrap() = got;
        done
    })
    .await;
    let last = last.into_inner().unwrap();
    assert!(refused.is_some(), "no 503 while TLS fails: {last:?}");
    assert_eq!(last.1["error"]["code"], "storage_unavailable", "{}", last.1);
    let (status, body) = a
        .post(
            "/v1/tokens",
            &admin,
            json!({ "name": "during", "role_template": "read_only" }),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("storage_unavailable")),
        "{body}"
    );
    let log = a.server.stderr();
    assert!(
        log.contains("TLS") && log.contains("UnknownIssuer"),
        "the log says TLS and why:\n{log}"
    );
    // The right certificate again: service resumes without a restart.
    pki.serve_cert(&setup.cluster, "server");
    setup.cluster.psql("SELECT pg_reload_conf()");
    let back = until(Duration::from_secs(20), || async {
        a.get("/v1/tokens", &admin).await.0 == 200
    })
    .await
    .expect("service resumes once the certificate verifies again");
    eprintln!(
        "tls: 503 storage_unavailable while the certificate failed; resumed {back:?} after the fix"
    );
    assert_eq!(a.me(&value).await, 200);
}
