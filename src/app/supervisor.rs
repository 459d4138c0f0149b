//! Runs one collection task per org, and its side loops, in line with the config across reloads.
//!
//! On reload each org is wired again ([`Org::wire`]) with the running one as a model: a part
//! whose spec did not change is kept with its task (an unchanged org keeps its client, and with
//! it its cached OAuth token, and its snapshot); a changed part gets a new task; a removed org's
//! tasks are stopped and its series dropped. A config that fails to load changes nothing.
//!
//! The side loops run as tasks of their own, so they can neither fail nor delay the collection.
//! Orgs on API v7 get none: those endpoints exist in v8 only.

use crate::app::org::{Org, OrgSpec};
use crate::collect::limit::PassLimit;
use crate::config::shard::Shard;
use crate::config::source::ConfigSource;
use crate::config::Config;
use crate::store::SharedState;
use crate::zoho::client::{http_client, Limits};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// A spawned task, aborted when dropped: a removed or replaced part takes its task along.
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An org and the tasks that run its parts.
struct RunningOrg {
    org: Org,
    collection: Task,
    enrollment: Option<Task>,
    analytics: Option<Task>,
}

/// The task of `part`: the running one when the part is the one it runs, else a new one.
fn keep_or_spawn<T, F>(
    part: &Arc<T>,
    running: Option<(&Arc<T>, Task)>,
    run: fn(Arc<T>) -> F,
) -> Task
where
    F: Future<Output = ()> + Send + 'static,
{
    match running {
        Some((runs, task)) if Arc::ptr_eq(runs, part) => task,
        _ => Task(tokio::spawn(run(part.clone()))),
    }
}

impl RunningOrg {
    /// Runs `org`, keeping the tasks of `previous` whose parts `org` kept.
    fn start(org: Org, previous: Option<RunningOrg>) -> RunningOrg {
        let (old_org, mut old_tasks) = match previous {
            Some(p) => (Some(p.org), (Some(p.collection), p.enrollment, p.analytics)),
            None => (None, (None, None, None)),
        };
        let old = old_org.as_ref();
        let collection = keep_or_spawn(
            &org.collector,
            old.map(|o| &o.collector).zip(old_tasks.0.take()),
            |c| async move { c.run().await },
        );
        let enrollment = org.enrollment.as_ref().map(|part| {
            let running = old
                .and_then(|o| o.enrollment.as_ref())
                .zip(old_tasks.1.take());
            keep_or_spawn(part, running, |l| async move { l.run().await })
        });
        let analytics = org.analytics.as_ref().map(|part| {
            let running = old
                .and_then(|o| o.analytics.as_ref())
                .zip(old_tasks.2.take());
            keep_or_spawn(part, running, |l| async move { l.run().await })
        });
        RunningOrg {
            org,
            collection,
            enrollment,
            analytics,
        }
    }
}

pub struct Supervisor {
    state: SharedState,
    http: reqwest::Client,
    running: BTreeMap<String, RunningOrg>,
    /// The orgs of every config applied are this shard's.
    shard: Shard,
    /// Every org's passes in flight, bounded by the config's `max_concurrent_collections`.
    limit: Arc<PassLimit>,
}

impl Supervisor {
    pub fn new(state: SharedState) -> Supervisor {
        Supervisor {
            state,
            http: http_client(),
            running: BTreeMap::new(),
            shard: Shard::default(),
            limit: PassLimit::new(crate::config::DEFAULT_MAX_CONCURRENT_COLLECTIONS),
        }
    }

    /// The supervisor of one shard: it runs only that shard's orgs of every config applied.
    pub(crate) fn sharded(mut self, shard: Shard) -> Supervisor {
        self.shard = shard;
        self
    }

    /// Brings the running tasks in line with this shard's orgs of `config`.
    pub fn apply(&mut self, config: &Config) {
        let sharded;
        let config = if self.shard == Shard::default() {
            config
        } else {
            sharded = self.shard.filter(config.clone());
            &sharded
        };
        self.state.apply_config(config);
        self.limit.set_bound(config.max_concurrent_collections);
        let wanted: Vec<&str> = config.orgs.iter().map(|o| o.name.as_str()).collect();
        self.running.retain(|name, _| {
            let keep = wanted.contains(&name.as_str());
            if !keep {
                tracing::info!(org = %name, "org removed from the config; its series are dropped");
            }
            keep
        });
        if config.analytics.enabled && !config.per_cadence_metrics {
            tracing::info!("analytics is enabled but per_cadence_metrics is off; its metric is per cadence, so analytics is not collected");
        }
        for org in &config.orgs {
            let previous = self.running.remove(&org.name);
            let spec = OrgSpec::new(config, org, Limits::default());
            let wired = Org::wire(
                spec,
                &self.state,
                &self.http,
                &self.limit,
                previous.as_ref().map(|p| &p.org),
            );
            let new_client = !previous
                .as_ref()
                .is_some_and(|p| Arc::ptr_eq(&p.org.client, &wired.client));
            if new_client
                && !org.api_version.has_cadence_activity()
                && (config.enrollment.enabled || config.analytics.enabled)
            {
                tracing::info!(org = %org.name, api_version = org.api_version.path(), "enrolled records and executed follow-ups need Zoho API v8; skipped for this org");
            }
            self.running
                .insert(org.name.clone(), RunningOrg::start(wired, previous));
        }
    }

    /// Reads the config again and applies it; a bad config changes nothing.
    pub(crate) fn reload(&mut self, source: &ConfigSource) -> Result<(), String> {
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

    /// Abandons every collection and side loop.
    pub fn stop(&mut self) {
        self.running.clear();
    }
}
