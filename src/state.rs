//! The one place where collections and scrapes meet: every org's latest complete snapshot and
//! status, the pre-encoded cadence exposition, and the live metrics registry.
//!
//! Collectors write here when a collection ends, the enrollment and analytics loops when a pass
//! ends; the HTTP layer only reads. Locks are std locks held for a copy or a swap, never across
//! an `.await`, so a scrape never waits on Zoho.

use crate::config::Config;
use crate::enrollment::{Enrollment, FollowUpsExecuted};
use crate::expectations::Expectation;
use crate::exposition::{scrape_parts, CadenceSource, EncodedCadences, Format, LiveGzip};
use crate::history::{LastError, OrgHistory};
use crate::snapshot::{OrgSnapshot, Transition};
use crate::telemetry::Telemetry;
use bytes::Bytes;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;
use tokio::sync::watch;

/// What the status page and readiness know of one org.
#[derive(Debug, Clone, Default)]
pub struct OrgStatus {
    pub snapshot: Option<Arc<OrgSnapshot>>,
    /// The first collection attempt has finished (success or not).
    pub attempted: bool,
    pub up: bool,
    pub last_success: Option<SystemTime>,
    /// The last failure of a collection or an enrollment or analytics pass, kept after later
    /// successes (the status page tells whether one came since).
    pub last_error: Option<LastError>,
    /// When the collection loop starts its next collection (none outside the loop, `--once`).
    pub next_collection: Option<SystemTime>,
    /// Changes and inactive cadences seen since the exporter started; shared, replaced whole
    /// by each collection, so reading a status copies no history.
    pub history: Arc<OrgHistory>,
    /// The last complete enrollment pass (`records_count`), if any.
    pub enrollment: Option<Arc<Enrollment>>,
    /// The last complete analytics pass, if any.
    pub follow_ups_executed: Option<Arc<FollowUpsExecuted>>,
}

impl OrgStatus {
    /// Records enrolled in the cadences of the current snapshot, from the last complete
    /// enrollment pass (cadences gone since are left out, as in the exposition); `None` before
    /// the first pass or when enrollment is off.
    pub fn enrolled_records(&self) -> Option<u64> {
        let enrollment = self.enrollment.as_ref()?;
        let snapshot = self.snapshot.as_ref()?;
        Some(
            snapshot
                .cadences
                .iter()
                .filter_map(|c| enrollment.counts.get(&*c.id))
                .sum(),
        )
    }
}

#[derive(Debug)]
struct ExpositionSettings {
    /// Org names in config order: the exposition lists orgs in this order.
    orgs: Vec<String>,
    expectations: Arc<Vec<Expectation>>,
    per_cadence_metrics: bool,
    /// Whether enrollment and analytics results are wanted; a pass that ends after they were
    /// switched off publishes nothing.
    enrollment_enabled: bool,
    analytics_enabled: bool,
}

/// Requests to re-encode the cadence part, numbered in order.
#[derive(Debug, Default)]
struct EncodingQueue {
    /// The number of the latest request.
    requested: u64,
    /// Every request up to this number is in the published encoding.
    encoded: u64,
    /// Some thread is encoding now.
    running: bool,
    /// Encodings run so far (what the coalescing test counts).
    runs: u64,
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
    orgs: RwLock<BTreeMap<String, OrgStatus>>,
    encoded: RwLock<Arc<EncodedCadences>>,
    settings: RwLock<ExpositionSettings>,
    /// Re-encoding requests, served one encoding at a time and coalesced (see `reencode`).
    encoding: Mutex<EncodingQueue>,
    /// Sent to when an encoding finishes, for the publishers waiting on it.
    encoded_signal: watch::Sender<()>,
    /// Bumped whenever a snapshot is published, so the enrollment and analytics loops can wait
    /// for an org's first one without polling.
    snapshots: watch::Sender<u64>,
}

impl SharedState {
    pub fn new(config: &Config) -> SharedState {
        let telemetry = Arc::new(Telemetry::default());
        let live = telemetry.registry();
        let state = SharedState {
            inner: Arc::new(Inner {
                telemetry,
                live,
                live_gzip: LiveGzip::default(),
                orgs: RwLock::new(BTreeMap::new()),
                encoded: RwLock::new(Arc::new(EncodedCadences::default())),
                settings: RwLock::new(ExpositionSettings {
                    orgs: Vec::new(),
                    expectations: Arc::new(Vec::new()),
                    per_cadence_metrics: true,
                    enrollment_enabled: false,
                    analytics_enabled: false,
                }),
                encoding: Mutex::new(EncodingQueue::default()),
                encoded_signal: watch::Sender::new(()),
                snapshots: watch::Sender::new(0),
            }),
        };
        state.apply_config(config);
        state
    }

    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.inner.telemetry
    }

    pub fn encoded(&self) -> Arc<EncodedCadences> {
        self.inner.encoded.read().expect("state lock").clone()
    }

    /// A scrape body as its two parts (cadence part, live part), for the HTTP layer.
    pub fn scrape_parts(&self, format: Format, gzipped: bool) -> [Bytes; 2] {
        scrape_parts(
            &self.encoded(),
            &self.inner.live,
            &self.inner.live_gzip,
            format,
            gzipped,
        )
    }

    /// The whole scrape body in one buffer (for `--once` and tests; the HTTP layer sends the
    /// parts).
    pub fn scrape_body(&self, format: Format, gzipped: bool) -> Vec<u8> {
        self.scrape_parts(format, gzipped).concat()
    }

    /// Takes on a (re)loaded config: orgs no longer configured lose their snapshot and every
    /// series; orgs that stay keep theirs. Switching enrollment or analytics off drops their
    /// results.
    pub fn apply_config(&self, config: &Config) {
        let names: Vec<String> = config.orgs.iter().map(|o| o.name.clone()).collect();
        let enrollment_enabled = config.enrollment.enabled;
        let analytics_enabled = crate::enrollment::analytics_wanted(config);
        {
            let mut orgs = self.inner.orgs.write().expect("state lock");
            orgs.retain(|name, _| names.contains(name));
            for org in &config.orgs {
                let status = orgs.entry(org.name.clone()).or_default();
                let supported = crate::enrollment::supported(org);
                if !enrollment_enabled || !supported {
                    status.enrollment = None;
                }
                if !analytics_enabled || !supported {
                    status.follow_ups_executed = None;
                }
            }
        }
        let keep: Vec<&str> = names.iter().map(String::as_str).collect();
        self.inner.telemetry.retain_orgs(&keep);
        for name in &keep {
            self.inner.telemetry.org(name);
        }
        *self.inner.settings.write().expect("state lock") = ExpositionSettings {
            orgs: names,
            expectations: Arc::new(config.expectations.clone()),
            per_cadence_metrics: config.per_cadence_metrics,
            enrollment_enabled,
            analytics_enabled,
        };
        self.reencode_soon();
    }

    /// A receiver that sees a change whenever any org's snapshot is published.
    pub fn subscribe_snapshots(&self) -> watch::Receiver<u64> {
        self.inner.snapshots.subscribe()
    }

    /// The org's last complete snapshot, if any.
    pub fn snapshot(&self, org: &str) -> Option<Arc<OrgSnapshot>> {
        self.inner
            .orgs
            .read()
            .expect("state lock")
            .get(org)
            .and_then(|s| s.snapshot.clone())
    }

    pub fn expectations(&self) -> Arc<Vec<Expectation>> {
        self.inner
            .settings
            .read()
            .expect("state lock")
            .expectations
            .clone()
    }

    /// A collection completed: its snapshot replaces the old one.
    pub async fn publish_success(&self, org: &str, snapshot: Arc<OrgSnapshot>) {
        {
            let mut orgs = self.inner.orgs.write().expect("state lock");
            let Some(status) = orgs.get_mut(org) else {
                return; // removed by a reload while collecting
            };
            status.last_success = Some(snapshot.collected_at);
            status.snapshot = Some(snapshot);
            status.attempted = true;
            status.up = true;
        }
        self.reencode().await;
        self.inner.snapshots.send_modify(|n| *n += 1);
    }

    /// An enrollment pass completed: its result replaces the old one.
    pub async fn publish_enrollment(&self, org: &str, enrollment: Arc<Enrollment>) {
        if !self
            .inner
            .settings
            .read()
            .expect("state lock")
            .enrollment_enabled
        {
            return; // switched off by a reload while the pass ran
        }
        {
            let mut orgs = self.inner.orgs.write().expect("state lock");
            let Some(status) = orgs.get_mut(org) else {
                return;
            };
            status.enrollment = Some(enrollment);
        }
        self.reencode().await;
    }

    /// An analytics pass completed: its result replaces the old one.
    pub async fn publish_follow_ups_executed(&self, org: &str, executed: Arc<FollowUpsExecuted>) {
        if !self
            .inner
            .settings
            .read()
            .expect("state lock")
            .analytics_enabled
        {
            return;
        }
        {
            let mut orgs = self.inner.orgs.write().expect("state lock");
            let Some(status) = orgs.get_mut(org) else {
                return;
            };
            status.follow_ups_executed = Some(executed);
        }
        self.reencode().await;
    }

    /// The org's last complete enrollment result, if any.
    pub fn enrollment(&self, org: &str) -> Option<Arc<Enrollment>> {
        self.inner
            .orgs
            .read()
            .expect("state lock")
            .get(org)
            .and_then(|s| s.enrollment.clone())
    }

    /// The org's last complete analytics result, if any.
    pub fn follow_ups_executed(&self, org: &str) -> Option<Arc<FollowUpsExecuted>> {
        self.inner
            .orgs
            .read()
            .expect("state lock")
            .get(org)
            .and_then(|s| s.follow_ups_executed.clone())
    }

    /// A collection failed: the last complete snapshot stays.
    pub fn publish_failure(&self, org: &str, error: LastError) {
        let mut orgs = self.inner.orgs.write().expect("state lock");
        if let Some(status) = orgs.get_mut(org) {
            status.attempted = true;
            status.up = false;
            status.last_error = Some(error);
        }
    }

    /// An enrollment or analytics pass failed: its last complete result stays, and the org's
    /// collection state is untouched.
    pub fn publish_pass_failure(&self, org: &str, error: LastError) {
        if let Some(status) = self.inner.orgs.write().expect("state lock").get_mut(org) {
            status.last_error = Some(error);
        }
    }

    /// Adds a new snapshot's transitions to the org's history, before the snapshot is
    /// published.
    pub fn record_history(&self, org: &str, transitions: &[Transition<'_>], next: &OrgSnapshot) {
        if let Some(status) = self.inner.orgs.write().expect("state lock").get_mut(org) {
            Arc::make_mut(&mut status.history).record(transitions, next);
        }
    }

    /// The collection loop tells when it collects next.
    pub fn set_next_collection(&self, org: &str, at: SystemTime) {
        if let Some(status) = self.inner.orgs.write().expect("state lock").get_mut(org) {
            status.next_collection = Some(at);
        }
    }

    /// One org's status, if the org is configured.
    pub fn status(&self, org: &str) -> Option<OrgStatus> {
        self.inner
            .orgs
            .read()
            .expect("state lock")
            .get(org)
            .cloned()
    }

    /// Ready once every configured org has finished its first collection attempt.
    pub fn ready(&self) -> bool {
        self.inner
            .orgs
            .read()
            .expect("state lock")
            .values()
            .all(|s| s.attempted)
    }

    /// Every org's status, in config order.
    pub fn statuses(&self) -> Vec<(String, OrgStatus)> {
        let order = self.inner.settings.read().expect("state lock").orgs.clone();
        let orgs = self.inner.orgs.read().expect("state lock");
        order
            .into_iter()
            .filter_map(|name| orgs.get(&name).cloned().map(|s| (name, s)))
            .collect()
    }

    /// Re-encodes the cadence part after a change of state, and returns once an encoding that
    /// includes the change is published.
    ///
    /// One encoding runs at a time, and requests that arrive meanwhile are served together by
    /// its next round: when many orgs finish their collections at about the same time (they
    /// start together), the cadence part of all orgs is encoded a few times, not once per org.
    /// Waiting is asynchronous, so that the runtime's workers go on finishing the collections
    /// whose requests the next round serves. A request is numbered after its change is stored,
    /// and a round reads the state after taking the latest number, so it covers every request
    /// up to that number.
    async fn reencode(&self) {
        let mut finished = self.inner.encoded_signal.subscribe();
        let (mine, encoder) = self.request_encoding();
        if encoder {
            self.encode_requests();
            return;
        }
        loop {
            {
                let mut queue = self.inner.encoding.lock().expect("encoding lock");
                if queue.encoded >= mine {
                    return;
                }
                if !queue.running {
                    // The encoder stopped without covering this request (it panicked).
                    queue.running = true;
                    drop(queue);
                    self.encode_requests();
                    return;
                }
            }
            let _ = finished.changed().await;
        }
    }

    /// Re-encodes without waiting, for changes made outside the runtime (construction,
    /// reloads): encodes now unless an encoding is under way, whose next round covers this.
    fn reencode_soon(&self) {
        if let (_, true) = self.request_encoding() {
            self.encode_requests();
        }
    }

    /// Numbers a request; true when no encoding is under way and the caller must encode.
    fn request_encoding(&self) -> (u64, bool) {
        let mut queue = self.inner.encoding.lock().expect("encoding lock");
        queue.requested += 1;
        let encoder = !std::mem::replace(&mut queue.running, true);
        (queue.requested, encoder)
    }

    /// Encodes in rounds until no request is left uncovered, then frees the queue.
    fn encode_requests(&self) {
        loop {
            let covers = self.inner.encoding.lock().expect("encoding lock").requested;
            let unwinding = ServeOnPanic {
                state: self,
                covers,
            };
            self.encode_now();
            std::mem::forget(unwinding);
            let done = {
                let mut queue = self.inner.encoding.lock().expect("encoding lock");
                queue.encoded = covers;
                queue.runs += 1;
                let done = queue.requested == covers;
                queue.running = !done;
                done
            };
            self.inner.encoded_signal.send_replace(());
            if done {
                return;
            }
        }
    }

    fn encode_now(&self) {
        let source = {
            let settings = self.inner.settings.read().expect("state lock");
            let orgs = self.inner.orgs.read().expect("state lock");
            let mut source = CadenceSource {
                orgs: Vec::new(),
                enrollment: BTreeMap::new(),
                follow_ups_executed: BTreeMap::new(),
                expectations: settings.expectations.clone(),
                per_cadence_metrics: settings.per_cadence_metrics,
            };
            for (name, status) in settings
                .orgs
                .iter()
                .filter_map(|name| orgs.get(name).map(|status| (name, status)))
            {
                if let Some(snapshot) = &status.snapshot {
                    source.orgs.push((name.clone(), snapshot.clone()));
                }
                if let Some(enrollment) = &status.enrollment {
                    source.enrollment.insert(name.clone(), enrollment.clone());
                }
                if let Some(executed) = &status.follow_ups_executed {
                    source
                        .follow_ups_executed
                        .insert(name.clone(), executed.clone());
                }
            }
            source
        };
        let encoded = Arc::new(EncodedCadences::encode(source));
        *self.inner.encoded.write().expect("state lock") = encoded;
    }
}

/// Should an encoding panic, its requests count as served (the previous encoding stays), the
/// queue is freed and waiting publishers are woken: a later change encodes again, and nothing
/// waits forever.
struct ServeOnPanic<'a> {
    state: &'a SharedState,
    covers: u64,
}

impl Drop for ServeOnPanic<'_> {
    fn drop(&mut self) {
        if let Ok(mut queue) = self.state.inner.encoding.lock() {
            queue.encoded = queue.encoded.max(self.covers);
            queue.running = false;
        }
        self.state.inner.encoded_signal.send_replace(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Cadence, OrgSnapshot};

    #[tokio::test]
    async fn requests_made_during_an_encoding_are_served_by_one_encoding() {
        const ORGS: usize = 8;
        let mut yaml = String::from("orgs:\n");
        for n in 0..ORGS {
            yaml.push_str(&format!(
                "  - name: org{n}\n    client_id: c\n    client_secret: s\n    refresh_token: r\n"
            ));
        }
        let state = SharedState::new(&Config::parse(&yaml).unwrap());
        let (runs_before, requested_before) = {
            let mut queue = state.inner.encoding.lock().unwrap();
            queue.running = true; // as if an encoding were under way
            (queue.runs, queue.requested)
        };
        let publishers: Vec<_> = (0..ORGS)
            .map(|n| {
                let state = state.clone();
                tokio::spawn(async move {
                    let cadence = Cadence {
                        id: n.to_string().into(),
                        ..Cadence::default()
                    };
                    let snapshot = OrgSnapshot::build(vec![cadence], SystemTime::UNIX_EPOCH);
                    state
                        .publish_success(&format!("org{n}"), Arc::new(snapshot))
                        .await;
                })
            })
            .collect();
        // Every publisher has stored its snapshot and queued its request...
        while state.inner.encoding.lock().unwrap().requested < requested_before + ORGS as u64 {
            tokio::task::yield_now().await;
        }
        assert!(publishers.iter().all(|p| !p.is_finished()), "they wait");
        // ...when the encoding under way ends (it panicked) without covering them.
        state.inner.encoding.lock().unwrap().running = false;
        state.inner.encoded_signal.send_replace(());
        for publisher in publishers {
            publisher.await.unwrap();
        }
        assert_eq!(
            state.inner.encoding.lock().unwrap().runs,
            runs_before + 1,
            "one encoding served every waiting request"
        );
        let text = String::from_utf8(state.encoded().text.bytes().to_vec()).unwrap();
        for n in 0..ORGS {
            assert!(
                text.contains(&format!("org=\"org{n}\"")),
                "org{n} missing from the encoding"
            );
        }
    }
}
