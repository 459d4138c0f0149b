//! TLS for the HTTP endpoint: `tls_server_config` of `--web.config.file` turned into a rustls
//! `ServerConfig`, with exporter-toolkit's names for client-auth policies, versions, cipher suites
//! and curves.
//!
//! - [`settings`]: the keys, checked by exporter-toolkit's rules into `TlsSettings`.
//! - [`names`]: Go's names and what each is in rustls.
//! - [`verifiers`]: the client-certificate policies rustls has no verifier for.
//! - here: [`server_config`], which reads the certificate, key and CA files each time it is
//!   called, which is how the web config applies a renewed certificate without a restart.
//!
//! rustls with the ring provider only; nothing in the build links OpenSSL. Errors name the
//! setting and the file, and never quote key material.

pub(crate) mod names;
pub(crate) mod settings;
pub(crate) mod verifiers;

use crate::web::tls::names::{ClientAuth, TlsVersion};
use crate::web::tls::settings::{Pem, TlsSettings};
use crate::web::tls::verifiers::ClientCertPolicy;
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// A TLS setting that cannot be used: `field` is the web config key (`tls_server_config.cert_file`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub(crate) struct TlsError {
    field: String,
    message: String,
}

fn error(field: &str, message: impl Into<String>) -> TlsError {
    TlsError {
        field: format!("tls_server_config.{field}"),
        message: message.into(),
    }
}

impl Pem {
    /// The setting's name and, for a file, its path: `cert_file /etc/x/cert.pem`.
    fn describe(&self, file_field: &str, inline_field: &str) -> (String, String) {
        match self {
            Pem::File(path) => (file_field.to_owned(), format!("{}: ", path.display())),
            Pem::Inline(_) => (inline_field.to_owned(), String::new()),
        }
    }

    fn read(&self, file_field: &str) -> Result<Vec<u8>, TlsError> {
        match self {
            Pem::File(path) => std::fs::read(path)
                .map_err(|err| error(file_field, format!("cannot read {}: {err}", path.display()))),
            Pem::Inline(text) => Ok(text.expose().as_bytes().to_vec()),
        }
    }
}

/// Reads the files and builds the server config. Called at start-up and whenever a watched file
/// changes.
pub(crate) fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !settings.cipher_suites.is_empty() {
        let tls13 = provider
            .cipher_suites
            .iter()
            .filter(|suite| matches!(suite, SupportedCipherSuite::Tls13(_)));
        provider.cipher_suites = settings
            .cipher_suites
            .iter()
            .chain(tls13)
            .copied()
            .collect();
    }
    if !settings.curves.is_empty() {
        let all: &[&'static dyn SupportedKxGroup] = rustls::crypto::ring::ALL_KX_GROUPS;
        provider.kx_groups = settings
            .curves
            .iter()
            .filter_map(|name| all.iter().find(|group| group.name() == *name).copied())
            .collect();
    }
    let provider = Arc::new(provider);

    let certs = certificates(&settings.cert, "cert_file", "cert")?;
    let key = private_key(&settings.key)?;
    let verifier = client_verifier(settings, &provider)?;

    let versions: Vec<&'static SupportedProtocolVersion> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (settings.min_version..=settings.max_version).contains(v))
    .map(|(_, version)| version)
    .collect();
    let builder = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|err| {
            error(
                "cipher_suites",
                format!("no cipher suite left for the TLS versions allowed: {err}"),
            )
        })?;
    let mut config = builder
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|err| match err {
            rustls::Error::InconsistentKeys(_) => error(
                "key_file",
                "the private key does not belong to the certificate (cert_file)",
            ),
            other => error(
                "key_file",
                format!("unusable private key or certificate: {other}"),
            ),
        })?;
    // HTTP/1.1 only; clients that offer h2 offer http/1.1 too.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate of a PEM source, each checked to be X.509 that webpki can parse.
fn certificates(
    pem: &Pem,
    file_field: &str,
    inline_field: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = pem.read(file_field)?;
    let (field, prefix) = pem.describe(file_field, inline_field);
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| error(&field, format!("{prefix}not valid PEM: {err}")))?;
    if certs.is_empty() {
        return Err(error(
            &field,
            format!("{prefix}no certificate found (expected PEM blocks \"-----BEGIN CERTIFICATE-----\")"),
        ));
    }
    for (n, cert) in certs.iter().enumerate() {
        if let Err(err) = webpki::EndEntityCert::try_from(cert) {
            return Err(error(
                &field,
                format!(
                    "{prefix}certificate {} is not a valid X.509 certificate: {err}",
                    n + 1
                ),
            ));
        }
    }
    Ok(certs)
}

/// The private key. PEM errors are reported without detail: their text could quote key lines.
fn private_key(pem: &Pem) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = pem.read("key_file")?;
    let (field, prefix) = pem.describe("key_file", "key");
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|err| {
        let what = match err {
            rustls_pki_types::pem::Error::NoItemsFound => "no private key found (expected PEM \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\")",
            _ => "not a valid PEM private key",
        };
        error(&field, format!("{prefix}{what}"))
    })
}

/// The client-certificate policy of `client_auth_type`, with `client_allowed_sans` on top.
fn client_verifier(
    settings: &TlsSettings,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let auth = settings.client_auth;
    if auth == ClientAuth::NoClientCert {
        return Ok(WebPkiClientVerifier::no_client_auth());
    }
    let roots = client_roots(settings)?;
    let chain = if auth.verifies() {
        let mut builder =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots.clone()), provider.clone());
        if !auth.mandatory() {
            builder = builder.allow_unauthenticated();
        }
        let verifier = builder
            .build()
            .map_err(|err| error("client_ca_file", format!("{err}")))?;
        if settings.client_allowed_sans.is_none() {
            return Ok(verifier); // rustls's own verifier does it all
        }
        Some(verifier)
    } else {
        None
    };
    Ok(Arc::new(ClientCertPolicy {
        chain,
        mandatory: auth.mandatory(),
        hints: roots.subjects(),
        provider: provider.clone(),
        allowed_sans: settings.client_allowed_sans.clone(),
    }))
}

/// The client CA's certificates, as trust anchors.
fn client_roots(settings: &TlsSettings) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let Some(pem) = &settings.client_ca else {
        return Ok(roots);
    };
    let (field, prefix) = pem.describe("client_ca_file", "client_ca");
    let certs = certificates(pem, "client_ca_file", "client_ca")?;
    for (n, cert) in certs.into_iter().enumerate() {
        roots.add(cert).map_err(|err| {
            let message = format!(
                "{prefix}certificate {} cannot be a trust anchor: {err}",
                n + 1
            );
            error(&field, message)
        })?;
    }
    Ok(roots)
}
