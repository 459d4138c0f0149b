//! The label sets of the exporter's metrics, typed: each set is a struct whose fields are the
//! label names, and the values the exporter chooses are enums ([`Endpoint`], [`StatusCode`],
//! [`RateLimitWindow`]), so a label key is spelled once and a value cannot be misspelled.
//!
//! The live metrics' sets derive `EncodeLabelSet` and own their values (`Arc<str>`, cheap to
//! clone per scrape). The cadence families, written once per collection for thousands of
//! cadences, borrow their values from the snapshot instead: [`label_set!`] declares those, since
//! the derive takes no lifetime, and cloning every cadence's id and name per series would cost an
//! allocation each.

use crate::support::label_values::OVERFLOW_LABEL;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use std::fmt::{self, Write as _};
use std::sync::Arc;

/// The Zoho endpoints the exporter calls: the `endpoint` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    Token,
    Cadences,
    RecordsCount,
    Analytics,
}

impl Endpoint {
    pub(crate) const ALL: [Endpoint; 4] = [
        Endpoint::Token,
        Endpoint::Cadences,
        Endpoint::RecordsCount,
        Endpoint::Analytics,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::Cadences => "cadences",
            Endpoint::RecordsCount => "records_count",
            Endpoint::Analytics => "analytics",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EncodeLabelValue for Endpoint {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
        encoder.write_str(self.as_str())
    }
}

/// The `status_code` label: the HTTP status Zoho answered, `none` when no answer came, and
/// `other` once an org has seen too many distinct values. Ordered as their text sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum StatusCode {
    Answered(u16),
    NoAnswer,
    Other,
}

impl EncodeLabelValue for StatusCode {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
        match self {
            StatusCode::Answered(status) => write!(encoder, "{status}"),
            StatusCode::NoAnswer => encoder.write_str("none"),
            StatusCode::Other => encoder.write_str(OVERFLOW_LABEL),
        }
    }
}

/// The `window` label of the rate-limit gauges: Zoho's `X-RATELIMIT-*` headers per request
/// window, `X-RATELIMIT-DAY-*` per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum RateLimitWindow {
    Day,
    RequestWindow,
}

impl EncodeLabelValue for RateLimitWindow {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
        encoder.write_str(match self {
            RateLimitWindow::Day => "day",
            RateLimitWindow::RequestWindow => "request_window",
        })
    }
}

/// No labels: metrics of the process as a whole.
#[derive(Debug, Clone, EncodeLabelSet)]
pub(crate) struct NoLabels {}

#[derive(Debug, Clone, EncodeLabelSet)]
pub(crate) struct OrgLabels {
    pub(crate) org: Arc<str>,
}

#[derive(Debug, Clone, EncodeLabelSet)]
pub(crate) struct EndpointLabels {
    pub(crate) org: Arc<str>,
    pub(crate) endpoint: Endpoint,
}

#[derive(Debug, Clone, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub(crate) org: Arc<str>,
    pub(crate) endpoint: Endpoint,
    pub(crate) status_code: StatusCode,
}

#[derive(Debug, Clone, EncodeLabelSet)]
pub(crate) struct ErrorLabels {
    pub(crate) org: Arc<str>,
    pub(crate) endpoint: Endpoint,
    pub(crate) error: Arc<str>,
}

#[derive(Debug, Clone, EncodeLabelSet)]
pub(crate) struct ModuleLabels {
    pub(crate) org: Arc<str>,
    pub(crate) module: Arc<str>,
}

#[derive(Debug, Clone, EncodeLabelSet)]
pub(crate) struct WindowLabels {
    pub(crate) org: Arc<str>,
    pub(crate) window: RateLimitWindow,
}

#[derive(Debug, Clone, EncodeLabelSet)]
pub(crate) struct BuildLabels {
    pub(crate) version: &'static str,
    pub(crate) revision: &'static str,
    pub(crate) branch: &'static str,
    pub(crate) rustversion: &'static str,
}

/// Declares a label set that borrows its values, for families with one series per cadence:
/// `label_set! { pub(crate) struct CadenceLabels<'a> { org: &'a str, id: &'a str } }` encodes
/// `org="…",id="…"`, in field order. Every field's type must be `Copy` and `EncodeLabelValue`.
macro_rules! label_set {
    ($(#[$meta:meta])* $vis:vis struct $name:ident<$lt:lifetime> { $($field:ident: $ty:ty),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name<$lt> {
            $(pub(crate) $field: $ty),+
        }

        impl prometheus_client::encoding::EncodeLabelSet for $name<'_> {
            fn encode(
                &self,
                encoder: &mut prometheus_client::encoding::LabelSetEncoder,
            ) -> std::fmt::Result {
                use prometheus_client::encoding::EncodeLabel as _;
                $((stringify!($field), self.$field).encode(encoder.encode_label())?;)+
                Ok(())
            }
        }
    };
}
pub(crate) use label_set;
