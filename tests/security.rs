//! Security promises end to end, over real sockets on 127.0.0.1: the exporter-toolkit web config
//! (basic auth, TLS, mutual TLS, refused start-ups, certificate renewal without restart), HTTP
//! limits, escaping of what cadence names carry, secrets kept out of every output at debug level,
//! and the refusal of a token answer that points at a foreign API domain.
//!
//! Certificates and keys are generated per test with rcgen; none is committed.

mod common;

use common::*;
use fake_zoho::{cadence, sample_cadences, FakeZoho, Fault, Route, CLIENT_SECRET, REFRESH_TOKEN};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zoho_cadences_exporter::{
    serve, Config, ConfigSource, ConnectionLimits as Limits, ServeOptions, WebConfig,
    SHUTDOWN_GRACE,
};

/// Every access token the fake issues starts with this.
const ACCESS_TOKEN_PREFIX: &str = "fakeaccesstoken";
const EVIL: &str = "<script>alert(1)</script>";

// ---------------------------------------------------------------------------------------------
// Support: temporary directories, certificates, the exporter in-process, clients.

/// A directory of its own per test, removed when the test ends.
struct TempDir(tempfile::TempDir);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let prefix = format!("zce-security-{name}-");
        TempDir(tempfile::Builder::new().prefix(&prefix).tempdir().unwrap())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Writes through a temporary file and a rename, as certificate tools do, so a reader never
    /// sees half a file.
    fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path(name);
        let staging = self.path(&format!(".{name}.new"));
        std::fs::write(&staging, content).unwrap();
        std::fs::rename(&staging, &path).unwrap();
        path
    }

    /// Writes a server certificate and key as `server.crt` and `server.key`, the names the
    /// tests' web configs use.
    fn write_server_identity(&self, leaf: &Leaf) {
        self.write("server.crt", &leaf.cert);
        self.write("server.key", &leaf.key);
    }
}

/// A test certificate authority.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its private key, both PEM.
struct Leaf {
    cert: String,
    key: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    fn leaf(&self, common_name: &str, sans: &[&str], usage: ExtendedKeyUsagePurpose) -> Leaf {
        let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
        let mut params = CertificateParams::new(sans).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    fn server(&self, common_name: &str) -> Leaf {
        self.leaf(
            common_name,
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    fn client(&self, common_name: &str, sans: &[&str]) -> Leaf {
        self.leaf(common_name, sans, ExtendedKeyUsagePurpose::ClientAuth)
    }
}

fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A rustls client trusting `ca`, optionally presenting `identity`.
fn tls_client_config(ca: &str, identity: Option<&Leaf>) -> rustls::ClientConfig {
    install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    match identity {
        None => builder.with_no_client_auth(),
        Some(leaf) => {
            let chain = CertificateDer::pem_slice_iter(leaf.cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(leaf.key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    }
}

fn https_client(ca: &str, identity: Option<&Leaf>) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_client_config(ca, identity))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn http_client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The exporter served in-process by `serve`, collecting from its own fake Zoho, on
/// two listeners (as with two `--web.listen-address`).
struct Served {
    addr: SocketAddr,
    /// The second listener's address.
    second: SocketAddr,
    /// Kept alive for the exporter to collect from.
    _fake: FakeZoho,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    async fn start(web: Option<&Path>, limits: Limits) -> Served {
        Self::start_with(sample_cadences(), "", web, limits).await
    }

    async fn start_with(
        cadences: Vec<Value>,
        org_name: &str,
        web: Option<&Path>,
        limits: Limits,
    ) -> Served {
        let fake = FakeZoho::start(cadences).await.unwrap();
        let org_name = if org_name.is_empty() {
            "org0"
        } else {
            org_name
        };
        let yaml = format!("interval: 1m\norgs:\n{}", fake.org_yaml(org_name));
        let config = Config::parse(&yaml).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let second_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let second = second_listener.local_addr().unwrap();
        let web_config = web.map(|path| WebConfig::load(path).unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            ConfigSource::Fixed(Box::new(config.clone())),
            config,
            vec![listener, second_listener],
            "/metrics".to_owned(),
            ServeOptions {
                web_config,
                limits,
                ..ServeOptions::default()
            },
            async move {
                let _ = stopped.await;
            },
        ));
        Served {
            addr,
            second,
            _fake: fake,
            stop: Some(stop),
            task,
        }
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }

    /// Begins shutdown and returns how long the server took to finish.
    async fn shutdown(mut self) -> Duration {
        let started = Instant::now();
        let _ = self.stop.take().unwrap().send(());
        (&mut self.task).await.unwrap().unwrap();
        started.elapsed()
    }
}

/// Polls `probe` until it returns `Some`, for at most 10 s.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn bcrypt_hash(password: &str) -> String {
    // Cost 4, bcrypt's minimum, keeps the tests fast; production hashes use 10 or more.
    bcrypt::hash(password, 4).unwrap()
}

/// Runs the binary to completion with the Zoho credentials cleared from the environment.
fn run_binary(args: &[&str]) -> (i32, String, String) {
    run(args, &[])
}

// ---------------------------------------------------------------------------------------------
// Basic auth.

#[tokio::test]
async fn basic_auth_none_wrong_and_right() {
    let dir = TempDir::new("basic-auth");
    let web = dir.write(
        "web.yml",
        &format!(
            "basic_auth_users:\n  prometheus: {}\n  other: {}\nhttp_server_config:\n  headers:\n    Strict-Transport-Security: max-age=31536000\n",
            bcrypt_hash("s3cure pass:word"),
            bcrypt_hash("other-password"),
        ),
    );
    let served = Served::start(Some(&web), Limits::default()).await;
    let http = http_client();

    // No credentials, on every route: the 404 fallback and the status pages included.
    for path in [
        "/metrics",
        "/",
        "/orgs/acme",
        "/-/healthy",
        "/-/ready",
        "/no-such-page",
    ] {
        let response = http.get(served.url("http", path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(response.headers()["www-authenticate"], "Basic", "{path}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=31536000"
        );
    }
    let response = http
        .post(served.url("http", "/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Wrong password, unknown user, another user's password, another scheme.
    for (user, password) in [
        ("prometheus", "wrong"),
        ("nobody", "s3cure pass:word"),
        ("prometheus", "other-password"),
        ("prometheus", ""),
    ] {
        let response = http
            .get(served.url("http", "/metrics"))
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{user}:{password}");
    }
    let response = http
        .get(served.url("http", "/metrics"))
        .bearer_auth("s3cure pass:word")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Right: twice, the second from the verification memory; the password may contain ':'.
    for _ in 0..2 {
        let response = http
            .get(served.url("http", "/metrics"))
            .basic_auth("prometheus", Some("s3cure pass:word"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=31536000"
        );
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("zoho_crm_exporter_build_info"));
    }
    let response = http
        .get(served.url("http", "/no-such-page"))
        .basic_auth("other", Some("other-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    served.shutdown().await;
}

/// A scrape of one org is guarded as `/metrics` is: without credentials nothing, not even
/// whether an org exists, is answered.
#[tokio::test]
async fn a_scrape_of_one_org_needs_the_same_credentials() {
    let dir = TempDir::new("basic-auth-org");
    let web = dir.write(
        "web.yml",
        &format!("basic_auth_users:\n  prometheus: {}\n", bcrypt_hash("pw")),
    );
    let served = Served::start(Some(&web), Limits::default()).await;
    let http = http_client();
    for path in ["/metrics?org=org0", "/metrics?org=nope"] {
        let response = http.get(served.url("http", path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert!(!response.text().await.unwrap().contains("nope"));
    }
    let scrape = |path: &'static str| {
        let request = http.get(served.url("http", path));
        request.basic_auth("prometheus", Some("pw")).send()
    };
    let response = scrape("/metrics?org=org0").await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("zoho_crm_up{org=\"org0\"}"), "{text}");
    assert!(!text.contains("process_"), "{text}");
    assert_eq!(scrape("/metrics?org=nope").await.unwrap().status(), 404);
    served.shutdown().await;
}

#[tokio::test]
async fn basic_auth_users_change_without_restart() {
    let dir = TempDir::new("basic-auth-reload");
    let web = dir.write(
        "web.yml",
        &format!("basic_auth_users:\n  alice: {}\n", bcrypt_hash("alice-pw")),
    );
    let served = Served::start(Some(&web), Limits::default()).await;
    let http = http_client();
    let status = |user: &'static str, password: &'static str| {
        let request = http
            .get(served.url("http", "/metrics"))
            .basic_auth(user, Some(password));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("alice", "alice-pw").await, 200);
    assert_eq!(status("bob", "bob-pw").await, 401);

    dir.write(
        "web.yml",
        &format!("basic_auth_users:\n  bob: {}\n", bcrypt_hash("bob-pw")),
    );
    assert_eq!(status("bob", "bob-pw").await, 200);
    // Alice's earlier success is not remembered past the change.
    assert_eq!(status("alice", "alice-pw").await, 401);

    // A broken file fails closed, and recovers when fixed.
    dir.write("web.yml", "basic_auth_users:\n  bob: not-a-hash\n");
    assert_eq!(status("bob", "bob-pw").await, 500);
    dir.write(
        "web.yml",
        &format!("basic_auth_users:\n  bob: {}\n", bcrypt_hash("bob-pw")),
    );
    assert_eq!(status("bob", "bob-pw").await, 200);
    served.shutdown().await;
}

#[tokio::test]
async fn rate_limit_answers_429() {
    let dir = TempDir::new("rate-limit");
    let web = dir.write("web.yml", "rate_limit:\n  burst: 2\n  interval: 1h\n");
    let served = Served::start(Some(&web), Limits::default()).await;
    let http = http_client();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = http
            .get(served.url("http", "/-/healthy"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);
    served.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// TLS and mutual TLS.

#[tokio::test]
async fn tls_serves_https_only() {
    let dir = TempDir::new("tls");
    let ca = Ca::new("test CA");
    let leaf = ca.server("exporter");
    dir.write_server_identity(&leaf);
    // Relative paths are taken from the web config file's directory.
    let web = dir.write(
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    );
    let served = Served::start(Some(&web), Limits::default()).await;

    let response = https_client(&ca.pem, None)
        .get(served.url("https", "/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("zoho_crm_exporter_build_info"));

    // A client that does not trust the CA, and a plain-HTTP client, get nothing.
    let stranger = Ca::new("someone else");
    assert!(https_client(&stranger.pem, None)
        .get(served.url("https", "/metrics"))
        .send()
        .await
        .is_err());
    let plain = http_client()
        .get(served.url("http", "/metrics"))
        .send()
        .await;
    assert!(
        plain.is_err() || plain.unwrap().status() != 200,
        "plain HTTP must not be served on the TLS port"
    );
    served.shutdown().await;
}

#[tokio::test]
async fn tls_and_basic_auth_apply_on_every_listen_address() {
    let dir = TempDir::new("tls-every-address");
    let ca = Ca::new("test CA");
    dir.write_server_identity(&ca.server("exporter"));
    let web = dir.write(
        "web.yml",
        &format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: {}\n",
            bcrypt_hash("pw")
        ),
    );
    let served = Served::start(Some(&web), Limits::default()).await;
    let https = https_client(&ca.pem, None);
    for addr in [served.addr, served.second] {
        let url = format!("https://{addr}/metrics");
        let response = https.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 401, "{addr}");
        let response = https
            .get(&url)
            .basic_auth("prometheus", Some("pw"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{addr}");
        let plain = http_client()
            .get(format!("http://{addr}/metrics"))
            .send()
            .await;
        assert!(
            plain.is_err() || plain.unwrap().status() != 200,
            "plain HTTP on {addr}"
        );
    }
    served.shutdown().await;
}

#[tokio::test]
async fn tls_min_version_is_enforced() {
    let dir = TempDir::new("tls-version");
    let ca = Ca::new("test CA");
    let leaf = ca.server("exporter");
    dir.write_server_identity(&leaf);
    let web = dir.write(
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n",
    );
    let served = Served::start(Some(&web), Limits::default()).await;
    let client = |versions: &[&'static rustls::SupportedProtocolVersion]| {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca.pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    };
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let tls12 = client(&[&rustls::version::TLS12])
        .connect(name.clone(), TcpStream::connect(served.addr).await.unwrap())
        .await;
    assert!(tls12.is_err(), "a TLS 1.2-only client must be refused");
    let tls13 = client(&[&rustls::version::TLS13])
        .connect(name, TcpStream::connect(served.addr).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        tls13.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    served.shutdown().await;
}

#[tokio::test]
async fn mutual_tls_with_and_without_a_client_certificate() {
    let dir = TempDir::new("mtls");
    let ca = Ca::new("test CA");
    let clients_ca = Ca::new("client CA");
    let rogue_ca = Ca::new("rogue CA");
    let leaf = ca.server("exporter");
    dir.write_server_identity(&leaf);
    dir.write("clients-ca.crt", &clients_ca.pem);
    let scraper = clients_ca.client("prometheus", &["scraper.example"]);
    let other = clients_ca.client("other", &["other.example"]);
    let rogue = rogue_ca.client("prometheus", &["scraper.example"]);
    let config = |auth: &str, extra: &str| {
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: {auth}\n  client_ca_file: clients-ca.crt\n{extra}"
        )
    };
    let web = dir.write("web.yml", &config("RequireAndVerifyClientCert", ""));
    let served = Served::start(Some(&web), Limits::default()).await;
    let outcome = |identity: Option<&Leaf>| {
        let request = https_client(&ca.pem, identity).get(served.url("https", "/metrics"));
        async move {
            match request.send().await {
                Ok(response) => response.status().as_u16().to_string(),
                Err(_) => "refused".to_owned(),
            }
        }
    };

    // RequireAndVerifyClientCert: only a certificate from the client CA gets in.
    assert_eq!(outcome(Some(&scraper)).await, "200");
    assert_eq!(outcome(None).await, "refused");
    assert_eq!(outcome(Some(&rogue)).await, "refused");

    // The same server, its file edited: the policy applies from the next connection.
    dir.write("web.yml", &config("VerifyClientCertIfGiven", ""));
    assert_eq!(outcome(None).await, "200");
    assert_eq!(outcome(Some(&scraper)).await, "200");
    assert_eq!(outcome(Some(&rogue)).await, "refused");

    dir.write("web.yml", &config("RequireAnyClientCert", ""));
    assert_eq!(outcome(None).await, "refused");
    assert_eq!(outcome(Some(&rogue)).await, "200");

    dir.write(
        "web.yml",
        &config(
            "RequireAndVerifyClientCert",
            "  client_allowed_sans: [scraper.example]\n",
        ),
    );
    assert_eq!(outcome(Some(&scraper)).await, "200");
    assert_eq!(outcome(Some(&other)).await, "refused");
    assert_eq!(outcome(Some(&rogue)).await, "refused");
    served.shutdown().await;
}

#[tokio::test]
async fn renewed_certificate_applies_without_restart() {
    let dir = TempDir::new("renewal");
    let ca = Ca::new("test CA");
    let first = ca.server("first");
    dir.write("server.crt", &first.cert);
    dir.write("server.key", &first.key);
    let web = dir.write(
        "web.yml",
        &format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            dir.path("server.crt").display(),
            dir.path("server.key").display()
        ),
    );
    let served = Served::start(Some(&web), Limits::default()).await;
    let served_certificate = || async {
        let stream = TcpStream::connect(served.addr).await.unwrap();
        let connector =
            tokio_rustls::TlsConnector::from(Arc::new(tls_client_config(&ca.pem, None)));
        match connector
            .connect(ServerName::try_from("127.0.0.1").unwrap(), stream)
            .await
        {
            Ok(tls) => tls.get_ref().1.peer_certificates().map(|c| c[0].to_vec()),
            Err(_) => None,
        }
    };
    let der = |pem: &str| {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec()
    };
    assert_eq!(served_certificate().await, Some(der(&first.cert)));

    // A key that does not match (written first, as a renewal in two steps would): refused,
    // never the old certificate with the new key or the other way round.
    let second = ca.server("second");
    dir.write("server.key", &second.key);
    assert_eq!(served_certificate().await, None);
    dir.write("server.crt", &second.cert);
    assert_eq!(served_certificate().await, Some(der(&second.cert)));

    // An HTTPS request on the renewed certificate.
    let response = https_client(&ca.pem, None)
        .get(served.url("https", "/-/healthy"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    served.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Refused start-ups.

#[test]
fn bad_web_configs_stop_start_up_with_the_problem_named() {
    let dir = TempDir::new("refused");
    let config = dir.write(
        "config.yml",
        "orgs:\n  - name: acme\n    client_id: a\n    client_secret: s3cr3t-value\n    refresh_token: r3fr3sh-value\n",
    );
    let ca = Ca::new("test CA");
    let leaf = ca.server("exporter");
    let other = ca.server("other");
    dir.write_server_identity(&leaf);
    dir.write("other.key", &other.key);
    dir.write(
        "garbage.crt",
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
    );
    dir.write("empty.crt", "not a certificate at all\n");
    let tls = |cert: &str, key: &str| {
        format!("tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n")
    };
    let cases: Vec<(String, String)> = vec![
        (
            "tls_server_config:\n  cert_fil: server.crt\n  key_file: server.key\n".to_owned(),
            "unknown field `cert_fil`".to_owned(),
        ),
        (
            "basic_auth_user:\n  a: b\n".to_owned(),
            "unknown field `basic_auth_user`".to_owned(),
        ),
        (
            tls("missing.crt", "server.key"),
            format!(
                "tls_server_config.cert_file: cannot read {}",
                dir.path("missing.crt").display()
            ),
        ),
        (
            tls("garbage.crt", "server.key"),
            format!(
                "tls_server_config.cert_file: {}: certificate 1 is not a valid X.509 certificate",
                dir.path("garbage.crt").display()
            ),
        ),
        (
            tls("empty.crt", "server.key"),
            "no certificate found".to_owned(),
        ),
        (
            tls("server.crt", "server.crt"),
            "tls_server_config.key_file".to_owned(),
        ),
        (
            tls("server.crt", "other.key"),
            "the private key does not belong to the certificate".to_owned(),
        ),
        (
            "basic_auth_users:\n  alice: hunter2\n".to_owned(),
            "basic_auth_users.alice: not a bcrypt hash".to_owned(),
        ),
        (
            "http_server_config:\n  headers:\n    Content-Type: text/html\n".to_owned(),
            "\"Content-Type\" can not be configured".to_owned(),
        ),
    ];
    for (yaml, expected) in cases {
        let web = dir.write("web.yml", &yaml);
        let (code, stdout, stderr) = run_binary(&[
            "--config.file",
            config.to_str().unwrap(),
            "--web.config.file",
            web.to_str().unwrap(),
            "--web.listen-address",
            "127.0.0.1:0",
        ]);
        assert_eq!(code, 1, "{yaml}\n{stderr}");
        assert!(
            stderr.contains(&web.display().to_string()) && stderr.contains(&expected),
            "expected {expected:?} and the file's path in {stderr:?}"
        );
        assert!(!stderr.contains("listening"), "{stderr}");
        assert!(!stderr.contains("hunter2") && !stdout.contains("hunter2"));
        for key in [&leaf.key, &other.key] {
            let material = key.lines().nth(1).unwrap();
            assert!(!stderr.contains(material), "key material in {stderr}");
        }
    }
    let (code, _, stderr) = run_binary(&[
        "--config.file",
        config.to_str().unwrap(),
        "--web.config.file",
        dir.path("no-such-web.yml").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!(
            "cannot read web config file {}",
            dir.path("no-such-web.yml").display()
        )),
        "{stderr}"
    );

    // --config.check checks the web config too.
    let web = dir.write(
        "web.yml",
        &format!(
            "{}basic_auth_users:\n  alice: {}\n",
            tls("server.crt", "server.key"),
            bcrypt_hash("pw")
        ),
    );
    let (code, stdout, stderr) = run_binary(&[
        "--config.file",
        config.to_str().unwrap(),
        "--web.config.file",
        web.to_str().unwrap(),
        "--config.check",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("web config OK: TLS on, basic auth on"),
        "{stdout}"
    );
}

// ---------------------------------------------------------------------------------------------
// HTTP limits.

#[tokio::test]
async fn methods_paths_and_security_headers() {
    let served = Served::start(None, Limits::default()).await;
    let http = http_client();
    let status = |method: reqwest::Method, path: &str| {
        let request = http.request(method, served.url("http", path));
        async move { request.send().await.unwrap() }
    };
    for (method, path) in [
        (reqwest::Method::POST, "/metrics"),
        (reqwest::Method::PUT, "/metrics"),
        (reqwest::Method::DELETE, "/metrics"),
        (reqwest::Method::POST, "/"),
    ] {
        let response = status(method.clone(), path).await;
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], "GET,HEAD", "{method} {path}");
    }
    let head = status(reqwest::Method::HEAD, "/metrics").await;
    assert_eq!(head.status(), 200);
    assert!(head.bytes().await.unwrap().is_empty());
    assert_eq!(
        status(reqwest::Method::GET, "/metrics/extra")
            .await
            .status(),
        404
    );
    assert_eq!(status(reqwest::Method::GET, "/admin").await.status(), 404);

    let page = status(reqwest::Method::GET, "/").await;
    assert_eq!(page.status(), 200);
    let headers = page.headers();
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    let metrics = status(reqwest::Method::GET, "/metrics").await;
    assert_eq!(metrics.headers()["x-content-type-options"], "nosniff");
    served.shutdown().await;
}

#[tokio::test]
async fn oversized_headers_are_refused() {
    let served = Served::start(None, Limits::default()).await;
    let mut stream = TcpStream::connect(served.addr).await.unwrap();
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(Limits::default().max_header_bytes + 1)
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    served.shutdown().await;
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let limits = Limits {
        header_read_timeout: Duration::from_millis(400),
        ..Limits::default()
    };
    let served = Served::start(None, limits).await;
    for partial in ["", "GET /metrics HTTP/1.1\r\nHost: x\r\n"] {
        let mut stream = TcpStream::connect(served.addr).await.unwrap();
        stream.write_all(partial.as_bytes()).await.unwrap();
        let started = Instant::now();
        let mut rest = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "the connection stayed open ({partial:?})");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(300),
            "closed too early: {waited:?}"
        );
    }
    served.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_wait() {
    let limits = Limits {
        max_connections: 2,
        ..Limits::default()
    };
    let served = Served::start(None, limits).await;
    let first = TcpStream::connect(served.addr).await.unwrap();
    let _second = TcpStream::connect(served.addr).await.unwrap();
    let http = http_client();
    let blocked = http
        .get(served.url("http", "/-/healthy"))
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(
        blocked.is_err(),
        "a third connection was served while two were open"
    );
    drop(first);
    let response = http
        .get(served.url("http", "/-/healthy"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    served.shutdown().await;
}

#[tokio::test]
async fn silent_tls_clients_are_cut_off() {
    let dir = TempDir::new("tls-silent");
    let ca = Ca::new("test CA");
    let leaf = ca.server("exporter");
    dir.write_server_identity(&leaf);
    let web = dir.write(
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    );
    let limits = Limits {
        tls_handshake_timeout: Duration::from_millis(400),
        ..Limits::default()
    };
    let served = Served::start(Some(&web), limits).await;
    let mut stream = TcpStream::connect(served.addr).await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(
        read.is_ok(),
        "a client that never says hello kept its connection"
    );
    served.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish() {
    // A bcrypt of cost 12 keeps the request busy long enough to begin shutdown under it.
    let dir = TempDir::new("drain");
    let hash = bcrypt::hash("pw", 12).unwrap();
    let web = dir.write("web.yml", &format!("basic_auth_users:\n  slow: {hash}\n"));
    let served = Served::start(Some(&web), Limits::default()).await;
    // An idle kept-alive connection must not hold shutdown up.
    let _idle = TcpStream::connect(served.addr).await.unwrap();

    let mut stream = TcpStream::connect(served.addr).await.unwrap();
    let mut answer = [0u8; 4096];
    // A first, quick answer on this connection proves the server is serving it.
    stream
        .write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let read = stream.read(&mut answer).await.unwrap();
    assert!(answer[..read].starts_with(b"HTTP/1.1 401"));
    // slow:pw
    stream
        .write_all(
            b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nAuthorization: Basic c2xvdzpwdw==\r\n\r\n",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let shutdown = tokio::spawn(served.shutdown());
    let mut rest = Vec::new();
    tokio::time::timeout(SHUTDOWN_GRACE, stream.read_to_end(&mut rest))
        .await
        .expect("the answer came before the grace period ended")
        .unwrap();
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.starts_with("HTTP/1.1 200"), "{rest}");
    assert!(rest.ends_with("OK\n"), "{rest}");
    let took = shutdown.await.unwrap();
    assert!(took < SHUTDOWN_GRACE, "shutdown took {took:?}");
}

// ---------------------------------------------------------------------------------------------
// Escaping.

/// Label name/value pairs of one exposition line, with the value unescaped (`\\`, `\"`, `\n`).
fn parse_labels(line: &str) -> Vec<(String, String)> {
    let Some(open) = line.find('{') else {
        return Vec::new();
    };
    let mut chars = line[open + 1..].chars();
    let mut labels = Vec::new();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() || name.starts_with('}') {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "label {name} in {line:?}");
        let mut value = String::new();
        loop {
            match chars.next().expect("unterminated label value") {
                '\\' => match chars.next() {
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    Some('n') => value.push('\n'),
                    other => panic!("bad escape {other:?} in {line:?}"),
                },
                '"' => break,
                '\n' => panic!("raw newline in a label value: {line:?}"),
                c => value.push(c),
            }
        }
        labels.push((name.trim_start_matches(',').to_owned(), value));
        match chars.next() {
            Some(',') => {
                let rest: String = chars.clone().collect();
                if rest.starts_with('}') {
                    break;
                }
            }
            Some('}') => break,
            other => panic!("unexpected {other:?} after a label in {line:?}"),
        }
    }
    labels
}

/// The `name` label of every `zoho_crm_cadence_info` series.
fn cadence_names(exposition: &str) -> Vec<String> {
    exposition
        .lines()
        .filter(|line| line.starts_with("zoho_crm_cadence_info{"))
        .filter_map(|line| {
            parse_labels(line)
                .into_iter()
                .find(|(name, _)| name == "name")
                .map(|(_, value)| value)
        })
        .collect()
}

#[tokio::test]
async fn cadence_names_are_escaped_everywhere() {
    let names = [
        EVIL.to_owned(),
        r#"say "hello""#.to_owned(),
        r"C:\path\to\cadence".to_owned(),
        "first line\nsecond line".to_owned(),
        "Ünïcødé ✓ 日本語 🚀".to_owned(),
        r#"all "of\them"\n
at once"#
            .to_owned(),
    ];
    let cadences: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(n, name)| cadence(n as u64, name, "Leads", true))
        .collect();
    let served = Served::start_with(cadences, EVIL, None, Limits::default()).await;
    let http = http_client();
    let text = eventually("the first collection", || async {
        let text = http
            .get(served.url("http", "/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.contains("zoho_crm_cadence_info{").then_some(text)
    })
    .await;

    // Prometheus text format: promtool parses it, and every name comes back unchanged.
    promtool_check_metrics(&text);
    let mut found = cadence_names(&text);
    found.sort();
    let mut expected = names.to_vec();
    expected.sort();
    assert_eq!(found, expected);
    assert!(text.contains(r#"org="<script>alert(1)</script>""#));

    // OpenMetrics: the same escaping rules, and the `# EOF` terminator.
    let openmetrics = http
        .get(served.url("http", "/metrics"))
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(openmetrics.ends_with("# EOF\n"));
    let mut found = cadence_names(&openmetrics);
    found.sort();
    assert_eq!(found, expected);

    // The status pages: the org name, the cadence names (and anything else) as text, never as
    // markup.
    let page = http
        .get(served.url("http", "/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        page.contains(&format!(r#"<td class="n">{}</td>"#, names.len())),
        "{page}"
    );
    let org_page = http
        .get(served.url("http", "/orgs/%3Cscript%3Ealert%281%29%3C%2Fscript%3E"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!org_page.contains("<script"), "{org_page}");
    assert!(org_page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(org_page.contains("say &quot;hello&quot;"), "{org_page}");
    served.shutdown().await;
}

#[tokio::test]
async fn zoho_error_text_on_the_status_page_is_escaped() {
    use zoho_cadences_exporter::{router, AppState, ZohoError};
    let (fake, state, collector) = single(sample_cadences(), "").await;
    fake.push_fault(
        Route::Cadences,
        Fault::Status {
            status: 400,
            code: EVIL.to_owned(),
            retry_after: None,
        },
    );
    let err = collector.collect_once().await.unwrap_err();
    assert!(matches!(err, ZohoError::Api { .. }), "{err}");
    assert!(err.to_string().contains(EVIL));
    let app = router(AppState {
        shared: state.clone(),
        telemetry_path: "/metrics".to_owned(),
        reload: None,
        web: None,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(zoho_cadences_exporter::serve_connections(
        vec![listener],
        app,
        None,
        Limits::default(),
        stop_rx,
    ));
    let page = http_client()
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    // The metric label for the error is bounded, not Zoho's raw text.
    let text = scrape(&state);
    assert!(!text.contains("<script>"), "{text}");
    stop_tx.send(true).unwrap();
    task.await.unwrap().unwrap();
}

// ---------------------------------------------------------------------------------------------
// Secrets.

/// Everything that must never be shown.
fn assert_no_secret(what: &str, text: &str) {
    for secret in [CLIENT_SECRET, REFRESH_TOKEN, ACCESS_TOKEN_PREFIX] {
        assert!(!text.contains(secret), "{secret} leaked in {what}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_stay_out_of_debug_logs_through_a_token_refresh() {
    let dir = TempDir::new("redaction-once");
    let fake = FakeZoho::start(sample_cadences()).await.unwrap();
    let config = dir.write("config.yml", &format!("orgs:\n{}", fake.org_yaml("acme")));
    for format in ["logfmt", "json"] {
        // The first cadences request is refused as an expired token: the exporter refreshes.
        fake.push_fault(
            Route::Cadences,
            Fault::Status {
                status: 401,
                code: "INVALID_TOKEN".to_owned(),
                retry_after: None,
            },
        );
        let tokens_before = fake.calls(Route::Token);
        let args = [
            "--config.file".to_owned(),
            config.display().to_string(),
            "--once".to_owned(),
            "--log.level".to_owned(),
            "debug".to_owned(),
            "--log.format".to_owned(),
            format.to_owned(),
        ];
        let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_binary(&args)
        })
        .await
        .unwrap();
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(
            fake.calls(Route::Token) - tokens_before,
            2,
            "one token, then a refresh after the 401"
        );
        assert_eq!(
            value(&stdout, "zoho_crm_up{org=\"acme\"}"),
            Some(1.0),
            "{stdout}"
        );
        assert_no_secret("the debug log", &stderr);
        assert_no_secret("the exposition", &stdout);
    }

    // A refused refresh: the error message names Zoho's code, not the credentials.
    fake.push_fault(Route::Token, Fault::TokenError("invalid_client".to_owned()));
    let config_arg = config.display().to_string();
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        run_binary(&[
            "--config.file",
            &config_arg,
            "--once",
            "--log.level",
            "debug",
        ])
    })
    .await
    .unwrap();
    assert_eq!(code, 1);
    assert!(stderr.contains("invalid_client"), "{stderr}");
    assert_no_secret("the log of a refused refresh", &stderr);
    assert_no_secret("the exposition after a refused refresh", &stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_stay_out_of_a_running_exporter() {
    let dir = TempDir::new("redaction-server");
    let fake = FakeZoho::start(sample_cadences()).await.unwrap();
    let secret_file = dir.write("client-secret", &format!("{CLIENT_SECRET}\n"));
    let yaml = fake.org_yaml("acme").replace(
        &format!("client_secret: \"{CLIENT_SECRET}\""),
        &format!("client_secret_file: {}", secret_file.display()),
    );
    assert!(yaml.contains("client_secret_file"), "{yaml}");
    let config = dir.write("config.yml", &format!("interval: 1s\norgs:\n{yaml}"));
    let mut exporter = Exporter::start(&config);
    exporter
        .wait_for("a first collection", |text| {
            value(text, "zoho_crm_up{org=\"acme\"}") == Some(1.0)
        })
        .await;
    // Zoho kills the access token: the next collection gets a 401 and refreshes.
    let tokens_before = fake.calls(Route::Token);
    fake.expire_tokens();
    exporter
        .wait_for("a token refresh and a collection after it", |text| {
            fake.calls(Route::Token) > tokens_before
                && sum(
                    text,
                    "zoho_crm_api_errors_total",
                    &["error=\"INVALID_TOKEN\""],
                ) >= 1.0
                && value(text, "zoho_crm_up{org=\"acme\"}") == Some(1.0)
        })
        .await;
    let exposition = exporter.metrics().await;
    assert_no_secret("the metrics", &exposition);
    let (http, base) = (&exporter.http, &exporter.base);
    let page = http
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("acme"), "{page}");
    assert_no_secret("the status page", &page);
    let reload = http
        .post(format!("{base}/-/reload"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_no_secret("the reload answer", &reload);

    exporter.signal("-TERM");
    let (code, log, stdout) = tokio::task::spawn_blocking(move || {
        let code = exporter.wait_exit(Duration::from_secs(10));
        let (log, stdout) = exporter.output();
        (code, log, stdout)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "the exporter exits cleanly on SIGTERM");
    assert!(
        log.contains("level=debug"),
        "the log is at debug level:\n{log}"
    );
    assert_no_secret("the debug log of a running exporter", &log);
    assert_no_secret("stdout", &stdout);
}

#[test]
fn config_check_shows_no_secret_from_the_environment_or_the_file() {
    let out = Command::new(BINARY)
        .args(["--config.check", "--log.level", "debug"])
        .env("ZOHO_CLIENT_ID", "1000.X")
        .env("ZOHO_CLIENT_SECRET", CLIENT_SECRET)
        .env("ZOHO_REFRESH_TOKEN", REFRESH_TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_no_secret(
        "--config.check output",
        &String::from_utf8_lossy(&out.stdout),
    );
    assert_no_secret("--config.check log", &String::from_utf8_lossy(&out.stderr));

    // Secrets in the wrong place or shape: the error names the field, never the value.
    let dir = TempDir::new("check-secrets");
    for yaml in [
        format!("orgs:\n  - name: a\n    client_id: id\n    client_secret: {CLIENT_SECRET}\n    client_secret_file: /x\n    refresh_token: {REFRESH_TOKEN}\n"),
        format!("orgs:\n  - name: a\n    client_id: id\n    client_secret: [{CLIENT_SECRET}]\n    refresh_token: {REFRESH_TOKEN}\n"),
        format!("orgs:\n  - name: a\n    client_id: id\n    client_secret: \"{CLIENT_SECRET}\n    refresh_token: {REFRESH_TOKEN}\n"),
        format!("orgs:\n  - name: a\n    client_id: id\n    client_secret: {CLIENT_SECRET}\n    refresh_token: {REFRESH_TOKEN}\n    refresh_token: {REFRESH_TOKEN}\n"),
    ] {
        let config = dir.write("config.yml", &yaml);
        let (code, stdout, stderr) =
            run_binary(&["--config.file", config.to_str().unwrap(), "--config.check"]);
        assert_eq!(code, 1, "{yaml}");
        assert_no_secret("--config.check errors", &stderr);
        assert_no_secret("--config.check output", &stdout);
    }
}

#[test]
fn panic_messages_and_debug_output_show_no_secret() {
    let yaml = format!(
        "orgs:\n  - name: a\n    client_id: id\n    client_secret: {CLIENT_SECRET}\n    refresh_token: {REFRESH_TOKEN}\n"
    );
    let config = Config::parse(&yaml).unwrap();
    // The config's Debug holds each org's: both are shown here.
    let payload = std::panic::catch_unwind(|| {
        panic!("unexpected state: {config:?}");
    })
    .unwrap_err();
    let message = payload.downcast_ref::<String>().unwrap();
    assert!(message.contains("<redacted>"), "{message}");
    assert!(message.contains("OrgConfig {"), "{message}");
    assert_no_secret("a panic message", message);
    // The web config's inline private key and password hashes are held the same way: see the
    // web config's own tests (`src/web/config.rs`).
}

// ---------------------------------------------------------------------------------------------
// The API domain of a token answer.

#[tokio::test]
async fn a_foreign_api_domain_in_a_token_answer_is_refused() {
    // Where a tampered answer tries to send the token: a listener that counts connections.
    let trap = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let trap_url = format!("http://{}", trap.local_addr().unwrap());
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = connections.clone();
    let trap_task = tokio::spawn(async move {
        while let Ok((stream, _)) = trap.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });

    let fake = FakeZoho::start(sample_cadences()).await.unwrap();
    // The config names the accounts server only: the API domain comes from the token answer.
    let yaml = format!(
        "orgs:\n  - name: acme\n    client_id: \"{}\"\n    client_secret: \"{CLIENT_SECRET}\"\n    refresh_token: \"{REFRESH_TOKEN}\"\n    accounts_url: {}\n",
        fake_zoho::CLIENT_ID,
        fake.url()
    );
    assert!(!yaml.contains("api_domain"));
    let config = Config::parse(&yaml).unwrap();

    for foreign in [
        trap_url.clone(),
        format!("https://{}", trap_url.trim_start_matches("http://")),
        "https://www.zohoapis.com.evil.example".to_owned(),
        "https://evil.example/www.zohoapis.com".to_owned(),
        "https://www.zohoapis.com@evil.example".to_owned(),
    ] {
        // A fresh collector each time: a refusal pauses that org's token requests.
        let (state, mut collectors) = collectors(&config);
        let collector = collectors.remove(0);
        fake.push_fault(Route::Token, Fault::TokenApiDomain(foreign.clone()));
        let cadence_calls = fake.calls(Route::Cadences);
        let err = collector.collect_once().await.unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("not a Zoho API host over https"),
            "{foreign}: {message}"
        );
        assert_eq!(fake.calls(Route::Cadences), cadence_calls, "{foreign}");
        let text = scrape(&state);
        assert_eq!(
            sum(
                &text,
                "zoho_crm_api_errors_total",
                &["endpoint=\"token\"", "error=\"untrusted_api_domain\""]
            ),
            1.0,
            "{foreign}: {text}"
        );
        assert_eq!(value(&text, "zoho_crm_up{org=\"acme\"}"), Some(0.0));
        assert_no_secret("the metrics after a refused api_domain", &text);
    }
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the access token was sent to the foreign domain"
    );
    trap_task.abort();
}
