//! The live part of a scrape: each org's live series (`metrics::live::ORG_FAMILIES`: health,
//! API counters, latency histograms) encoded again only when that org's telemetry was written to
//! since its last encoding, and the process-wide series (reload status, build info, `process_*`)
//! encoded per scrape.
//!
//! At 1,000 orgs the per-org series are megabytes of text; between two API calls of an org a
//! scrape reuses its encoded pieces, so a scrape encodes only the orgs whose counters moved. A
//! scrape of every org sends the orgs' pieces joined once per change of any (`Latest`), then
//! the process-wide part, whose gzip member is reused while its text stays the same.

use crate::metrics::live::{build_info, process_registry, ORG_FAMILIES};
use crate::metrics::telemetry::{NamedTelemetry, OrgTelemetry, Telemetry};
use crate::render::gzip::{BodyPart, Deflated, LIVE_GZIP_LEVEL};
use crate::render::latest::Latest;
use crate::render::negotiate::Format;
use crate::render::parts::{encode_family, encode_part, join, Headers, OrgPart, Piece};
use bytes::Bytes;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// What telemetry's stamp is: (changes of the set of orgs, writes to any org).
type Stamp = (u64, u64);

/// The live part's encodings, kept between scrapes.
#[derive(Debug)]
pub(crate) struct LiveParts {
    telemetry: Arc<Telemetry>,
    process: Registry,
    process_gzip: LiveGzip,
    /// Each org's last encoding per format, with the generation of its telemetry it was made at.
    orgs: Mutex<BTreeMap<Arc<str>, Arc<OrgLive>>>,
    /// Every org's pieces joined, per format and gzip.
    joined: [Latest<Stamp, BodyPart>; 4],
    /// `zoho_crm_exporter_build_info` (and OpenMetrics' `# EOF`), per format.
    build_info: [OnceLock<Piece>; 2],
    /// Encodings of an org's live part so far (what the tests of reuse count).
    encodings: AtomicU64,
}

type OrgSlot = Mutex<Option<(u64, Arc<OrgPart>)>>;

#[derive(Debug, Default)]
struct OrgLive {
    formats: [OrgSlot; 2],
}

fn format_index(format: Format) -> usize {
    match format {
        Format::OpenMetrics => 0,
        Format::Text => 1,
    }
}

impl LiveParts {
    pub(crate) fn new(telemetry: &Arc<Telemetry>) -> LiveParts {
        LiveParts {
            telemetry: telemetry.clone(),
            process: process_registry(telemetry),
            process_gzip: LiveGzip::default(),
            orgs: Mutex::new(BTreeMap::new()),
            joined: Default::default(),
            build_info: Default::default(),
            encodings: AtomicU64::new(0),
        }
    }

    /// The live part of a scrape of every org: the orgs' series, then the process-wide ones.
    pub(crate) fn all(&self, format: Format, gzipped: bool, headers: &Headers) -> [BodyPart; 2] {
        let (orgs, stamp) = self.telemetry.orgs();
        let slot = &self.joined[format_index(format) * 2 + usize::from(gzipped)];
        let joined = slot.get(stamp, || {
            self.forget_others(&orgs);
            let parts = self.parts(&orgs, format, headers);
            let parts: Vec<&OrgPart> = parts.iter().map(|p| &**p).collect();
            join(&parts, gzipped)
        });
        [joined, self.process_part(format, gzipped)]
    }

    /// The live part of a scrape of the orgs named: their series (in name order, as in a scrape
    /// of every org), then the build info.
    pub(crate) fn some(
        &self,
        names: &[&str],
        format: Format,
        gzipped: bool,
        headers: &Headers,
    ) -> [BodyPart; 2] {
        let orgs = self.telemetry.named(names);
        let parts = self.parts(&orgs, format, headers);
        let parts: Vec<&OrgPart> = parts.iter().map(|p| &**p).collect();
        let build_info = self.build_info[format_index(format)].get_or_init(|| {
            let mut text = String::new();
            encode_family(build_info, &Arc::new(()), format, &mut text);
            if format == Format::OpenMetrics {
                text.push_str("# EOF\n");
            }
            Piece::of(&text)
        });
        let build_info = if gzipped {
            BodyPart::Deflated(build_info.deflated().clone())
        } else {
            let mut plain = Vec::new();
            build_info.write_plain(&mut plain);
            BodyPart::Plain(Bytes::from(plain))
        };
        [join(&parts, gzipped), build_info]
    }

    /// The orgs' parts in `format`, each encoded again only if its telemetry changed since.
    fn parts(
        &self,
        orgs: &[NamedTelemetry],
        format: Format,
        headers: &Headers,
    ) -> Vec<Arc<OrgPart>> {
        orgs.iter()
            .map(|(name, telemetry)| self.org_part(name, telemetry, format, headers))
            .collect()
    }

    fn org_part(
        &self,
        name: &Arc<str>,
        telemetry: &Arc<OrgTelemetry>,
        format: Format,
        headers: &Headers,
    ) -> Arc<OrgPart> {
        let org = {
            let mut orgs = self.orgs.lock().expect("live parts lock");
            orgs.entry(name.clone()).or_default().clone()
        };
        // Held while this one org is encoded: a scrape meanwhile shares the encoding.
        let mut slot = org.formats[format_index(format)]
            .lock()
            .expect("live parts lock");
        let generation = telemetry.generation();
        if let Some((made_at, part)) = &*slot {
            if *made_at == generation {
                return part.clone();
            }
        }
        let org: Arc<[NamedTelemetry]> = Arc::from([(name.clone(), telemetry.clone())]);
        // Only the deflate segments are kept, as for the cadence part: Prometheus asks for gzip,
        // and at 1,000 orgs the plain copies would be 8 MiB; a plain scrape inflates them.
        let part = telemetry.read_consistently(|| {
            Arc::new(encode_part(&ORG_FAMILIES, &org, format, false, headers))
        });
        self.encodings.fetch_add(1, Ordering::Relaxed);
        *slot = Some((generation, part.clone()));
        part
    }

    /// Drops the encodings of orgs no longer in `orgs` (removed by a reload).
    fn forget_others(&self, orgs: &[NamedTelemetry]) {
        let mut kept = self.orgs.lock().expect("live parts lock");
        kept.retain(|name, _| orgs.iter().any(|(org, _)| org == name));
    }

    /// The process-wide series, encoded now (closing OpenMetrics with `# EOF`).
    fn process_part(&self, format: Format, gzipped: bool) -> BodyPart {
        let mut text = String::with_capacity(2 * 1024);
        match format {
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut text, &self.process)
            }
            Format::Text => {
                prometheus_client::encoding::prometheus_text::encode(&mut text, &self.process)
            }
        }
        .expect("writing to a String cannot fail");
        if gzipped {
            BodyPart::Deflated(self.process_gzip.deflate(format, text))
        } else {
            BodyPart::Plain(Bytes::from(text))
        }
    }

    /// How many times an org's live part was encoded, for the tests of reuse.
    #[cfg(test)]
    pub(crate) fn encodings(&self) -> u64 {
        self.encodings.load(Ordering::Relaxed)
    }
}

/// The deflate segment of the last process-wide part gzipped, per format. Between scrapes its
/// text is the same (the process metrics are read at most once a second), and deflating it
/// would be most of a gzip scrape's cost; a scrape whose text equals the last one sends the same
/// segment. Never stale: the segment is reused only for the very same text.
#[derive(Debug, Default)]
struct LiveGzip {
    last: Mutex<[Option<(String, Deflated)>; 2]>,
}

impl LiveGzip {
    fn deflate(&self, format: Format, text: String) -> Deflated {
        let slot = format_index(format);
        if let Some((last_text, segment)) = &self.last.lock().expect("live gzip lock")[slot] {
            if *last_text == text {
                return segment.clone();
            }
        }
        let segment = Deflated::of(text.as_bytes(), LIVE_GZIP_LEVEL);
        self.last.lock().expect("live gzip lock")[slot] = Some((text, segment.clone()));
        segment
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deflate blocks of a segment, as a body sends them (shared, not copied).
    fn blocks(segment: &Deflated) -> Bytes {
        crate::render::gzip::gzip_member(&[segment])[1].clone()
    }

    #[test]
    fn a_text_equal_to_the_last_one_is_sent_as_the_same_segment() {
        let cache = LiveGzip::default();
        let inflate = |segment: &Deflated| String::from_utf8(segment.inflate()).unwrap();
        let first = cache.deflate(Format::Text, "requests_total 0\n".to_owned());
        let again = cache.deflate(Format::Text, "requests_total 0\n".to_owned());
        assert_eq!(
            blocks(&first).as_ptr(),
            blocks(&again).as_ptr(),
            "same text, same segment"
        );
        let changed = cache.deflate(Format::Text, "requests_total 1\n".to_owned());
        assert_ne!(blocks(&first).as_ptr(), blocks(&changed).as_ptr());
        assert_eq!(inflate(&changed), "requests_total 1\n", "never stale");
        let openmetrics = cache.deflate(Format::OpenMetrics, "# EOF\n".to_owned());
        assert_eq!(inflate(&openmetrics), "# EOF\n");
        let text_again = cache.deflate(Format::Text, "requests_total 1\n".to_owned());
        assert_eq!(
            blocks(&changed).as_ptr(),
            blocks(&text_again).as_ptr(),
            "each format keeps its own"
        );
    }

    #[test]
    fn an_org_is_encoded_again_only_after_its_telemetry_changed() {
        let telemetry = Arc::new(Telemetry::default());
        telemetry.retain_orgs(&["a", "b"].into());
        let live = LiveParts::new(&telemetry);
        let headers = Headers::default();
        let scrape = |live: &LiveParts| match live.all(Format::Text, true, &headers) {
            [BodyPart::Deflated(orgs), _] => orgs,
            other => panic!("not deflated: {other:?}"),
        };
        let first = scrape(&live);
        assert_eq!(live.encodings(), 2, "both orgs, once");
        let again = scrape(&live);
        assert_eq!(live.encodings(), 2, "nothing changed: nothing encoded");
        assert_eq!(
            blocks(&first).as_ptr(),
            blocks(&again).as_ptr(),
            "the joined part is shared"
        );
        telemetry
            .org("b")
            .collection_ended(std::time::Duration::ZERO, None);
        let changed = scrape(&live);
        assert_eq!(live.encodings(), 3, "only the org written to");
        let text = String::from_utf8(changed.inflate()).unwrap();
        assert!(
            text.contains("zoho_crm_collections_total{org=\"b\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("zoho_crm_collections_total{org=\"a\"} 0\n"),
            "{text}"
        );
        live.some(&["a"], Format::Text, false, &headers);
        assert_eq!(live.encodings(), 3, "a scrape of one org reuses it");
        live.some(&["a"], Format::OpenMetrics, false, &headers);
        assert_eq!(
            live.encodings(),
            4,
            "each format is encoded when first asked for"
        );
    }
}
