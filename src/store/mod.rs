//! Layer 7, `store`: the one place where collections and scrapes meet. [`SharedState`] holds
//! every org's latest complete snapshot (with the expectations' verdict on it) and side-pass
//! results, the pre-encoded cadence part, and the live metrics registry.
//!
//! - here: `SharedState`, what is published into it and what is read from it.
//! - [`queue`]: the encoding queue that coalesces re-encodings.
//!
//! Collectors write here when a collection ends, the side loops when a pass ends; the web layer
//! only reads. Locks are std locks held for a copy or a swap, never across an `.await`, so a
//! scrape never waits on Zoho or on an encoding.
//!
//! Uses `render`, `metrics`, `config`, `domain` and `support`; never the Zoho client.

mod queue;

use crate::config::Config;
use crate::domain::activity::{Enrollment, FollowUpsExecuted};
use crate::domain::expectations::{CheckedSnapshot, Expectation};
use crate::domain::history::{LastError, OrgHistory, PassKind};
use crate::domain::snapshot::OrgSnapshot;
use crate::domain::transitions::Transition;
use crate::metrics::telemetry::{Health, Telemetry};
use crate::render::encoded::{scrape_parts, EncodedCadences, LiveGzip};
use crate::render::families::{CadenceSource, OrgView};
use crate::render::negotiate::Format;
use bytes::Bytes;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;
use tokio::sync::watch;

/// What the status page knows of one org.
#[derive(Debug, Clone)]
pub struct OrgStatus {
    pub(crate) health: Health,
    /// The last complete snapshot with the expectations' verdict on it.
    pub(crate) checked: Option<Arc<CheckedSnapshot>>,
    pub(crate) enrollment: Option<Arc<Enrollment>>,
    pub(crate) follow_ups_executed: Option<Arc<FollowUpsExecuted>>,
    /// The last failure of a collection or an enrollment or analytics pass, kept after later
    /// successes (which mark it resolved).
    pub(crate) last_error: Option<LastError>,
    /// When the collection loop starts its next collection (none outside the loop, `--once`).
    pub(crate) next_collection: Option<SystemTime>,
    /// Changes and inactive cadences seen since the exporter started; shared, replaced whole by
    /// each collection, so reading a status copies no history.
    pub(crate) history: Arc<OrgHistory>,
}

impl OrgStatus {
    /// The last complete snapshot, if any.
    pub(crate) fn snapshot(&self) -> Option<&OrgSnapshot> {
        self.checked.as_deref().map(|c| &*c.snapshot)
    }

    /// Records enrolled in the cadences of the current snapshot, from the last complete
    /// enrollment pass (cadences gone since are left out, as in the exposition); `None` before
    /// the first pass or when enrollment is off.
    pub fn enrolled_records(&self) -> Option<u64> {
        let (enrollment, snapshot) = (self.enrollment.as_ref()?, self.snapshot()?);
        Some(
            enrollment
                .counted(snapshot.cadences())
                .map(|(_, n)| n)
                .sum(),
        )
    }
}

/// What the store keeps of one org.
#[derive(Debug, Default)]
pub(crate) struct OrgEntry {
    checked: Option<Arc<CheckedSnapshot>>,
    enrollment: Option<Arc<Enrollment>>,
    follow_ups_executed: Option<Arc<FollowUpsExecuted>>,
    /// Whether the org runs each side pass now: a pass that ends after a reload switched it off
    /// publishes nothing.
    enrollment_wanted: bool,
    analytics_wanted: bool,
    last_error: Option<LastError>,
    next_collection: Option<SystemTime>,
    history: Arc<OrgHistory>,
}

impl OrgEntry {
    /// A pass of this kind succeeded: an earlier failure of it is resolved.
    fn succeeded(&mut self, pass: PassKind) {
        if let Some(error) = self.last_error.as_mut().filter(|e| e.pass == pass) {
            error.resolved = true;
        }
    }
}

/// A result of a side pass, and where the store keeps it.
pub(crate) trait PassResult: Send + Sync + 'static {
    /// Which pass this is the result of.
    const KIND: PassKind;
    /// Whether the org runs this pass now.
    fn wanted(entry: &OrgEntry) -> bool;
    fn slot(entry: &mut OrgEntry) -> &mut Option<Arc<Self>>;
}

impl PassResult for Enrollment {
    const KIND: PassKind = PassKind::Enrollment;

    fn wanted(entry: &OrgEntry) -> bool {
        entry.enrollment_wanted
    }

    fn slot(entry: &mut OrgEntry) -> &mut Option<Arc<Self>> {
        &mut entry.enrollment
    }
}

impl PassResult for FollowUpsExecuted {
    const KIND: PassKind = PassKind::Analytics;

    fn wanted(entry: &OrgEntry) -> bool {
        entry.analytics_wanted
    }

    fn slot(entry: &mut OrgEntry) -> &mut Option<Arc<Self>> {
        &mut entry.follow_ups_executed
    }
}

#[derive(Debug)]
struct Settings {
    /// Org names in config order: the exposition lists orgs in this order.
    orgs: Vec<Arc<str>>,
    expectations: Arc<Vec<Expectation>>,
    per_cadence_metrics: bool,
}

/// Cheap to clone; every clone is the same state.
#[derive(Clone)]
pub struct SharedState {
    inner: Arc<Inner>,
}

struct Inner {
    telemetry: Arc<Telemetry>,
    live: Registry,
    live_gzip: LiveGzip,
    orgs: RwLock<BTreeMap<Arc<str>, OrgEntry>>,
    encoded: RwLock<Arc<EncodedCadences>>,
    settings: RwLock<Settings>,
    /// Re-encoding requests, served one encoding at a time and coalesced (see `queue`).
    encoding: Mutex<queue::EncodingQueue>,
    /// Sent to when an encoding finishes, for the publishers waiting on it.
    encoded_signal: watch::Sender<()>,
    /// Bumped whenever a snapshot is published, so the side loops can wait for an org's first
    /// one without polling.
    snapshots: watch::Sender<u64>,
}

impl SharedState {
    pub fn new(config: &Config) -> SharedState {
        let telemetry = Arc::new(Telemetry::default());
        let live = crate::metrics::live::registry(&telemetry);
        let state = SharedState {
            inner: Arc::new(Inner {
                telemetry,
                live,
                live_gzip: LiveGzip::default(),
                orgs: RwLock::new(BTreeMap::new()),
                encoded: RwLock::new(Arc::new(EncodedCadences::default())),
                settings: RwLock::new(Settings {
                    orgs: Vec::new(),
                    expectations: Arc::new(Vec::new()),
                    per_cadence_metrics: true,
                }),
                encoding: Mutex::new(queue::EncodingQueue::default()),
                encoded_signal: watch::Sender::new(()),
                snapshots: watch::Sender::new(0),
            }),
        };
        state.apply_config(config);
        state
    }

    pub(crate) fn telemetry(&self) -> &Arc<Telemetry> {
        &self.inner.telemetry
    }

    pub(crate) fn encoded(&self) -> Arc<EncodedCadences> {
        self.inner.encoded.read().expect("state lock").clone()
    }

    /// A scrape body as its two parts: the cadence part, shared and not copied, and the live
    /// part encoded now. Concatenated, they are the body.
    pub fn scrape_parts(&self, format: Format, gzipped: bool) -> [Bytes; 2] {
        scrape_parts(
            &self.encoded(),
            &self.inner.live,
            &self.inner.live_gzip,
            format,
            gzipped,
        )
    }

    /// The whole scrape body in one buffer, for `--once` (the web layer sends the parts).
    pub fn scrape_body(&self, format: Format, gzipped: bool) -> Vec<u8> {
        self.scrape_parts(format, gzipped).concat()
    }

    /// Takes on a (re)loaded config: orgs no longer configured lose their snapshot and every
    /// series; orgs that stay keep theirs, judged again if the expectations changed. A side pass
    /// switched off for an org drops its result.
    pub(crate) fn apply_config(&self, config: &Config) {
        let names: Vec<Arc<str>> = config.orgs.iter().map(|o| Arc::from(&*o.name)).collect();
        {
            // Orgs, then settings: the order `publish_snapshot` takes them in.
            let mut orgs = self.inner.orgs.write().expect("state lock");
            let mut settings = self.inner.settings.write().expect("state lock");
            if *settings.expectations != config.expectations {
                settings.expectations = Arc::new(config.expectations.clone());
            }
            orgs.retain(|name, _| names.contains(name));
            for org in &config.orgs {
                let entry = orgs.entry(Arc::from(&*org.name)).or_default();
                entry.enrollment_wanted = config.enrollment_for(org).is_some();
                entry.analytics_wanted = config.analytics_for(org).is_some();
                if !entry.enrollment_wanted {
                    entry.enrollment = None;
                }
                if !entry.analytics_wanted {
                    entry.follow_ups_executed = None;
                }
                entry.checked = entry
                    .checked
                    .take()
                    .map(|checked| rechecked(&org.name, checked, &settings.expectations));
            }
            settings.orgs = names;
            settings.per_cadence_metrics = config.per_cadence_metrics;
        }
        let keep: Vec<&str> = config.orgs.iter().map(|o| o.name.as_str()).collect();
        self.inner.telemetry.retain_orgs(&keep);
        self.reencode_soon();
    }

    /// A receiver that sees a change whenever any org's snapshot is published.
    pub(crate) fn subscribe_snapshots(&self) -> watch::Receiver<u64> {
        self.inner.snapshots.subscribe()
    }

    /// The org's last complete snapshot, if any.
    pub fn snapshot(&self, org: &str) -> Option<Arc<OrgSnapshot>> {
        let orgs = self.inner.orgs.read().expect("state lock");
        let checked = orgs.get(org)?.checked.as_ref()?;
        Some(checked.snapshot.clone())
    }

    /// A collection completed: its snapshot replaces the old one, with the expectations' verdict
    /// on it, computed here once. Returns once an encoding that includes it is published.
    pub async fn publish_snapshot(&self, org: &str, snapshot: Arc<OrgSnapshot>) {
        let expectations = self
            .inner
            .settings
            .read()
            .expect("state lock")
            .expectations
            .clone();
        let checked = Arc::new(CheckedSnapshot::new(org, snapshot, &expectations));
        let checked = {
            let mut orgs = self.inner.orgs.write().expect("state lock");
            let Some(entry) = orgs.get_mut(org) else {
                return; // removed by a reload while collecting
            };
            // A reload may have changed the expectations since they were read.
            let current = &self.inner.settings.read().expect("state lock").expectations;
            let checked = rechecked(org, checked, current);
            entry.checked = Some(checked.clone());
            entry.succeeded(PassKind::Collection);
            checked
        };
        warn_of_conflicts(org, &checked);
        self.reencode().await;
        self.inner.snapshots.send_modify(|n| *n += 1);
    }

    /// A side pass completed: its result replaces the old one, unless the pass was switched off
    /// for the org meanwhile.
    pub(crate) async fn publish_pass<R: PassResult>(&self, org: &str, result: Arc<R>) {
        {
            let mut orgs = self.inner.orgs.write().expect("state lock");
            let Some(entry) = orgs.get_mut(org).filter(|entry| R::wanted(entry)) else {
                return;
            };
            *R::slot(entry) = Some(result);
            entry.succeeded(R::KIND);
        }
        self.reencode().await;
    }

    /// A collection or side pass failed: its last complete result stays, and the failure is
    /// what the status page shows until a later one.
    pub(crate) fn publish_failure(&self, org: &str, error: LastError) {
        if let Some(entry) = self.inner.orgs.write().expect("state lock").get_mut(org) {
            entry.last_error = Some(error);
        }
    }

    /// Adds a new snapshot's transitions to the org's history, before the snapshot is
    /// published.
    pub(crate) fn record_history(
        &self,
        org: &str,
        transitions: &[Transition<'_>],
        next: &OrgSnapshot,
    ) {
        if let Some(entry) = self.inner.orgs.write().expect("state lock").get_mut(org) {
            Arc::make_mut(&mut entry.history).record(transitions, next);
        }
    }

    /// The collection loop tells when it collects next.
    pub(crate) fn set_next_collection(&self, org: &str, at: SystemTime) {
        if let Some(entry) = self.inner.orgs.write().expect("state lock").get_mut(org) {
            entry.next_collection = Some(at);
        }
    }

    /// Ready once every configured org has finished its first collection attempt.
    pub(crate) fn ready(&self) -> bool {
        self.inner
            .telemetry
            .health()
            .values()
            .all(|health| health.attempted)
    }

    /// How many orgs the config in force holds.
    pub(crate) fn org_count(&self) -> usize {
        self.inner.settings.read().expect("state lock").orgs.len()
    }

    /// Every org's status, in config order.
    pub fn statuses(&self) -> Vec<(String, OrgStatus)> {
        let order = self.inner.settings.read().expect("state lock").orgs.clone();
        let health = self.inner.telemetry.health();
        let orgs = self.inner.orgs.read().expect("state lock");
        order
            .iter()
            .filter_map(|name| {
                let entry = orgs.get(name)?;
                let status = OrgStatus {
                    health: health.get(name).cloned().unwrap_or_default(),
                    checked: entry.checked.clone(),
                    enrollment: entry.enrollment.clone(),
                    follow_ups_executed: entry.follow_ups_executed.clone(),
                    last_error: entry.last_error.clone(),
                    next_collection: entry.next_collection,
                    history: entry.history.clone(),
                };
                Some((name.to_string(), status))
            })
            .collect()
    }

    /// Encodes the cadence part of the state as it is now.
    fn encode_now(&self) {
        let source = {
            let settings = self.inner.settings.read().expect("state lock");
            let orgs = self.inner.orgs.read().expect("state lock");
            let views = settings.orgs.iter().filter_map(|name| {
                let entry = orgs.get(name)?;
                Some(OrgView {
                    name: name.clone(),
                    checked: entry.checked.clone()?,
                    enrollment: entry.enrollment.clone(),
                    follow_ups_executed: entry.follow_ups_executed.clone(),
                })
            });
            CadenceSource {
                orgs: views.collect(),
                per_cadence_metrics: settings.per_cadence_metrics,
            }
        };
        let encoded = Arc::new(EncodedCadences::encode(source));
        *self.inner.encoded.write().expect("state lock") = encoded;
    }
}

/// `checked`, or its snapshot judged again when the expectations are no longer the ones it was
/// judged by.
fn rechecked(
    org: &str,
    checked: Arc<CheckedSnapshot>,
    expectations: &Arc<Vec<Expectation>>,
) -> Arc<CheckedSnapshot> {
    if checked.is_about(expectations) {
        checked
    } else {
        Arc::new(CheckedSnapshot::new(
            org,
            checked.snapshot.clone(),
            expectations,
        ))
    }
}

/// Reports the cadences on which expectations disagree; none of them is exported for those.
fn warn_of_conflicts(org: &str, checked: &CheckedSnapshot) {
    for &index in &checked.evaluation.conflicts {
        let cadence = &checked.snapshot.cadences()[index];
        tracing::warn!(org, id = %cadence.id, name = %cadence.name, module = %cadence.module,
            "expectations require different states of this cadence; none is exported for it");
    }
}
