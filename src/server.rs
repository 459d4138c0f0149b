//! Wires the parts together for a long-running exporter: state, supervisor, HTTP server,
//! reloads (SIGHUP and `POST /-/reload`) and graceful shutdown.
//!
//! The listeners are bound by the caller and passed in (tests bind 127.0.0.1:0; `main` binds every
//! `--web.listen-address` or takes systemd's sockets), and shutdown is a future, so tests and
//! `main` drive the same code.

use crate::config::Config;
use crate::connections::Limits;
use crate::http::{router, AppState, ReloadRequest};
use crate::state::SharedState;
use crate::supervisor::{ConfigSource, Supervisor};
use crate::web_config::WebConfig;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// How long in-flight requests may take to finish once shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How the endpoint is exposed: the `--web.config.file` (TLS, basic auth, headers), if any, and
/// the connection limits.
#[derive(Clone, Default)]
pub struct ServeOptions {
    pub web_config: Option<WebConfig>,
    pub limits: Limits,
}

/// Serves plain HTTP with the default limits until `shutdown` completes; see [`run_with`].
pub async fn run(
    source: ConfigSource,
    config: Config,
    listeners: Vec<TcpListener>,
    telemetry_path: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run_with(
        source,
        config,
        listeners,
        telemetry_path,
        ServeOptions::default(),
        shutdown,
    )
    .await
}

/// Serves on every listener until `shutdown` completes. Collections are abandoned at once;
/// in-flight scrapes get [`SHUTDOWN_GRACE`] to finish.
pub async fn run_with(
    source: ConfigSource,
    config: Config,
    listeners: Vec<TcpListener>,
    telemetry_path: String,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = SharedState::new(&config);
    let mut supervisor = Supervisor::new(state.clone());
    supervisor.apply(&config);
    let (reload_tx, mut reload_rx) = mpsc::channel::<ReloadRequest>(4);
    let app = AppState {
        shared: state,
        telemetry_path,
        reload: Some(reload_tx),
    };

    let supervisor_task = tokio::spawn(async move {
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
    });

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    let mut app = router(app);
    if let Some(web) = &options.web_config {
        // Around every route, the fallback included: exporter-toolkit protects everything.
        app = app.layer(axum::middleware::from_fn_with_state(
            web.clone(),
            crate::web_config::guard,
        ));
    }
    let server = crate::connections::serve(
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

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = Option<()>;

fn hangup_signals() -> Hangups {
    #[cfg(unix)]
    {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}

async fn next_hangup(hangups: &mut Hangups) -> Option<()> {
    #[cfg(unix)]
    if let Some(signal) = hangups {
        return signal.recv().await;
    }
    let _ = hangups;
    std::future::pending().await
}

/// Completes on SIGTERM or SIGINT (ctrl-c).
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}

/// Collects every org once, concurrently, with one enrollment and analytics pass where those
/// are on, and returns the text exposition and whether everything succeeded (`--once`).
pub async fn collect_once(config: &Config) -> (String, bool) {
    let state = SharedState::new(config);
    let http = crate::zoho::client::http_client();
    let deadline = config.collection_deadline();
    let collections = config.orgs.iter().map(|org| {
        let client = std::sync::Arc::new(crate::zoho::client::ZohoClient::new(
            http.clone(),
            org.clone(),
            config.timeout,
            config.max_response_bytes,
            state.telemetry().org(&org.name),
        ));
        let collector = crate::collector::OrgCollector::new(
            client.clone(),
            state.clone(),
            config.interval,
            deadline,
        );
        let enrollment = crate::enrollment::EnrollmentCollector::wanted(config, &client, &state);
        let analytics = crate::enrollment::AnalyticsCollector::wanted(config, &client, &state);
        let state = state.clone();
        let org = org.name.clone();
        async move {
            collector.collect_once().await?;
            let snapshot = state
                .snapshot(&org)
                .expect("a successful collection publishes a snapshot");
            if let Some(enrollment) = enrollment {
                enrollment.collect_once(&snapshot).await?;
            }
            if let Some(analytics) = analytics {
                analytics.collect_once(&snapshot).await?;
            }
            Ok::<(), crate::zoho::client::ZohoError>(())
        }
    });
    let results = join_all(collections).await;
    let body = state.scrape_body(crate::exposition::Format::Text, false);
    (
        String::from_utf8(body).expect("the exposition is UTF-8"),
        results.iter().all(|ok| *ok),
    )
}

/// Runs the futures as tasks, concurrently, and tells for each whether it succeeded.
async fn join_all<E, F>(futures: impl Iterator<Item = F>) -> Vec<bool>
where
    E: Send + 'static,
    F: Future<Output = Result<(), E>> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(matches!(handle.await, Ok(Ok(()))));
    }
    results
}
