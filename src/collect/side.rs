//! The side loops: one generic loop ([`SideLoop`]) over a [`Pass`], for what cadences do beyond
//! their settings: records enrolled ([`EnrollmentPass`], `records_count`) and follow-ups
//! executed ([`AnalyticsPass`], `analytics`).
//!
//! Why it is shaped this way:
//! - The loops stay out of the main collection's way: they read the org's latest complete
//!   snapshot, call Zoho through the org's shared client (one token cache, one `Retry-After`),
//!   count their calls under their own `endpoint` label, and publish their own result into the
//!   store. A failed pass keeps the last complete result, as a failed collection keeps the last
//!   snapshot; it never touches `zoho_crm_up`.
//! - Only API v8 has these endpoints, and analytics costs one call per active cadence: which
//!   org runs which pass is the config's call ([`crate::config::Config::enrollment_for`],
//!   [`crate::config::Config::analytics_for`]).

use crate::collect::failures::{last_error, FailureLog};
use crate::collect::limit::PassLimit;
use crate::collect::{ticker, within, LoopSpec};
use crate::domain::activity::{Enrollment, FollowUpsExecuted};
use crate::domain::cadence::Cadence;
use crate::domain::snapshot::OrgSnapshot;
use crate::store::{PassResult, SharedState};
use crate::zoho::client::ZohoClient;
use crate::zoho::error::ZohoError;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A pass over an org's snapshot, run by a [`SideLoop`].
pub(crate) trait Pass: Send + Sync + 'static {
    /// Names the pass in the log ("enrollment pass failed").
    const KIND: &'static str;
    type Result: PassResult;

    /// The pass's calls to Zoho for the cadences of `snapshot`.
    fn fetch<'a>(
        &'a self,
        client: &'a ZohoClient,
        snapshot: &'a OrgSnapshot,
        deadline: Instant,
    ) -> impl Future<Output = Result<Self::Result, ZohoError>> + Send + 'a;

    /// How many cadences a result covers, for the log.
    fn covered(result: &Self::Result) -> usize;
}

/// Records enrolled in every cadence of the snapshot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EnrollmentPass;

impl Pass for EnrollmentPass {
    const KIND: &'static str = "enrollment";
    type Result = Enrollment;

    async fn fetch(
        &self,
        client: &ZohoClient,
        snapshot: &OrgSnapshot,
        deadline: Instant,
    ) -> Result<Enrollment, ZohoError> {
        let ids: Vec<&str> = snapshot.cadences().iter().map(|c| &*c.id).collect();
        client.records_count(&ids, deadline).await
    }

    fn covered(result: &Enrollment) -> usize {
        result.counts.len()
    }
}

/// Follow-ups each active cadence of the snapshot executed over the last `window`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AnalyticsPass {
    pub(crate) window: Duration,
}

impl Pass for AnalyticsPass {
    const KIND: &'static str = "analytics";
    type Result = FollowUpsExecuted;

    async fn fetch(
        &self,
        client: &ZohoClient,
        snapshot: &OrgSnapshot,
        deadline: Instant,
    ) -> Result<FollowUpsExecuted, ZohoError> {
        let active: Vec<&Cadence> = snapshot.cadences().iter().filter(|c| c.active()).collect();
        client
            .follow_ups_executed(&active, self.window, deadline)
            .await
    }

    fn covered(result: &FollowUpsExecuted) -> usize {
        result.per_cadence.len()
    }
}

/// One org's loop of one pass: every interval, the pass over the org's latest snapshot.
pub(crate) struct SideLoop<P> {
    pass: P,
    client: Arc<ZohoClient>,
    state: SharedState,
    spec: LoopSpec,
    /// Logs a lasting failure once per change of state.
    failures: FailureLog,
    /// Shared with every org's collections: at most so many passes in flight.
    limit: Arc<PassLimit>,
}

impl<P: Pass> SideLoop<P> {
    pub(crate) fn new(
        pass: P,
        client: Arc<ZohoClient>,
        state: SharedState,
        spec: LoopSpec,
        limit: Arc<PassLimit>,
    ) -> Self {
        SideLoop {
            pass,
            client,
            state,
            spec,
            failures: FailureLog::default(),
            limit,
        }
    }

    fn org(&self) -> &str {
        &self.client.org().name
    }

    /// One pass over `snapshot`, when the limit lets it start; on success the result is
    /// published, on failure the last complete one stays and the failure goes to the org's
    /// status.
    pub(crate) async fn run_once(&self, snapshot: &OrgSnapshot) -> Result<(), ZohoError> {
        let permit = self.limit.acquire().await;
        let deadline = Instant::now() + self.spec.deadline;
        let what = format!("{} pass", P::KIND);
        let fetched = within(deadline, self.pass.fetch(&self.client, snapshot, deadline)).await;
        drop(permit);
        match fetched {
            Ok(result) => {
                self.failures.succeeded(self.org(), &what);
                tracing::debug!(
                    org = self.org(),
                    cadences = P::covered(&result),
                    "{what} complete"
                );
                self.state.publish_pass(self.org(), Arc::new(result)).await;
                Ok(())
            }
            Err(err) => {
                self.failures.failed(self.org(), &what, "result", &err);
                let kind = <P::Result as PassResult>::KIND;
                let error = last_error(&err, kind, &self.client);
                self.state.publish_failure(self.org(), error);
                Err(err)
            }
        }
    }

    /// Runs the pass every interval until the task is aborted; the first once the org has a
    /// snapshot.
    pub(crate) async fn run(&self) {
        let mut ticker = ticker(self.spec.interval);
        loop {
            ticker.tick().await;
            let snapshot = self.latest_snapshot().await;
            // Boxed, as a collection is (`Collector::run`): the pass's state lives only while
            // it runs, not in the task between passes.
            let _ = Box::pin(self.run_once(&snapshot)).await;
        }
    }

    /// Waits until the org has a complete snapshot, and returns the latest.
    async fn latest_snapshot(&self) -> Arc<OrgSnapshot> {
        let mut published = self.state.subscribe_snapshots();
        loop {
            if let Some(snapshot) = self.state.snapshot(self.org()) {
                return snapshot;
            }
            if published.changed().await.is_err() {
                // The state is gone: nothing will ever be published; wait to be aborted.
                std::future::pending::<()>().await;
            }
        }
    }
}
