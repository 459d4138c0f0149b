//! The accept loop behind the HTTP endpoint: a bound on open connections, the TLS handshake when
//! the web config turns TLS on, and hyper's HTTP/1.1 with limits on header size and header read
//! time; then a graceful drain when shutdown begins.
//!
//! Serving is done here rather than with `axum::serve` because TLS needs a per-connection step
//! (the handshake with the certificate in force right now) and because axum's server exposes
//! none of hyper's limits.

use crate::web_config::WebConfig;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

/// Limits on what one client, or many, can hold.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections open at once; the next one waits in the kernel's backlog.
    pub max_connections: usize,
    /// Time a client has to send a request's headers. It also bounds how long a kept-alive
    /// connection may sit idle between requests (hyper starts the clock when it waits for the
    /// next request), so slow or silent clients cannot hold connections.
    pub header_read_timeout: Duration,
    /// Time a client has to finish the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Request line plus headers, in bytes; more is answered 431.
    pub max_header_bytes: usize,
    /// Header fields per request.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_headers: 64,
        }
    }
}

/// Serves `app` on every listener until `stop` turns true; then stops accepting, lets in-flight
/// requests finish, closes idle connections and returns once all are closed. The connection
/// bound is shared by all listeners.
pub async fn serve(
    listeners: Vec<TcpListener>,
    app: Router,
    web: Option<WebConfig>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let limits = Arc::new(limits);
    let mut connections = JoinSet::new();
    let mut next = 0;
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = accept_any(&listeners, &mut next) => match accepted {
                Ok(pair) => pair,
                Err(err) if is_per_connection(&err) => continue,
                Err(err) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::error!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            peer,
            app.clone(),
            web.clone(),
            limits.clone(),
            stop.clone(),
            slot,
        ));
        while connections.try_join_next().is_some() {}
    }
    drop(listeners);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// The next connection on any of the listeners. Each call starts looking one listener further
/// on, so a busy listener cannot starve the others.
async fn accept_any(
    listeners: &[TcpListener],
    next: &mut usize,
) -> std::io::Result<(TcpStream, SocketAddr)> {
    if listeners.is_empty() {
        return std::future::pending().await;
    }
    let start = *next % listeners.len();
    *next = start + 1;
    std::future::poll_fn(|cx| {
        for offset in 0..listeners.len() {
            let listener = &listeners[(start + offset) % listeners.len()];
            if let std::task::Poll::Ready(result) = listener.poll_accept(cx) {
                return std::task::Poll::Ready(result);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// Completes when `stop` turns true; never if its sender goes away without saying so.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn is_per_connection(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        err.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    web: Option<WebConfig>,
    limits: Arc<Limits>,
    stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let Some(tls) = web.as_ref().and_then(WebConfig::tls_config) else {
        return http(stream, app, &limits, stop).await;
    };
    // The certificate in force now: a renewed one applies from the next connection on.
    let Ok(config) = tls else {
        // Logged by the web config when it failed to reload.
        return;
    };
    let handshake = tokio_rustls::TlsAcceptor::from(config).accept(stream);
    match tokio::time::timeout(limits.tls_handshake_timeout, handshake).await {
        Ok(Ok(stream)) => http(stream, app, &limits, stop).await,
        Ok(Err(err)) => tracing::debug!(peer = %peer, error = %err, "TLS handshake failed"),
        Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
    }
}

async fn http<I>(io: I, app: Router, limits: &Limits, mut stop: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_headers(limits.max_headers);
    let connection = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = stopped(&mut stop) => {
            // Finishes the request in flight, if any, then closes.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(error = %err, "HTTP connection ended with an error");
    }
}
