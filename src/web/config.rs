//! `--web.config.file`: TLS, basic auth, extra response headers and a request rate limit, in the
//! format of the Prometheus exporter-toolkit, so a file written for node_exporter works here.
//!
//! This module reads the file's text into [`WebSettings`]; [`crate::web::reload`] keeps the file
//! in force and re-reads it when it changes; [`crate::web::auth`] applies it to each request.
//! Unknown keys, unreadable files and unusable certificates are errors that name the setting and
//! the file; start-up stops on them.

use crate::support::secret::Secret;
use crate::web::tls::settings::{Pem, RawTls, TlsSettings};
use axum::http::{HeaderName, HeaderValue};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
pub(crate) struct RateLimit {
    pub(crate) burst: u32,
    pub(crate) interval: Duration,
}

/// What a valid file says, before any certificate is read.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct WebSettings {
    pub(crate) tls: Option<TlsSettings>,
    /// User name to bcrypt hash.
    pub(crate) users: BTreeMap<String, Secret>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) rate_limit: Option<RateLimit>,
    /// Settings accepted but without effect here, to be logged.
    pub(crate) warnings: Vec<String>,
}

impl WebSettings {
    /// Parses and validates the file's text. Relative paths are taken from `dir`, the file's
    /// directory, as exporter-toolkit does.
    pub(crate) fn parse(text: &str, dir: &Path) -> Result<WebSettings, String> {
        let deserializer = serde_yaml_ng::Deserializer::from_str(text);
        // An empty file (or one of comments) is a valid file that sets nothing.
        let raw: Option<RawWebConfig> = serde_path_to_error::deserialize(deserializer)
            .map_err(crate::support::path_error_message)?;
        let raw = raw.unwrap_or_default();
        let mut warnings = Vec::new();
        let tls = match raw.tls_server_config {
            Some(raw_tls) => TlsSettings::from_raw(raw_tls, dir, &mut warnings)?,
            None => None,
        };
        let users = users(raw.basic_auth_users.unwrap_or_default())?;
        let headers = headers(raw.http_server_config.unwrap_or_default(), &mut warnings)?;
        let rate_limit = raw.rate_limit.map(rate_limit).transpose()?.flatten();
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
    pub(crate) fn files(&self) -> Vec<PathBuf> {
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

/// `basic_auth_users`: names basic auth can carry, with bcrypt hashes.
fn users(raw: BTreeMap<String, String>) -> Result<BTreeMap<String, Secret>, String> {
    let mut users = BTreeMap::new();
    for (user, hash) in raw {
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
    Ok(users)
}

/// `http_server_config.headers`, as exporter-toolkit allows them.
fn headers(
    http: RawHttp,
    warnings: &mut Vec<String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    if http.http2 == Some(true) {
        warnings.push("http_server_config.http2: HTTP/2 is not served; HTTP/1.1 only".to_owned());
    }
    let mut headers = Vec::new();
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
    Ok(headers)
}

/// `rate_limit`; `None` when its interval is zero or unset, which turns it off.
fn rate_limit(RawRateLimit { burst, interval }: RawRateLimit) -> Result<Option<RateLimit>, String> {
    let interval = match interval.as_deref().map(str::trim) {
        None | Some("") | Some("0") | Some("0s") => return Ok(None),
        Some(text) => crate::config::raw::parse_duration("rate_limit.interval", text)
            .map_err(|err| err.to_string())?,
    };
    if interval.is_zero() {
        return Ok(None);
    }
    match burst.unwrap_or(0) {
        0 => Err("rate_limit.burst: must be at least 1 when an interval is set".to_owned()),
        burst => Ok(Some(RateLimit { burst, interval })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::tls::names::TlsVersion;

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

    /// Moved here from the security tests: the settings' fields are the crate's.
    #[test]
    fn debug_output_shows_no_key_and_no_hash() {
        let key = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";
        // Cost 4, bcrypt's minimum, keeps the test fast.
        let hash = bcrypt::hash("pw", 4).unwrap();
        let web = format!(
            "tls_server_config:\n  cert_file: a.crt\n  key: |\n{}basic_auth_users:\n  alice: {hash}\n",
            key.lines().map(|l| format!("    {l}\n")).collect::<String>()
        );
        let settings = WebSettings::parse(&web, Path::new("/")).unwrap();
        let debug = format!("{settings:?}");
        assert!(
            !debug.contains("MIGHAgEAMBMG") && !debug.contains(&hash),
            "{debug}"
        );
    }

    /// Moved here from the security tests: the docs' example and reference against the parser.
    #[test]
    fn docs_security_web_config_example_and_reference_match_the_parser() {
        use crate::web::tls::names::ClientAuth;
        let docs =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/security.md"))
                .unwrap();
        let section = &docs[docs.find("## The web config file").unwrap()..];
        let example = section
            .split("```yaml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap();
        let settings =
            WebSettings::parse(example, Path::new("/etc/zoho-cadences-exporter")).unwrap();
        let tls = settings.tls.unwrap();
        assert_eq!(tls.client_auth, ClientAuth::RequireAndVerifyClientCert);
        assert!(settings.users.contains_key("prometheus"));
        assert_eq!(settings.headers.len(), 1);

        // Every key the parser knows is in the reference table (serde lists them when refusing one).
        let reference = &section[section.find("### Reference").unwrap()..];
        let reference = &reference[..reference.find("\n### ").unwrap_or(reference.len())];
        for (prefix, probe) in [
            ("", "no_such_key: 1\n"),
            (
                "tls_server_config.",
                "tls_server_config:\n  no_such_key: 1\n",
            ),
            (
                "http_server_config.",
                "http_server_config:\n  no_such_key: 1\n",
            ),
            ("rate_limit.", "rate_limit:\n  no_such_key: 1\n"),
        ] {
            let err = WebSettings::parse(probe, Path::new("/")).unwrap_err();
            // "expected `a` or `b`", "expected one of `a`, `b`, `c`": the backticked names.
            let expected = err
                .split(", expected ")
                .nth(1)
                .unwrap_or_else(|| panic!("{err}"));
            for field in expected.split('`').skip(1).step_by(2) {
                // Top-level keys appear as the prefix of their own keys (`rate_limit.burst`).
                let documented = if prefix.is_empty() {
                    reference.contains(&format!("`{field}"))
                } else {
                    reference.contains(&format!("`{prefix}{field}`"))
                        || reference.contains(&format!("`{field}`"))
                };
                assert!(
                    documented,
                    "{prefix}{field} is not in the reference of docs/security.md"
                );
            }
        }
    }
}
