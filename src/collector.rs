//! One org's collection: page through its cadences on a fixed interval, and publish a complete
//! snapshot or keep the last one.
//!
//! Each org runs in its own task with its own client, so a hung or failing org never delays
//! another. A collection has a deadline; when it passes, the collection fails like any other.

use crate::expectations::evaluate;
use crate::snapshot::{transitions, OrgSnapshot, Transition};
use crate::state::SharedState;
use crate::telemetry::OrgTelemetry;
use crate::zoho::client::{ZohoClient, ZohoError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// Logs a lasting failure at warn once per change of state (the error class), later ones at
/// debug, and the recovery at info: a collection failing every second for an hour is one warning.
#[derive(Debug, Default)]
pub struct FailureLog {
    last: Mutex<Option<String>>,
}

impl FailureLog {
    /// `what` failed with `err`; its last complete `kept` (snapshot, result) stays.
    pub fn failed(&self, org: &str, what: &str, kept: &str, err: &ZohoError) {
        let label = err.metric_label();
        let mut last = self.last.lock().expect("failure log lock");
        // A paused token request continues the token failure before it: same state.
        let same_state = last
            .as_deref()
            .is_some_and(|previous| previous == label || label == "token_paused");
        if same_state {
            tracing::debug!(org, error = %err, "{what} failed again; keeping the last complete {kept}");
        } else {
            tracing::warn!(org, error = %err, "{what} failed; keeping the last complete {kept}");
            *last = Some(label);
        }
    }

    /// `what` succeeded; logs the recovery if it had been failing.
    pub fn succeeded(&self, org: &str, what: &str) {
        if let Some(previous) = self.last.lock().expect("failure log lock").take() {
            tracing::info!(org, previous_error = %previous, "{what} succeeds again");
        }
    }
}

pub struct OrgCollector {
    client: Arc<ZohoClient>,
    state: SharedState,
    telemetry: Arc<OrgTelemetry>,
    interval: Duration,
    deadline: Duration,
    failures: FailureLog,
}

impl OrgCollector {
    /// A collector for the client's org, publishing to `state`; a collection may take at most
    /// `deadline`.
    pub fn new(
        client: Arc<ZohoClient>,
        state: SharedState,
        interval: Duration,
        deadline: Duration,
    ) -> OrgCollector {
        let telemetry = state.telemetry().org(&client.org().name);
        OrgCollector {
            client,
            state,
            telemetry,
            interval,
            deadline,
            failures: FailureLog::default(),
        }
    }

    pub fn client(&self) -> &Arc<ZohoClient> {
        &self.client
    }

    pub fn state(&self) -> &SharedState {
        &self.state
    }

    pub fn telemetry(&self) -> &Arc<OrgTelemetry> {
        &self.telemetry
    }

    fn org(&self) -> &str {
        &self.client.org().name
    }

    /// Collects once; on success the new snapshot is published, on failure the old one stays.
    ///
    /// The collection is counted when it ends, its outcome in one step
    /// ([`OrgTelemetry::collection_ended`]), and only after the state has it: a scrape that sees
    /// the count sees the org attempted for `/-/ready`, and after a success the new snapshot's
    /// cadence metrics.
    pub async fn collect_once(&self) -> Result<(), ZohoError> {
        let started = Instant::now();
        let deadline = started + self.deadline;
        let result =
            match tokio::time::timeout_at(deadline, self.client.fetch_cadences(deadline)).await {
                Ok(result) => result,
                Err(_) => Err(ZohoError::Deadline),
            };
        let duration = started.elapsed().as_secs_f64();
        match result {
            Ok(cadences) => {
                let snapshot = Arc::new(OrgSnapshot::build(cadences, SystemTime::now()));
                self.note_changes(&snapshot);
                self.failures.succeeded(self.org(), "collection");
                tracing::debug!(
                    org = self.org(),
                    cadences = snapshot.cadences.len(),
                    "collection complete"
                );
                self.state.publish_success(self.org(), snapshot).await;
                self.telemetry.collection_ended(true, duration);
                Ok(())
            }
            Err(err) => {
                self.failures
                    .failed(self.org(), "collection", "snapshot", &err);
                self.state.publish_failure(self.org(), err.to_string());
                self.telemetry.collection_ended(false, duration);
                Err(err)
            }
        }
    }

    /// Counts and logs what changed since the previous complete snapshot, and reports cadences
    /// on which expectations disagree.
    fn note_changes(&self, snapshot: &OrgSnapshot) {
        let org = self.org();
        self.telemetry
            .init_transition_counters(snapshot.modules.keys().map(|m| &**m));
        if let Some(previous) = self.state.snapshot(org) {
            for transition in transitions(&previous, snapshot) {
                let (event, cadence) = match transition {
                    Transition::Deactivated(c) => {
                        self.telemetry.count_deactivation(&c.module);
                        ("cadence deactivated", c)
                    }
                    Transition::Deleted(c) => {
                        self.telemetry.count_deletion(&c.module);
                        ("cadence deleted", c)
                    }
                };
                tracing::info!(
                    org,
                    id = %cadence.id,
                    name = %cadence.name,
                    module = %cadence.module,
                    modified_by = %cadence.modified_by,
                    modified_time = %log_time(cadence.modified),
                    "{event}"
                );
            }
        }
        let evaluation = evaluate(&self.state.expectations(), org, &snapshot.cadences);
        for index in evaluation.conflicts {
            let cadence = &snapshot.cadences[index];
            tracing::warn!(org, id = %cadence.id, name = %cadence.name, module = %cadence.module,
                "expectations require different states of this cadence; none is exported for it");
        }
    }

    /// Collects every `interval` until the task is aborted. The first collection starts at once.
    pub async fn run(self) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let _ = self.collect_once().await;
        }
    }
}

/// A Zoho time for a log line, as RFC 3339 in UTC ("" when Zoho sent none): the snapshot keeps
/// times as Unix seconds only, not Zoho's text with its local offset.
fn log_time(unix_seconds: Option<f64>) -> String {
    unix_seconds
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| {
            let time = SystemTime::UNIX_EPOCH + Duration::from_millis((s * 1_000.0) as u64);
            humantime::format_rfc3339_millis(time).to_string()
        })
        .unwrap_or_default()
}
