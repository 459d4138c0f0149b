//! One org's collection: page through its cadences on a fixed interval, and publish a complete
//! snapshot or keep the last one.
//!
//! Each org runs in its own task with its own client, so a hung or failing org never delays
//! another. A collection has a deadline; when it passes, the collection fails like any other.

use crate::expectations::evaluate;
use crate::history::{LastError, Pass, Step};
use crate::snapshot::{transitions, OrgSnapshot, Transition};
use crate::state::SharedState;
use crate::telemetry::{Endpoint, OrgTelemetry};
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
                self.state
                    .publish_failure(self.org(), last_error(&err, Pass::Collection, &self.client));
                self.telemetry.collection_ended(false, duration);
                Err(err)
            }
        }
    }

    /// Counts, logs and adds to the org's history what changed since the previous complete
    /// snapshot, and reports cadences on which expectations disagree.
    fn note_changes(&self, snapshot: &OrgSnapshot) {
        let org = self.org();
        self.telemetry
            .init_transition_counters(snapshot.modules.keys().map(|m| &**m));
        let previous = self.state.snapshot(org);
        let found = previous
            .as_deref()
            .map(|previous| transitions(previous, snapshot))
            .unwrap_or_default();
        self.state.record_history(org, &found, snapshot);
        for transition in found {
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
            let started = Instant::now();
            let _ = self.collect_once().await;
            // The ticker delays a missed tick: the next collection starts an interval after
            // this one started, or at once when this one took longer.
            let wait = (started + self.interval).saturating_duration_since(Instant::now());
            self.state
                .set_next_collection(self.org(), SystemTime::now() + wait);
        }
    }
}

/// A failure of `pass` as the status page shows it: when, which step against which host, and
/// the error's safe message.
pub fn last_error(err: &ZohoError, pass: Pass, client: &ZohoClient) -> LastError {
    let endpoint = match err {
        ZohoError::TokenRefused { .. }
        | ZohoError::TokenPaused { .. }
        | ZohoError::UntrustedApiDomain { .. } => Some(Endpoint::Token),
        ZohoError::Timeout { endpoint }
        | ZohoError::Connect { endpoint, .. }
        | ZohoError::Api { endpoint, .. }
        | ZohoError::Decode { endpoint, .. }
        | ZohoError::TooLarge { endpoint, .. } => {
            Endpoint::ALL.into_iter().find(|e| e.as_str() == *endpoint)
        }
        // Neither names its endpoint: the pass was at its own step.
        ZohoError::RetryAfter | ZohoError::Deadline => None,
    };
    let endpoint = endpoint.unwrap_or(match pass {
        Pass::Collection => Endpoint::Cadences,
        Pass::Enrollment => Endpoint::RecordsCount,
        Pass::Analytics => Endpoint::Analytics,
    });
    let step = match endpoint {
        Endpoint::Token => Step::Token,
        Endpoint::Cadences => Step::Page(client.cadences_page().max(1)),
        Endpoint::RecordsCount => Step::RecordsCount,
        Endpoint::Analytics => Step::Analytics,
    };
    LastError {
        at: SystemTime::now(),
        pass,
        step,
        host: client.host(endpoint),
        message: err.to_string(),
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
