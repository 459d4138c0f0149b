//! Content negotiation: the exposition format from `Accept`, gzip from `Accept-Encoding`, both
//! read by the one parser of their comma-separated lists with q-values.

/// Content types of the two formats.
pub(crate) const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
pub(crate) const TEXT_CONTENT_TYPE: &str =
    prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The exposition formats: OpenMetrics 1.0.0 and Prometheus text 0.0.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    Text,
}

impl Format {
    /// Picks the format from an `Accept` header, as Prometheus negotiates it: OpenMetrics when
    /// the client lists `application/openmetrics-text` with a non-zero q, text otherwise.
    pub(crate) fn negotiate(accept: Option<&str>) -> Format {
        if accepts(accept, |media| {
            media.eq_ignore_ascii_case("application/openmetrics-text")
        }) {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Format::Text => TEXT_CONTENT_TYPE,
        }
    }
}

/// Whether `Accept-Encoding` admits gzip (listed with q > 0, or `*`).
pub(crate) fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accepts(accept_encoding, |coding| {
        coding.eq_ignore_ascii_case("gzip") || coding == "*"
    })
}

/// Whether a header listing `item;param;q=…` entries, separated by commas, holds an item that
/// `wanted` takes and whose q-value is not zero.
fn accepts(header: Option<&str>, wanted: impl Fn(&str) -> bool) -> bool {
    header.is_some_and(|value| {
        value.split(',').any(|part| {
            let mut params = part.split(';').map(str::trim);
            let item = params.next().unwrap_or_default();
            let refused = params.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            wanted(item) && !refused
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_the_accept_header() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(
            Format::negotiate(Some("text/plain;version=0.0.4")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::Text
        );
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(Format::negotiate(None), Format::Text);
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("deflate, gzip;q=0.5")));
        assert!(accepts_gzip(Some("*")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(None));
    }
}
