//! One org's collection: page through its cadences on a fixed interval, and publish a complete
//! snapshot or keep the last one.
//!
//! Each org runs in its own task with its own client, so a hung or failing org never delays
//! another. A collection has a deadline; when it passes, the collection fails like any other.

use crate::collect::failures::{last_error, FailureLog};
use crate::collect::limit::{first_offset, PassLimit};
use crate::collect::{ticker, within, LoopSpec};
use crate::domain::history::PassKind;
use crate::domain::snapshot::OrgSnapshot;
use crate::domain::transitions::{transitions, Transition};
use crate::metrics::telemetry::OrgTelemetry;
use crate::store::SharedState;
use crate::zoho::client::ZohoClient;
use crate::zoho::error::ZohoError;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

pub(crate) struct OrgCollector {
    client: Arc<ZohoClient>,
    state: SharedState,
    telemetry: Arc<OrgTelemetry>,
    spec: LoopSpec,
    failures: FailureLog,
    /// Shared by every org's passes: at most so many in flight.
    limit: Arc<PassLimit>,
}

impl OrgCollector {
    /// A collector for the client's org, publishing to `state`, its collections in flight
    /// counted by `limit`.
    pub(crate) fn new(
        client: Arc<ZohoClient>,
        state: SharedState,
        spec: LoopSpec,
        limit: Arc<PassLimit>,
    ) -> OrgCollector {
        let telemetry = state.telemetry().org(&client.org().name);
        OrgCollector {
            client,
            state,
            telemetry,
            spec,
            failures: FailureLog::default(),
            limit,
        }
    }

    fn org(&self) -> &str {
        &self.client.org().name
    }

    /// Collects once, when the limit lets it start; on success the new snapshot is published,
    /// on failure the old one stays.
    ///
    /// The collection is counted when it ends, its outcome in one step
    /// ([`OrgTelemetry::collection_ended`]), and only after the state has it: a scrape that sees
    /// the count sees the org attempted for `/-/ready`, and after a success the new snapshot's
    /// cadence metrics.
    pub(crate) async fn collect_once(&self) -> Result<(), ZohoError> {
        let permit = self.limit.acquire().await;
        let started = Instant::now();
        let deadline = started + self.spec.deadline;
        let result = within(deadline, self.client.fetch_cadences(deadline)).await;
        let took = started.elapsed();
        let cadences = match result {
            Ok(cadences) => cadences,
            Err(err) => {
                self.failures
                    .failed(self.org(), "collection", "snapshot", &err);
                let error = last_error(&err, PassKind::Collection, &self.client);
                self.state.publish_failure(self.org(), error);
                self.telemetry.collection_ended(took, None);
                return Err(err);
            }
        };
        let snapshot = Arc::new(OrgSnapshot::build(cadences, SystemTime::now()));
        // The pages are read and reduced: publishing (and its encoding) needs no permit.
        drop(permit);
        self.note_transitions(&snapshot);
        self.failures.succeeded(self.org(), "collection");
        tracing::debug!(
            org = self.org(),
            cadences = snapshot.cadences().len(),
            "collection complete"
        );
        let collected_at = snapshot.collected_at();
        self.state.publish_snapshot(self.org(), snapshot).await;
        self.telemetry.collection_ended(took, Some(collected_at));
        Ok(())
    }

    /// Counts, logs and adds to the org's history what changed since the previous complete
    /// snapshot.
    fn note_transitions(&self, snapshot: &OrgSnapshot) {
        let org = self.org();
        self.telemetry
            .init_transition_counters(snapshot.modules().keys());
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
                modified_time = %log_time(cadence.modified.get()),
                "{event}"
            );
        }
    }

    /// Collects every interval until the task is aborted. The first collection starts at the
    /// org's offset within the first interval ([`first_offset`]).
    pub(crate) async fn run(&self) {
        let orgs = self.state.org_count();
        let offset = first_offset(self.org(), orgs, self.spec.interval);
        self.state
            .set_next_collection(self.org(), SystemTime::now() + offset);
        tokio::time::sleep(offset).await;
        let mut ticker = ticker(self.spec.interval);
        loop {
            ticker.tick().await;
            let started = Instant::now();
            // Boxed: an async fn's state is as large as its largest await, and a collection's
            // (pages, decoding, the HTTP client's futures) is kilobytes. Inline, every org's
            // task would hold that much between collections: megabytes at a thousand orgs.
            let _ = Box::pin(self.collect_once()).await;
            // The ticker delays a missed tick: the next collection starts an interval after
            // this one started, or at once when this one took longer.
            let wait = (started + self.spec.interval).saturating_duration_since(Instant::now());
            self.state
                .set_next_collection(self.org(), SystemTime::now() + wait);
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
