//! exporter-toolkit's (that is, Go's `crypto/tls`) names for client-auth policies, TLS versions,
//! cipher suites and curves, and what each is in rustls with the ring provider.

use rustls::crypto::ring::cipher_suite as ring_suites;
use rustls::{NamedGroup, SupportedCipherSuite};

/// `client_auth_type`, as Go's `crypto/tls` names the policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ClientAuth {
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
    pub(crate) fn parse(name: &str) -> Option<ClientAuth> {
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

    /// Whether a certificate sent is verified against the client CA.
    pub(crate) fn verifies(self) -> bool {
        matches!(
            self,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        )
    }

    /// Whether a client must send a certificate.
    pub(crate) fn mandatory(self) -> bool {
        matches!(
            self,
            ClientAuth::RequireAnyClientCert | ClientAuth::RequireAndVerifyClientCert
        )
    }
}

/// `min_version` / `max_version`. rustls speaks TLS 1.2 and 1.3 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TlsVersion {
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// The version Go names `name`, and whether it had to be raised to TLS 1.2 (`TLS10`,
    /// `TLS11`).
    pub(crate) fn parse(name: &str) -> Option<(TlsVersion, bool)> {
        match name {
            "TLS13" => Some((TlsVersion::Tls13, false)),
            "TLS12" => Some((TlsVersion::Tls12, false)),
            "TLS10" | "TLS11" => Some((TlsVersion::Tls12, true)),
            _ => None,
        }
    }
}

/// The outcome of looking up a `cipher_suites` entry.
pub(crate) enum CipherSuiteName {
    /// A TLS 1.2 suite rustls implements.
    Tls12(SupportedCipherSuite),
    /// A TLS 1.3 suite: Go ignores these in `cipher_suites`, and so does the exporter.
    Tls13,
    /// A suite Go knows but rustls does not implement (CBC, RSA key exchange, 3DES).
    Unsupported,
    Unknown,
}

/// The TLS 1.2 suites rustls implements, by their Go names. Go also accepts the ChaCha20 names
/// without the `_SHA256` suffix.
const TLS12_SUITES: [(&str, SupportedCipherSuite); 8] = [
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        ring_suites::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        ring_suites::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        ring_suites::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        ring_suites::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        ring_suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        ring_suites::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ring_suites::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        ring_suites::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// The TLS 1.3 suites, which Go does not let `cipher_suites` restrict.
const TLS13_NAMES: [&str; 3] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Suites Go knows and rustls does not implement.
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

/// Looks up a Go cipher suite name (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`).
pub(crate) fn cipher_suite(name: &str) -> CipherSuiteName {
    if let Some((_, suite)) = TLS12_SUITES.iter().find(|(go, _)| *go == name) {
        CipherSuiteName::Tls12(*suite)
    } else if TLS13_NAMES.contains(&name) {
        CipherSuiteName::Tls13
    } else if GO_ONLY.contains(&name) {
        CipherSuiteName::Unsupported
    } else {
        CipherSuiteName::Unknown
    }
}

/// Looks up a Go curve name (`CurveP256`, `CurveP384`, `CurveP521`, `X25519`); `Err(true)` when Go
/// knows it but ring does not (P-521).
pub(crate) fn curve(name: &str) -> Result<NamedGroup, bool> {
    match name {
        "X25519" => Ok(NamedGroup::X25519),
        "CurveP256" => Ok(NamedGroup::secp256r1),
        "CurveP384" => Ok(NamedGroup::secp384r1),
        "CurveP521" => Err(true),
        _ => Err(false),
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

    #[test]
    fn every_tls12_suite_rustls_offers_has_its_go_name() {
        // The table names each suite of the provider; a suite added to rustls would show here.
        for suite in rustls::crypto::ring::ALL_CIPHER_SUITES {
            if let SupportedCipherSuite::Tls12(_) = suite {
                let named = TLS12_SUITES.iter().any(|(_, s)| s.suite() == suite.suite());
                assert!(named, "{:?} has no Go name", suite.suite());
            }
        }
        for (go, suite) in TLS12_SUITES {
            let rustls_name = suite.suite().as_str().unwrap_or_default();
            assert!(
                go == rustls_name || format!("{go}_SHA256") == rustls_name,
                "{go} is {rustls_name}"
            );
        }
    }
}
