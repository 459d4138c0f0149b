//! The `/metrics` body: the cadence part, encoded once per collection, plus the live part,
//! encoded per scrape.
//!
//! The cadence metrics change only when a collection finishes, and at 10,000 cadences they are
//! most of the body. So when any org's snapshot changes, [`EncodedCadences::encode`] writes them
//! once in both formats (OpenMetrics 1.0.0 and Prometheus text 0.0.4) with prometheus-client's
//! own encoders, and gzips each. A scrape then only encodes the small live part
//! ([`crate::telemetry`]) and sends both parts, the cadence part shared and never copied. For
//! gzip the two parts are two gzip members: RFC 1952 allows a file of several members and every
//! Prometheus-compatible client reads them as one stream.
//!
//! Memory: at 10,000 cadences a plain part is about 11 MiB and its gzip form about half a MiB.
//! Prometheus asks for gzip, so a large plain part is kept only gzipped, inflated when a client
//! asks for plain text and freed with the last response that holds it ([`PlainPart`]); see
//! docs/performance.md.
//!
//! The enrolled records and executed follow-ups come from their own loops' last complete
//! passes, joined here with each org's current snapshot: a cadence gone from the snapshot has
//! no series, whatever an older pass said about it.

use crate::enrollment::{Enrollment, FollowUpsExecuted};
use crate::expectations::{evaluate, Expectation};
use crate::snapshot::{Cadence, OrgSnapshot};
use crate::telemetry::encode_rows;
use bytes::Bytes;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex, Weak};

/// Content types of the two formats.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
pub const TEXT_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    Text,
}

impl Format {
    /// Picks the format from an `Accept` header, as Prometheus negotiates it: OpenMetrics when
    /// the client lists `application/openmetrics-text` with a non-zero q, text otherwise.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let wants_openmetrics = accept.split(',').any(|part| {
            let mut params = part.split(';').map(str::trim);
            let media = params.next().unwrap_or_default();
            let zero_q = params.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !zero_q
        });
        if wants_openmetrics {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Format::Text => TEXT_CONTENT_TYPE,
        }
    }
}

/// The cadence part of the exposition, in both formats, plain and gzipped.
#[derive(Debug, Default)]
pub struct EncodedCadences {
    pub openmetrics: PlainPart,
    pub text: PlainPart,
    pub openmetrics_gzip: Bytes,
    pub text_gzip: Bytes,
}

/// A plain cadence part. A large one is kept only as its gzip form and inflated when a client
/// asks for it plain; the inflated bytes live exactly as long as some response still holds them
/// (a [`Weak`] reference here), so concurrent and back-to-back plain scrapes share one inflation,
/// and once nobody scrapes plain the megabytes go back to the system. Prometheus asks for gzip.
#[derive(Debug, Default)]
pub struct PlainPart {
    gzip: Bytes,
    /// A small part, kept as it is: inflating it would save little memory.
    kept: Option<Bytes>,
    /// The inflated bytes of a large part, while any response holds them.
    shared: Mutex<Weak<Vec<u8>>>,
}

/// Plain parts up to this size are kept as they are: inflating them would save little memory.
const EAGER_PLAIN_MAX: usize = 1024 * 1024;

/// Owner of inflated plain bytes inside a [`Bytes`]: the bytes are freed when the last
/// response holding them is sent.
struct InflatedPlain(Arc<Vec<u8>>);

impl AsRef<[u8]> for InflatedPlain {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl PlainPart {
    /// `plain` is the plain text when it is small enough to keep as it is.
    fn new(plain: Option<String>, gzip: &Bytes) -> PlainPart {
        PlainPart {
            gzip: gzip.clone(),
            kept: plain.map(exact_bytes),
            shared: Mutex::new(Weak::new()),
        }
    }

    /// The plain bytes: kept, still held by a response in flight, or inflated now.
    pub fn bytes(&self) -> Bytes {
        if let Some(kept) = &self.kept {
            return kept.clone();
        }
        // Held while inflating, so that scrapes arriving meanwhile wait and share the result
        // instead of each inflating its own copy.
        let mut shared = self.shared.lock().expect("plain part lock");
        let plain = shared.upgrade().unwrap_or_else(|| {
            let plain = Arc::new(gunzip(&self.gzip));
            *shared = Arc::downgrade(&plain);
            plain
        });
        drop(shared);
        Bytes::from_owner(InflatedPlain(plain))
    }

    /// Whether inflated bytes are alive now (for tests of the memory behaviour).
    pub fn is_inflated(&self) -> bool {
        self.kept.is_some() || self.shared.lock().expect("plain part lock").strong_count() > 0
    }
}

/// What the cadence part is built from: every org's current snapshot, and the last complete
/// enrollment and analytics results of the orgs that have them.
#[derive(Debug, Clone)]
pub struct CadenceSource {
    pub orgs: Vec<(String, Arc<OrgSnapshot>)>,
    pub enrollment: BTreeMap<String, Arc<Enrollment>>,
    pub follow_ups_executed: BTreeMap<String, Arc<FollowUpsExecuted>>,
    pub expectations: Arc<Vec<Expectation>>,
    pub per_cadence_metrics: bool,
}

impl EncodedCadences {
    pub fn encode(source: CadenceSource) -> EncodedCadences {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(source));
        // One format at a time, each plain buffer dropped once gzipped, so that an encoding
        // never holds more than one plain copy.
        let (text, text_gzip) = encode_cadence_part(&registry, Format::Text);
        let (openmetrics, openmetrics_gzip) = encode_cadence_part(&registry, Format::OpenMetrics);
        crate::malloc::release_freed();
        EncodedCadences {
            openmetrics,
            text,
            openmetrics_gzip,
            text_gzip,
        }
    }

    /// One part of a scrape body; a plain part is shared with the scrapes in flight.
    pub fn part(&self, format: Format, gzipped: bool) -> Bytes {
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

/// Inflates a gzip member made by [`gzip_with`], into a buffer of exactly its size.
fn gunzip(gzip: &[u8]) -> Vec<u8> {
    if gzip.is_empty() {
        return Vec::new(); // the empty part before any collection
    }
    let size = gzip.len().checked_sub(4).map_or(0, |at| {
        u32::from_le_bytes(gzip[at..].try_into().expect("4 bytes")) as usize
    });
    let mut plain = Vec::with_capacity(size);
    flate2::read::GzDecoder::new(gzip)
        .read_to_end(&mut plain)
        .expect("the gzip form was made here");
    plain
}

/// Level of the cadence part's gzip, paid on every encoding, which is every collection of any
/// org: at 10,000 cadences the fastest level deflates both formats in about 30 ms to a fifteenth
/// of the plain size; the default level reaches a twentieth but costs five times as much, and
/// with many orgs encodings add up (measured in docs/performance.md).
const CADENCE_GZIP_LEVEL: Compression = Compression::new(1);
/// Level of the live part's gzip, compressed on every scrape: it is a few KiB, so the fastest
/// level costs little in size.
const LIVE_GZIP_LEVEL: Compression = Compression::new(1);

/// A buffer that grew by doubling holds up to twice its length; the encoded parts live until
/// the next collection, so they keep only what they use.
fn exact_bytes(text: String) -> Bytes {
    let mut bytes = text.into_bytes();
    bytes.shrink_to_fit();
    Bytes::from(bytes)
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
pub fn scrape_parts(
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
pub struct LiveGzip {
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

thread_local! {
    /// Deflate states kept per thread and level, reset between uses: a fresh one is hundreds of
    /// KiB to allocate and clear, more than compressing the live part itself.
    static DEFLATE: std::cell::RefCell<Vec<(u32, Compress)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Writes one gzip member (RFC 1952), deflating text as it comes, and keeps a plain copy of the
/// text while it is at most `keep_plain` bytes long.
struct GzipWriter {
    level: u32,
    deflate: Option<Compress>,
    /// Text not deflated yet: the encoders write a few bytes at a time, deflate wants more.
    pending: Vec<u8>,
    out: Vec<u8>,
    crc: Crc,
    plain: Option<String>,
    keep_plain: usize,
}

/// How much text is gathered before each deflate call.
const DEFLATE_CHUNK: usize = 64 * 1024;

impl GzipWriter {
    fn new(level: Compression, keep_plain: usize) -> GzipWriter {
        const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        let level = level.level();
        let deflate = DEFLATE
            .with_borrow_mut(|kept| {
                let at = kept.iter().position(|(l, _)| *l == level)?;
                Some(kept.swap_remove(at).1)
            })
            .unwrap_or_else(|| Compress::new(Compression::new(level), false));
        let mut out = Vec::with_capacity(4 * 1024);
        out.extend_from_slice(&HEADER);
        GzipWriter {
            level,
            deflate: Some(deflate),
            pending: Vec::with_capacity(DEFLATE_CHUNK),
            out,
            crc: Crc::new(),
            plain: Some(String::new()),
            keep_plain,
        }
    }

    fn write(&mut self, data: &[u8]) {
        self.crc.update(data);
        self.pending.extend_from_slice(data);
        if self.pending.len() >= DEFLATE_CHUNK {
            self.deflate(FlushCompress::None);
        }
    }

    fn deflate(&mut self, flush: FlushCompress) {
        let deflate = self.deflate.as_mut().expect("not finished");
        let start = deflate.total_in();
        loop {
            let consumed = (deflate.total_in() - start) as usize;
            if self.out.capacity() - self.out.len() < 1024 {
                self.out.reserve(self.out.capacity().max(4 * 1024));
            }
            let status = deflate
                .compress_vec(&self.pending[consumed..], &mut self.out, flush)
                .expect("deflating into a Vec cannot fail");
            let done = match flush {
                FlushCompress::Finish => status == Status::StreamEnd,
                _ => (deflate.total_in() - start) as usize == self.pending.len(),
            };
            if done {
                break;
            }
        }
        self.pending.clear();
    }

    /// The plain text if it was kept, and the gzip member.
    fn finish(mut self) -> (Option<String>, Bytes) {
        self.deflate(FlushCompress::Finish);
        let mut deflate = self.deflate.take().expect("finished once");
        let size = deflate.total_in() as u32; // ISIZE is the size modulo 2^32
        deflate.reset();
        let level = self.level;
        DEFLATE.with_borrow_mut(|kept| kept.push((level, deflate)));
        let mut out = std::mem::take(&mut self.out);
        out.extend_from_slice(&self.crc.sum().to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.shrink_to_fit();
        (self.plain.take(), Bytes::from(out))
    }
}

impl std::fmt::Write for GzipWriter {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        if let Some(plain) = &mut self.plain {
            if plain.len() + text.len() <= self.keep_plain {
                plain.push_str(text);
            } else {
                self.plain = None;
            }
        }
        self.write(text.as_bytes());
        Ok(())
    }
}

/// One gzip member (RFC 1952) of `data`.
fn gzip_with(data: &[u8], level: Compression) -> Bytes {
    let mut gzip = GzipWriter::new(level, 0);
    gzip.write(data);
    gzip.finish().1
}

type CadenceLabels<'a> = [(&'static str, &'a str); 4];

fn cadence_labels<'a>(org: &'a str, cadence: &'a Cadence) -> CadenceLabels<'a> {
    [
        ("org", org),
        ("id", &*cadence.id),
        ("name", &*cadence.name),
        ("module", &*cadence.module),
    ]
}

/// A cadence's labels plus `channel`, for the per-channel follow-up metrics.
fn cadence_channel_labels<'a>(
    org: &'a str,
    cadence: &'a Cadence,
    channel: &'a str,
) -> [(&'static str, &'a str); 5] {
    let [org, id, name, module] = cadence_labels(org, cadence);
    [org, id, name, module, ("channel", channel)]
}

const FROM_LAST_COLLECTION: &str = "(from the org's last complete collection)";
const FROM_LAST_ENROLLMENT: &str =
    "(from the org's last complete enrollment pass, for the cadences of its last complete collection)";
const FROM_LAST_ANALYTICS: &str =
    "(from the org's last complete analytics pass, for the cadences of its last complete collection)";

impl prometheus_client::collector::Collector for CadenceSource {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let orgs = &self.orgs;
        encode_rows(
            &mut encoder,
            "zoho_crm_cadences",
            &format!("Cadences per module and status {FROM_LAST_COLLECTION}."),
            None,
            orgs.iter().flat_map(|(org, snapshot)| {
                snapshot.modules.iter().flat_map(move |(module, totals)| {
                    totals.statuses.iter().map(move |(status, n)| {
                        (
                            [
                                ("org", org.as_str()),
                                ("module", &**module),
                                ("status", status.as_str()),
                            ],
                            ConstGauge::new(*n as i64),
                        )
                    })
                })
            }),
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_follow_ups",
            &format!("Follow-ups configured across the module's cadences, by channel {FROM_LAST_COLLECTION}."),
            None,
            orgs.iter().flat_map(|(org, snapshot)| {
                snapshot.modules.iter().flat_map(move |(module, totals)| {
                    totals.follow_ups.iter().map(move |(channel, n)| {
                        (
                            [("org", org.as_str()), ("module", &**module), ("channel", &**channel)],
                            ConstGauge::new(*n as i64),
                        )
                    })
                })
            }),
        )?;

        let evaluations: Vec<_> = orgs
            .iter()
            .map(|(org, snapshot)| evaluate(&self.expectations, org, &snapshot.cadences))
            .collect();
        encode_rows(
            &mut encoder,
            "zoho_crm_expectation_matches",
            &format!("Cadences the expectation matched {FROM_LAST_COLLECTION}; 0 means the cadence is gone or renamed."),
            None,
            orgs.iter().zip(&evaluations).flat_map(|((org, _), evaluation)| {
                evaluation.matches.iter().map(move |(name, n)| {
                    ([("org", org.as_str()), ("expectation", name.as_str())], ConstGauge::new(*n as i64))
                })
            }),
        )?;
        // Expectations are about cadences users named; they are exported even when
        // per-cadence metrics are off, since the alerts need them.
        encode_rows(
            &mut encoder,
            "zoho_crm_cadence_expected_active",
            &format!("The state an expectation requires of the cadence: 1 active, 0 inactive {FROM_LAST_COLLECTION}."),
            None,
            orgs.iter().zip(&evaluations).flat_map(|((org, snapshot), evaluation)| {
                snapshot
                    .cadences
                    .iter()
                    .zip(&evaluation.expected_active)
                    .filter_map(move |(cadence, expected)| {
                        expected.map(|e| (cadence_labels(org, cadence), ConstGauge::new(i64::from(e))))
                    })
            }),
        )?;

        // Enrolled records per module: kept when per-cadence metrics are off.
        let enrolled_by_module: Vec<(&str, BTreeMap<&str, u64>)> = orgs
            .iter()
            .filter_map(|(org, snapshot)| {
                let enrollment = self.enrollment.get(org)?;
                let mut modules: BTreeMap<&str, u64> = BTreeMap::new();
                for cadence in &snapshot.cadences {
                    if let Some(n) = enrollment.counts.get(&*cadence.id) {
                        *modules.entry(&*cadence.module).or_default() += n;
                    }
                }
                Some((org.as_str(), modules))
            })
            .collect();
        encode_rows(
            &mut encoder,
            "zoho_crm_enrolled_records",
            &format!("Records enrolled in the module's cadences {FROM_LAST_ENROLLMENT}."),
            None,
            enrolled_by_module.iter().flat_map(|(org, modules)| {
                modules.iter().map(move |(module, n)| {
                    (
                        [("org", *org), ("module", *module)],
                        ConstGauge::new(*n as i64),
                    )
                })
            }),
        )?;

        if !self.per_cadence_metrics {
            return Ok(());
        }
        let cadences = || {
            orgs.iter().flat_map(|(org, snapshot)| {
                snapshot.cadences.iter().map(move |c| (org.as_str(), c))
            })
        };
        encode_rows(
            &mut encoder,
            "zoho_crm_cadence_info",
            &format!("Descriptive labels of each cadence; value 1 {FROM_LAST_COLLECTION}."),
            None,
            cadences().map(|(org, c)| {
                (
                    [
                        ("org", org),
                        ("id", &*c.id),
                        ("name", &*c.name),
                        ("module", &*c.module),
                        ("status", c.status.as_str()),
                        ("enrollment", &*c.enrollment),
                        ("custom_view", &*c.custom_view),
                        ("created_by", &*c.created_by),
                        ("modified_by", &*c.modified_by),
                    ],
                    ConstGauge::new(1),
                )
            }),
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_cadence_active",
            &format!(
                "1 when the cadence is active, 0 when it is switched off {FROM_LAST_COLLECTION}."
            ),
            None,
            cadences().map(|(org, c)| {
                (
                    cadence_labels(org, c),
                    ConstGauge::new(i64::from(c.active())),
                )
            }),
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_cadence_published",
            &format!("1 when the cadence is published {FROM_LAST_COLLECTION}."),
            None,
            cadences().map(|(org, c)| {
                (
                    cadence_labels(org, c),
                    ConstGauge::new(i64::from(c.published)),
                )
            }),
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_cadence_follow_ups",
            &format!("Follow-ups configured in the cadence, by channel {FROM_LAST_COLLECTION}."),
            None,
            cadences().flat_map(|(org, c)| {
                c.follow_ups.iter().map(move |(channel, n)| {
                    (
                        cadence_channel_labels(org, c, channel),
                        ConstGauge::new(*n as i64),
                    )
                })
            }),
        )?;
        type Reading = fn(&Cadence) -> Option<f64>;
        let timestamps: [(&str, &str, Reading); 4] = [
            (
                "zoho_crm_cadence_created_timestamp",
                "When the cadence was created, as Unix time",
                |c| c.created,
            ),
            (
                "zoho_crm_cadence_modified_timestamp",
                "When the cadence was last modified, as Unix time; staleness is time() minus this",
                |c| c.modified,
            ),
            (
                "zoho_crm_cadence_end_timestamp",
                "When the cadence ends, as Unix time; only for cadences with an end date",
                |c| c.end,
            ),
            (
                "zoho_crm_cadence_execution_interval",
                "How often the cadence executes; only when Zoho states it",
                |c| c.execution_interval,
            ),
        ];
        for (name, help, value) in timestamps {
            encode_rows(
                &mut encoder,
                name,
                &format!("{help} {FROM_LAST_COLLECTION}."),
                Some(&Unit::Seconds),
                cadences().filter_map(|(org, c)| {
                    value(c).map(|v| (cadence_labels(org, c), ConstGauge::new(v)))
                }),
            )?;
        }
        encode_rows(
            &mut encoder,
            "zoho_crm_cadence_enrolled_records",
            &format!("Records enrolled in the cadence {FROM_LAST_ENROLLMENT}."),
            None,
            cadences().filter_map(|(org, c)| {
                let n = self.enrollment.get(org)?.counts.get(&*c.id)?;
                Some((cadence_labels(org, c), ConstGauge::new(*n as i64)))
            }),
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_cadence_follow_ups_executed",
            &format!("Follow-ups the active cadence executed over the configured analytics window, by channel {FROM_LAST_ANALYTICS}."),
            None,
            cadences().flat_map(|(org, c)| {
                self.follow_ups_executed
                    .get(org)
                    .and_then(|f| f.per_cadence.get(&*c.id))
                    .into_iter()
                    .flat_map(move |channels| {
                        channels.iter().map(move |(channel, n)| {
                            (
                                cadence_channel_labels(org, c, channel),
                                ConstGauge::new(*n as i64),
                            )
                        })
                    })
            }),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_plain_part_is_kept_gzipped_and_inflated_only_while_a_response_holds_it() {
        let line = "zoho_crm_cadence_active{org=\"acme\",id=\"1\",name=\"x\",module=\"Leads\"} 1\n";
        let plain = line.repeat(EAGER_PLAIN_MAX / line.len() + 10);
        let gzip = gzip_with(plain.as_bytes(), CADENCE_GZIP_LEVEL);
        let part = PlainPart::new(None, &gzip);
        assert!(!part.is_inflated(), "not inflated before use");
        let first = part.bytes();
        assert_eq!(&first[..], plain.as_bytes());
        let second = part.bytes();
        assert_eq!(
            first.as_ptr(),
            second.as_ptr(),
            "scrapes in flight share one inflation"
        );
        drop((first, second));
        assert!(
            !part.is_inflated(),
            "freed once no response holds the bytes"
        );
        assert_eq!(
            &part.bytes()[..],
            plain.as_bytes(),
            "inflated again on demand"
        );
        let small = PlainPart::new(
            Some(line.to_owned()),
            &gzip_with(line.as_bytes(), LIVE_GZIP_LEVEL),
        );
        assert!(small.is_inflated(), "a small part is kept plain");
        assert_eq!(&small.bytes()[..], line.as_bytes());
        assert!(PlainPart::default().bytes().is_empty());
    }

    #[test]
    fn the_gzip_writer_deflates_small_writes_and_keeps_plain_only_while_small() {
        use std::fmt::Write as _;
        for keep_plain in [0, 10, 1 << 20] {
            let mut gzip = GzipWriter::new(CADENCE_GZIP_LEVEL, keep_plain);
            let mut expected = String::new();
            for n in 0..20_000 {
                let piece = format!("piece {n}\n");
                gzip.write_str(&piece).unwrap();
                expected.push_str(&piece);
            }
            let (plain, gzip) = gzip.finish();
            let mut decoded = String::new();
            flate2::read::GzDecoder::new(&gzip[..])
                .read_to_string(&mut decoded)
                .unwrap();
            assert_eq!(decoded, expected);
            let kept = expected.len() <= keep_plain;
            assert_eq!(plain.as_deref(), kept.then_some(expected.as_str()));
        }
    }

    #[test]
    fn gzip_members_made_with_a_reused_deflate_state_decode() {
        for (level, data) in [
            (LIVE_GZIP_LEVEL, "live part ".repeat(1_000)),
            (CADENCE_GZIP_LEVEL, "cadence part ".repeat(10_000)),
            (LIVE_GZIP_LEVEL, String::new()),
            (LIVE_GZIP_LEVEL, "again".to_owned()),
        ] {
            let gzip = gzip_with(data.as_bytes(), level);
            let mut decoded = String::new();
            flate2::read::GzDecoder::new(&gzip[..])
                .read_to_string(&mut decoded)
                .unwrap();
            assert_eq!(decoded, data);
        }
    }

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
}
