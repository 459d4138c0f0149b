//! An org's OAuth credentials as its token requests send them. Those given as files
//! (`client_id_file`, `client_secret_file`, `refresh_token_file`) are watched the way the web
//! config is ([`crate::file_stamp`]): before each use their metadata is compared with what it was
//! at the last read, and a changed file is read again. A rotated client secret or refresh token
//! (a Kubernetes Secret update, a vault agent rewriting the file) is so used from the next token
//! request, with no reload; a changed refresh token also tells the client to drop its cached
//! access token, which belongs to the old grant.
//!
//! A file that cannot be read, or is empty, keeps the last good value: a half-written or briefly
//! missing file must not stop an org that has working credentials. The failure is logged once
//! per change of the file (its path and the error, never its content), and
//! `zoho_crm_credentials_last_read_successful{org}` is 0 until every file reads again.

use crate::config::{read_credential_file, OrgConfig};
use crate::file_stamp::{stamp, Stamp};
use crate::secret::Secret;
use crate::telemetry::OrgTelemetry;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The values a token request sends.
#[derive(Clone)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: Secret,
    pub refresh_token: Secret,
}

/// Which credential a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    ClientId,
    ClientSecret,
    RefreshToken,
}

impl Field {
    /// The config key naming the file.
    fn key(self) -> &'static str {
        match self {
            Field::ClientId => "client_id_file",
            Field::ClientSecret => "client_secret_file",
            Field::RefreshToken => "refresh_token_file",
        }
    }

    /// Puts `value` in place; true when it differs from what was there.
    fn set(self, credentials: &mut Credentials, value: String) -> bool {
        match self {
            Field::ClientId if credentials.client_id != value => credentials.client_id = value,
            Field::ClientSecret if credentials.client_secret.expose() != value => {
                credentials.client_secret = Secret::new(value)
            }
            Field::RefreshToken if credentials.refresh_token.expose() != value => {
                credentials.refresh_token = Secret::new(value)
            }
            _ => return false,
        }
        true
    }
}

/// What a look found changed since the one before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// Any credential has a new value.
    pub any: bool,
    /// The refresh token has a new value: access tokens of the old one are to be dropped.
    pub refresh_token: bool,
}

/// One watched file.
struct File {
    field: Field,
    path: PathBuf,
    /// The stamp at the last read; `None` before the first look, so that the first look reads
    /// the file again (it may have changed between the config's load and the client's start).
    seen: Option<Option<Stamp>>,
    /// Whether the last read failed.
    failing: bool,
}

/// An org's credentials, re-read from their files when these change. Shared by the org's
/// client; every method is quick (a `stat` per file, a read only after a change).
pub struct WatchedCredentials {
    org: String,
    telemetry: Arc<OrgTelemetry>,
    /// A std mutex: held for a few `stat` calls and, after a change, small reads; never across
    /// an await.
    state: Mutex<State>,
}

struct State {
    current: Credentials,
    files: Vec<File>,
}

impl WatchedCredentials {
    /// Starts from the values the config loaded, watching the files it read them from.
    pub fn new(org: &OrgConfig, telemetry: Arc<OrgTelemetry>) -> WatchedCredentials {
        let files = &org.credential_files;
        let files = [
            (Field::ClientId, &files.client_id),
            (Field::ClientSecret, &files.client_secret),
            (Field::RefreshToken, &files.refresh_token),
        ]
        .into_iter()
        .filter_map(|(field, path)| {
            path.clone().map(|path| File {
                field,
                path,
                seen: None,
                failing: false,
            })
        })
        .collect();
        // The config's load has just read every file.
        telemetry.set_credentials_read(true);
        WatchedCredentials {
            org: org.name.clone(),
            telemetry,
            state: Mutex::new(State {
                current: Credentials {
                    client_id: org.client_id.clone(),
                    client_secret: org.client_secret.clone(),
                    refresh_token: org.refresh_token.clone(),
                },
                files,
            }),
        }
    }

    /// Reads again every file that changed since the last look, and tells what changed.
    pub fn refresh(&self) -> Changes {
        let mut state = self.state.lock().expect("credentials lock");
        let State { current, files } = &mut *state;
        let mut changes = Changes::default();
        let mut looked_again = false;
        for file in files.iter_mut() {
            let now = stamp(&file.path);
            if file.seen.as_ref() == Some(&now) {
                continue;
            }
            file.seen = Some(now);
            looked_again = true;
            match read_credential_file(&file.path) {
                Ok(value) => {
                    let was_failing = std::mem::replace(&mut file.failing, false);
                    if file.field.set(current, value) {
                        changes.any = true;
                        changes.refresh_token |= file.field == Field::RefreshToken;
                        tracing::info!(org = %self.org, key = file.field.key(), file = %file.path.display(), "credential file changed; its new value is used from the next token request");
                    } else if was_failing {
                        tracing::info!(org = %self.org, key = file.field.key(), file = %file.path.display(), "credential file readable again");
                    }
                }
                Err(error) => {
                    file.failing = true;
                    tracing::warn!(org = %self.org, key = file.field.key(), error = %error, "cannot read a credential file; keeping its last good value");
                }
            }
        }
        if looked_again {
            self.telemetry
                .set_credentials_read(!files.iter().any(|file| file.failing));
        }
        changes
    }

    /// The credentials in force.
    pub fn current(&self) -> Credentials {
        self.state.lock().expect("credentials lock").current.clone()
    }
}
