//! How a lasting failure is logged: at warn once per change of state (the error class), later
//! ones at debug, and the recovery at info. A collection failing every second for an hour is one
//! warning. And how a failure reads on the status page ([`last_error`]).

use crate::domain::history::{LastError, PassKind, Step};
use crate::metrics::labels::Endpoint;
use crate::zoho::client::ZohoClient;
use crate::zoho::error::ZohoError;
use std::sync::Mutex;
use std::time::SystemTime;

/// A failure of a pass of `kind` as the status page shows it: when, which step against which
/// host, and the error's safe message.
pub(crate) fn last_error(err: &ZohoError, kind: PassKind, client: &ZohoClient) -> LastError {
    // Only a missed deadline names no endpoint: the pass was at its own step.
    let endpoint = err.endpoint().unwrap_or(match kind {
        PassKind::Collection => Endpoint::Cadences,
        PassKind::Enrollment => Endpoint::RecordsCount,
        PassKind::Analytics => Endpoint::Analytics,
    });
    let step = match endpoint {
        Endpoint::Token => Step::Token,
        Endpoint::Cadences => Step::Page(client.cadences_page().max(1)),
        Endpoint::RecordsCount => Step::RecordsCount,
        Endpoint::Analytics => Step::Analytics,
    };
    LastError {
        at: SystemTime::now(),
        pass: kind,
        step,
        host: client.host(endpoint),
        message: err.to_string(),
        resolved: false,
    }
}

#[derive(Debug, Default)]
pub(crate) struct FailureLog {
    last: Mutex<Option<String>>,
}

impl FailureLog {
    /// `what` failed with `err`; its last complete `kept` (snapshot, result) stays.
    pub(crate) fn failed(&self, org: &str, what: &str, kept: &str, err: &ZohoError) {
        let label = err.metric_label();
        let mut last = self.last.lock().expect("failure log lock");
        // A paused token request continues the token failure before it: same state.
        let same_state = last
            .as_deref()
            .is_some_and(|previous| previous == label || label == "token_paused");
        if same_state {
            tracing::debug!(org, error = %err, "{what} failed again; keeping the last complete {kept}");
        } else {
            tracing::warn!(org, error = %err, "{what} failed; keeping the last complete {kept}");
            *last = Some(label);
        }
    }

    /// `what` succeeded; logs the recovery if it had been failing.
    pub(crate) fn succeeded(&self, org: &str, what: &str) {
        if let Some(previous) = self.last.lock().expect("failure log lock").take() {
            tracing::info!(org, previous_error = %previous, "{what} succeeds again");
        }
    }
}
