//! The web config in force: loaded at start-up, and looked at again for every connection and
//! every request, as exporter-toolkit does. Each look compares the file's and the certificate
//! files' metadata (inode, size, change times) with what was loaded, and re-reads everything when
//! one changed, so a renewed certificate or a removed user applies without a restart.
//!
//! While the file on disk is broken the endpoint fails closed: TLS handshakes are refused and
//! plain-HTTP requests answer 500, and the error is logged once per change. Whether TLS is on at
//! all is decided at start-up, as exporter-toolkit does.

use crate::support::file_stamp::{stamp, Stamps};
use crate::web::auth::Gate;
use crate::web::config::{WebConfigError, WebSettings};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A loaded, usable web config: the TLS server config built from the files, and the rest.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) settings: WebSettings,
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// The highest cost among the users' hashes: what an unknown user's check costs too.
    pub(crate) bcrypt_cost: u32,
}

/// Reads the file and everything it names. The stamps are taken before each read, so a file
/// that changes while being read is seen as changed at the next look.
fn read_all(path: &Path) -> (Stamps, Result<Loaded, WebConfigError>) {
    let mut stamps = vec![(path.to_owned(), stamp(path))];
    let invalid = |message: String| WebConfigError::Invalid {
        path: path.to_owned(),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(source) => {
            return (
                stamps,
                Err(WebConfigError::Read {
                    path: path.to_owned(),
                    source,
                }),
            )
        }
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let settings = match WebSettings::parse(&text, dir) {
        Ok(settings) => settings,
        Err(message) => return (stamps, Err(invalid(message))),
    };
    stamps.extend(settings.files().into_iter().map(|file| {
        let stamp = stamp(&file);
        (file, stamp)
    }));
    let tls = match settings
        .tls
        .as_ref()
        .map(crate::web::tls::server_config)
        .transpose()
    {
        Ok(tls) => tls,
        Err(err) => return (stamps, Err(invalid(err.to_string()))),
    };
    let bcrypt_cost = settings
        .users
        .values()
        .filter_map(|hash| hash.expose().parse::<bcrypt::HashParts>().ok())
        .map(|parts| parts.get_cost())
        .max()
        .unwrap_or(bcrypt::DEFAULT_COST);
    (
        stamps,
        Ok(Loaded {
            settings,
            tls,
            bcrypt_cost,
        }),
    )
}

/// The web config in force, shared by the accept loop and the request guard; cheap to clone.
#[derive(Clone)]
pub struct WebConfig {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Decided at start-up and kept until restart, as in exporter-toolkit.
    tls: bool,
    /// A std mutex: held for a few `stat` calls, and for a re-read only when a file changed;
    /// never across an await.
    current: Mutex<Current>,
    /// What requests must get past: the rate limit and basic auth.
    gate: Gate,
}

struct Current {
    stamps: Stamps,
    result: Result<Arc<Loaded>, Arc<str>>,
}

impl WebConfig {
    /// Loads the file and every file it names; any problem is an error naming it.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let (stamps, result) = read_all(path);
        let loaded = result?;
        for warning in &loaded.settings.warnings {
            tracing::warn!(file = %path.display(), "web config: {warning}");
        }
        let tls = loaded.tls.is_some();
        Ok(WebConfig {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                tls,
                current: Mutex::new(Current {
                    stamps,
                    result: Ok(Arc::new(loaded)),
                }),
                gate: Gate::default(),
            }),
        })
    }

    /// Whether connections are TLS (decided at start-up).
    pub(crate) fn tls_enabled(&self) -> bool {
        self.inner.tls
    }

    /// Whether basic auth is on in the file as now loaded.
    pub(crate) fn basic_auth_enabled(&self) -> bool {
        self.current()
            .is_ok_and(|loaded| !loaded.settings.users.is_empty())
    }

    /// The config in force, re-read first if the file or a file it names changed. An error
    /// means the file on disk is unusable; callers refuse service until it is fixed.
    pub(crate) fn current(&self) -> Result<Arc<Loaded>, Arc<str>> {
        let inner = &*self.inner;
        let mut current = inner.current.lock().expect("web config lock");
        if crate::support::file_stamp::changed(&current.stamps) {
            let (stamps, result) = read_all(&inner.path);
            current.stamps = stamps;
            let result = result.map_err(|err| err.to_string()).and_then(|loaded| {
                match (inner.tls, loaded.tls.is_some()) {
                    (true, false) => Err(format!(
                        "web config file {}: tls_server_config was removed; TLS cannot be switched off without a restart",
                        inner.path.display()
                    )),
                    (false, true) => {
                        tracing::warn!(file = %inner.path.display(), "web config: tls_server_config added; TLS starts with the next restart");
                        Ok(loaded)
                    }
                    _ => Ok(loaded),
                }
            });
            match result {
                Ok(loaded) => {
                    for warning in &loaded.settings.warnings {
                        tracing::warn!(file = %inner.path.display(), "web config: {warning}");
                    }
                    tracing::info!(file = %inner.path.display(), "web config reloaded");
                    inner.gate.forget_verified();
                    current.result = Ok(Arc::new(loaded));
                }
                Err(message) => {
                    tracing::error!(error = %message, "web config reload failed; refusing connections until it is fixed");
                    current.result = Err(message.into());
                }
            }
        }
        current.result.clone()
    }

    /// The TLS server config for a new connection, or `None` when TLS is off.
    pub(crate) fn tls_config(&self) -> Option<Result<Arc<rustls::ServerConfig>, Arc<str>>> {
        if !self.inner.tls {
            return None;
        }
        Some(self.current().and_then(|loaded| {
            loaded
                .tls
                .clone()
                .ok_or_else(|| Arc::from("TLS is not configured"))
        }))
    }

    /// The rate limit and basic auth, for the request guard.
    pub(crate) fn gate(&self) -> &Gate {
        &self.inner.gate
    }
}
