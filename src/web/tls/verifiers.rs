//! The client-certificate policies rustls has no verifier for, in one verifier
//! ([`ClientCertPolicy`]): Go's `RequestClientCert` and `RequireAnyClientCert` (a certificate is
//! asked for and its signature over the handshake checked, so the client holds the key, but no
//! chain is verified), and exporter-toolkit's `client_allowed_sans` on top of any policy.

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::net::IpAddr;
use std::sync::Arc;

#[derive(Debug)]
pub(crate) struct ClientCertPolicy {
    /// Verifies the chain against the client CA (rustls's own verifier); `None` accepts any
    /// certificate webpki can parse.
    pub(crate) chain: Option<Arc<dyn ClientCertVerifier>>,
    pub(crate) mandatory: bool,
    /// The client CA's subjects, sent as hints.
    pub(crate) hints: Vec<DistinguishedName>,
    pub(crate) provider: Arc<CryptoProvider>,
    /// When set, an accepted certificate must also name one of these SANs.
    pub(crate) allowed_sans: Option<Vec<String>>,
}

/// Whether the certificate names one of `allowed` as a DNS name, IP address or URI SAN (exact
/// match, as exporter-toolkit compares them).
fn has_allowed_san(cert: &CertificateDer<'_>, allowed: &[String]) -> bool {
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

/// rustls's check of a handshake signature of one TLS version.
type SignatureCheck = fn(
    &[u8],
    &CertificateDer<'_>,
    &DigitallySignedStruct,
    &WebPkiSupportedAlgorithms,
) -> Result<HandshakeSignatureValid, rustls::Error>;

impl ClientCertPolicy {
    /// The client's signature over the handshake, checked by `check` with the provider's
    /// algorithms: proof that the client holds the certificate's key.
    fn signature(
        &self,
        check: SignatureCheck,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        check(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
}

impl ClientCertVerifier for ClientCertPolicy {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = match &self.chain {
            Some(chain) => chain.verify_client_cert(end_entity, intermediates, now)?,
            None => {
                webpki::EndEntityCert::try_from(end_entity).map_err(|_| {
                    rustls::Error::InvalidCertificate(CertificateError::BadEncoding)
                })?;
                ClientCertVerified::assertion()
            }
        };
        match &self.allowed_sans {
            Some(sans) if !has_allowed_san(end_entity, sans) => Err(
                rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure),
            ),
            _ => Ok(verified),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let check = rustls::crypto::verify_tls12_signature;
        check(
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
        self.signature(rustls::crypto::verify_tls13_signature, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
