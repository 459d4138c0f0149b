//! Starts one collection task per org and keeps them in line with the config across reloads.
//!
//! On reload, an org whose settings did not change keeps its client (and with it its cached
//! OAuth token) and its snapshot; a changed org gets a new client; a removed org's task is
//! stopped and its series dropped. A config that fails to load changes nothing.
//!
//! Beside its collection, each org may run an enrollment loop and an analytics loop
//! ([`crate::enrollment`]) as tasks of their own, so they can neither fail nor delay the
//! collection. They share the org's client, and are restarted only when the client or their
//! own settings change. Orgs on API v7 get neither: those endpoints exist in v8 only.

use crate::collector::OrgCollector;
use crate::config::{AnalyticsConfig, Config, EnrollmentConfig, OrgConfig};
use crate::enrollment::{AnalyticsCollector, EnrollmentCollector};
use crate::state::SharedState;
use crate::zoho::client::ZohoClient;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Where the config comes from, so a reload knows where to read it again.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    File(PathBuf),
    Environment,
    /// A config built in code (the demo): reloading re-applies it as it is.
    Fixed(Box<Config>),
}

impl ConfigSource {
    pub fn load(&self) -> Result<Config, String> {
        match self {
            ConfigSource::File(path) => Config::load(path).map_err(|e| e.to_string()),
            ConfigSource::Environment => {
                Config::from_env(|key| std::env::var(key).ok()).map_err(|e| e.to_string())
            }
            ConfigSource::Fixed(config) => Ok((**config).clone()),
        }
    }
}

/// What a running org was started with: a change to any of it needs a new client or loop.
struct RunningOrg {
    org: OrgConfig,
    timeout: Duration,
    max_response_bytes: u64,
    interval: Duration,
    deadline: Duration,
    client: Arc<ZohoClient>,
    task: JoinHandle<()>,
    enrollment: Option<SideLoop<EnrollmentConfig>>,
    analytics: Option<SideLoop<AnalyticsConfig>>,
}

/// An enrollment or analytics loop and what it was started with. Aborted when dropped, so a
/// removed or replaced org takes its loops along.
struct SideLoop<S> {
    settings: S,
    deadline: Duration,
    client: Arc<ZohoClient>,
    task: JoinHandle<()>,
}

impl<S> Drop for SideLoop<S> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<S: PartialEq> SideLoop<S> {
    /// Whether this loop already runs as wanted.
    fn runs(&self, settings: &S, deadline: Duration, client: &Arc<ZohoClient>) -> bool {
        self.settings == *settings && self.deadline == deadline && Arc::ptr_eq(&self.client, client)
    }
}

/// The side loop to have after a (re)load: none when none is `wanted` (a running one stops when
/// dropped), the `running` one when it already runs with the wanted settings, deadline and
/// client, else the wanted loop (its settings, deadline and task) started anew.
fn keep_or_start<S: PartialEq>(
    wanted: Option<(S, Duration, impl Future<Output = ()> + Send + 'static)>,
    running: Option<SideLoop<S>>,
    client: &Arc<ZohoClient>,
) -> Option<SideLoop<S>> {
    let (settings, deadline, task) = wanted?;
    match running {
        Some(running) if running.runs(&settings, deadline, client) => Some(running),
        _ => Some(SideLoop {
            settings,
            deadline,
            client: client.clone(),
            task: tokio::spawn(task),
        }),
    }
}

pub struct Supervisor {
    state: SharedState,
    http: reqwest::Client,
    running: BTreeMap<String, RunningOrg>,
}

impl Supervisor {
    pub fn new(state: SharedState) -> Supervisor {
        Supervisor {
            state,
            http: crate::zoho::client::http_client(),
            running: BTreeMap::new(),
        }
    }

    /// Brings the running tasks in line with `config`.
    pub fn apply(&mut self, config: &Config) {
        self.state.apply_config(config);
        let wanted: Vec<&str> = config.orgs.iter().map(|o| o.name.as_str()).collect();
        let removed: Vec<String> = self
            .running
            .keys()
            .filter(|name| !wanted.contains(&name.as_str()))
            .cloned()
            .collect();
        for name in removed {
            if let Some(running) = self.running.remove(&name) {
                running.task.abort();
                tracing::info!(org = %name, "org removed from the config; its series are dropped");
            }
        }
        let deadline = config.collection_deadline();
        if config.analytics.enabled && !config.per_cadence_metrics {
            tracing::info!("analytics is enabled but per_cadence_metrics is off; its metric is per cadence, so analytics is not collected");
        }
        for org in &config.orgs {
            let mut previous = self.running.remove(&org.name);
            let side_loops = previous
                .as_mut()
                .map(|p| (p.enrollment.take(), p.analytics.take()))
                .unwrap_or_default();
            let client = match &previous {
                Some(p)
                    if p.org == *org
                        && p.timeout == config.timeout
                        && p.max_response_bytes == config.max_response_bytes =>
                {
                    p.client.clone()
                }
                _ => {
                    if !crate::enrollment::supported(org)
                        && (config.enrollment.enabled || config.analytics.enabled)
                    {
                        tracing::info!(org = %org.name, api_version = org.api_version.path(), "enrolled records and executed follow-ups need Zoho API v8; skipped for this org");
                    }
                    Arc::new(ZohoClient::new(
                        self.http.clone(),
                        org.clone(),
                        config.timeout,
                        config.max_response_bytes,
                        self.state.telemetry().org(&org.name),
                    ))
                }
            };
            let (enrollment, analytics) = self.side_loops(config, &client, side_loops);
            if let Some(mut previous) = previous {
                if Arc::ptr_eq(&previous.client, &client)
                    && previous.interval == config.interval
                    && previous.deadline == deadline
                {
                    previous.enrollment = enrollment;
                    previous.analytics = analytics;
                    self.running.insert(org.name.clone(), previous);
                    continue;
                }
                previous.task.abort();
            }
            let collector = OrgCollector::new(
                client.clone(),
                self.state.clone(),
                config.interval,
                deadline,
            );
            let task = tokio::spawn(collector.run());
            self.running.insert(
                org.name.clone(),
                RunningOrg {
                    org: org.clone(),
                    timeout: config.timeout,
                    max_response_bytes: config.max_response_bytes,
                    interval: config.interval,
                    deadline,
                    client,
                    task,
                    enrollment,
                    analytics,
                },
            );
        }
    }

    /// Keeps, restarts, starts or stops the org's enrollment and analytics loops.
    fn side_loops(
        &self,
        config: &Config,
        client: &Arc<ZohoClient>,
        (running_enrollment, running_analytics): (
            Option<SideLoop<EnrollmentConfig>>,
            Option<SideLoop<AnalyticsConfig>>,
        ),
    ) -> (
        Option<SideLoop<EnrollmentConfig>>,
        Option<SideLoop<AnalyticsConfig>>,
    ) {
        let enrollment = EnrollmentCollector::wanted(config, client, &self.state)
            .map(|wanted| (wanted.config.clone(), wanted.deadline, wanted.run()));
        let analytics = AnalyticsCollector::wanted(config, client, &self.state)
            .map(|wanted| (wanted.config.clone(), wanted.deadline, wanted.run()));
        (
            keep_or_start(enrollment, running_enrollment, client),
            keep_or_start(analytics, running_analytics, client),
        )
    }

    /// Reads the config again and applies it; a bad config changes nothing.
    pub fn reload(&mut self, source: &ConfigSource) -> Result<(), String> {
        match source.load() {
            Ok(config) => {
                // Recorded first: a config that loads is a successful reload, and no scrape may
                // see the new config's series beside the old reload status.
                self.state.telemetry().record_reload(true);
                self.apply(&config);
                tracing::info!(orgs = config.orgs.len(), "config reloaded");
                Ok(())
            }
            Err(message) => {
                self.state.telemetry().record_reload(false);
                tracing::error!(error = %message, "config reload failed; the previous config stays in force");
                Err(message)
            }
        }
    }

    /// Abandons every collection.
    pub fn stop(&mut self) {
        for (_, running) in std::mem::take(&mut self.running) {
            running.task.abort();
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop();
    }
}
