//! The signals the exporter answers: SIGHUP reloads the config, SIGTERM and SIGINT (ctrl-c)
//! shut it down.

#[cfg(unix)]
pub(crate) type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
pub(crate) type Hangups = Option<()>;

/// A listener for SIGHUP, where there is one.
pub(crate) fn hangup_signals() -> Hangups {
    #[cfg(unix)]
    {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The next SIGHUP; never, where there is no listener.
pub(crate) async fn next_hangup(hangups: &mut Hangups) -> Option<()> {
    #[cfg(unix)]
    if let Some(signal) = hangups {
        return signal.recv().await;
    }
    let _ = hangups;
    std::future::pending().await
}

/// Completes on SIGTERM or SIGINT (ctrl-c).
pub(crate) async fn shutdown_signal() {
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
