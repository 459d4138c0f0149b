//! How a lasting failure is logged: at warn once per change of state (the error class), later
//! ones at debug, and the recovery at info. A collection failing every second for an hour is one
//! warning.

use crate::zoho::error::ZohoError;
use std::sync::Mutex;

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
