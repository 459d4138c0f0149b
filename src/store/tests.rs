//! Tests of the store: a state of several orgs (snapshots, side passes, expectations, live
//! counters) and what its scrapes say.

use super::*;
use crate::domain::activity::{Enrollment, FollowUpsExecuted};
use crate::domain::cadence::tests::cadence;
use crate::metrics::labels::{Endpoint, RateLimitWindow};
use crate::metrics::telemetry::RateLimit;
use std::time::{Duration, SystemTime};

/// Three orgs: `beta` with snapshot, both side passes and API counters, `alpha` with a snapshot
/// only, `gamma` without any collection yet; listed in the config out of name order.
pub(super) async fn fixture(per_cadence: bool) -> SharedState {
    let yaml = format!("per_cadence_metrics: {per_cadence}\nenrollment: {{enabled: true}}\nanalytics: {{enabled: true}}\nexpectations:\n  - {{name: leads-on, module: Contacts, cadence: \"c1*\", active: true}}\norgs:\n  - {{name: beta, client_id: i, client_secret: s, refresh_token: r}}\n  - {{name: alpha, client_id: i, client_secret: s, refresh_token: r}}\n  - {{name: gamma, client_id: i, client_secret: s, refresh_token: r}}\n");
    let state = SharedState::new(&Config::parse(&yaml).unwrap());
    for (org, count) in [("beta", 12), ("alpha", 5)] {
        let cadences = (0..count)
            .map(|n| {
                cadence(
                    &n.to_string(),
                    if n % 3 == 0 { "Leads" } else { "Contacts" },
                    n % 2 == 0,
                )
            })
            .collect();
        let snapshot = OrgSnapshot::build(cadences, SystemTime::UNIX_EPOCH);
        state.publish_snapshot(org, Arc::new(snapshot)).await;
    }
    let enrollment = Enrollment {
        counts: [("1".to_owned(), 4), ("2".to_owned(), 7)].into(),
    };
    state.publish_pass("beta", Arc::new(enrollment)).await;
    let executed = FollowUpsExecuted {
        per_cadence: [("2".to_owned(), [("email".to_owned(), 3)].into())].into(),
    };
    state.publish_pass("beta", Arc::new(executed)).await;
    let beta = state.telemetry().org("beta");
    beta.collection_started();
    beta.collection_ended(Duration::from_millis(120), Ok(SystemTime::UNIX_EPOCH));
    beta.observe_request(Endpoint::ALL[0], Some(200), 0.2);
    beta.count_error(Endpoint::ALL[0], "INVALID_TOKEN");
    beta.set_rate_limit(
        RateLimitWindow::Day,
        RateLimit {
            limit: Some(100.0),
            remaining: Some(90.0),
        },
    );
    let alpha = state.telemetry().org("alpha");
    alpha.collection_started();
    alpha.collection_ended(Duration::from_millis(80), Err("boom".to_owned()));
    state
}

/// The body without the process metrics and the reload time, which change by themselves.
pub(super) fn stable(body: &[u8]) -> String {
    let text = String::from_utf8(body.to_vec()).unwrap();
    let lines = text.lines().filter(|line| {
        !line.contains("process_")
            && !line.contains("zoho_crm_config_last_reload_success_timestamp")
    });
    lines.map(|line| format!("{line}\n")).collect()
}

