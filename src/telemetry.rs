//! The exporter's own live metrics: per-org collection health and API counters, config reloads,
//! build info and process metrics. These change between collections, so they are encoded on
//! every scrape; they are small and bounded whatever the size of the orgs.
//!
//! Each org's counters live in an [`OrgTelemetry`] handle held by its collector. Removing an org
//! from [`Telemetry`] removes all its series at once, which prometheus-client's `Family` cannot
//! do for label sets it cannot enumerate; that is why the org label is added here at encoding
//! time rather than stored in families.

use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// How many distinct values one org's `error`, `status_code` or `module` label may take before
/// further ones are counted under `other`: Zoho's codes are free text, and no map may grow
/// without bound.
pub const MAX_LABEL_VALUES: usize = 64;

/// Label value used once [`MAX_LABEL_VALUES`] is reached.
pub const OVERFLOW_LABEL: &str = "other";

/// The Zoho endpoints the exporter calls: the `endpoint` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    Token,
    Cadences,
    RecordsCount,
    Analytics,
}

impl Endpoint {
    pub const ALL: [Endpoint; 4] = [
        Endpoint::Token,
        Endpoint::Cadences,
        Endpoint::RecordsCount,
        Endpoint::Analytics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::Cadences => "cadences",
            Endpoint::RecordsCount => "records_count",
            Endpoint::Analytics => "analytics",
        }
    }
}

/// Request latency buckets, seconds: Zoho answers in tens to hundreds of milliseconds, timeouts
/// are tens of seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
];

/// One org's live metrics. Cheap to share: the collector and the encoder hold the same `Arc`.
#[derive(Debug)]
pub struct OrgTelemetry {
    collection: Mutex<CollectionStats>,
    token_expiry: Mutex<Option<f64>>,
    /// Whether the last read of a credential file failed (`crate::credentials`).
    credentials_read_failed: AtomicBool,
    labelled: Mutex<LabelledCounters>,
    /// Created on first use, so an endpoint never called shows no histogram.
    durations: [OnceLock<Histogram>; 4],
    rate_limits: Mutex<BTreeMap<&'static str, RateLimit>>,
}

/// What the org's collections came to: `zoho_crm_up`, `zoho_crm_collections_total`,
/// `zoho_crm_collection_failures_total`, the last duration and success. Changed in one step when
/// a collection ends and read in one step by a scrape, so a scrape sees them agree: collections
/// minus failures is the number of successes, and `up`, duration and last success are those of
/// the last collection counted.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct CollectionStats {
    pub up: bool,
    pub collections: u64,
    pub failures: u64,
    /// Seconds the last collection took.
    pub duration: f64,
    /// When the last successful collection ended, as Unix time.
    pub last_success: Option<f64>,
}

#[derive(Debug, Default)]
struct LabelledCounters {
    requests: BTreeMap<(Endpoint, String), u64>,
    errors: BTreeMap<(Endpoint, String), u64>,
    deactivations: BTreeMap<String, u64>,
    deletions: BTreeMap<String, u64>,
}

/// What Zoho's `X-RATELIMIT-*` headers said last, per window.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub limit: Option<f64>,
    pub remaining: Option<f64>,
}

/// Adds one to `map[key]`, or to the overflow key once the map holds [`MAX_LABEL_VALUES`] keys
/// of the same first part.
fn bump<K: Ord + Clone>(map: &mut BTreeMap<K, u64>, key: K, overflow: impl FnOnce() -> K) {
    let key = if map.contains_key(&key) || map.len() < MAX_LABEL_VALUES {
        key
    } else {
        overflow()
    };
    *map.entry(key).or_default() += 1;
}

impl Default for OrgTelemetry {
    fn default() -> Self {
        Self {
            collection: Mutex::new(CollectionStats::default()),
            token_expiry: Mutex::new(None),
            credentials_read_failed: AtomicBool::new(false),
            labelled: Mutex::new(LabelledCounters::default()),
            durations: std::array::from_fn(|_| OnceLock::new()),
            rate_limits: Mutex::new(BTreeMap::new()),
        }
    }
}

impl OrgTelemetry {
    /// Records one HTTP attempt: its status code (`None` when no answer came) and latency.
    pub fn observe_request(&self, endpoint: Endpoint, status: Option<u16>, seconds: f64) {
        let status = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
        bump(&mut self.lock().requests, (endpoint, status), || {
            (endpoint, OVERFLOW_LABEL.to_owned())
        });
        self.durations[endpoint as usize]
            .get_or_init(|| Histogram::new(LATENCY_BUCKETS))
            .observe(seconds);
    }

    /// Counts one failed attempt under a bounded error label.
    pub fn count_error(&self, endpoint: Endpoint, error: &str) {
        bump(
            &mut self.lock().errors,
            (endpoint, error.to_owned()),
            || (endpoint, OVERFLOW_LABEL.to_owned()),
        );
    }

    /// Starts the deactivation and deletion counters of these modules at 0, so that the first
    /// event is an increase Prometheus can see rather than a new series already at 1.
    pub fn init_transition_counters<'a>(&self, modules: impl IntoIterator<Item = &'a str>) {
        let mut guard = self.lock();
        let counters = &mut *guard;
        for module in modules {
            for map in [&mut counters.deactivations, &mut counters.deletions] {
                if map.len() < MAX_LABEL_VALUES {
                    map.entry(module.to_owned()).or_default();
                }
            }
        }
    }

    pub fn count_deactivation(&self, module: &str) {
        bump(&mut self.lock().deactivations, module.to_owned(), || {
            OVERFLOW_LABEL.to_owned()
        });
    }

    pub fn count_deletion(&self, module: &str) {
        bump(&mut self.lock().deletions, module.to_owned(), || {
            OVERFLOW_LABEL.to_owned()
        });
    }

    /// Counts a collection that ended, after `seconds`, with its outcome: all of
    /// [`CollectionStats`] at once.
    pub fn collection_ended(&self, succeeded: bool, seconds: f64) {
        let mut stats = self.collection.lock().expect("telemetry lock");
        stats.up = succeeded;
        stats.collections += 1;
        stats.duration = seconds;
        if succeeded {
            stats.last_success = Some(crate::unix_now());
        } else {
            stats.failures += 1;
        }
    }

    pub fn collection_stats(&self) -> CollectionStats {
        *self.collection.lock().expect("telemetry lock")
    }

    pub fn last_success(&self) -> Option<f64> {
        self.collection_stats().last_success
    }

    /// Expiry of the cached access token, Unix seconds, if one is cached.
    pub fn token_expiry(&self) -> Option<f64> {
        *self.token_expiry.lock().expect("telemetry lock")
    }

    pub fn set_token_expiry(&self, unix_seconds: Option<f64>) {
        *self.token_expiry.lock().expect("telemetry lock") = unix_seconds;
    }

    /// Records whether the org's credentials were all read at the last look.
    pub fn set_credentials_read(&self, successful: bool) {
        self.credentials_read_failed
            .store(!successful, Ordering::Relaxed);
    }

    pub fn credentials_last_read_successful(&self) -> bool {
        !self.credentials_read_failed.load(Ordering::Relaxed)
    }

    pub fn set_rate_limit(&self, window: &'static str, limit: RateLimit) {
        self.rate_limits
            .lock()
            .expect("telemetry lock")
            .insert(window, limit);
    }

    /// Requests counted so far for one endpoint, all status codes together.
    pub fn requests(&self, endpoint: Endpoint) -> u64 {
        self.lock()
            .requests
            .iter()
            .filter(|((e, _), _)| *e == endpoint)
            .map(|(_, n)| n)
            .sum()
    }

    /// Errors counted so far for one endpoint and error label.
    pub fn errors(&self, endpoint: Endpoint, error: &str) -> u64 {
        self.lock()
            .errors
            .get(&(endpoint, error.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LabelledCounters> {
        self.labelled.lock().expect("telemetry lock")
    }
}

/// Every org's live metrics plus the process-wide ones; registered once into the live registry.
#[derive(Debug, Default)]
pub struct Telemetry {
    orgs: RwLock<BTreeMap<String, Arc<OrgTelemetry>>>,
    reload: Mutex<ReloadStatus>,
}

#[derive(Debug, Clone, Copy)]
struct ReloadStatus {
    successful: bool,
    last_success: f64,
}

impl Default for ReloadStatus {
    fn default() -> Self {
        Self {
            successful: true,
            last_success: crate::unix_now(),
        }
    }
}

impl Telemetry {
    /// The org's telemetry, created on first use and kept across reloads while the org stays.
    pub fn org(&self, name: &str) -> Arc<OrgTelemetry> {
        if let Some(existing) = self.orgs.read().expect("telemetry lock").get(name) {
            return existing.clone();
        }
        self.orgs
            .write()
            .expect("telemetry lock")
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// Drops every series of orgs not in `keep`.
    pub fn retain_orgs(&self, keep: &[&str]) {
        self.orgs
            .write()
            .expect("telemetry lock")
            .retain(|name, _| keep.contains(&name.as_str()));
    }

    pub fn record_reload(&self, successful: bool) {
        let mut status = self.reload.lock().expect("telemetry lock");
        status.successful = successful;
        if successful {
            status.last_success = crate::unix_now();
        }
    }

    pub fn last_reload_successful(&self) -> bool {
        self.reload.lock().expect("telemetry lock").successful
    }

    /// A registry holding these metrics, build info and process metrics.
    pub fn registry(self: &Arc<Self>) -> Registry {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self.clone()));
        registry.register_collector(Box::new(ProcessCollector::default()));
        registry
    }
}

/// Writes one metric family from a list of (labels, value) rows; a family with no rows is left
/// out entirely, so a metric that does not apply yet shows no header either.
pub(crate) fn encode_rows<L: EncodeLabelSet, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    rows: impl IntoIterator<Item = (L, M)>,
) -> std::fmt::Result {
    let mut rows = rows.into_iter().peekable();
    let Some((_, first)) = rows.peek() else {
        return Ok(());
    };
    let mut family = encoder.encode_descriptor(name, help, unit, first.metric_type())?;
    for (labels, metric) in rows {
        metric.encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

type OrgLabel<'a> = [(&'static str, &'a str); 1];

impl prometheus_client::collector::Collector for Telemetry {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let orgs = self.orgs.read().expect("telemetry lock");
        fn org(name: &str) -> OrgLabel<'_> {
            [("org", name)]
        }
        // Each org's collection outcome read once, so that its series agree with each other.
        let collections: Vec<(&String, CollectionStats)> = orgs
            .iter()
            .map(|(name, t)| (name, t.collection_stats()))
            .collect();

        encode_rows(
            &mut encoder,
            "zoho_crm_up",
            "1 when the org's last collection completed, 0 when it failed (values of the other zoho_crm metrics then come from the last complete collection).",
            None,
            collections
                .iter()
                .map(|(name, c)| (org(name), ConstGauge::new(i64::from(c.up)))),
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_collections",
            "Collections of the org that ended, successful or not.",
            None,
            collections
                .iter()
                .map(|(name, c)| (org(name), ConstCounter::new(c.collections))),
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_collection_failures",
            "Collections of the org that failed; the last complete snapshot was kept.",
            None,
            collections
                .iter()
                .map(|(name, c)| (org(name), ConstCounter::new(c.failures))),
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_collection_duration",
            "How long the org's last collection took.",
            Some(&Unit::Seconds),
            collections
                .iter()
                .map(|(name, c)| (org(name), ConstGauge::new(c.duration))),
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_last_success_timestamp",
            "When the org's last successful collection finished, as Unix time.",
            Some(&Unit::Seconds),
            collections
                .iter()
                .filter_map(|(name, c)| c.last_success.map(|v| (org(name), ConstGauge::new(v)))),
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_oauth_token_expiry_timestamp",
            "When the org's cached OAuth access token expires, as Unix time.",
            Some(&Unit::Seconds),
            orgs.iter().filter_map(|(name, t)| {
                let expiry = *t.token_expiry.lock().expect("telemetry lock");
                expiry.map(|v| (org(name), ConstGauge::new(v)))
            }),
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_credentials_last_read_successful",
            "1 when the org's credentials were read successfully at the last look (credential files are read again when they change), 0 when a file could not be read and its last good value is used.",
            None,
            orgs.iter().map(|(name, t)| {
                (
                    org(name),
                    ConstGauge::new(i64::from(t.credentials_last_read_successful())),
                )
            }),
        )?;

        let labelled: Vec<(&String, std::sync::MutexGuard<'_, LabelledCounters>)> =
            orgs.iter().map(|(name, t)| (name, t.lock())).collect();
        encode_rows(
            &mut encoder,
            "zoho_crm_api_requests",
            "HTTP requests made to Zoho, by endpoint and status code (\"none\" when no answer came).",
            None,
            labelled.iter().flat_map(|(name, counters)| {
                counters.requests.iter().map(move |((endpoint, status), n)| {
                    (
                        [("org", name.as_str()), ("endpoint", endpoint.as_str()), ("status_code", status.as_str())],
                        ConstCounter::new(*n),
                    )
                })
            }),
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_api_errors",
            "Failed requests to Zoho, by endpoint and error: Zoho's code as sent, or timeout, connect, decode, too_large, http_<status>.",
            None,
            labelled.iter().flat_map(|(name, counters)| {
                counters.errors.iter().map(move |((endpoint, error), n)| {
                    (
                        [("org", name.as_str()), ("endpoint", endpoint.as_str()), ("error", error.as_str())],
                        ConstCounter::new(*n),
                    )
                })
            }),
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_cadence_deactivations",
            "Cadences seen active in one complete collection and inactive in the next, by module.",
            None,
            labelled.iter().flat_map(|(name, counters)| {
                counters.deactivations.iter().map(move |(module, n)| {
                    (
                        [("org", name.as_str()), ("module", module.as_str())],
                        ConstCounter::new(*n),
                    )
                })
            }),
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_cadence_deletions",
            "Cadences seen in one complete collection and gone in the next, by module.",
            None,
            labelled.iter().flat_map(|(name, counters)| {
                counters.deletions.iter().map(move |(module, n)| {
                    (
                        [("org", name.as_str()), ("module", module.as_str())],
                        ConstCounter::new(*n),
                    )
                })
            }),
        )?;
        drop(labelled);

        encode_rows(
            &mut encoder,
            "zoho_crm_api_request_duration",
            "Latency of HTTP requests to Zoho, by endpoint.",
            Some(&Unit::Seconds),
            orgs.iter().flat_map(|(name, t)| {
                Endpoint::ALL.iter().filter_map(move |e| {
                    t.durations[*e as usize].get().map(|h| {
                        (
                            [("org", name.as_str()), ("endpoint", e.as_str())],
                            h.clone(),
                        )
                    })
                })
            }),
        )?;

        let limits: Vec<(&String, BTreeMap<&'static str, RateLimit>)> = orgs
            .iter()
            .map(|(name, t)| (name, t.rate_limits.lock().expect("telemetry lock").clone()))
            .collect();
        for (metric, help, pick) in [
            (
                "zoho_crm_api_rate_limit_limit",
                "API call limit Zoho reported in its X-RATELIMIT headers, by window (request_window or day).",
                (|l: &RateLimit| l.limit) as fn(&RateLimit) -> Option<f64>,
            ),
            (
                "zoho_crm_api_rate_limit_remaining",
                "API calls left that Zoho reported in its X-RATELIMIT headers, by window (request_window or day).",
                |l: &RateLimit| l.remaining,
            ),
        ] {
            encode_rows(
                &mut encoder,
                metric,
                help,
                None,
                limits.iter().flat_map(|(name, windows)| {
                    windows.iter().filter_map(move |(window, limit)| {
                        pick(limit).map(|v| ([("org", name.as_str()), ("window", *window)], ConstGauge::new(v)))
                    })
                }),
            )?;
        }
        drop(orgs);

        let reload = *self.reload.lock().expect("telemetry lock");
        encode_rows(
            &mut encoder,
            "zoho_crm_config_last_reload_successful",
            "1 when the last configuration reload succeeded.",
            None,
            [([("", ""); 0], ConstGauge::new(i64::from(reload.successful)))],
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_config_last_reload_success_timestamp",
            "When the configuration was last loaded successfully, as Unix time.",
            Some(&Unit::Seconds),
            [([("", ""); 0], ConstGauge::new(reload.last_success))],
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_exporter_build_info",
            "Build of the exporter (version, git revision and branch, rustc version); value 1.",
            None,
            [(
                [
                    ("version", crate::VERSION),
                    ("revision", crate::REVISION),
                    ("branch", crate::BRANCH),
                    ("rustversion", crate::RUST_VERSION),
                ],
                ConstGauge::new(1),
            )],
        )?;
        Ok(())
    }
}

/// The standard `process_*` metrics, read by the `metrics-process` crate.
#[derive(Debug, Default)]
struct ProcessCollector {
    /// The last reading and when it was taken. Reading /proc takes several system calls, most
    /// of a small scrape's cost; scrapes closer together than [`PROCESS_READING_TTL`] share one.
    last: Mutex<Option<(std::time::Instant, Arc<metrics_process::collector::Metrics>)>>,
}

/// How long one reading of the process metrics serves: far below any scrape interval, so only
/// scrape storms (many clients, or a load test) share readings.
const PROCESS_READING_TTL: std::time::Duration = std::time::Duration::from_secs(1);

impl ProcessCollector {
    fn reading(&self) -> Arc<metrics_process::collector::Metrics> {
        let mut last = self.last.lock().expect("process metrics lock");
        match &*last {
            Some((taken, reading)) if taken.elapsed() < PROCESS_READING_TTL => reading.clone(),
            _ => {
                let reading = Arc::new(metrics_process::collector::collect());
                *last = Some((std::time::Instant::now(), reading.clone()));
                reading
            }
        }
    }
}

impl prometheus_client::collector::Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let process = self.reading();
        let none: [(&str, &str); 0] = [];
        if let Some(cpu) = process.cpu_seconds_total {
            let mut family = encoder.encode_descriptor(
                "process_cpu",
                "Total user and system CPU time spent in seconds.",
                Some(&Unit::Seconds),
                MetricType::Counter,
            )?;
            ConstCounter::new(cpu).encode(family.encode_family(&none)?)?;
        }
        let gauges: [(&str, &str, Option<&Unit>, Option<u64>); 7] = [
            (
                "process_open_fds",
                "Number of open file descriptors.",
                None,
                process.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                None,
                process.max_fds,
            ),
            (
                "process_virtual_memory",
                "Virtual memory size in bytes.",
                Some(&Unit::Bytes),
                process.virtual_memory_bytes,
            ),
            (
                "process_virtual_memory_max",
                "Maximum amount of virtual memory available in bytes.",
                Some(&Unit::Bytes),
                process.virtual_memory_max_bytes,
            ),
            (
                "process_resident_memory",
                "Resident memory size in bytes.",
                Some(&Unit::Bytes),
                process.resident_memory_bytes,
            ),
            (
                "process_start_time",
                "Start time of the process since unix epoch in seconds.",
                Some(&Unit::Seconds),
                process.start_time_seconds,
            ),
            (
                "process_threads",
                "Number of OS threads in the process.",
                None,
                process.threads,
            ),
        ];
        for (name, help, unit, value) in gauges {
            if let Some(value) = value {
                encode_rows(
                    &mut encoder,
                    name,
                    help,
                    unit,
                    [(none, ConstGauge::new(value as f64))],
                )?;
            }
        }
        Ok(())
    }
}
