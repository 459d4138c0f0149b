//! Wires the parts together for a long-running exporter: state, supervisor, HTTP server,
//! reloads (SIGHUP and `POST /-/reload`) and graceful shutdown.
//!
//! The listeners are bound by the caller and passed in (tests bind 127.0.0.1:0; the command line
//! binds every `--web.listen-address` or takes systemd's sockets), and shutdown is a future, so
//! tests and the binary drive the same code.

use crate::app::signals::{hangup_signals, next_hangup};
use crate::app::supervisor::Supervisor;
use crate::config::shard::Shard;
use crate::config::source::ConfigSource;
use crate::config::Config;
use crate::store::SharedState;
use crate::web::accept::Limits;
use crate::web::reload::WebConfig;
use crate::web::routes::{router, AppState, ReloadRequest};
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

/// How long in-flight requests may take to finish once shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How the endpoint is exposed: the `--web.config.file` (TLS, basic auth, headers), if any, and
/// the connection limits; and which shard of the config's orgs this process collects.
#[derive(Clone, Default)]
pub struct ServeOptions {
    pub web_config: Option<WebConfig>,
    pub limits: Limits,
    pub shard: Shard,
}

/// Serves on every listener until `shutdown` completes. Collections are abandoned at once;
/// in-flight scrapes get [`SHUTDOWN_GRACE`] to finish.
pub async fn run(
    source: ConfigSource,
    config: Config,
    listeners: Vec<TcpListener>,
    telemetry_path: String,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Only this shard's orgs, from the start: the state, the status page, `/-/ready` and `/sd`
    // know no other.
    let config = options.shard.filter(config);
    let state = SharedState::new(&config);
    let (ordinal, total) = (options.shard.ordinal(), options.shard.total());
    state.telemetry().set_shard(ordinal, total);
    let mut supervisor = Supervisor::new(state.clone()).sharded(options.shard);
    supervisor.apply(&config);
    let (reload_tx, reload_rx) = mpsc::channel::<ReloadRequest>(4);
    let supervisor_task = tokio::spawn(supervise(supervisor, source, reload_rx));
    let app = router(AppState {
        shared: state,
        telemetry_path,
        reload: Some(reload_tx),
        web: options.web_config.clone(),
    });

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    let server = crate::web::accept::serve(
        listeners,
        app,
        options.web_config,
        options.limits,
        stop_rx.clone(),
    );
    let mut deadline = stop_rx;
    let result = tokio::select! {
        result = server => result,
        _ = async {
            let _ = deadline.wait_for(|stop| *stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("requests still in flight after the grace period; exiting anyway");
            Ok(())
        }
    };
    supervisor_task.abort();
    result
}

/// Reloads the config on each `POST /-/reload` (answering it) and each SIGHUP, until the HTTP
/// side is gone; then stops every collection.
async fn supervise(
    mut supervisor: Supervisor,
    source: ConfigSource,
    mut reload_rx: mpsc::Receiver<ReloadRequest>,
) {
    let mut hangups = hangup_signals();
    loop {
        tokio::select! {
            request = reload_rx.recv() => match request {
                Some(answer) => {
                    let _ = answer.send(supervisor.reload(&source));
                }
                None => break,
            },
            Some(()) = next_hangup(&mut hangups) => {
                tracing::info!("SIGHUP received: reloading the config");
                let _ = supervisor.reload(&source);
            }
        }
    }
    supervisor.stop();
}
