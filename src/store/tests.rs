//! Tests of the store: a state of several orgs (snapshots, side passes, expectations, live
//! counters) and what its scrapes say.

use super::*;
use crate::domain::activity::{Enrollment, FollowUpsExecuted};
use crate::domain::cadence::tests::cadence;
use crate::domain::cadence::Status;
use crate::metrics::labels::{Endpoint, RateLimitWindow};
use crate::metrics::telemetry::RateLimit;
use std::time::{Duration, SystemTime};

fn snapshot(ids: &[&str]) -> Arc<OrgSnapshot> {
    let cadences = ids
        .iter()
        .map(|id| cadence(id, "Contacts", Status::Active))
        .collect();
    Arc::new(OrgSnapshot::build(cadences, SystemTime::UNIX_EPOCH))
}

/// The config of [`fixture`], with more `expectations` entries and without the orgs left out.
pub(crate) fn fixture_config(
    per_cadence: bool,
    more_expectations: &str,
    left_out: &[&str],
) -> Config {
    let yaml = format!("per_cadence_metrics: {per_cadence}\nenrollment: {{enabled: true}}\nanalytics: {{enabled: true}}\nexpectations:\n  - {{name: leads-on, module: Contacts, cadence: \"c1*\", active: true}}\n{more_expectations}orgs:\n  - {{name: beta, client_id: i, client_secret: s, refresh_token: r}}\n  - {{name: alpha, client_id: i, client_secret: s, refresh_token: r}}\n  - {{name: gamma, client_id: i, client_secret: s, refresh_token: r}}\n");
    let lines = yaml.lines().filter(|line| {
        !left_out
            .iter()
            .any(|org| line.contains(&format!("name: {org},")))
    });
    Config::parse(&lines.map(|line| format!("{line}\n")).collect::<String>()).unwrap()
}

/// Three orgs: `beta` with snapshot, both side passes and API counters, `alpha` with a snapshot
/// and a failed collection, `gamma` without any collection yet; listed in the config out of
/// name order.
pub(crate) async fn fixture(per_cadence: bool) -> SharedState {
    let state = SharedState::new(&fixture_config(per_cadence, "", &[]));
    for (org, count) in [("beta", 12), ("alpha", 5)] {
        let cadences = (0..count)
            .map(|n| {
                cadence(
                    &n.to_string(),
                    if n % 3 == 0 { "Leads" } else { "Contacts" },
                    if n % 2 == 0 {
                        Status::Active
                    } else {
                        Status::Inactive
                    },
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
    beta.collection_ended(Duration::from_millis(120), Some(SystemTime::UNIX_EPOCH));
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
    alpha.collection_ended(Duration::from_millis(80), None);
    state
}

/// The body without the process metrics and the reload time, which change by themselves.
pub(crate) fn stable(body: &[u8]) -> String {
    let text = String::from_utf8(body.to_vec()).unwrap();
    let lines = text.lines().filter(|line| {
        !line.contains("process_")
            && !line.contains("zoho_crm_config_last_reload_success_timestamp")
    });
    lines.map(|line| format!("{line}\n")).collect()
}

#[tokio::test]
async fn a_change_of_one_org_encodes_that_org_only() {
    let state = fixture(true).await;
    let mut expected = state.encodings();
    let mut check = |state: &SharedState, org: Option<&str>, what: &str| {
        if let Some(org) = org {
            *expected.get_mut(org).unwrap() += 1;
        }
        expected.retain(|name, _| state.encodings().contains_key(name));
        assert_eq!(state.encodings(), expected, "{what}");
    };
    state.publish_snapshot("alpha", snapshot(&["1", "2"])).await;
    check(&state, Some("alpha"), "a collection of alpha");
    let enrollment = Enrollment {
        counts: [("1".to_owned(), 9)].into(),
    };
    state.publish_pass("beta", Arc::new(enrollment)).await;
    check(&state, Some("beta"), "an enrollment pass of beta");
    let beta_only =
        "  - {name: beta-only, org: beta, module: Contacts, cadence: c2, active: false}\n";
    state.apply_config(&fixture_config(true, beta_only, &[]));
    check(
        &state,
        Some("beta"),
        "a reload with an expectation about beta only",
    );
    state.apply_config(&fixture_config(true, beta_only, &[]));
    check(&state, None, "a reload that changes nothing");
    state.apply_config(&fixture_config(true, beta_only, &["alpha"]));
    check(&state, None, "a reload that removes alpha");
    let text = String::from_utf8(state.scrape_body(Format::Text, false)).unwrap();
    assert!(!text.contains("org=\"alpha\""), "alpha's series are gone");
    assert!(text.contains("expectation=\"beta-only\""), "{text}");
    state.apply_config(&fixture_config(false, beta_only, &["alpha"]));
    check(
        &state,
        Some("beta"),
        "per-cadence metrics off: every org with a snapshot",
    );
}

#[tokio::test]
async fn a_scrape_of_some_orgs_is_every_series_labelled_with_them() {
    for per_cadence in [true, false] {
        let state = fixture(per_cadence).await;
        for format in [Format::OpenMetrics, Format::Text] {
            let full = stable(&state.scrape_body(format, false));
            for orgs in [
                &["beta"][..],
                &["alpha"],
                &["gamma"],
                &["alpha", "beta", "alpha"],
            ] {
                let expected = filtered(&full, orgs);
                for gzipped in [false, true] {
                    let body = state.scrape_orgs(orgs, format, gzipped).unwrap();
                    let body = body.concat();
                    let body = if gzipped { gunzip(&body) } else { body };
                    let body = String::from_utf8(body).unwrap();
                    assert_eq!(body, expected, "{orgs:?} {format:?} gzip {gzipped}");
                }
            }
        }
    }
    let state = fixture(true).await;
    let unknown = state.scrape_orgs(&["beta", "nope", "x\"y"], Format::Text, false);
    assert_eq!(
        unknown,
        Err(UnknownOrgs(vec!["nope".to_owned(), "x\"y".to_owned()]))
    );
}

#[tokio::test]
async fn a_scrape_of_one_org_is_made_once_until_that_org_changes() {
    let state = fixture(true).await;
    let scrape = |org: &str| state.scrape_orgs(&[org], Format::Text, true).unwrap();
    let first = scrape("beta");
    let again = scrape("beta");
    assert_eq!(
        first[1].as_ptr(),
        again[1].as_ptr(),
        "the same body, shared"
    );
    let text = |body: &[Bytes]| String::from_utf8(gunzip(&body.concat())).unwrap();
    // Another org's change leaves it; its own live counters and its own collection renew it.
    state
        .telemetry()
        .org("alpha")
        .collection_ended(Duration::ZERO, None);
    assert_eq!(scrape("beta")[1].as_ptr(), first[1].as_ptr());
    state
        .telemetry()
        .org("beta")
        .collection_ended(Duration::ZERO, None);
    let counted = scrape("beta");
    assert!(text(&counted).contains("zoho_crm_collections_total{org=\"beta\"} 2\n"));
    state.publish_snapshot("beta", snapshot(&["1", "2"])).await;
    let collected = text(&scrape("beta"));
    assert_eq!(
        collected.matches("zoho_crm_cadence_active{").count(),
        2,
        "{collected}"
    );
    let full = stable(&state.scrape_body(Format::Text, false));
    assert_eq!(stable(collected.as_bytes()), filtered(&full, &["beta"]));
}

#[tokio::test]
async fn bodies_made_for_a_past_state_are_dropped_when_it_changes() {
    let state = fixture(true).await;
    let joined = Arc::downgrade(&state.joined(Format::Text));
    state.scrape_orgs(&["beta"], Format::Text, true).unwrap();
    let alone = |org: &str| state.inner.orgs.read().unwrap()[org].alone.clone();
    let kept = |org: &str| alone(org).iter().filter(|body| body.is_kept()).count();
    assert_eq!((joined.strong_count(), kept("beta")), (1, 1));
    // Another org's collection: the joined part is stale, beta's own body is not.
    state.publish_snapshot("alpha", snapshot(&["1"])).await;
    assert_eq!((joined.strong_count(), kept("beta")), (0, 1));
    state.publish_snapshot("beta", snapshot(&["1", "2"])).await;
    assert_eq!(
        kept("beta"),
        0,
        "dropped with the org's change, not at its next scrape"
    );
}

/// The full exposition `full` reduced to the series labelled with one of `orgs` and the build
/// info: families left without a sample lose their header too, as in a full exposition.
pub(crate) fn filtered(full: &str, orgs: &[&str]) -> String {
    let mut out = String::new();
    let mut header = String::new();
    for line in full.lines() {
        // A family whose header is pending has no sample for these orgs: it is left out.
        if line.starts_with("# HELP") || line == "# EOF" {
            header.clear();
        }
        if line.starts_with("# HELP") || line.starts_with("# TYPE") || line.starts_with("# UNIT") {
            header.push_str(line);
            header.push('\n');
            continue;
        }
        let ours = orgs
            .iter()
            .any(|org| line.contains(&format!("org=\"{org}\"")));
        if ours || line.starts_with("zoho_crm_exporter_build_info") || line == "# EOF" {
            out.push_str(&std::mem::take(&mut header));
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A gzip body as a client reads it that stops at the end of the first gzip member (curl's
/// `--compressed`, Chromium): the body must be one member.
fn gunzip(gzip: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut plain = Vec::new();
    let mut member = flate2::read::GzDecoder::new(gzip);
    member.read_to_end(&mut plain).unwrap();
    assert_eq!(
        member.into_inner().len(),
        0,
        "nothing after the first member"
    );
    plain
}
