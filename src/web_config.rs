//! `--web.config.file`: TLS, basic auth, extra response headers and a request rate limit, in the
//! format of the Prometheus exporter-toolkit, so a file written for node_exporter works here.
//!
//! Unknown keys, unreadable files and unusable certificates are errors that name the setting and
//! the file; start-up stops on them. Like exporter-toolkit, the file is looked at again for every
//! connection and every request: each use compares the file's and the certificate files'
//! metadata (inode, size, change times) with what was loaded, and re-reads everything when one
//! changed, so a renewed certificate or a removed user applies without a restart. While the file
//! on disk is broken the endpoint fails closed: TLS handshakes are refused and plain-HTTP requests
//! answer 500, and the error is logged once per change. Whether TLS is on at all is decided at
//! start-up, as exporter-toolkit does.
//!
//! Basic auth checks bcrypt hashes. A bcrypt costs tens of milliseconds by design, so successful
//! verifications are remembered under a SHA-256 of user, hash and password (never the password
//! itself), and only one bcrypt runs at a time. For an unknown user a bcrypt of the users' cost is
//! computed all the same, so the answer time does not tell which users exist.

use crate::file_stamp::{stamp, Stamps};
use crate::secret::Secret;
use crate::tls::{self, ClientAuth, Pem, TlsSettings, TlsVersion};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("cannot read web config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("web config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The headers `http_server_config.headers` may set, and the values allowed where exporter-toolkit
/// restricts them (an empty list allows any value).
const CONFIGURABLE_HEADERS: [(&str, &[&str]); 5] = [
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// Remembered successful verifications; beyond this many the memory starts over.
const VERIFIED_CAPACITY: usize = 1024;
/// Longest a request waits for its turn at bcrypt before it is answered 503.
const BCRYPT_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    basic_auth_users: Option<BTreeMap<String, String>>,
    rate_limit: Option<RawRateLimit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    cipher_suites: Option<Vec<String>>,
    curve_preferences: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    prefer_server_cipher_suites: Option<bool>,
    client_allowed_sans: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    burst: Option<u32>,
    interval: Option<String>,
}

/// exporter-toolkit's `rate_limit`: at most `burst` requests at once, refilled one per `interval`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub burst: u32,
    pub interval: Duration,
}

/// What a valid file says, before any certificate is read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WebSettings {
    pub tls: Option<TlsSettings>,
    /// User name to bcrypt hash.
    pub users: BTreeMap<String, Secret>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub rate_limit: Option<RateLimit>,
    /// Settings accepted but without effect here, to be logged.
    pub warnings: Vec<String>,
}

impl WebSettings {
    /// Parses and validates the file's text. Relative paths are taken from `dir`, the file's
    /// directory, as exporter-toolkit does.
    pub fn parse(text: &str, dir: &Path) -> Result<WebSettings, String> {
        let deserializer = serde_yaml_ng::Deserializer::from_str(text);
        // An empty file (or one of comments) is a valid file that sets nothing.
        let raw: Option<RawWebConfig> =
            serde_path_to_error::deserialize(deserializer).map_err(crate::path_error_message)?;
        let raw = raw.unwrap_or_default();
        let mut warnings = Vec::new();

        let tls = match raw.tls_server_config {
            Some(raw_tls) => tls_settings(raw_tls, dir, &mut warnings)?,
            None => None,
        };

        let mut users = BTreeMap::new();
        for (user, hash) in raw.basic_auth_users.unwrap_or_default() {
            if user.contains(':') {
                return Err(format!(
                    "basic_auth_users: user name {user:?} contains ':', which basic auth cannot carry"
                ));
            }
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(format!(
                    "basic_auth_users.{user}: not a bcrypt hash (make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)"
                ));
            }
            users.insert(user, Secret::new(hash));
        }

        let mut headers = Vec::new();
        let http = raw.http_server_config.unwrap_or_default();
        if http.http2 == Some(true) {
            warnings
                .push("http_server_config.http2: HTTP/2 is not served; HTTP/1.1 only".to_owned());
        }
        for (name, value) in http.headers.unwrap_or_default() {
            let Some((canonical, allowed)) = CONFIGURABLE_HEADERS
                .iter()
                .find(|(known, _)| known.eq_ignore_ascii_case(&name))
            else {
                return Err(format!(
                    "http_server_config.headers: HTTP header {name:?} can not be configured (allowed: {})",
                    CONFIGURABLE_HEADERS.map(|(n, _)| n).join(", ")
                ));
            };
            if !allowed.is_empty() && !allowed.iter().any(|v| v.eq_ignore_ascii_case(&value)) {
                return Err(format!(
                    "http_server_config.headers: invalid value for {canonical}: expected one of {allowed:?}, got {value:?}"
                ));
            }
            let value = HeaderValue::from_str(&value).map_err(|_| {
                format!("http_server_config.headers.{canonical}: not a valid header value")
            })?;
            let name = HeaderName::from_bytes(canonical.to_ascii_lowercase().as_bytes())
                .expect("the configurable header names are valid");
            headers.push((name, value));
        }

        let rate_limit = match raw.rate_limit {
            None => None,
            Some(RawRateLimit { burst, interval }) => {
                let interval = match interval.as_deref().map(str::trim) {
                    None | Some("") | Some("0") | Some("0s") => Duration::ZERO,
                    Some(text) => humantime::parse_duration(text).map_err(|err| {
                        format!("rate_limit.interval: invalid duration {text:?}: {err}")
                    })?,
                };
                if interval.is_zero() {
                    None
                } else {
                    let burst = burst.unwrap_or(0);
                    if burst == 0 {
                        return Err(
                            "rate_limit.burst: must be at least 1 when an interval is set"
                                .to_owned(),
                        );
                    }
                    Some(RateLimit { burst, interval })
                }
            }
        };

        if tls.is_none() && !users.is_empty() {
            warnings.push(
                "basic_auth_users without tls_server_config: passwords cross the network in clear text"
                    .to_owned(),
            );
        }
        Ok(WebSettings {
            tls,
            users,
            headers,
            rate_limit,
            warnings,
        })
    }

    /// The certificate, key and CA files, which are watched for changes besides the file itself.
    fn files(&self) -> Vec<PathBuf> {
        let Some(tls) = &self.tls else {
            return Vec::new();
        };
        [Some(&tls.cert), Some(&tls.key), tls.client_ca.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|pem| match pem {
                Pem::File(path) => Some(path.clone()),
                Pem::Inline(_) => None,
            })
            .collect()
    }
}

fn nonempty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn tls_settings(
    raw: RawTls,
    dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<Option<TlsSettings>, String> {
    let field = |name: &str| format!("tls_server_config.{name}");
    let cert_file = nonempty(raw.cert_file);
    let key_file = nonempty(raw.key_file);
    let client_ca_file = nonempty(raw.client_ca_file);
    let cert = nonempty(raw.cert);
    let key = nonempty(raw.key).map(Secret::new);
    let client_ca = nonempty(raw.client_ca);
    let client_auth_type = nonempty(raw.client_auth_type);
    // exporter-toolkit's rule: any of these turns TLS on (and then cert and key are required).
    let enabled = cert_file.is_some()
        || key_file.is_some()
        || client_ca_file.is_some()
        || cert.is_some()
        || key.is_some()
        || client_ca.is_some()
        || client_auth_type.is_some();
    if !enabled {
        return Ok(None);
    }
    let resolve = |path: String| crate::config::relative_to(dir, path);
    let cert = match (cert_file, cert) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{}: give cert_file or cert, not both",
                field("cert_file")
            ))
        }
        (Some(path), None) => Pem::File(resolve(path)),
        (None, Some(text)) => Pem::Inline(Secret::new(text)),
        (None, None) => {
            return Err(format!(
                "{}: missing one of cert or cert_file",
                field("cert_file")
            ))
        }
    };
    let key = match (key_file, key) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{}: give key_file or key, not both",
                field("key_file")
            ))
        }
        (Some(path), None) => Pem::File(resolve(path)),
        (None, Some(text)) => Pem::Inline(text),
        (None, None) => {
            return Err(format!(
                "{}: missing one of key or key_file",
                field("key_file")
            ))
        }
    };
    let client_ca = match (client_ca_file, client_ca) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{}: give client_ca_file or client_ca, not both",
                field("client_ca_file")
            ))
        }
        (Some(path), None) => Some(Pem::File(resolve(path))),
        (None, Some(text)) => Some(Pem::Inline(Secret::new(text))),
        (None, None) => None,
    };
    let name = client_auth_type.unwrap_or_default();
    let client_auth = ClientAuth::parse(name.trim()).ok_or_else(|| {
        format!(
            "{}: invalid ClientAuth {name:?}; expected NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert",
            field("client_auth_type")
        )
    })?;
    if client_ca.is_some() && client_auth == ClientAuth::NoClientCert {
        return Err(format!(
            "{}: client CA's have been configured without a Client Auth Policy (set client_auth_type)",
            field("client_ca_file")
        ));
    }
    if client_ca.is_none()
        && matches!(
            client_auth,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        )
    {
        return Err(format!(
            "{}: client_auth_type {name} needs client_ca_file (or client_ca) to verify client certificates against",
            field("client_ca_file")
        ));
    }

    let version = |key: &str,
                   value: Option<String>,
                   default: TlsVersion|
     -> Result<(TlsVersion, bool), String> {
        match value.as_deref().map(str::trim) {
            None | Some("") => Ok((default, false)),
            Some("TLS13") => Ok((TlsVersion::Tls13, false)),
            Some("TLS12") => Ok((TlsVersion::Tls12, false)),
            Some("TLS10") | Some("TLS11") => Ok((TlsVersion::Tls12, true)),
            Some(other) => Err(format!(
                "{}: unknown TLS version: {other} (expected TLS10, TLS11, TLS12 or TLS13)",
                field(key)
            )),
        }
    };
    let (min_version, min_raised) = version("min_version", raw.min_version, TlsVersion::Tls12)?;
    if min_raised {
        warnings.push(format!(
            "{}: TLS 1.0 and 1.1 are not offered; the minimum is TLS12",
            field("min_version")
        ));
    }
    let (max_version, max_too_low) = version("max_version", raw.max_version, TlsVersion::Tls13)?;
    if max_too_low {
        return Err(format!(
            "{}: TLS 1.0 and 1.1 are not supported (rustls speaks TLS12 and TLS13)",
            field("max_version")
        ));
    }
    if min_version > max_version {
        return Err(format!(
            "{}: min_version is above max_version",
            field("min_version")
        ));
    }

    let mut cipher_suites = Vec::new();
    for name in raw.cipher_suites.unwrap_or_default() {
        match tls::cipher_suite(name.trim()) {
            tls::CipherSuiteName::Tls12(suite) => cipher_suites.push(suite),
            tls::CipherSuiteName::Tls13 => warnings.push(format!(
                "{}: {name} is a TLS 1.3 suite; TLS 1.3 suites are not configurable (as in Go)",
                field("cipher_suites")
            )),
            tls::CipherSuiteName::Unsupported => {
                return Err(format!(
                    "{}: {name} is not supported (rustls offers only ECDHE with AES-GCM or ChaCha20-Poly1305)",
                    field("cipher_suites")
                ))
            }
            tls::CipherSuiteName::Unknown => {
                return Err(format!("{}: unknown cipher: {name}", field("cipher_suites")))
            }
        }
    }
    let mut curves = Vec::new();
    for name in raw.curve_preferences.unwrap_or_default() {
        match tls::curve(name.trim()) {
            Ok(group) => curves.push(group),
            Err(true) => {
                return Err(format!(
                    "{}: {name} is not supported (X25519, CurveP256 and CurveP384 are)",
                    field("curve_preferences")
                ))
            }
            Err(false) => {
                return Err(format!(
                    "{}: unknown curve: {name}",
                    field("curve_preferences")
                ))
            }
        }
    }
    let client_allowed_sans = match raw.client_allowed_sans {
        None => None,
        Some(sans) => {
            if !matches!(
                client_auth,
                ClientAuth::RequireAnyClientCert | ClientAuth::RequireAndVerifyClientCert
            ) {
                return Err(format!(
                    "{}: client_allowed_sans requires client_auth_type to be one of RequireAnyClientCert or RequireAndVerifyClientCert",
                    field("client_allowed_sans")
                ));
            }
            if let Some(email) = sans.iter().find(|s| s.contains('@') && !s.contains(':')) {
                return Err(format!(
                    "{}: {email:?}: e-mail SANs are not supported (DNS names, IP addresses and URIs are)",
                    field("client_allowed_sans")
                ));
            }
            Some(sans)
        }
    };
    if raw.prefer_server_cipher_suites.is_some() {
        // Deprecated in Go as well, where it has no effect since Go 1.17.
        warnings.push(format!(
            "{}: ignored, as in current Go",
            field("prefer_server_cipher_suites")
        ));
    }
    Ok(Some(TlsSettings {
        cert,
        key,
        client_ca,
        client_auth,
        min_version,
        max_version,
        cipher_suites,
        curves,
        client_allowed_sans,
    }))
}

/// A loaded, usable web config: the TLS server config built from the files, and the rest.
#[derive(Debug)]
pub struct Loaded {
    pub settings: WebSettings,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The highest cost among the users' hashes: what an unknown user's check costs too.
    bcrypt_cost: u32,
}

/// Reads the file and everything it names. The stamps are taken before each read, so a file
/// that changes while being read is seen as changed at the next look.
fn read_all(path: &Path) -> (Stamps, Result<Loaded, WebConfigError>) {
    let mut stamps = vec![(path.to_owned(), stamp(path))];
    let invalid = |message: String| WebConfigError::Invalid {
        path: path.to_owned(),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(source) => {
            return (
                stamps,
                Err(WebConfigError::Read {
                    path: path.to_owned(),
                    source,
                }),
            )
        }
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let settings = match WebSettings::parse(&text, dir) {
        Ok(settings) => settings,
        Err(message) => return (stamps, Err(invalid(message))),
    };
    stamps.extend(settings.files().into_iter().map(|file| {
        let stamp = stamp(&file);
        (file, stamp)
    }));
    let tls = match settings.tls.as_ref().map(tls::server_config).transpose() {
        Ok(tls) => tls,
        Err(err) => return (stamps, Err(invalid(err.to_string()))),
    };
    let bcrypt_cost = settings
        .users
        .values()
        .filter_map(|hash| hash.expose().parse::<bcrypt::HashParts>().ok())
        .map(|parts| parts.get_cost())
        .max()
        .unwrap_or(bcrypt::DEFAULT_COST);
    (
        stamps,
        Ok(Loaded {
            settings,
            tls,
            bcrypt_cost,
        }),
    )
}

/// The web config in force, shared by the accept loop and the request guard; cheap to clone.
#[derive(Clone)]
pub struct WebConfig {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Decided at start-up and kept until restart, as in exporter-toolkit.
    tls: bool,
    /// A std mutex: held for a few `stat` calls, and for a re-read only when a file changed;
    /// never across an await.
    current: Mutex<Current>,
    verified: Mutex<HashSet<[u8; 32]>>,
    /// One bcrypt at a time: they are CPU-bound by design, and this bounds what a flood of
    /// wrong passwords can cost.
    bcrypt_turn: tokio::sync::Semaphore,
    bucket: Mutex<Option<(RateLimit, Bucket)>>,
}

struct Current {
    stamps: Stamps,
    result: Result<Arc<Loaded>, Arc<str>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl WebConfig {
    /// Loads the file and every file it names; any problem is an error naming it.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let (stamps, result) = read_all(path);
        let loaded = result?;
        for warning in &loaded.settings.warnings {
            tracing::warn!(file = %path.display(), "web config: {warning}");
        }
        let tls = loaded.tls.is_some();
        Ok(WebConfig {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                tls,
                current: Mutex::new(Current {
                    stamps,
                    result: Ok(Arc::new(loaded)),
                }),
                verified: Mutex::new(HashSet::new()),
                bcrypt_turn: tokio::sync::Semaphore::new(1),
                bucket: Mutex::new(None),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Whether connections are TLS (decided at start-up).
    pub fn tls_enabled(&self) -> bool {
        self.inner.tls
    }

    /// Whether basic auth is on in the file as now loaded.
    pub fn basic_auth_enabled(&self) -> bool {
        self.current()
            .is_ok_and(|loaded| !loaded.settings.users.is_empty())
    }

    /// The config in force, re-read first if the file or a file it names changed. An error
    /// means the file on disk is unusable; callers refuse service until it is fixed.
    pub fn current(&self) -> Result<Arc<Loaded>, Arc<str>> {
        let inner = &*self.inner;
        let mut current = inner.current.lock().expect("web config lock");
        if crate::file_stamp::changed(&current.stamps) {
            let (stamps, result) = read_all(&inner.path);
            current.stamps = stamps;
            let result = result.map_err(|err| err.to_string()).and_then(|loaded| {
                match (inner.tls, loaded.tls.is_some()) {
                    (true, false) => Err(format!(
                        "web config file {}: tls_server_config was removed; TLS cannot be switched off without a restart",
                        inner.path.display()
                    )),
                    (false, true) => {
                        tracing::warn!(file = %inner.path.display(), "web config: tls_server_config added; TLS starts with the next restart");
                        Ok(loaded)
                    }
                    _ => Ok(loaded),
                }
            });
            match result {
                Ok(loaded) => {
                    for warning in &loaded.settings.warnings {
                        tracing::warn!(file = %inner.path.display(), "web config: {warning}");
                    }
                    tracing::info!(file = %inner.path.display(), "web config reloaded");
                    inner.verified.lock().expect("verified lock").clear();
                    current.result = Ok(Arc::new(loaded));
                }
                Err(message) => {
                    tracing::error!(error = %message, "web config reload failed; refusing connections until it is fixed");
                    current.result = Err(message.into());
                }
            }
        }
        current.result.clone()
    }

    /// The TLS server config for a new connection, or `None` when TLS is off.
    pub fn tls_config(&self) -> Option<Result<Arc<rustls::ServerConfig>, Arc<str>>> {
        if !self.inner.tls {
            return None;
        }
        Some(self.current().and_then(|loaded| {
            loaded
                .tls
                .clone()
                .ok_or_else(|| Arc::from("TLS is not configured"))
        }))
    }

    /// Takes a token from the `rate_limit` bucket; false when the request must be refused.
    fn admit(&self, limit: Option<RateLimit>) -> bool {
        let Some(limit) = limit else {
            return true;
        };
        let mut bucket = self.inner.bucket.lock().expect("bucket lock");
        let now = Instant::now();
        let entry = match bucket.as_mut() {
            Some((spec, bucket)) if *spec == limit => bucket,
            _ => {
                &mut bucket
                    .insert((
                        limit,
                        Bucket {
                            tokens: f64::from(limit.burst),
                            refilled: now,
                        },
                    ))
                    .1
            }
        };
        let refill =
            now.duration_since(entry.refilled).as_secs_f64() / limit.interval.as_secs_f64();
        entry.tokens = (entry.tokens + refill).min(f64::from(limit.burst));
        entry.refilled = now;
        if entry.tokens >= 1.0 {
            entry.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Checks `Authorization: Basic` against the users; `Err` carries the refusal to send.
    async fn authorize(&self, loaded: &Loaded, headers: &HeaderMap) -> Result<(), Response> {
        let unauthorized = || {
            let mut response = refusal(StatusCode::UNAUTHORIZED, "Unauthorized\n");
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
            response
        };
        let Some((user, password)) = basic_credentials(headers) else {
            return Err(unauthorized());
        };
        let hash = loaded
            .settings
            .users
            .get(&user)
            .map(|hash| hash.expose().to_owned());
        let key = hash
            .as_deref()
            .map(|hash| verification_key(&user, hash, &password));
        if key.is_some_and(|key| {
            self.inner
                .verified
                .lock()
                .expect("verified lock")
                .contains(&key)
        }) {
            return Ok(());
        }
        let turn =
            tokio::time::timeout(BCRYPT_QUEUE_TIMEOUT, self.inner.bcrypt_turn.acquire()).await;
        let Ok(Ok(_turn)) = turn else {
            return Err(refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy checking passwords\n",
            ));
        };
        let cost = loaded.bcrypt_cost;
        let matches = tokio::task::spawn_blocking(move || match hash {
            Some(hash) => bcrypt::verify(&password, &hash).unwrap_or(false),
            None => {
                // Unknown user: the same work as a check, with nothing to match.
                let _ = bcrypt::hash(&password, cost);
                false
            }
        })
        .await
        .unwrap_or(false);
        if let (true, Some(key)) = (matches, key) {
            let mut verified = self.inner.verified.lock().expect("verified lock");
            if verified.len() >= VERIFIED_CAPACITY {
                verified.clear();
            }
            verified.insert(key);
            Ok(())
        } else {
            Err(unauthorized())
        }
    }
}

/// User and password of an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, Vec<u8>)> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let split = value.iter().position(|b| *b == b' ')?;
    let (scheme, encoded) = value.split_at(split);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim_ascii())
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

/// SHA-256 over length-prefixed user, hash and password: what a successful check is remembered
/// by, so the memory holds no password.
fn verification_key(user: &str, hash: &str, password: &[u8]) -> [u8; 32] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [user.as_bytes(), hash.as_bytes(), password] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part);
    }
    let mut key = [0; 32];
    key.copy_from_slice(context.finish().as_ref());
    key
}

/// An answer made here rather than by the router, with the headers the router adds to its own.
fn refusal(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, text).into_response();
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The request guard for every route: the rate limit, basic auth and the extra headers of the
/// file in force. Applied around the whole router, so 404s and the status page are protected too.
pub async fn guard(State(web): State<WebConfig>, request: Request, next: Next) -> Response {
    let loaded =
        match web.current() {
            Ok(loaded) => loaded,
            Err(_) => return refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error: the web config file is unusable; see the exporter's log\n",
            ),
        };
    let mut response = if !web.admit(loaded.settings.rate_limit) {
        refusal(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n")
    } else if loaded.settings.users.is_empty() {
        next.run(request).await
    } else {
        match web.authorize(&loaded, request.headers()).await {
            Ok(()) => next.run(request).await,
            Err(refusal) => refusal,
        }
    };
    // As in exporter-toolkit, a header the handler sets itself (the status page's stricter
    // Content-Security-Policy) wins over the configured one.
    let headers = response.headers_mut();
    for (name, value) in &loaded.settings.headers {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebSettings, String> {
        WebSettings::parse(text, Path::new("/etc/zce"))
    }

    #[test]
    fn empty_file_sets_nothing() {
        assert_eq!(parse("").unwrap(), WebSettings::default());
        assert_eq!(parse("# nothing\n").unwrap(), WebSettings::default());
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = parse("tls_server_config:\n  certfile: x\n").unwrap_err();
        assert!(
            e.contains("tls_server_config") && e.contains("certfile"),
            "{e}"
        );
        let e = parse("basic_auth: {}\n").unwrap_err();
        assert!(e.contains("unknown field `basic_auth`"), "{e}");
    }

    #[test]
    fn tls_paths_are_relative_to_the_file() {
        let s = parse("tls_server_config:\n  cert_file: a.crt\n  key_file: /abs/a.key\n").unwrap();
        let tls = s.tls.unwrap();
        assert_eq!(tls.cert, Pem::File(PathBuf::from("/etc/zce/a.crt")));
        assert_eq!(tls.key, Pem::File(PathBuf::from("/abs/a.key")));
        assert_eq!(tls.min_version, TlsVersion::Tls12);
        assert_eq!(tls.max_version, TlsVersion::Tls13);
    }

    #[test]
    fn toolkit_rules() {
        let e = parse("tls_server_config:\n  cert_file: a\n").unwrap_err();
        assert!(e.contains("missing one of key or key_file"), "{e}");
        let e = parse("tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert\n  cert_file: a\n  key_file: b\n").unwrap_err();
        assert!(e.contains("needs client_ca_file"), "{e}");
        let e = parse("tls_server_config:\n  client_ca_file: ca\n  cert_file: a\n  key_file: b\n")
            .unwrap_err();
        assert!(e.contains("without a Client Auth Policy"), "{e}");
        let e = parse(
            "tls_server_config:\n  client_auth_type: Sometimes\n  cert_file: a\n  key_file: b\n",
        )
        .unwrap_err();
        assert!(e.contains("invalid ClientAuth"), "{e}");
        let e = parse("tls_server_config:\n  min_version: TLS14\n  cert_file: a\n  key_file: b\n")
            .unwrap_err();
        assert!(e.contains("unknown TLS version: TLS14"), "{e}");
        let e = parse("tls_server_config:\n  max_version: TLS11\n  cert_file: a\n  key_file: b\n")
            .unwrap_err();
        assert!(e.contains("max_version"), "{e}");
        let e = parse("tls_server_config:\n  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n  cert_file: a\n  key_file: b\n").unwrap_err();
        assert!(e.contains("not supported"), "{e}");
        let e = parse(
            "tls_server_config:\n  curve_preferences: [CurveP521]\n  cert_file: a\n  key_file: b\n",
        )
        .unwrap_err();
        assert!(e.contains("CurveP521 is not supported"), "{e}");
        let e = parse(
            "tls_server_config:\n  client_allowed_sans: [a]\n  cert_file: a\n  key_file: b\n",
        )
        .unwrap_err();
        assert!(e.contains("requires client_auth_type"), "{e}");
        let s = parse("tls_server_config:\n  min_version: TLS10\n  cert_file: a\n  key_file: b\n  prefer_server_cipher_suites: true\n").unwrap();
        assert_eq!(s.tls.unwrap().min_version, TlsVersion::Tls12);
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
    }

    #[test]
    fn headers_follow_the_toolkit_allow_list() {
        let s = parse("http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n").unwrap();
        assert_eq!(s.headers.len(), 2);
        for (bad, why) in [
            ("Content-Type: text/html", "can not be configured"),
            ("Set-Cookie: a=b", "can not be configured"),
            ("X-Frame-Options: allow-from x", "invalid value"),
            ("X-Content-Type-Options: sniff", "invalid value"),
        ] {
            let e = parse(&format!("http_server_config:\n  headers:\n    {bad}\n")).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn users_need_bcrypt_hashes() {
        let e = parse("basic_auth_users:\n  alice: plaintext-password\n").unwrap_err();
        assert!(
            e.contains("basic_auth_users.alice: not a bcrypt hash"),
            "{e}"
        );
        assert!(!e.contains("plaintext-password"), "{e}");
        let hash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";
        let s = parse(&format!("basic_auth_users:\n  alice: {hash}\n")).unwrap();
        assert_eq!(s.users["alice"].expose(), hash);
        assert!(!format!("{s:?}").contains(hash));
    }

    #[test]
    fn rate_limit() {
        let s = parse("rate_limit:\n  burst: 5\n  interval: 1s\n").unwrap();
        assert_eq!(
            s.rate_limit,
            Some(RateLimit {
                burst: 5,
                interval: Duration::from_secs(1)
            })
        );
        assert_eq!(parse("rate_limit:\n  burst: 5\n").unwrap().rate_limit, None);
        assert!(parse("rate_limit:\n  interval: 1s\n").is_err());
    }

    #[test]
    fn basic_credentials_parse() {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic YWxpY2U6cGE6c3M="),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("alice".to_owned(), b"pa:ss".to_vec()))
        );
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer YWxpY2U6cGFzcw=="),
        );
        assert_eq!(basic_credentials(&headers), None);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("basic !!!"));
        assert_eq!(basic_credentials(&headers), None);
    }
}
