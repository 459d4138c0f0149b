//! The exporter's live state per org: collection health, API counters and readings of Zoho's
//! rate-limit headers, held in an [`OrgTelemetry`] shared by the org's client, collector and
//! side loops; and [`Telemetry`], every org's together with the reload status.
//!
//! An org's collection health (up, last success, last error, whether a first attempt finished)
//! is stored here once: the metrics, the status page and the readiness check all read it here.
//!
//! Removing an org from [`Telemetry`] removes all its series at once, which prometheus-client's
//! `Family` cannot do for label sets it cannot enumerate; that is why the org label is added at
//! encoding time ([`crate::metrics::live`]) rather than stored in families.

use crate::metrics::labels::{Endpoint, RateLimitWindow, StatusCode};
use crate::support::label_values::{MAX_LABEL_VALUES, OVERFLOW_LABEL};
use prometheus_client::metrics::histogram::Histogram;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::{Duration, SystemTime};

/// Request latency buckets, seconds: Zoho answers in tens to hundreds of milliseconds, timeouts
/// are tens of seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
];

/// How an org's collections are going: what `zoho_crm_up`, the status page and `/-/ready` show.
#[derive(Debug, Clone, Default)]
pub(crate) struct Health {
    /// The first collection attempt has finished (success or not).
    pub(crate) attempted: bool,
    pub(crate) up: bool,
    pub(crate) last_success: Option<SystemTime>,
}

/// What Zoho's `X-RATELIMIT-*` headers said last, per window.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct RateLimit {
    pub(crate) limit: Option<f64>,
    pub(crate) remaining: Option<f64>,
}

/// One org's live metrics. Cheap to share: the client, the collector and the encoder hold the
/// same `Arc`.
#[derive(Debug)]
pub(crate) struct OrgTelemetry {
    pub(super) collections: Mutex<Collections>,
    token_expiry: Mutex<Option<f64>>,
    /// Whether the last read of a credential file failed (the Zoho client re-reads them).
    credentials_read_failed: AtomicBool,
    labelled: Mutex<LabelledCounters>,
    /// Created on first use, so an endpoint never called shows no histogram.
    pub(super) durations: [OnceLock<Histogram>; 4],
    pub(super) rate_limits: Mutex<BTreeMap<RateLimitWindow, RateLimit>>,
    /// Bumped after every write, so an encoding of this org's live series is reused while no
    /// write happened since (see [`OrgTelemetry::generation`]).
    changes: AtomicU64,
    /// Taken for writing while a collection's outcome is recorded, for reading while the org's
    /// live part is encoded ([`OrgTelemetry::read_consistently`]).
    consistent: RwLock<()>,
}

/// The collection counters and the health they end in, changed together.
#[derive(Debug, Clone, Default)]
pub(super) struct Collections {
    pub(super) attempted: u64,
    pub(super) failed: u64,
    pub(super) last_duration: f64,
    pub(super) health: Health,
}

#[derive(Debug, Default)]
pub(super) struct LabelledCounters {
    pub(super) requests: BTreeMap<(Endpoint, StatusCode), u64>,
    pub(super) errors: BTreeMap<(Endpoint, Arc<str>), u64>,
    pub(super) deactivations: BTreeMap<Arc<str>, u64>,
    pub(super) deletions: BTreeMap<Arc<str>, u64>,
}

/// Adds one to `map[key]`, or to the `overflow` key once the map holds [`MAX_LABEL_VALUES`]
/// keys.
fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, key: K, overflow: impl FnOnce() -> K) {
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
            collections: Mutex::new(Collections::default()),
            token_expiry: Mutex::new(None),
            credentials_read_failed: AtomicBool::new(false),
            labelled: Mutex::new(LabelledCounters::default()),
            durations: std::array::from_fn(|_| OnceLock::new()),
            rate_limits: Mutex::new(BTreeMap::new()),
            changes: AtomicU64::new(0),
            consistent: RwLock::new(()),
        }
    }
}

impl OrgTelemetry {
    /// A collection ended, in `took`, successfully with when its snapshot was taken, or not:
    /// counted now, with its outcome, in one step. A scrape sees the counters and the health
    /// agree: collections minus failures is the number of successes, and `up`, duration and last
    /// success are those of the last collection counted.
    pub(crate) fn collection_ended(&self, took: Duration, succeeded_at: Option<SystemTime>) {
        // Scrapes encode this org's live part under the read side: they see the collection
        // counted and its outcome together, or neither.
        let _whole = self.consistent.write().expect("telemetry lock");
        let mut collections = self.collections();
        collections.attempted += 1;
        collections.last_duration = took.as_secs_f64();
        let health = &mut collections.health;
        health.attempted = true;
        health.up = succeeded_at.is_some();
        match succeeded_at {
            Some(at) => health.last_success = Some(at),
            None => collections.failed += 1,
        }
        drop(collections);
        self.changed();
    }

    /// The org's collection health now.
    pub(crate) fn health(&self) -> Health {
        self.collections().health.clone()
    }

    /// Records one HTTP attempt: its status code (`None` when no answer came) and latency.
    pub(crate) fn observe_request(&self, endpoint: Endpoint, status: Option<u16>, seconds: f64) {
        let status = status.map_or(StatusCode::NoAnswer, StatusCode::Answered);
        bump(&mut self.labelled().requests, (endpoint, status), || {
            (endpoint, StatusCode::Other)
        });
        self.durations[endpoint as usize]
            .get_or_init(|| Histogram::new(LATENCY_BUCKETS))
            .observe(seconds);
        self.changed();
    }

    /// Counts one failed attempt under a bounded error label.
    pub(crate) fn count_error(&self, endpoint: Endpoint, error: &str) {
        bump(
            &mut self.labelled().errors,
            (endpoint, Arc::from(error)),
            || (endpoint, Arc::from(OVERFLOW_LABEL)),
        );
        self.changed();
    }

    /// Starts the deactivation and deletion counters of these modules at 0, so that the first
    /// event is an increase Prometheus can see rather than a new series already at 1.
    pub(crate) fn init_transition_counters<'a>(
        &self,
        modules: impl IntoIterator<Item = &'a Arc<str>>,
    ) {
        let mut guard = self.labelled();
        let counters = &mut *guard;
        for module in modules {
            for map in [&mut counters.deactivations, &mut counters.deletions] {
                if map.len() < MAX_LABEL_VALUES {
                    map.entry(module.clone()).or_default();
                }
            }
        }
        drop(guard);
        self.changed();
    }

    pub(crate) fn count_deactivation(&self, module: &Arc<str>) {
        bump(&mut self.labelled().deactivations, module.clone(), || {
            Arc::from(OVERFLOW_LABEL)
        });
        self.changed();
    }

    pub(crate) fn count_deletion(&self, module: &Arc<str>) {
        bump(&mut self.labelled().deletions, module.clone(), || {
            Arc::from(OVERFLOW_LABEL)
        });
        self.changed();
    }

    /// Expiry of the cached access token, Unix seconds, if one is cached.
    pub(crate) fn token_expiry(&self) -> Option<f64> {
        *self.token_expiry.lock().expect("telemetry lock")
    }

    pub(crate) fn set_token_expiry(&self, unix_seconds: Option<f64>) {
        *self.token_expiry.lock().expect("telemetry lock") = unix_seconds;
        self.changed();
    }

    /// Records whether the org's credentials were all read at the last look.
    pub(crate) fn set_credentials_read(&self, successful: bool) {
        self.credentials_read_failed
            .store(!successful, Ordering::Relaxed);
        self.changed();
    }

    pub(crate) fn credentials_last_read_successful(&self) -> bool {
        !self.credentials_read_failed.load(Ordering::Relaxed)
    }

    pub(crate) fn set_rate_limit(&self, window: RateLimitWindow, limit: RateLimit) {
        self.rate_limits
            .lock()
            .expect("telemetry lock")
            .insert(window, limit);
        self.changed();
    }

    /// Counts a write, after it is made: an encoder that reads the count, then the series,
    /// sees at least every write counted, so its encoding is stale once the count moves on.
    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::Release);
    }

    /// How many writes this org's live series have had: equal counts, equal series (the
    /// process metrics are not here).
    pub(crate) fn generation(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// `encode` run while no collection's outcome is being recorded, so that the collection
    /// families it writes (up, collections, failures, duration, last success) agree.
    pub(crate) fn read_consistently<T>(&self, encode: impl FnOnce() -> T) -> T {
        let _whole = self.consistent.read().expect("telemetry lock");
        encode()
    }

    pub(super) fn collections(&self) -> MutexGuard<'_, Collections> {
        self.collections.lock().expect("telemetry lock")
    }

    pub(super) fn labelled(&self) -> MutexGuard<'_, LabelledCounters> {
        self.labelled.lock().expect("telemetry lock")
    }
}

/// An org's name with its live metrics.
pub(crate) type NamedTelemetry = (Arc<str>, Arc<OrgTelemetry>);

/// Every org's live metrics plus the process-wide ones; registered once into the live registry.
#[derive(Debug, Default)]
pub(crate) struct Telemetry {
    pub(super) orgs: RwLock<BTreeMap<Arc<str>, Arc<OrgTelemetry>>>,
    pub(super) reload: Mutex<ReloadStatus>,
    /// This process's shard and the number of shards (`--shard`, `--total-shards`); unset
    /// means shard 0 of 1.
    pub(super) shard: std::sync::OnceLock<(u64, u64)>,
    /// Bumped whenever an org is added or removed.
    membership: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct ReloadStatus {
    pub(super) successful: bool,
    pub(super) last_success: f64,
}

impl Default for ReloadStatus {
    fn default() -> Self {
        Self {
            successful: true,
            last_success: crate::support::unix_now(),
        }
    }
}

impl Telemetry {
    /// Records this process's shard once, at start: the flags do not change on reload.
    pub(crate) fn set_shard(&self, ordinal: u64, total: u64) {
        let _ = self.shard.set((ordinal, total));
    }

    /// The org's telemetry, created on first use and kept across reloads while the org stays.
    pub(crate) fn org(&self, name: &str) -> Arc<OrgTelemetry> {
        if let Some(existing) = self.orgs.read().expect("telemetry lock").get(name) {
            return existing.clone();
        }
        let mut orgs = self.orgs.write().expect("telemetry lock");
        let org = orgs.entry(Arc::from(name)).or_insert_with(|| {
            self.membership.fetch_add(1, Ordering::Release);
            Arc::default()
        });
        org.clone()
    }

    /// Keeps the orgs in `keep`, each with its telemetry (created for new ones), and drops
    /// every series of the others.
    pub(crate) fn retain_orgs(&self, keep: &HashSet<&str>) {
        let mut orgs = self.orgs.write().expect("telemetry lock");
        orgs.retain(|name, _| keep.contains(&**name));
        for name in keep {
            if !orgs.contains_key(*name) {
                orgs.insert(Arc::from(*name), Arc::default());
            }
        }
        self.membership.fetch_add(1, Ordering::Release);
    }

    /// Every org's live metrics, in name order (the order of the live families), with a stamp
    /// that changes whenever any of them is written to or the set of orgs changes.
    pub(crate) fn orgs(&self) -> (Vec<NamedTelemetry>, (u64, u64)) {
        let orgs = self.orgs.read().expect("telemetry lock");
        let membership = self.membership.load(Ordering::Acquire);
        // Each org's count only grows while it stays, so the sum moves whenever any does.
        let writes = orgs.values().map(|org| org.generation()).sum();
        let list = orgs.iter().map(|(n, t)| (n.clone(), t.clone())).collect();
        (list, (membership, writes))
    }

    /// The orgs named that have live metrics, in name order, each once: a scrape of some orgs
    /// looks them up rather than copying every org's.
    pub(crate) fn named(&self, names: &[&str]) -> Vec<NamedTelemetry> {
        let orgs = self.orgs.read().expect("telemetry lock");
        let mut named: Vec<NamedTelemetry> = names
            .iter()
            .filter_map(|name| orgs.get_key_value(*name))
            .map(|(n, t)| (n.clone(), t.clone()))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named.dedup_by(|a, b| a.0 == b.0);
        named
    }

    /// Every org's collection health.
    pub(crate) fn health(&self) -> BTreeMap<Arc<str>, Health> {
        self.orgs
            .read()
            .expect("telemetry lock")
            .iter()
            .map(|(name, org)| (name.clone(), org.health()))
            .collect()
    }

    pub(crate) fn record_reload(&self, successful: bool) {
        let mut status = self.reload.lock().expect("telemetry lock");
        status.successful = successful;
        if successful {
            status.last_success = crate::support::unix_now();
        }
    }
}
