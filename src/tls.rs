//! TLS for the HTTP endpoint: turns `tls_server_config` of `--web.config.file` into a rustls
//! `ServerConfig`, with exporter-toolkit's names for client-auth policies, versions, cipher suites
//! and curves.
//!
//! rustls with the ring provider only; nothing in the build links OpenSSL. [`server_config`]
//! reads the certificate, key and CA files each time it is called, which is how
//! [`crate::web_config`] applies a renewed certificate without a restart. Errors name the setting
//! and the file, and never quote key material.

use crate::secret::Secret;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, NamedGroup, RootCertStore,
    ServerConfig, SignatureScheme, SupportedCipherSuite, SupportedProtocolVersion,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// A TLS setting that cannot be used: `field` is the web config key (`tls_server_config.cert_file`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TlsError {
    pub field: String,
    pub message: String,
}

fn error(field: &str, message: impl Into<String>) -> TlsError {
    TlsError {
        field: format!("tls_server_config.{field}"),
        message: message.into(),
    }
}

/// `client_auth_type`, as Go's `crypto/tls` names the policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    #[default]
    NoClientCert,
    /// Asks for a certificate, accepts none or any (unverified).
    RequestClientCert,
    /// Requires a certificate, any (unverified).
    RequireAnyClientCert,
    /// Verifies a certificate against `client_ca_file` when one is sent.
    VerifyClientCertIfGiven,
    /// Requires a certificate signed by `client_ca_file`.
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    pub fn parse(name: &str) -> Option<ClientAuth> {
        Some(match name {
            "" | "NoClientCert" => ClientAuth::NoClientCert,
            "RequestClientCert" => ClientAuth::RequestClientCert,
            // exporter-toolkit keeps `RequireClientCert` as an old spelling.
            "RequireAnyClientCert" | "RequireClientCert" => ClientAuth::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
            _ => return None,
        })
    }

    fn verifies(self) -> bool {
        matches!(
            self,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        )
    }

    fn mandatory(self) -> bool {
        matches!(
            self,
            ClientAuth::RequireAnyClientCert | ClientAuth::RequireAndVerifyClientCert
        )
    }
}

/// `min_version` / `max_version`. rustls speaks TLS 1.2 and 1.3 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// Where PEM text comes from: a file (re-read on every build) or inline in the web config.
#[derive(Debug, Clone, PartialEq)]
pub enum Pem {
    File(PathBuf),
    /// Inline `cert`, `key` or `client_ca`. A [`Secret`] so that a `key` never shows in `Debug`.
    Inline(Secret),
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

/// The validated `tls_server_config`, before any file is read.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsSettings {
    pub cert: Pem,
    pub key: Pem,
    pub client_ca: Option<Pem>,
    pub client_auth: ClientAuth,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
    /// TLS 1.2 suites in preference order; empty means rustls's defaults. TLS 1.3 suites are
    /// never restricted, as in Go.
    pub cipher_suites: Vec<SupportedCipherSuite>,
    /// Key-exchange groups in preference order; empty means rustls's defaults.
    pub curves: Vec<NamedGroup>,
    /// When set, a client certificate must carry one of these SANs (DNS name, IP or URI).
    pub client_allowed_sans: Option<Vec<String>>,
}

/// The outcome of looking up a `cipher_suites` entry.
pub enum CipherSuiteName {
    /// A TLS 1.2 suite rustls implements.
    Tls12(SupportedCipherSuite),
    /// A TLS 1.3 suite: Go ignores these in `cipher_suites`, and so does the exporter.
    Tls13,
    /// A suite Go knows but rustls does not implement (CBC, RSA key exchange, 3DES).
    Unsupported,
    Unknown,
}

/// Looks up a Go cipher suite name (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`).
pub fn cipher_suite(name: &str) -> CipherSuiteName {
    if matches!(
        name,
        "TLS_AES_128_GCM_SHA256" | "TLS_AES_256_GCM_SHA384" | "TLS_CHACHA20_POLY1305_SHA256"
    ) {
        return CipherSuiteName::Tls13;
    }
    // Go also accepts the ChaCha20 names without the `_SHA256` suffix.
    let canonical = match name {
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => {
            format!("{name}_SHA256")
        }
        other => other.to_owned(),
    };
    let found = rustls::crypto::ring::ALL_CIPHER_SUITES
        .iter()
        .find(|suite| {
            matches!(suite, SupportedCipherSuite::Tls12(_))
                && format!("{:?}", suite.suite()) == canonical
        })
        .copied();
    if let Some(suite) = found {
        return CipherSuiteName::Tls12(suite);
    }
    const GO_ONLY: [&str; 14] = [
        "TLS_RSA_WITH_RC4_128_SHA",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA256",
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    ];
    if GO_ONLY.contains(&name) {
        CipherSuiteName::Unsupported
    } else {
        CipherSuiteName::Unknown
    }
}

/// Looks up a Go curve name (`CurveP256`, `CurveP384`, `CurveP521`, `X25519`); `Err(true)` when Go
/// knows it but ring does not (P-521).
pub fn curve(name: &str) -> Result<NamedGroup, bool> {
    match name {
        "X25519" => Ok(NamedGroup::X25519),
        "CurveP256" => Ok(NamedGroup::secp256r1),
        "CurveP384" => Ok(NamedGroup::secp384r1),
        "CurveP521" => Err(true),
        _ => Err(false),
    }
}

/// Reads the files and builds the server config. Called at start-up and whenever a watched file
/// changes.
pub fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
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

fn client_verifier(
    settings: &TlsSettings,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let auth = settings.client_auth;
    let mut roots = RootCertStore::empty();
    if let Some(pem) = &settings.client_ca {
        let (field, prefix) = pem.describe("client_ca_file", "client_ca");
        for (n, cert) in certificates(pem, "client_ca_file", "client_ca")?
            .into_iter()
            .enumerate()
        {
            roots.add(cert).map_err(|err| {
                error(
                    &field,
                    format!(
                        "{prefix}certificate {} cannot be a trust anchor: {err}",
                        n + 1
                    ),
                )
            })?;
        }
    }
    let sans = settings.client_allowed_sans.clone();
    if auth.verifies() {
        let mut builder =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots.clone()), provider.clone());
        if !auth.mandatory() {
            builder = builder.allow_unauthenticated();
        }
        let inner = builder
            .build()
            .map_err(|err| error("client_ca_file", format!("{err}")))?;
        return Ok(match sans {
            Some(sans) => Arc::new(AllowedSans { inner, sans }),
            None => inner,
        });
    }
    if auth == ClientAuth::NoClientCert {
        return Ok(WebPkiClientVerifier::no_client_auth());
    }
    let any: Arc<dyn ClientCertVerifier> = Arc::new(AnyClientCert {
        mandatory: auth.mandatory(),
        hints: roots.subjects(),
        provider: provider.clone(),
    });
    Ok(match sans {
        Some(sans) => Arc::new(AllowedSans { inner: any, sans }),
        None => any,
    })
}

/// `RequestClientCert` and `RequireAnyClientCert`: a certificate is asked for and its signature
/// over the handshake checked (the client holds the key), but no chain is verified.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    hints: Vec<DistinguishedName>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        webpki::EndEntityCert::try_from(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `client_allowed_sans`: after the inner policy accepts a certificate, it must also name one of
/// the allowed SANs.
#[derive(Debug)]
struct AllowedSans {
    inner: Arc<dyn ClientCertVerifier>,
    sans: Vec<String>,
}

/// Whether the certificate names one of `allowed` as a DNS name, IP address or URI SAN (exact
/// match, as exporter-toolkit compares them).
pub fn has_allowed_san(cert: &CertificateDer<'_>, allowed: &[String]) -> bool {
    let Ok(parsed) = webpki::EndEntityCert::try_from(cert) else {
        return false;
    };
    allowed.iter().any(|san| {
        parsed.valid_dns_names().any(|name| name == san)
            || parsed.valid_uri_names().any(|uri| uri == san)
            || san.parse::<IpAddr>().is_ok_and(|ip| {
                parsed
                    .verify_is_valid_for_subject_name(&ServerName::IpAddress(ip.into()))
                    .is_ok()
            })
    })
}

impl ClientCertVerifier for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if has_allowed_san(end_entity, &self.sans) {
            Ok(verified)
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_names() {
        assert!(matches!(
            cipher_suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            CipherSuiteName::Tls12(_)
        ));
        assert!(matches!(
            cipher_suite("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"),
            CipherSuiteName::Tls12(_)
        ));
        assert!(matches!(
            cipher_suite("TLS_AES_128_GCM_SHA256"),
            CipherSuiteName::Tls13
        ));
        assert!(matches!(
            cipher_suite("TLS_RSA_WITH_AES_128_CBC_SHA"),
            CipherSuiteName::Unsupported
        ));
        assert!(matches!(
            cipher_suite("TLS_MADE_UP"),
            CipherSuiteName::Unknown
        ));
        assert!(curve("X25519").is_ok());
        assert!(curve("CurveP384").is_ok());
        assert_eq!(curve("CurveP521").err(), Some(true));
        assert_eq!(curve("P256").err(), Some(false));
        assert_eq!(
            ClientAuth::parse("RequireClientCert"),
            Some(ClientAuth::RequireAnyClientCert)
        );
        assert_eq!(ClientAuth::parse(""), Some(ClientAuth::NoClientCert));
        assert_eq!(ClientAuth::parse("requireandverifyclientcert"), None);
    }
}
