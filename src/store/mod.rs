//! Layer 7, `store`: the one place where collections and scrapes meet. [`SharedState`] holds
//! every org's latest complete snapshot (with the expectations' verdict on it) and side-pass
//! results, each org's pre-encoded cadence part, and the live metrics.
//!
//! - here: `SharedState`, what is published into it and what is read from it.
//!
//! Collectors write here when a collection ends, the side loops when a pass ends; the web layer
//! only reads. A publication encodes the publishing org's part only. Locks are std locks held
//! for a copy or a swap, or by a publisher while its own org's part is encoded, never across an
//! `.await`, so a scrape never waits on Zoho or on an encoding.
//!
//! Uses `render`, `metrics`, `config`, `domain` and `support`; never the Zoho client.

use crate::config::{Config, OrgConfig};
use crate::domain::activity::{Enrollment, FollowUpsExecuted};
use crate::domain::expectations::{CheckedSnapshot, Expectation};
use crate::domain::history::{LastError, OrgHistory, PassKind};
use crate::domain::snapshot::OrgSnapshot;
use crate::domain::transitions::Transition;
use crate::metrics::telemetry::{Health, Telemetry};
use crate::render::encoded::{join_some, Joined, OrgCadences};
use crate::render::families::OrgView;
use crate::render::gzip::body;
use crate::render::latest::Latest;
use crate::render::live::LiveParts;
use crate::render::negotiate::Format;
use crate::render::parts::Headers;
use bytes::Bytes;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// The org's place in the config, the order of every exposition.
    position: usize,
    /// The org's cadence part, encoded from the above.
    encoded: Option<Arc<OrgCadences>>,
    encoding: Arc<OrgEncoding>,
    /// The body of a scrape of this org alone (`?org=`), per format and gzip, kept until its
    /// cadence part or its live counters change: with an org per target, every scrape is one.
    alone: Arc<AloneBodies>,
}

/// The bodies of a scrape of one org, per format and gzip, each for the (encodings of its
/// cadence part, writes to its live counters) it was made at.
type AloneBodies = [Latest<(u64, u64), Arc<Vec<Bytes>>>; 4];

impl OrgEntry {
    /// A pass of this kind succeeded: an earlier failure of it is resolved.
    fn succeeded(&mut self, pass: PassKind) {
        if let Some(error) = self.last_error.as_mut().filter(|e| e.pass == pass) {
            error.resolved = true;
        }
    }

    /// Takes on the org's settings of a (re)loaded config: a side pass switched off drops its
    /// result, a snapshot is judged again by changed expectations. True when what the org's
    /// part says changed; a verdict judged again but unchanged encodes the same, so only the
    /// orgs that changed expectations concern are encoded again.
    fn take_on(
        &mut self,
        org: &OrgConfig,
        config: &Config,
        expectations: &Arc<Vec<Expectation>>,
    ) -> bool {
        self.enrollment_wanted = config.enrollment_for(org).is_some();
        self.analytics_wanted = config.analytics_for(org).is_some();
        let mut changed = false;
        if !self.enrollment_wanted {
            changed |= self.enrollment.take().is_some();
        }
        if !self.analytics_wanted {
            changed |= self.follow_ups_executed.take().is_some();
        }
        let before = self.checked.take();
        self.checked = (before.clone()).map(|checked| rechecked(&org.name, checked, expectations));
        if let (Some(before), Some(after)) = (&before, &self.checked) {
            changed |= !Arc::ptr_eq(before, after) && before.evaluation != after.evaluation;
        }
        changed
    }
}

/// What serializes the encodings of one org: each encodes the org's state as it is once the
/// lock is taken, so the last one stored is the latest state. Orgs encode in parallel.
#[derive(Debug, Default)]
struct OrgEncoding {
    lock: Mutex<()>,
    /// Encodings of the org so far (what the tests of per-org encoding count).
    runs: AtomicU64,
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
    live: LiveParts,
    /// Every family's header, shared by the orgs' parts.
    headers: Headers,
    orgs: RwLock<BTreeMap<Arc<str>, OrgEntry>>,
    settings: RwLock<Settings>,
    /// Bumped after any org's cadence part is stored and on every config change, so the joined
    /// cadence part is made again by the next scrape.
    cadences_changed: AtomicU64,
    /// Every org's cadence part joined, per format.
    joined: [Latest<u64, Arc<Joined>>; 2],
    /// Bumped whenever a snapshot is published, so the side loops can wait for an org's first
    /// one without polling.
    snapshots: watch::Sender<u64>,
}

/// The orgs a scrape of some orgs named that this process does not collect.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnknownOrgs(pub(crate) Vec<String>);

impl SharedState {
    pub fn new(config: &Config) -> SharedState {
        let telemetry = Arc::new(Telemetry::default());
        let state = SharedState {
            inner: Arc::new(Inner {
                live: LiveParts::new(&telemetry),
                telemetry,
                headers: Headers::default(),
                orgs: RwLock::new(BTreeMap::new()),
                settings: RwLock::new(Settings {
                    orgs: Vec::new(),
                    expectations: Arc::new(Vec::new()),
                    per_cadence_metrics: true,
                }),
                cadences_changed: AtomicU64::new(0),
                joined: Default::default(),
                snapshots: watch::Sender::new(0),
            }),
        };
        state.apply_config(config);
        state
    }

    pub(crate) fn telemetry(&self) -> &Arc<Telemetry> {
        &self.inner.telemetry
    }

    /// Every org's cadence part joined in `format`, as the scrapes of every org send it.
    pub(crate) fn joined(&self, format: Format) -> Arc<Joined> {
        let stamp = self.inner.cadences_changed.load(Ordering::Acquire);
        let slot = &self.inner.joined[usize::from(format == Format::Text)];
        slot.get(stamp, || {
            let orgs = self.inner.orgs.read().expect("state lock");
            let settings = self.inner.settings.read().expect("state lock");
            let parts = settings
                .orgs
                .iter()
                .filter_map(|name| orgs.get(name)?.encoded.clone());
            let parts: Vec<_> = parts.collect();
            drop((settings, orgs));
            Arc::new(Joined::new(&parts, format))
        })
    }

    /// A scrape body as two parts, the cadence part first: concatenated, they are the body.
    pub fn scrape_parts(&self, format: Format, gzipped: bool) -> [Bytes; 2] {
        let mut parts = self.scrape_all(format, gzipped);
        // A gzip body starts with its header, which goes with the cadence part.
        let first = if gzipped { 2 } else { 1 };
        let rest = parts.split_off(first);
        [parts.concat().into(), rest.concat().into()]
    }

    /// A scrape body of every org, as parts to send one after the other, none copied: the
    /// cadence part, the orgs' live part and the process-wide part (framed as one gzip member
    /// when gzipped).
    pub(crate) fn scrape_all(&self, format: Format, gzipped: bool) -> Vec<Bytes> {
        let cadences = self.joined(format).part(gzipped);
        let [orgs, process] = self.inner.live.all(format, gzipped, &self.inner.headers);
        body(&[cadences, orgs, process])
    }

    /// A scrape body of the orgs named only: every series labelled with one of them, and the
    /// build info. Each org once, in the order of a scrape of every org.
    pub(crate) fn scrape_orgs(
        &self,
        names: &[&str],
        format: Format,
        gzipped: bool,
    ) -> Result<Vec<Bytes>, UnknownOrgs> {
        let (parts, alone) = {
            // Looked up by name, not by a walk over every org: a scrape of one org costs the
            // same among a thousand.
            let orgs = self.inner.orgs.read().expect("state lock");
            let unknown = names.iter().filter(|name| !orgs.contains_key(**name));
            let unknown: Vec<String> = unknown.map(|name| name.to_string()).collect();
            if !unknown.is_empty() {
                return Err(UnknownOrgs(unknown));
            }
            let mut named: Vec<&OrgEntry> =
                names.iter().filter_map(|name| orgs.get(*name)).collect();
            named.sort_by_key(|entry| entry.position);
            named.dedup_by_key(|entry| entry.position);
            // Read under the same lock as the part: an encoding stores its part, then counts
            // itself, so the part is at least as new as the count.
            let alone = match named[..] {
                [entry] => Some((
                    entry.alone.clone(),
                    entry.encoding.runs.load(Ordering::Acquire),
                )),
                _ => None,
            };
            let parts = named.into_iter().filter_map(|entry| entry.encoded.clone());
            (parts.collect::<Vec<_>>(), alone)
        };
        if let Some((bodies, runs)) = alone {
            // The live counters read before the body is made: the body is at least as new.
            let live = self.inner.telemetry.named(names);
            let generation = live.first().map_or(0, |(_, t)| t.generation());
            let slot = &bodies[usize::from(format == Format::Text) * 2 + usize::from(gzipped)];
            let body = slot.get((runs, generation), || {
                Arc::new(self.body_of(&parts, names, format, gzipped))
            });
            return Ok(body.to_vec());
        }
        Ok(self.body_of(&parts, names, format, gzipped))
    }

    /// The body of a scrape of the orgs `names`, whose cadence parts are `parts`.
    fn body_of(
        &self,
        parts: &[Arc<OrgCadences>],
        names: &[&str],
        format: Format,
        gzipped: bool,
    ) -> Vec<Bytes> {
        let cadences = join_some(parts, format, gzipped);
        let live = self
            .inner
            .live
            .some(names, format, gzipped, &self.inner.headers);
        let [orgs, build_info] = live;
        body(&[cadences, orgs, build_info])
    }

    /// The whole scrape body in one buffer, for `--once` (the web layer sends the parts).
    pub fn scrape_body(&self, format: Format, gzipped: bool) -> Vec<u8> {
        self.scrape_all(format, gzipped).concat()
    }

    /// Takes on a (re)loaded config: orgs no longer configured lose their snapshot and every
    /// series; orgs that stay keep theirs, judged again if the expectations changed. A side pass
    /// switched off for an org drops its result.
    pub(crate) fn apply_config(&self, config: &Config) {
        let names: Vec<Arc<str>> = config.orgs.iter().map(|o| Arc::from(&*o.name)).collect();
        // A set, not the list: a reload at 1,000 orgs looks each org up once.
        let configured: HashSet<&str> = config.orgs.iter().map(|o| &*o.name).collect();
        let mut stale = Vec::new();
        {
            // Orgs, then settings: the order `publish_snapshot` takes them in.
            let mut orgs = self.inner.orgs.write().expect("state lock");
            let mut settings = self.inner.settings.write().expect("state lock");
            if *settings.expectations != config.expectations {
                settings.expectations = Arc::new(config.expectations.clone());
            }
            orgs.retain(|name, _| configured.contains(&**name));
            let per_cadence_changed = settings.per_cadence_metrics != config.per_cadence_metrics;
            for (position, org) in config.orgs.iter().enumerate() {
                let entry = orgs.entry(Arc::from(&*org.name)).or_default();
                entry.position = position;
                let changed = entry.take_on(org, config, &settings.expectations);
                if changed || (per_cadence_changed && entry.checked.is_some()) {
                    stale.push(org.name.clone());
                }
            }
            settings.orgs = names;
            settings.per_cadence_metrics = config.per_cadence_metrics;
        }
        self.inner.telemetry.retain_orgs(&configured);
        // Removed orgs took their parts with them, and the order may have changed.
        self.cadences_changed();
        for name in stale {
            self.encode_org(&name);
        }
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
        // (`async` for the publishers, which await nothing here since encodings are per org.)
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
        self.encode_org(org);
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
        self.encode_org(org);
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

    /// Encodes the org's cadence part from its state as it is now, and stores it: the one
    /// encoding a publication of that org costs, whatever the number of other orgs.
    fn encode_org(&self, name: &str) {
        let orgs = self.inner.orgs.read().expect("state lock");
        let Some(encoding) = orgs.get(name).map(|entry| entry.encoding.clone()) else {
            return; // removed by a reload
        };
        drop(orgs);
        let _one_at_a_time = encoding.lock.lock().expect("encoding lock");
        let (view, per_cadence_metrics) = {
            // Orgs, then settings: the order `apply_config` takes them in.
            let orgs = self.inner.orgs.read().expect("state lock");
            let settings = self.inner.settings.read().expect("state lock");
            let view = orgs.get(name).and_then(|entry| {
                Some(OrgView {
                    name: Arc::from(name),
                    checked: entry.checked.clone()?,
                    enrollment: entry.enrollment.clone(),
                    follow_ups_executed: entry.follow_ups_executed.clone(),
                })
            });
            (view, settings.per_cadence_metrics)
        };
        let headers = &self.inner.headers;
        let encoded =
            view.map(|view| Arc::new(OrgCadences::encode(view, per_cadence_metrics, headers)));
        let alone = {
            let mut orgs = self.inner.orgs.write().expect("state lock");
            let entry = orgs.get_mut(name);
            let entry = entry.filter(|entry| Arc::ptr_eq(&entry.encoding, &encoding));
            entry.map(|entry| {
                entry.encoded = encoded;
                entry.alone.clone()
            })
        };
        encoding.runs.fetch_add(1, Ordering::Release);
        self.cadences_changed();
        // The org's one-org bodies are stale too; each holds a copy of its cadence part.
        alone
            .iter()
            .flat_map(|bodies| bodies.iter())
            .for_each(Latest::forget);
    }

    /// Moves the joined cadence parts' stamp on after a change of any org's part or of the
    /// config, and drops the joined parts made before it: at 1,000 orgs each is megabytes, and
    /// a process nobody scrapes for a while should not hold one for a past state.
    fn cadences_changed(&self) {
        self.inner.cadences_changed.fetch_add(1, Ordering::Release);
        self.inner.joined.iter().for_each(Latest::forget);
    }

    /// How many times each org's cadence part was encoded, for the tests of per-org encoding.
    #[cfg(test)]
    pub(crate) fn encodings(&self) -> BTreeMap<String, u64> {
        let orgs = self.inner.orgs.read().expect("state lock");
        let runs = orgs.iter().map(|(name, entry)| {
            (
                name.to_string(),
                entry.encoding.runs.load(Ordering::Relaxed),
            )
        });
        runs.collect()
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

#[cfg(test)]
mod tests;
