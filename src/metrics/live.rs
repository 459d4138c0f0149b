//! The live part of every scrape: per-org collection health and API counters, config reloads,
//! build info and process metrics. These change between collections; the per-org families
//! ([`ORG_FAMILIES`]) are encoded per org when its counters changed (`render::live`), the
//! process-wide ones ([`process_registry`]) on every scrape. They are small and bounded whatever
//! the size of the orgs.

use crate::metrics::labels::Endpoint;
use crate::metrics::labels::{
    BuildLabels, EndpointLabels, ErrorLabels, ModuleLabels, NoLabels, OrgLabels, RequestLabels,
    WindowLabels,
};
use crate::metrics::rows::encode_rows;
use crate::metrics::telemetry::{
    LabelledCounters, NamedTelemetry, OrgTelemetry, RateLimit, Telemetry,
};
use crate::support::build;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Orgs with their live metrics, in name order: each per-org family is encoded from such a
/// list, of one org when an org's live part is encoded apart.
pub(crate) type Orgs = [NamedTelemetry];

/// One per-org live family, written for the orgs given.
pub(crate) type OrgFamily = fn(&mut DescriptorEncoder, &Orgs) -> std::fmt::Result;

/// The per-org live families, in the order they appear after the cadence part: collection
/// health, API counters, API readings.
pub(crate) const ORG_FAMILIES: [OrgFamily; 14] = [
    |e, orgs| {
        per_org(e, orgs, ("zoho_crm_up", "1 when the org's last collection completed, 0 when it failed (values of the other zoho_crm metrics then come from the last complete collection).", None),
        |t| Some(ConstGauge::new(i64::from(t.collections().health.up))))
    },
    |e, orgs| {
        per_org(
            e,
            orgs,
            (
                "zoho_crm_collections",
                "Collections of the org that ended, successful or not.",
                None,
            ),
            |t| Some(ConstCounter::new(t.collections().attempted)),
        )
    },
    |e, orgs| {
        per_org(
            e,
            orgs,
            (
                "zoho_crm_collection_failures",
                "Collections of the org that failed; the last complete snapshot was kept.",
                None,
            ),
            |t| Some(ConstCounter::new(t.collections().failed)),
        )
    },
    |e, orgs| {
        per_org(
            e,
            orgs,
            (
                "zoho_crm_collection_duration",
                "How long the org's last collection took.",
                Some(&Unit::Seconds),
            ),
            |t| Some(ConstGauge::new(t.collections().last_duration)),
        )
    },
    |e, orgs| {
        per_org(
            e,
            orgs,
            (
                "zoho_crm_last_success_timestamp",
                "When the org's last successful collection finished, as Unix time.",
                Some(&Unit::Seconds),
            ),
            |t| {
                let at = t.collections().health.last_success?;
                Some(ConstGauge::new(crate::support::unix_seconds(at)))
            },
        )
    },
    |e, orgs| {
        per_org(
            e,
            orgs,
            (
                "zoho_crm_oauth_token_expiry_timestamp",
                "When the org's cached OAuth access token expires, as Unix time.",
                Some(&Unit::Seconds),
            ),
            |t| t.token_expiry().map(ConstGauge::new),
        )
    },
    |e, orgs| {
        per_org(e, orgs, ("zoho_crm_credentials_last_read_successful", "1 when the org's credentials were read successfully at the last look (credential files are read again when they change), 0 when a file could not be read and its last good value is used.", None),
        |t| Some(ConstGauge::new(i64::from(t.credentials_last_read_successful()))))
    },
    api_requests,
    api_errors,
    |e, orgs| {
        transitions(e, orgs, ("zoho_crm_cadence_deactivations", "Cadences seen active in one complete collection and inactive in the next, by module."), |c| &c.deactivations)
    },
    |e, orgs| {
        transitions(
            e,
            orgs,
            (
                "zoho_crm_cadence_deletions",
                "Cadences seen in one complete collection and gone in the next, by module.",
            ),
            |c| &c.deletions,
        )
    },
    api_request_duration,
    |e, orgs| {
        rate_limits(e, orgs, ("zoho_crm_api_rate_limit_limit", "API call limit Zoho reported in its X-RATELIMIT headers, by window (request_window or day)."), |l| l.limit)
    },
    |e, orgs| {
        rate_limits(e, orgs, ("zoho_crm_api_rate_limit_remaining", "API calls left that Zoho reported in its X-RATELIMIT headers, by window (request_window or day)."), |l| l.remaining)
    },
];

/// A registry of the process-wide live metrics (reload status, build info, `process_*`): the
/// end of every scrape of all orgs, encoded per scrape.
pub(crate) fn process_registry(telemetry: &Arc<Telemetry>) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ProcessWide(telemetry.clone())));
    registry.register_collector(Box::new(ProcessCollector::default()));
    registry
}

/// One family with one series per org, for the orgs where `value` has one.
fn per_org<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    orgs: &Orgs,
    (name, help, unit): (&str, &str, Option<&Unit>),
    value: impl Fn(&OrgTelemetry) -> Option<M>,
) -> std::fmt::Result {
    encode_rows(
        encoder,
        name,
        help,
        unit,
        orgs.iter().filter_map(|(org, telemetry)| {
            value(telemetry).map(|v| (OrgLabels { org: org.clone() }, v))
        }),
    )
}

fn api_requests(encoder: &mut DescriptorEncoder, orgs: &Orgs) -> std::fmt::Result {
    let counters: Vec<_> = orgs.iter().map(|(org, t)| (org, t.labelled())).collect();
    encode_rows(
        encoder,
        "zoho_crm_api_requests",
        "HTTP requests made to Zoho, by endpoint and status code (\"none\" when no answer came).",
        None,
        counters.iter().flat_map(|(org, counters)| {
            counters
                .requests
                .iter()
                .map(|((endpoint, status_code), n)| {
                    let labels = RequestLabels {
                        org: (*org).clone(),
                        endpoint: *endpoint,
                        status_code: *status_code,
                    };
                    (labels, ConstCounter::new(*n))
                })
        }),
    )
}

fn api_errors(encoder: &mut DescriptorEncoder, orgs: &Orgs) -> std::fmt::Result {
    let counters: Vec<_> = orgs.iter().map(|(org, t)| (org, t.labelled())).collect();
    encode_rows(
        encoder,
        "zoho_crm_api_errors",
        "Failed requests to Zoho, by endpoint and error: Zoho's code as sent, or timeout, connect, decode, too_large, http_<status>.",
        None,
        counters.iter().flat_map(|(org, counters)| {
            counters.errors.iter().map(|((endpoint, error), n)| {
                let labels = ErrorLabels { org: (*org).clone(), endpoint: *endpoint, error: error.clone() };
                (labels, ConstCounter::new(*n))
            })
        }),
    )
}

/// The cadence transitions counted by module: deactivations or deletions.
fn transitions(
    encoder: &mut DescriptorEncoder,
    orgs: &Orgs,
    (name, help): (&str, &str),
    counted: fn(&LabelledCounters) -> &BTreeMap<Arc<str>, u64>,
) -> std::fmt::Result {
    let counters: Vec<_> = orgs.iter().map(|(org, t)| (org, t.labelled())).collect();
    encode_rows(
        encoder,
        name,
        help,
        None,
        counters.iter().flat_map(|(org, counters)| {
            counted(counters).iter().map(|(module, n)| {
                let labels = ModuleLabels {
                    org: (*org).clone(),
                    module: module.clone(),
                };
                (labels, ConstCounter::new(*n))
            })
        }),
    )
}

/// Request latency per endpoint.
fn api_request_duration(encoder: &mut DescriptorEncoder, orgs: &Orgs) -> std::fmt::Result {
    encode_rows(
        encoder,
        "zoho_crm_api_request_duration",
        "Latency of HTTP requests to Zoho, by endpoint.",
        Some(&Unit::Seconds),
        orgs.iter().flat_map(|(org, t)| {
            Endpoint::ALL.into_iter().filter_map(move |endpoint| {
                let histogram = t.durations[endpoint as usize].get()?;
                let labels = EndpointLabels {
                    org: org.clone(),
                    endpoint,
                };
                Some((labels, histogram.clone()))
            })
        }),
    )
}

/// What Zoho's rate-limit headers said last, by window.
fn rate_limits(
    encoder: &mut DescriptorEncoder,
    orgs: &Orgs,
    (name, help): (&str, &str),
    reading: fn(&RateLimit) -> Option<f64>,
) -> std::fmt::Result {
    let limits: Vec<_> = orgs
        .iter()
        .map(|(org, t)| (org, t.rate_limits.lock().expect("telemetry lock").clone()))
        .collect();
    encode_rows(
        encoder,
        name,
        help,
        None,
        limits.iter().flat_map(|(org, windows)| {
            windows.iter().filter_map(move |(window, limit)| {
                let labels = WindowLabels {
                    org: (*org).clone(),
                    window: *window,
                };
                reading(limit).map(|v| (labels, ConstGauge::new(v)))
            })
        }),
    )
}

/// The metrics of the process as a whole: reload status and build info.
#[derive(Debug)]
struct ProcessWide(Arc<Telemetry>);

impl Collector for ProcessWide {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let reload = *self.0.reload.lock().expect("telemetry lock");
        encode_rows(
            &mut encoder,
            "zoho_crm_config_last_reload_successful",
            "1 when the last configuration reload succeeded.",
            None,
            [(NoLabels {}, ConstGauge::new(i64::from(reload.successful)))],
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_config_last_reload_success_timestamp",
            "When the configuration was last loaded successfully, as Unix time.",
            Some(&Unit::Seconds),
            [(NoLabels {}, ConstGauge::new(reload.last_success))],
        )?;
        build_info(&mut encoder, &())?;
        let (ordinal, total) = self.0.shard.get().copied().unwrap_or((0, 1));
        encode_rows(
            &mut encoder,
            "zoho_crm_exporter_shard_ordinal",
            "This process's shard (--shard): it collects the orgs whose FNV-1a 64 hash of the name, mod the number of shards, is this.",
            None,
            [(NoLabels {}, ConstGauge::new(gauge_value(ordinal)))],
        )?;
        encode_rows(
            &mut encoder,
            "zoho_crm_exporter_total_shards",
            "How many shards share the config's orgs (--total-shards).",
            None,
            [(NoLabels {}, ConstGauge::new(gauge_value(total)))],
        )
    }
}

/// A count as a gauge's value (shard numbers are far below `i64::MAX`).
fn gauge_value(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// `zoho_crm_exporter_build_info`: the one series a scrape of some orgs carries beside theirs.
pub(crate) fn build_info(encoder: &mut DescriptorEncoder, _: &()) -> std::fmt::Result {
    let build = BuildLabels {
        version: build::VERSION,
        revision: build::REVISION,
        branch: build::BRANCH,
        rustversion: build::RUST_VERSION,
    };
    encode_rows(
        encoder,
        "zoho_crm_exporter_build_info",
        "Build of the exporter (version, git revision and branch, rustc version); value 1.",
        None,
        [(build, ConstGauge::new(1))],
    )
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

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let process = self.reading();
        if let Some(cpu) = process.cpu_seconds_total {
            encode_rows(
                &mut encoder,
                "process_cpu",
                "Total user and system CPU time spent in seconds.",
                Some(&Unit::Seconds),
                [(NoLabels {}, ConstCounter::new(cpu))],
            )?;
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
                    [(NoLabels {}, ConstGauge::new(value as f64))],
                )?;
            }
        }
        Ok(())
    }
}
