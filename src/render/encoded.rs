//! The `/metrics` body: the cadence part, encoded once per change of state, plus the live
//! part, encoded per scrape.
//!
//! The cadence metrics change only when a collection or a side pass finishes, and at 10,000
//! cadences they are most of the body. So [`EncodedCadences::encode`] writes them once in both
//! formats (OpenMetrics 1.0.0 and Prometheus text 0.0.4) with prometheus-client's own encoders,
//! and gzips each. A scrape then only encodes the small live part ([`crate::metrics::live`]) and
//! sends both parts, the cadence part shared and never copied. For gzip the two parts are two
//! gzip members: RFC 1952 allows a file of several members and every Prometheus-compatible
//! client reads them as one stream.

use crate::render::families::CadenceSource;
use crate::render::gzip::{gzip_with, GzipWriter, CADENCE_GZIP_LEVEL, LIVE_GZIP_LEVEL};
use crate::render::negotiate::Format;
use crate::render::plain::{PlainPart, EAGER_PLAIN_MAX};
use bytes::Bytes;
use prometheus_client::registry::Registry;
use std::sync::Mutex;

/// The cadence part of the exposition, in both formats, plain and gzipped.
#[derive(Debug, Default)]
pub(crate) struct EncodedCadences {
    openmetrics: PlainPart,
    text: PlainPart,
    openmetrics_gzip: Bytes,
    text_gzip: Bytes,
}

impl EncodedCadences {
    pub(crate) fn encode(source: CadenceSource) -> EncodedCadences {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(source));
        // One format at a time, each plain buffer dropped once gzipped, so that an encoding
        // never holds more than one plain copy.
        let (text, text_gzip) = encode_cadence_part(&registry, Format::Text);
        let (openmetrics, openmetrics_gzip) = encode_cadence_part(&registry, Format::OpenMetrics);
        crate::support::malloc::release_freed();
        EncodedCadences {
            openmetrics,
            text,
            openmetrics_gzip,
            text_gzip,
        }
    }

    /// The plain part of `format`, for the tests of its memory behaviour.
    #[cfg(test)]
    pub(crate) fn plain_part(&self, format: Format) -> &PlainPart {
        match format {
            Format::OpenMetrics => &self.openmetrics,
            Format::Text => &self.text,
        }
    }

    /// One part of a scrape body; a plain part is shared with the scrapes in flight.
    pub(crate) fn part(&self, format: Format, gzipped: bool) -> Bytes {
        match (format, gzipped) {
            (Format::OpenMetrics, false) => self.openmetrics.bytes(),
            (Format::OpenMetrics, true) => self.openmetrics_gzip.clone(),
            (Format::Text, false) => self.text.bytes(),
            (Format::Text, true) => self.text_gzip.clone(),
        }
    }
}

fn encode_cadence_part(registry: &Registry, format: Format) -> (PlainPart, Bytes) {
    // Deflated as it is written: at 10,000 cadences the plain text (11 MiB) never exists whole
    // during an encoding; a copy is kept only while it is small enough to keep plain.
    let mut gzip = GzipWriter::new(CADENCE_GZIP_LEVEL, EAGER_PLAIN_MAX);
    match format {
        Format::OpenMetrics => {
            prometheus_client::encoding::text::encode_registry(&mut gzip, registry)
        }
        Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut gzip, registry),
    }
    .expect("writing to a GzipWriter cannot fail");
    let (plain, gzip) = gzip.finish();
    (PlainPart::new(plain, &gzip), gzip)
}

/// Encodes the live registry in `format`, closing OpenMetrics with `# EOF`.
fn encode_live(live: &Registry, format: Format) -> String {
    let mut out = String::with_capacity(8 * 1024);
    match format {
        Format::OpenMetrics => {
            prometheus_client::encoding::text::encode(&mut out, live)
                .expect("writing to a String cannot fail");
        }
        Format::Text => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, live)
                .expect("writing to a String cannot fail");
        }
    }
    out
}

/// A scrape body as its two parts: the pre-encoded cadence part, shared and not copied (at
/// 10,000 cadences it is megabytes, and every concurrent scrape would otherwise hold its own
/// copy), and the live part encoded now. Plain or gzipped, the parts concatenated are the body.
pub(crate) fn scrape_parts(
    cadences: &EncodedCadences,
    live: &Registry,
    live_gzip: &LiveGzip,
    format: Format,
    gzipped: bool,
) -> [Bytes; 2] {
    let cadence_part = cadences.part(format, gzipped);
    let live_part = encode_live(live, format);
    let live_part = if gzipped {
        live_gzip.gzip(format, live_part)
    } else {
        Bytes::from(live_part)
    };
    [cadence_part, live_part]
}

/// The gzip member of the last live part gzipped, per format. Between collections the live part
/// is the same text from scrape to scrape (the process metrics change at most once a second), and
/// gzipping it was most of a gzip scrape's cost; a scrape whose live text equals the last one
/// sends the same member. Never stale: the member is reused only for the very same text.
#[derive(Debug, Default)]
pub(crate) struct LiveGzip {
    last: Mutex<[Option<(String, Bytes)>; 2]>,
}

impl LiveGzip {
    fn gzip(&self, format: Format, text: String) -> Bytes {
        let slot = match format {
            Format::OpenMetrics => 0,
            Format::Text => 1,
        };
        if let Some((last_text, member)) = &self.last.lock().expect("live gzip lock")[slot] {
            if *last_text == text {
                return member.clone();
            }
        }
        let member = gzip_with(text.as_bytes(), LIVE_GZIP_LEVEL);
        self.last.lock().expect("live gzip lock")[slot] = Some((text, member.clone()));
        member
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_live_part_equal_to_the_last_one_is_sent_as_the_same_gzip_member() {
        use prometheus_client::metrics::counter::Counter;
        let mut live = Registry::default();
        let requests = Counter::<u64>::default();
        live.register("requests", "Requests", requests.clone());
        let cache = LiveGzip::default();
        let cadences = EncodedCadences::default();
        let live_member = |format| scrape_parts(&cadences, &live, &cache, format, true)[1].clone();
        let inflate = |member: &Bytes| {
            let mut text = String::new();
            flate2::read::GzDecoder::new(&member[..])
                .read_to_string(&mut text)
                .unwrap();
            text
        };

        let first = live_member(Format::Text);
        let again = live_member(Format::Text);
        assert_eq!(first.as_ptr(), again.as_ptr(), "same text, same member");
        assert!(inflate(&first).contains("requests_total 0\n"));

        requests.inc();
        let changed = live_member(Format::Text);
        assert_ne!(first.as_ptr(), changed.as_ptr());
        assert!(
            inflate(&changed).contains("requests_total 1\n"),
            "never stale"
        );

        let openmetrics = live_member(Format::OpenMetrics);
        assert!(inflate(&openmetrics).ends_with("# EOF\n"));
        let text_again = live_member(Format::Text);
        assert_eq!(
            changed.as_ptr(),
            text_again.as_ptr(),
            "each format keeps its own"
        );
    }
}
