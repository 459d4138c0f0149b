//! `tls_server_config` of the web config: the keys as serde reads them ([`RawTls`]), checked by
//! exporter-toolkit's rules into [`TlsSettings`], before any file is read. Errors name the key
//! (`tls_server_config.cert_file: ...`) and never quote key material.

use crate::config::raw::relative_to;
use crate::support::secret::Secret;
use crate::web::tls::names::{cipher_suite, curve, CipherSuiteName, ClientAuth, TlsVersion};
use rustls::{NamedGroup, SupportedCipherSuite};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `tls_server_config`, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
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

/// Where PEM text comes from: a file (re-read on every build) or inline in the web config.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pem {
    File(PathBuf),
    /// Inline `cert`, `key` or `client_ca`. A [`Secret`] so that a `key` never shows in `Debug`.
    Inline(Secret),
}

/// The validated `tls_server_config`, before any file is read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TlsSettings {
    pub(crate) cert: Pem,
    pub(crate) key: Pem,
    pub(crate) client_ca: Option<Pem>,
    pub(crate) client_auth: ClientAuth,
    pub(crate) min_version: TlsVersion,
    pub(crate) max_version: TlsVersion,
    /// TLS 1.2 suites in preference order; empty means rustls's defaults. TLS 1.3 suites are
    /// never restricted, as in Go.
    pub(crate) cipher_suites: Vec<SupportedCipherSuite>,
    /// Key-exchange groups in preference order; empty means rustls's defaults.
    pub(crate) curves: Vec<NamedGroup>,
    /// When set, a client certificate must carry one of these SANs (DNS name, IP or URI).
    pub(crate) client_allowed_sans: Option<Vec<String>>,
}

/// The full name of a key: `tls_server_config.<key>`.
fn field(key: &str) -> String {
    format!("tls_server_config.{key}")
}

fn nonempty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

impl TlsSettings {
    /// Checks `raw`; `None` when it turns TLS off. Relative paths are taken from `dir`, the web
    /// config file's directory; settings accepted without effect add to `warnings`.
    pub(crate) fn from_raw(
        raw: RawTls,
        dir: &Path,
        warnings: &mut Vec<String>,
    ) -> Result<Option<TlsSettings>, String> {
        let client_auth_type = nonempty(raw.client_auth_type);
        let pems = [
            (
                nonempty(raw.cert_file),
                nonempty(raw.cert),
                ("cert_file", "cert"),
            ),
            (
                nonempty(raw.key_file),
                nonempty(raw.key),
                ("key_file", "key"),
            ),
            (
                nonempty(raw.client_ca_file),
                nonempty(raw.client_ca),
                ("client_ca_file", "client_ca"),
            ),
        ];
        // exporter-toolkit's rule: any of these turns TLS on (and then cert and key are required).
        let enabled = client_auth_type.is_some()
            || pems
                .iter()
                .any(|(file, inline, _)| file.is_some() || inline.is_some());
        if !enabled {
            return Ok(None);
        }
        let [cert, key, client_ca] =
            pems.map(|(file, inline, names)| pem(file, inline, names, dir));
        let (cert, key, client_ca) = (required(cert?, "cert")?, required(key?, "key")?, client_ca?);
        let name = client_auth_type.unwrap_or_default();
        let client_auth = client_auth(&name, client_ca.is_some())?;
        let (min_version, max_version) = versions(raw.min_version, raw.max_version, warnings)?;
        let settings = TlsSettings {
            cert,
            key,
            client_ca,
            client_auth,
            min_version,
            max_version,
            cipher_suites: cipher_suites(raw.cipher_suites.unwrap_or_default(), warnings)?,
            curves: curves(raw.curve_preferences.unwrap_or_default())?,
            client_allowed_sans: client_allowed_sans(raw.client_allowed_sans, client_auth)?,
        };
        if raw.prefer_server_cipher_suites.is_some() {
            // Deprecated in Go as well, where it has no effect since Go 1.17.
            let key = field("prefer_server_cipher_suites");
            warnings.push(format!("{key}: ignored, as in current Go"));
        }
        Ok(Some(settings))
    }
}

/// A PEM given as a file (`cert_file`, relative to `dir`) or inline (`cert`), not both.
fn pem(
    file: Option<String>,
    inline: Option<String>,
    (file_key, inline_key): (&str, &str),
    dir: &Path,
) -> Result<Option<Pem>, String> {
    match (file, inline) {
        (Some(_), Some(_)) => Err(format!(
            "{}: give {file_key} or {inline_key}, not both",
            field(file_key)
        )),
        (Some(path), None) => Ok(Some(Pem::File(relative_to(dir, path)))),
        (None, Some(text)) => Ok(Some(Pem::Inline(Secret::new(text)))),
        (None, None) => Ok(None),
    }
}

/// The certificate or the key, which TLS cannot go without.
fn required(pem: Option<Pem>, inline_key: &str) -> Result<Pem, String> {
    pem.ok_or_else(|| {
        format!(
            "{}: missing one of {inline_key} or {inline_key}_file",
            field(&format!("{inline_key}_file"))
        )
    })
}

/// `client_auth_type`, checked against whether a client CA is given.
fn client_auth(name: &str, has_client_ca: bool) -> Result<ClientAuth, String> {
    let client_auth = ClientAuth::parse(name.trim()).ok_or_else(|| {
        format!(
            "{}: invalid ClientAuth {name:?}; expected NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert",
            field("client_auth_type")
        )
    })?;
    if has_client_ca && client_auth == ClientAuth::NoClientCert {
        return Err(format!(
            "{}: client CA's have been configured without a Client Auth Policy (set client_auth_type)",
            field("client_ca_file")
        ));
    }
    if !has_client_ca && client_auth.verifies() {
        return Err(format!(
            "{}: client_auth_type {name} needs client_ca_file (or client_ca) to verify client certificates against",
            field("client_ca_file")
        ));
    }
    Ok(client_auth)
}

/// `min_version` and `max_version`: TLS 1.0 and 1.1 are raised to 1.2 as a minimum (with a
/// warning) and refused as a maximum.
fn versions(
    min: Option<String>,
    max: Option<String>,
    warnings: &mut Vec<String>,
) -> Result<(TlsVersion, TlsVersion), String> {
    let version = |key: &str, value: Option<String>, default| match value.as_deref().map(str::trim)
    {
        None | Some("") => Ok((default, false)),
        Some(name) => TlsVersion::parse(name).ok_or_else(|| {
            format!(
                "{}: unknown TLS version: {name} (expected TLS10, TLS11, TLS12 or TLS13)",
                field(key)
            )
        }),
    };
    let (min_version, min_raised) = version("min_version", min, TlsVersion::Tls12)?;
    if min_raised {
        warnings.push(format!(
            "{}: TLS 1.0 and 1.1 are not offered; the minimum is TLS12",
            field("min_version")
        ));
    }
    let (max_version, max_too_low) = version("max_version", max, TlsVersion::Tls13)?;
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
    Ok((min_version, max_version))
}

fn cipher_suites(
    names: Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<Vec<SupportedCipherSuite>, String> {
    let key = field("cipher_suites");
    let mut suites = Vec::new();
    for name in names {
        match cipher_suite(name.trim()) {
            CipherSuiteName::Tls12(suite) => suites.push(suite),
            CipherSuiteName::Tls13 => warnings.push(format!(
                "{key}: {name} is a TLS 1.3 suite; TLS 1.3 suites are not configurable (as in Go)"
            )),
            CipherSuiteName::Unsupported => {
                return Err(format!(
                    "{key}: {name} is not supported (rustls offers only ECDHE with AES-GCM or ChaCha20-Poly1305)"
                ))
            }
            CipherSuiteName::Unknown => return Err(format!("{key}: unknown cipher: {name}")),
        }
    }
    Ok(suites)
}

fn curves(names: Vec<String>) -> Result<Vec<NamedGroup>, String> {
    let key = field("curve_preferences");
    names
        .iter()
        .map(|name| match curve(name.trim()) {
            Ok(group) => Ok(group),
            Err(true) => Err(format!(
                "{key}: {name} is not supported (X25519, CurveP256 and CurveP384 are)"
            )),
            Err(false) => Err(format!("{key}: unknown curve: {name}")),
        })
        .collect()
}

fn client_allowed_sans(
    sans: Option<Vec<String>>,
    client_auth: ClientAuth,
) -> Result<Option<Vec<String>>, String> {
    let Some(sans) = sans else {
        return Ok(None);
    };
    let key = field("client_allowed_sans");
    if !client_auth.mandatory() {
        return Err(format!(
            "{key}: client_allowed_sans requires client_auth_type to be one of RequireAnyClientCert or RequireAndVerifyClientCert"
        ));
    }
    if let Some(email) = sans.iter().find(|s| s.contains('@') && !s.contains(':')) {
        return Err(format!(
            "{key}: {email:?}: e-mail SANs are not supported (DNS names, IP addresses and URIs are)"
        ));
    }
    Ok(Some(sans))
}
