//! One org wired once: its client, its collector and its side loops, built from one
//! [`OrgSpec`] by one constructor ([`Org::wire`]) that the supervisor, `--once` and the tests all
//! use.
//!
//! On a reload the supervisor wires the org again with the running one as `previous`: each part
//! whose spec did not change is kept (the client, and with it the cached OAuth token; a loop),
//! the others are built anew.

use crate::collect::limit::PassLimit;
use crate::collect::org::OrgCollector;
use crate::collect::side::{AnalyticsPass, EnrollmentPass, SideLoop};
use crate::collect::LoopSpec;
use crate::config::{Config, OrgConfig};
use crate::domain::snapshot::OrgSnapshot;
use crate::store::SharedState;
use crate::zoho::client::{http_client, ClientSpec, Limits, ZohoClient};
use crate::zoho::error::ZohoError;
use std::sync::Arc;

/// Everything an org's parts are built from. Derives `PartialEq`: a reload compares the specs
/// part by part, not fields copied by hand.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrgSpec {
    pub(crate) client: ClientSpec,
    pub(crate) collection: LoopSpec,
    /// The enrollment loop, when the org runs it.
    pub(crate) enrollment: Option<LoopSpec>,
    /// The analytics loop, when the org runs it.
    pub(crate) analytics: Option<(AnalyticsPass, LoopSpec)>,
}

impl OrgSpec {
    pub(crate) fn new(config: &Config, org: &OrgConfig, limits: Limits) -> OrgSpec {
        let every = |interval| LoopSpec {
            interval,
            deadline: config.deadline(interval),
        };
        OrgSpec {
            client: ClientSpec {
                org: org.clone(),
                timeout: config.timeout,
                max_response_bytes: config.max_response_bytes,
                limits,
            },
            collection: every(config.interval),
            enrollment: config.enrollment_for(org).map(|e| every(e.interval)),
            analytics: config
                .analytics_for(org)
                .map(|a| (AnalyticsPass { window: a.window }, every(a.interval))),
        }
    }
}

/// One org's parts.
pub struct Org {
    spec: OrgSpec,
    state: SharedState,
    pub(crate) client: Arc<ZohoClient>,
    pub(crate) collector: Arc<OrgCollector>,
    pub(crate) enrollment: Option<Arc<SideLoop<EnrollmentPass>>>,
    pub(crate) analytics: Option<Arc<SideLoop<AnalyticsPass>>>,
}

/// `previous`'s part when `same` says it is built from the same spec, else a new one.
fn reuse<T>(previous: Option<&Arc<T>>, same: bool, build: impl FnOnce() -> T) -> Arc<T> {
    match previous {
        Some(kept) if same => kept.clone(),
        _ => Arc::new(build()),
    }
}

impl Org {
    /// Wires every org of `config` anew, publishing into `state`, with the client `limits`:
    /// for `--once` and for tests that drive collections themselves.
    /// Their passes share one bound, `max_concurrent_collections`, as the supervisor's do.
    pub fn wire_all(config: &Config, state: &SharedState, limits: Limits) -> Vec<Org> {
        let http = http_client();
        let limit = PassLimit::new(config.max_concurrent_collections);
        config
            .orgs
            .iter()
            .map(|org| {
                let spec = OrgSpec::new(config, org, limits);
                Org::wire(spec, state, &http, &limit, None)
            })
            .collect()
    }

    /// Builds the org's parts from `spec`, keeping each part of `previous` whose spec is the
    /// same (and, for the loops, whose client is kept). Every pass takes a permit of `limit`.
    pub(crate) fn wire(
        spec: OrgSpec,
        state: &SharedState,
        http: &reqwest::Client,
        limit: &Arc<PassLimit>,
        previous: Option<&Org>,
    ) -> Org {
        let client = reuse(
            previous.map(|p| &p.client),
            previous.is_some_and(|p| p.spec.client == spec.client),
            || {
                let telemetry = state.telemetry().org(&spec.client.org.name);
                ZohoClient::new(http.clone(), spec.client.clone(), telemetry)
            },
        );
        // The loops of `previous` are kept only with its client.
        let kept = previous.filter(|p| Arc::ptr_eq(&p.client, &client));
        let collector = reuse(
            kept.map(|p| &p.collector),
            kept.is_some_and(|p| p.spec.collection == spec.collection),
            || {
                OrgCollector::new(
                    client.clone(),
                    state.clone(),
                    spec.collection,
                    limit.clone(),
                )
            },
        );
        let enrollment = spec.enrollment.map(|every| {
            reuse(
                kept.and_then(|p| p.enrollment.as_ref()),
                kept.is_some_and(|p| p.spec.enrollment == spec.enrollment),
                || {
                    SideLoop::new(
                        EnrollmentPass,
                        client.clone(),
                        state.clone(),
                        every,
                        limit.clone(),
                    )
                },
            )
        });
        let analytics = spec.analytics.clone().map(|(pass, every)| {
            reuse(
                kept.and_then(|p| p.analytics.as_ref()),
                kept.is_some_and(|p| p.spec.analytics == spec.analytics),
                || SideLoop::new(pass, client.clone(), state.clone(), every, limit.clone()),
            )
        });
        Org {
            spec,
            state: state.clone(),
            client,
            collector,
            enrollment,
            analytics,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.spec.client.org.name
    }

    /// Collects the org's cadences once; on success the new snapshot is published, on failure
    /// the last one stays.
    pub async fn collect_once(&self) -> Result<(), ZohoError> {
        self.collector.collect_once().await
    }

    /// One enrollment pass over `snapshot`; `None` when the org does not run enrollment.
    pub async fn enrollment_pass(&self, snapshot: &OrgSnapshot) -> Option<Result<(), ZohoError>> {
        Some(self.enrollment.as_ref()?.run_once(snapshot).await)
    }

    /// One analytics pass over `snapshot`; `None` when the org does not run analytics.
    pub async fn analytics_pass(&self, snapshot: &OrgSnapshot) -> Option<Result<(), ZohoError>> {
        Some(self.analytics.as_ref()?.run_once(snapshot).await)
    }

    /// A collection, then each side pass the org runs over the new snapshot: `--once`.
    pub(crate) async fn once(&self) -> Result<(), ZohoError> {
        self.collect_once().await?;
        let snapshot = self
            .state
            .snapshot(self.name())
            .expect("a successful collection publishes a snapshot");
        self.enrollment_pass(&snapshot).await.transpose()?;
        self.analytics_pass(&snapshot).await.transpose()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Between runs an org's tasks hold their loops' state only: what a collection or a side
    /// pass awaits (pages, decoding, the HTTP client's futures) lives in a box made when it
    /// starts, so a thousand idle orgs do not hold a thousand collections' worth of state
    /// (inline, each of the three was over 4 KiB).
    #[test]
    fn the_tasks_of_an_org_are_small_between_runs() {
        let config = Config::parse(
            "enrollment: {enabled: true}\nanalytics: {enabled: true}\norgs:\n  - name: acme\n    client_id: id\n    client_secret: s\n    refresh_token: r\n",
        )
        .unwrap();
        let state = SharedState::new(&config);
        let org = Org::wire_all(&config, &state, Limits::default()).remove(0);
        let sizes = [
            std::mem::size_of_val(&org.collector.run()),
            std::mem::size_of_val(&org.enrollment.as_ref().unwrap().run()),
            std::mem::size_of_val(&org.analytics.as_ref().unwrap().run()),
        ];
        assert!(sizes.iter().all(|size| *size <= 512), "{sizes:?}");
    }
}
