//! How a call to Zoho fails: [`ZohoError`], which carries the [`Endpoint`] it is about and gives
//! the bounded `error` label of `zoho_crm_api_errors_total` ([`ZohoError::metric_label`]).

use crate::metrics::labels::Endpoint;
use crate::support::label_values::is_label_safe;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ZohoError {
    #[error("{endpoint} request timed out")]
    Timeout { endpoint: Endpoint },
    #[error("{endpoint} request failed without an answer: {detail}")]
    Connect { endpoint: Endpoint, detail: String },
    #[error("{endpoint} answered HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Api {
        endpoint: Endpoint,
        status: u16,
        code: Option<String>,
        message: String,
    },
    #[error("token request refused by Zoho: {code}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    TokenRefused {
        code: String,
        description: Option<String>,
    },
    #[error("token requests paused: {reason}")]
    TokenPaused { reason: String },
    #[error("token answer names api_domain {domain:?}, which is not a Zoho API host over https; set api_domain in the config to override")]
    UntrustedApiDomain { domain: String },
    #[error("cannot decode {endpoint} answer: {detail}")]
    Decode { endpoint: Endpoint, detail: String },
    #[error("{endpoint} answer exceeds the limit of {limit} bytes (max_response_bytes)")]
    TooLarge { endpoint: Endpoint, limit: u64 },
    #[error("Zoho asked to wait (Retry-After) beyond this collection's deadline")]
    RetryAfter { endpoint: Endpoint },
    #[error("collection deadline passed")]
    Deadline,
}

impl ZohoError {
    /// The endpoint the failed call was for; `None` for a deadline that passed between calls.
    pub(crate) fn endpoint(&self) -> Option<Endpoint> {
        match self {
            ZohoError::Timeout { endpoint }
            | ZohoError::Connect { endpoint, .. }
            | ZohoError::Api { endpoint, .. }
            | ZohoError::Decode { endpoint, .. }
            | ZohoError::TooLarge { endpoint, .. }
            | ZohoError::RetryAfter { endpoint } => Some(*endpoint),
            ZohoError::TokenRefused { .. }
            | ZohoError::TokenPaused { .. }
            | ZohoError::UntrustedApiDomain { .. } => Some(Endpoint::Token),
            ZohoError::Deadline => None,
        }
    }

    /// The bounded `error` label: Zoho's code as sent, or the failure class.
    pub fn metric_label(&self) -> String {
        match self {
            ZohoError::Timeout { .. } => "timeout".to_owned(),
            ZohoError::Connect { .. } => "connect".to_owned(),
            ZohoError::Api { status, code, .. } => Self::api_label(*status, code.as_deref()),
            ZohoError::TokenRefused { code, .. } if is_label_safe(code) => code.clone(),
            ZohoError::TokenRefused { .. } => "token_refused".to_owned(),
            ZohoError::TokenPaused { .. } => "token_paused".to_owned(),
            ZohoError::UntrustedApiDomain { .. } => "untrusted_api_domain".to_owned(),
            ZohoError::Decode { .. } => "decode".to_owned(),
            ZohoError::TooLarge { .. } => "too_large".to_owned(),
            ZohoError::RetryAfter { .. } => "retry_after".to_owned(),
            ZohoError::Deadline => "deadline".to_owned(),
        }
    }

    /// The label of an error answer, or of one item of an answer (`records_count` reports
    /// errors per id): Zoho's code when it is short and plain, else `http_<status>`.
    pub(crate) fn api_label(status: u16, code: Option<&str>) -> String {
        code.filter(|c| is_label_safe(c))
            .map_or_else(|| format!("http_{status}"), str::to_owned)
    }

    /// Whether another attempt of the same request may succeed.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            ZohoError::Timeout { .. } | ZohoError::Connect { .. } => true,
            ZohoError::Api { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// A 401 that means the access token is expired or was killed: refresh and retry once.
    pub(crate) fn is_token_rejected(&self) -> bool {
        matches!(self, ZohoError::Api { status: 401, code: Some(code), .. }
            if code == "INVALID_TOKEN" || code == "AUTHENTICATION_FAILURE")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_labels() {
        let api = |status, code: Option<&str>| ZohoError::Api {
            endpoint: Endpoint::Cadences,
            status,
            code: code.map(str::to_owned),
            message: String::new(),
        };
        assert_eq!(
            api(401, Some("INVALID_TOKEN")).metric_label(),
            "INVALID_TOKEN"
        );
        assert_eq!(api(502, None).metric_label(), "http_502");
        assert_eq!(api(500, Some("<html>\n")).metric_label(), "http_500");
        let refused = ZohoError::TokenRefused {
            code: "Access Denied".into(),
            description: None,
        };
        assert_eq!(refused.metric_label(), "Access Denied");
        assert!(api(401, Some("AUTHENTICATION_FAILURE")).is_token_rejected());
        assert!(!api(401, Some("OAUTH_SCOPE_MISMATCH")).is_token_rejected());
        assert!(api(429, Some("TOO_MANY_REQUESTS")).is_transient());
        assert!(api(503, None).is_transient());
        assert!(!api(403, Some("NO_PERMISSION")).is_transient());
        assert!(!refused.is_transient());
    }

    #[test]
    fn item_errors_get_bounded_labels() {
        assert_eq!(
            ZohoError::api_label(207, Some("INVALID_DATA")),
            "INVALID_DATA"
        );
        assert_eq!(ZohoError::api_label(207, Some("<b>boom</b>\n")), "http_207");
    }

    #[test]
    fn errors_name_their_endpoint() {
        let timeout = ZohoError::Timeout {
            endpoint: Endpoint::RecordsCount,
        };
        assert_eq!(timeout.to_string(), "records_count request timed out");
        assert_eq!(timeout.endpoint(), Some(Endpoint::RecordsCount));
        let refused = ZohoError::TokenRefused {
            code: "invalid_code".into(),
            description: None,
        };
        assert_eq!(refused.endpoint(), Some(Endpoint::Token));
        assert_eq!(ZohoError::Deadline.endpoint(), None);
    }
}
