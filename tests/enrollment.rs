//! Enrolled records (`records_count`) and executed follow-ups (`analytics`) against the fake Zoho
//! over real HTTP: batching, 207 and 400 answers with per-item errors, deleted cadences, the
//! analytics window, v7 orgs, and the main collection carrying on while these calls fail.

mod common;

use common::*;
use fake_zoho::{cadence, generated_cadences, FakeZoho, Fault, Route};
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};
use zoho_cadences_exporter::{Config, Org, OrgSnapshot, SharedState, Supervisor, ZohoError};

const UP: &str = r#"zoho_crm_up{org="org0"}"#;
const ENROLLED: &str = "zoho_crm_cadence_enrolled_records";
const EXECUTED: &str = "zoho_crm_cadence_follow_ups_executed";

fn api(metric: &str, endpoint: &str, label: &str, value: &str) -> String {
    format!(r#"{metric}{{org="org0",endpoint="{endpoint}",{label}="{value}"}}"#)
}

fn api_error(endpoint: &str, error: &str) -> String {
    api("zoho_crm_api_errors_total", endpoint, "error", error)
}

fn api_requests(endpoint: &str, status: &str) -> String {
    api(
        "zoho_crm_api_requests_total",
        endpoint,
        "status_code",
        status,
    )
}

fn cadence_series(metric: &str, fake_cadence: &serde_json::Value) -> String {
    format!(
        r#"{metric}{{org="org0",id="{}",name="{}",module="{}"}}"#,
        fake_cadence["id"].as_str().unwrap(),
        fake_cadence["name"].as_str().unwrap(),
        fake_cadence["module"]["api_name"].as_str().unwrap()
    )
}

fn module_sum(module: &str) -> String {
    format!(r#"zoho_crm_enrolled_records{{org="org0",module="{module}"}}"#)
}

fn id(fake_cadence: &serde_json::Value) -> String {
    fake_cadence["id"].as_str().unwrap().to_owned()
}

/// One fake with `cadences`, one org wired against it (with `extra` YAML in its config).
async fn setup(cadences: Vec<serde_json::Value>, extra: &str) -> (FakeZoho, SharedState, Org) {
    let fake = FakeZoho::start(cadences).await.expect("fake Zoho starts");
    let config = config_for(&[&fake], extra);
    let (state, mut orgs) = collectors(&config);
    (fake, state, orgs.remove(0))
}

/// One enrollment pass of `org` over `snapshot`; the org runs enrollment.
async fn enrollment_pass(org: &Org, snapshot: &OrgSnapshot) -> Result<(), ZohoError> {
    org.enrollment_pass(snapshot)
        .await
        .expect("the org runs enrollment")
}

/// One analytics pass of `org` over `snapshot`; the org runs analytics.
async fn analytics_pass(org: &Org, snapshot: &OrgSnapshot) -> Result<(), ZohoError> {
    org.analytics_pass(snapshot)
        .await
        .expect("the org runs analytics")
}

/// Collects the cadences, then runs one enrollment pass over the new snapshot.
async fn collect_and_count(org: &Org, state: &SharedState) {
    org.collect_once().await.expect("collection succeeds");
    let snapshot = state.snapshot("org0").unwrap();
    enrollment_pass(org, &snapshot)
        .await
        .expect("enrollment pass succeeds");
}

/// Polls `condition` until it holds or `limit` passes.
async fn eventually(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn two_hundred_fifty_cadences_take_three_calls_of_at_most_100_ids() {
    let cadences = generated_cadences(250);
    let (fake, state, collector) = setup(cadences.clone(), "").await;
    for (n, c) in cadences.iter().enumerate() {
        fake.set_enrolled(&id(c), (n as u64 * 7) % 31);
    }
    collect_and_count(&collector, &state).await;

    // Ids in order, 100 per call: 0..100, 100..200, 200..250.
    let ids: Vec<String> = cadences.iter().map(id).collect();
    let requests = fake.records_count_requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert_eq!(requests[0], ids[..100]);
    assert_eq!(requests[1], ids[100..200]);
    assert_eq!(requests[2], ids[200..]);

    let text = scrape(&state);
    assert_eq!(count_series(&text, ENROLLED), 250);
    let mut per_module: BTreeMap<&str, f64> = BTreeMap::new();
    for (n, c) in cadences.iter().enumerate() {
        let expected = ((n as u64 * 7) % 31) as f64;
        assert_eq!(
            value(&text, &cadence_series(ENROLLED, c)),
            Some(expected),
            "{c}"
        );
        *per_module
            .entry(c["module"]["api_name"].as_str().unwrap())
            .or_default() += expected;
    }
    assert_eq!(per_module.len(), 3);
    for (module, total) in per_module {
        assert_eq!(value(&text, &module_sum(module)), Some(total), "{module}");
    }
    assert_eq!(
        value(&text, &api_requests("records_count", "200")),
        Some(3.0)
    );
    assert_eq!(value(&text, UP), Some(1.0));
    promtool_check_metrics(&text);
}

#[tokio::test]
async fn a_207_answer_counts_the_bad_id_and_keeps_the_rest() {
    let cadences = generated_cadences(5);
    let (fake, state, collector) = setup(cadences.clone(), "").await;
    for (n, c) in cadences.iter().enumerate() {
        fake.set_enrolled(&id(c), 10 + n as u64);
    }
    fake.push_fault(
        Route::RecordsCount,
        Fault::ItemErrors {
            ids: vec![id(&cadences[2])],
            code: "INVALID_DATA".into(),
        },
    );
    collect_and_count(&collector, &state).await;

    let text = scrape(&state);
    assert_eq!(
        value(&text, &api_requests("records_count", "207")),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &api_error("records_count", "INVALID_DATA")),
        Some(1.0)
    );
    assert_eq!(count_series(&text, ENROLLED), 4);
    assert_eq!(value(&text, &cadence_series(ENROLLED, &cadences[2])), None);
    for n in [0, 1, 3, 4] {
        assert_eq!(
            value(&text, &cadence_series(ENROLLED, &cadences[n])),
            Some(10.0 + n as f64)
        );
    }
    // generated_cadences puts n = 0 and 3 in Leads, 1 and 4 in Contacts, 2 in Deals.
    assert_eq!(value(&text, &module_sum("Leads")), Some(10.0 + 13.0));
    assert_eq!(value(&text, &module_sum("Contacts")), Some(11.0 + 14.0));
    assert_eq!(
        value(&text, &module_sum("Deals")),
        None,
        "no counted cadence"
    );
}

#[tokio::test]
async fn answers_for_deleted_cadences_are_dropped() {
    // 101 cadences: a full batch of 100 and a batch holding only the last one.
    let cadences = generated_cadences(101);
    let (fake, state, collector) = setup(cadences.clone(), "").await;
    for c in &cadences {
        fake.set_enrolled(&id(c), 5);
    }
    collect_and_count(&collector, &state).await;
    assert_eq!(count_series(&scrape(&state), ENROLLED), 101);

    // Deleted in Zoho since the last collection: one of the first batch (answered 207) and the
    // only one of the second (answered 400 with the same per-item list).
    let (first, last) = (cadences[7].clone(), cadences[100].clone());
    let remaining: Vec<_> = cadences
        .iter()
        .filter(|c| c["id"] != first["id"] && c["id"] != last["id"])
        .cloned()
        .collect();
    fake.set_cadences(remaining.clone());
    let old_snapshot = state.snapshot("org0").unwrap();
    enrollment_pass(&collector, &old_snapshot)
        .await
        .expect("a pass with some ids refused still completes");
    let text = scrape(&state);
    assert_eq!(
        value(&text, &api_requests("records_count", "207")),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &api_requests("records_count", "400")),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &api_error("records_count", "INVALID_DATA")),
        Some(2.0),
        "the refused id of each answer, under Zoho's code"
    );
    assert_eq!(
        value(&text, &api_error("records_count", "http_400")),
        None,
        "the 400 answer listing per-item errors is an answer, not a failed request"
    );
    assert_eq!(value(&text, &cadence_series(ENROLLED, &first)), None);
    assert_eq!(value(&text, &cadence_series(ENROLLED, &last)), None);
    assert_eq!(count_series(&text, ENROLLED), 99);

    // A cadence deleted after the pass loses its series with the next collection, before the
    // next pass; so does its share of the module's sum.
    let gone = remaining[0].clone();
    let module = gone["module"]["api_name"].as_str().unwrap();
    let before = value(&text, &module_sum(module)).unwrap();
    fake.set_cadences(remaining[1..].to_vec());
    collector.collect_once().await.unwrap();
    let text = scrape(&state);
    assert_eq!(value(&text, &cadence_series(ENROLLED, &gone)), None);
    assert_eq!(count_series(&text, ENROLLED), 98);
    assert_eq!(value(&text, &module_sum(module)), Some(before - 5.0));
    assert_eq!(value(&text, UP), Some(1.0));
}

#[tokio::test]
async fn a_pass_with_every_id_refused_leaves_them_out_and_failures_keep_the_last_result() {
    let cadences = generated_cadences(3);
    let (fake, state, collector) = setup(cadences.clone(), "").await;
    fake.set_enrolled(&id(&cadences[0]), 42);
    collect_and_count(&collector, &state).await;
    let snapshot = state.snapshot("org0").unwrap();

    // Request-level errors and an answer that does not decode keep the last result.
    for fault in [
        Fault::Status {
            status: 403,
            code: "NO_PERMISSION".into(),
            retry_after: None,
        },
        Fault::Malformed,
    ] {
        fake.push_fault(Route::RecordsCount, fault);
        enrollment_pass(&collector, &snapshot).await.unwrap_err();
        assert_eq!(
            value(&scrape(&state), &cadence_series(ENROLLED, &cadences[0])),
            Some(42.0)
        );
    }
    let text = scrape(&state);
    assert_eq!(
        value(&text, &api_error("records_count", "NO_PERMISSION")),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &api_error("records_count", "decode")),
        Some(1.0)
    );
    assert_eq!(count_series(&text, ENROLLED), 3);

    // Every id unknown to Zoho (all deleted since the collection): the 400 answer lists an
    // error per id; a normal answer, so the pass succeeds and leaves them all out.
    fake.set_cadences(Vec::new());
    enrollment_pass(&collector, &snapshot)
        .await
        .expect("the per-item 400 answer is an answer");
    let text = scrape(&state);
    assert_eq!(count_series(&text, ENROLLED), 0);
    assert_eq!(
        value(&text, &api_error("records_count", "INVALID_DATA")),
        Some(3.0)
    );
    assert_eq!(
        value(&text, UP),
        Some(1.0),
        "the collection is not involved"
    );
}

#[tokio::test]
async fn per_module_sums_stay_when_per_cadence_metrics_are_off() {
    let cadences = generated_cadences(6);
    let (fake, state, collector) = setup(cadences.clone(), "per_cadence_metrics: false").await;
    for c in &cadences {
        fake.set_enrolled(&id(c), 3);
    }
    collect_and_count(&collector, &state).await;
    let text = scrape(&state);
    assert_eq!(count_series(&text, ENROLLED), 0);
    assert_eq!(count_series(&text, "zoho_crm_enrolled_records"), 3);
    assert_eq!(value(&text, &module_sum("Deals")), Some(6.0));
}

#[tokio::test]
async fn analytics_asks_for_the_configured_window_for_active_cadences_only() {
    // generated_cadences makes every fifth inactive: n = 4 here.
    let cadences = generated_cadences(6);
    let (fake, state, collector) = setup(
        cadences.clone(),
        "analytics: {enabled: true, interval: 1h, window: 6h}",
    )
    .await;
    fake.set_executed(&id(&cadences[0]), "email", 17);
    fake.set_executed(&id(&cadences[0]), "call", 4);
    fake.set_executed(&id(&cadences[1]), "whatsapp", 2);
    collector.collect_once().await.unwrap();
    let snapshot = state.snapshot("org0").unwrap();
    let before = SystemTime::now();
    analytics_pass(&collector, &snapshot)
        .await
        .expect("analytics pass succeeds");
    let after = SystemTime::now();

    let requests = fake.analytics_requests();
    let mut asked: Vec<String> = requests.iter().map(|r| r.id.clone()).collect();
    asked.sort();
    let active: Vec<String> = [0, 1, 2, 3, 5].map(|n| id(&cadences[n])).to_vec();
    assert_eq!(
        asked, active,
        "one call per active cadence, none for inactive ones"
    );
    for request in &requests {
        assert_eq!(request.version, "v8");
        let parse = |t: &Option<String>| {
            chrono::DateTime::parse_from_rfc3339(t.as_deref().expect("both window ends sent"))
                .expect("ISO 8601")
        };
        let (from, till) = (parse(&request.from), parse(&request.till));
        assert_eq!((till - from).num_seconds(), 6 * 3_600, "{request:?}");
        let till = SystemTime::UNIX_EPOCH + Duration::from_secs(till.timestamp() as u64);
        assert!(
            till + Duration::from_secs(1) >= before && till <= after,
            "{request:?}"
        );
    }

    let text = scrape(&state);
    let executed = |n: usize, channel: &str| {
        let c = &cadences[n];
        value(
            &text,
            &format!(
                r#"{EXECUTED}{{org="org0",id="{}",name="{}",module="{}",channel="{channel}"}}"#,
                id(c),
                c["name"].as_str().unwrap(),
                c["module"]["api_name"].as_str().unwrap()
            ),
        )
    };
    assert_eq!(executed(0, "email"), Some(17.0));
    assert_eq!(executed(0, "call"), Some(4.0));
    // Channels the cadence has steps for are reported even at zero (cadence 1 has email, call
    // and task steps); a channel without steps or executions is left out (cadence 0 has no
    // task step).
    assert_eq!(executed(1, "whatsapp"), Some(2.0));
    assert_eq!(executed(1, "email"), Some(0.0));
    assert_eq!(executed(1, "task"), Some(0.0));
    assert_eq!(executed(0, "task"), None);
    assert_eq!(executed(4, "email"), None, "inactive: not asked");
    assert_eq!(value(&text, &api_requests("analytics", "200")), Some(5.0));
    promtool_check_metrics(&text);
}

#[tokio::test]
async fn analytics_leaves_out_cadences_deleted_since_the_collection() {
    let cadences = vec![
        cadence(1, "Kept", "Leads", true),
        cadence(2, "Deleted", "Leads", true),
    ];
    let (fake, state, collector) = setup(
        cadences.clone(),
        "analytics: {enabled: true, interval: 1h, window: 1d}",
    )
    .await;
    fake.set_executed(&id(&cadences[0]), "email", 3);
    collector.collect_once().await.unwrap();
    fake.set_cadences(vec![cadences[0].clone()]);
    let snapshot = state.snapshot("org0").unwrap();
    analytics_pass(&collector, &snapshot)
        .await
        .expect("the pass completes without the deleted cadence");
    let text = scrape(&state);
    assert_eq!(sum(&text, EXECUTED, &[r#"name="Kept""#]), 3.0);
    assert_eq!(count_series_with(&text, EXECUTED, r#"name="Deleted""#), 0);
    assert_eq!(
        value(&text, &api_error("analytics", "INVALID_DATA")),
        Some(1.0)
    );
}

fn count_series_with(text: &str, metric: &str, label: &str) -> usize {
    samples(text)
        .keys()
        .filter(|s| s.starts_with(&format!("{metric}{{")) && s.contains(label))
        .count()
}

#[tokio::test]
async fn the_main_collection_carries_on_while_these_calls_fail() {
    let cadences = generated_cadences(20);
    let fake = FakeZoho::start(cadences.clone()).await.unwrap();
    for c in &cadences {
        fake.set_enrolled(&id(c), 8);
        fake.set_executed(&id(c), "email", 1);
    }
    let config = config_for(
        &[&fake],
        "interval: 1s\ntimeout: 5s\nenrollment: {enabled: true, interval: 1s}\nanalytics: {enabled: true, interval: 1s, window: 1h}",
    );
    let state = SharedState::new(&config);
    let mut supervisor = Supervisor::new(state.clone());
    supervisor.apply(&config);
    eventually(
        Duration::from_secs(10),
        "first enrollment and analytics passes",
        || {
            let text = scrape(&state);
            count_series(&text, ENROLLED) > 0 && count_series(&text, EXECUTED) > 0
        },
    )
    .await;

    // From now on: one call that never answers, then refusals, on both endpoints.
    let refused = || Fault::Status {
        status: 403,
        code: "NO_PERMISSION".into(),
        retry_after: None,
    };
    for route in [Route::RecordsCount, Route::Analytics] {
        fake.push_fault(route, Fault::Hang);
        for _ in 0..1_000 {
            fake.push_fault(route, refused());
        }
    }
    let calls = fake.calls(Route::RecordsCount);
    eventually(
        Duration::from_secs(5),
        "a hanging records_count call",
        || fake.calls(Route::RecordsCount) > calls,
    )
    .await;
    // While that call hangs (until the 5s timeout), collections go on at their 1s interval.
    let collections = |state: &SharedState| {
        value(&scrape(state), r#"zoho_crm_collections_total{org="org0"}"#).unwrap()
    };
    let started = collections(&state);
    eventually(
        Duration::from_secs(4),
        "collections during the hang",
        || collections(&state) >= started + 2.0,
    )
    .await;
    assert_eq!(
        value(&scrape(&state), &api_error("records_count", "timeout")),
        None,
        "the records_count call is still hanging"
    );
    eventually(
        Duration::from_secs(15),
        "refused enrollment and analytics calls",
        || {
            let text = scrape(&state);
            value(&text, &api_error("records_count", "NO_PERMISSION")).unwrap_or(0.0) >= 2.0
                && value(&text, &api_error("analytics", "NO_PERMISSION")).unwrap_or(0.0) >= 2.0
        },
    )
    .await;

    let text = scrape(&state);
    assert_eq!(value(&text, UP), Some(1.0), "{text}");
    assert_eq!(
        value(&text, r#"zoho_crm_collection_failures_total{org="org0"}"#),
        Some(0.0)
    );
    assert_eq!(count_series(&text, "zoho_crm_cadence_active"), 20);
    assert_eq!(
        value(&text, &api_error("records_count", "timeout")),
        Some(1.0)
    );
    // The last complete results stay.
    assert_eq!(count_series(&text, ENROLLED), 20);
    assert_eq!(sum(&text, ENROLLED, &[]), 160.0);
    assert_eq!(
        sum(&text, EXECUTED, &[r#"channel="email""#]),
        16.0,
        "16 active"
    );
    // Their calls never show under the cadences endpoint.
    assert_eq!(value(&text, &api_error("cadences", "NO_PERMISSION")), None);
    supervisor.stop();
}

#[tokio::test]
async fn v7_orgs_skip_enrollment_and_analytics() {
    let v7 = FakeZoho::start(generated_cadences(3)).await.unwrap();
    let v8 = FakeZoho::start(generated_cadences(3)).await.unwrap();
    let yaml = format!(
        "interval: 1s\nenrollment: {{enabled: true, interval: 1s}}\nanalytics: {{enabled: true, interval: 1s, window: 1h}}\norgs:\n{}    api_version: v7\n{}",
        v7.org_yaml("org0"),
        v8.org_yaml("org1"),
    );
    let config = Config::parse(&yaml).unwrap();
    let state = SharedState::new(&config);
    let mut supervisor = Supervisor::new(state.clone());
    supervisor.apply(&config);
    // Two passes of the v8 org: a full interval in which the v7 org would have called too.
    eventually(Duration::from_secs(10), "two passes of the v8 org", || {
        v8.calls(Route::RecordsCount) >= 2 && v8.calls(Route::Analytics) >= 6
    })
    .await;
    assert!(state.snapshot("org0").is_some(), "the v7 org is collected");
    assert_eq!(v7.calls(Route::RecordsCount), 0);
    assert_eq!(v7.calls(Route::Analytics), 0);
    let (name, v7_status) = &state.statuses()[0];
    assert_eq!(name, "org0");
    assert_eq!(v7_status.enrolled_records(), None, "no enrollment pass");
    let text = scrape(&state);
    assert_eq!(sum(&text, "zoho_crm_up", &[]), 2.0, "both orgs up\n{text}");
    assert_eq!(count_series_with(&text, ENROLLED, r#"org="org0""#), 0);
    assert_eq!(count_series_with(&text, ENROLLED, r#"org="org1""#), 3);
    supervisor.stop();
}

/// Needs the demo, which builds without the `demo` feature leave out.
#[cfg(feature = "demo")]
#[tokio::test]
async fn the_demo_shows_an_idle_a_stalled_and_a_draft_cadence() {
    use fake_zoho::demo::{DRAFT_NAME, IDLE_NAME, STALLED_NAME};
    let (_fake, config) = zoho_cadences_exporter::start_demo().await.unwrap();
    let (state, collectors) = collectors(&config);
    let collector = &collectors[0];
    collector.collect_once().await.unwrap();
    let snapshot = state.snapshot("demo").unwrap();
    // The passes are there only because the demo turns enrollment and analytics on.
    enrollment_pass(collector, &snapshot).await.unwrap();
    analytics_pass(collector, &snapshot).await.unwrap();
    let text = scrape(&state);
    let of = |metric: &str, name: &str| sum(&text, metric, &[&format!(r#"name="{name}""#)]);
    let idle_active = sum(
        &text,
        "zoho_crm_cadence_active",
        &[&format!(r#"name="{IDLE_NAME}""#)],
    );
    assert_eq!(idle_active, 1.0);
    assert_eq!(
        count_series_with(&text, ENROLLED, &format!(r#"name="{IDLE_NAME}""#)),
        1
    );
    assert_eq!(of(ENROLLED, IDLE_NAME), 0.0);
    assert!(of(ENROLLED, STALLED_NAME) > 0.0);
    assert_eq!(of(EXECUTED, STALLED_NAME), 0.0);
    assert!(count_series_with(&text, EXECUTED, &format!(r#"name="{STALLED_NAME}""#)) > 0);
    assert!(of(EXECUTED, "Onboarding Welcome") > 0.0);
    assert!(sum(&text, "zoho_crm_enrolled_records", &[]) > 1_000.0);
    let draft = format!(r#"name="{DRAFT_NAME}""#);
    assert_eq!(
        count_series_with(&text, "zoho_crm_cadence_info", r#"status="draft""#),
        1
    );
    assert_eq!(count_series_with(&text, "zoho_crm_cadence_info", &draft), 1);
    assert_eq!(sum(&text, "zoho_crm_cadence_active", &[&draft]), 0.0);
    assert_eq!(sum(&text, "zoho_crm_cadences", &[r#"status="draft""#]), 1.0);
    assert_eq!(value(&text, r#"zoho_crm_up{org="demo"}"#), Some(1.0));
    promtool_check_metrics(&text);
}

#[tokio::test]
async fn the_status_page_total_covers_the_cadences_of_the_current_snapshot() {
    let cadences = generated_cadences(3);
    let (fake, state, collector) = setup(cadences.clone(), "").await;
    let enrolled_records = || state.statuses()[0].1.enrolled_records();
    collector.collect_once().await.unwrap();
    assert_eq!(enrolled_records(), None, "no enrollment pass yet");
    for (n, c) in cadences.iter().enumerate() {
        fake.set_enrolled(&id(c), 10 * (n as u64 + 1));
    }
    collect_and_count(&collector, &state).await;
    assert_eq!(enrolled_records(), Some(10 + 20 + 30));

    // The third cadence is deleted; until the next pass, the total leaves it out.
    fake.set_cadences(cadences[..2].to_vec());
    collector.collect_once().await.unwrap();
    assert_eq!(enrolled_records(), Some(10 + 20));
}

// ---------------------------------------------------------------------------------------------
// records_count as Zoho's specification has it

/// The cadences the specification's records_count examples name, in the fake's shape.
fn records_count_example_cadences() -> Vec<serde_json::Value> {
    [
        ("111112000000092007", "cadence"),
        ("111112000000092270", "darft cadence"),
        ("111112000000094004", "publish cadence"),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (id, name))| {
        let mut c = cadence(n as u64, name, "Leads", true);
        c["id"] = serde_json::json!(id);
        c
    })
    .collect()
}

#[tokio::test]
async fn the_records_count_examples_are_exported_as_they_state() {
    let cadences = records_count_example_cadences();
    let (fake, state, collector) = setup(cadences.clone(), "").await;
    collector.collect_once().await.unwrap();
    let snapshot = state.snapshot("org0").unwrap();
    let pass = |file: &str, status: u16| {
        fake.push_fault(
            Route::RecordsCount,
            Fault::Answer {
                status,
                body: spec(&format!("listCadencesRecordsCount/{file}")),
            },
        );
        enrollment_pass(&collector, &snapshot)
    };
    let enrolled = |text: &str, n: usize| value(text, &cadence_series(ENROLLED, &cadences[n]));

    pass("response-200-success200.json", 200).await.unwrap();
    let text = scrape(&state);
    assert_eq!(
        [0, 1, 2].map(|n| enrolled(&text, n)),
        [Some(5.0), Some(0.0), Some(1.0)]
    );
    assert_eq!(value(&text, &module_sum("Leads")), Some(6.0));

    pass("response-207-success207.json", 207).await.unwrap();
    let text = scrape(&state);
    assert_eq!(
        [0, 1, 2].map(|n| enrolled(&text, n)),
        [Some(5.0), None, None],
        "only what the answer states"
    );
    assert_eq!(
        value(&text, &api_error("records_count", "INVALID_DATA")),
        Some(1.0)
    );

    pass("response-400-invaliddataresponse1.json", 400)
        .await
        .expect("every item an error is still an answer");
    let text = scrape(&state);
    assert_eq!(count_series(&text, ENROLLED), 0);
    assert_eq!(
        value(&text, &api_error("records_count", "INVALID_DATA")),
        Some(3.0),
        "each item under Zoho's code"
    );
    assert_eq!(value(&text, &api_error("records_count", "http_400")), None);

    fake.set_enrolled(&id(&cadences[0]), 9);
    enrollment_pass(&collector, &snapshot).await.unwrap();
    pass("response-403-nopermissionresponse1.json", 403)
        .await
        .unwrap_err();
    let text = scrape(&state);
    assert_eq!(
        value(&text, &api_error("records_count", "NO_PERMISSION")),
        Some(1.0)
    );
    assert_eq!(enrolled(&text, 0), Some(9.0), "the last result stays");
    assert_eq!(
        value(&text, &api_requests("records_count", "403")),
        Some(1.0),
        "a configuration problem is not retried"
    );
}

#[tokio::test]
async fn ids_are_joined_by_commas_in_batches_within_2000_characters() {
    // 150-character ids: 13 of them and their commas make 1,962 characters, 14 too many. One id
    // holds a comma, which must not split it; encoded it takes 8 characters, and fits.
    let mut cadences: Vec<serde_json::Value> = (0..40)
        .map(|n| {
            let mut c = cadence(n, &format!("Long {n}"), "Leads", true);
            c["id"] = serde_json::json!(format!("{n:0>150}"));
            c
        })
        .collect();
    cadences[39]["id"] = serde_json::json!("odd,id");
    let (fake, state, collector) = setup(cadences.clone(), "").await;
    for (n, c) in cadences.iter().enumerate() {
        fake.set_enrolled(&id(c), n as u64 + 1);
    }
    collect_and_count(&collector, &state).await;

    let raw = fake.records_count_raw_ids();
    let requests = fake.records_count_requests();
    assert_eq!(raw.len(), 3, "{} calls", raw.len());
    for (value, ids) in raw.iter().zip(&requests) {
        assert!(value.len() <= 2_000, "{} characters", value.len());
        assert!(ids.len() <= 100);
        assert!(
            !value.contains("%2C") || value.contains("odd%2Cid"),
            "{value}"
        );
        assert_eq!(value.matches(',').count(), ids.len() - 1, "{value}");
    }
    assert_eq!(
        requests.iter().map(Vec::len).collect::<Vec<_>>(),
        [13, 13, 14]
    );
    assert!(raw[2].ends_with(",odd%2Cid"), "{}", raw[2]);
    let text = scrape(&state);
    assert_eq!(count_series(&text, ENROLLED), 40, "every id counted");
    assert_eq!(
        value(&text, &cadence_series(ENROLLED, &cadences[39])),
        Some(40.0)
    );
}

// ---------------------------------------------------------------------------------------------
// analytics as Zoho's specification has it

#[tokio::test]
async fn the_analytics_examples_are_exported_as_they_state() {
    // The example's cadence ("publish cadence"), and a second one the examples do not know.
    let mut published = cadence(1, "publish cadence", "Leads", true);
    published["id"] = serde_json::json!("111112000000094004");
    let other = cadence(2, "Other", "Leads", true);
    let cadences = vec![published.clone(), other.clone()];
    let (fake, state, collector) = setup(
        cadences,
        "analytics: {enabled: true, interval: 1h, window: 1d}",
    )
    .await;
    fake.set_executed(&id(&other), "email", 6);
    collector.collect_once().await.unwrap();
    let snapshot = state.snapshot("org0").unwrap();
    let executed = |text: &str, c: &serde_json::Value, channel: &str| {
        value(
            text,
            &format!(
                r#"{EXECUTED}{{org="org0",id="{}",name="{}",module="Leads",channel="{channel}"}}"#,
                id(c),
                c["name"].as_str().unwrap()
            ),
        )
    };
    // Cadences are asked about in snapshot order: "Other" sorts before "publish cadence".
    let answer = |file: &str, status: u16| Fault::Answer {
        status,
        body: spec(&format!("getCadenceAnalytics/{file}")),
    };
    let ok = || Fault::Delay(Duration::ZERO);

    fake.push_fault(Route::Analytics, ok());
    fake.push_fault(
        Route::Analytics,
        answer("response-200-success200.json", 200),
    );
    analytics_pass(&collector, &snapshot).await.unwrap();
    let text = scrape(&state);
    for (channel, n) in [
        ("task", 1.0),
        ("call", 1.0),
        ("email", 0.0),
        ("whatsapp", 0.0),
    ] {
        assert_eq!(executed(&text, &published, channel), Some(n), "{channel}");
    }
    assert_eq!(executed(&text, &other, "email"), Some(6.0));

    // Zoho no longer knows the example's cadence: left out, counted by its code, the pass goes on.
    fake.push_fault(Route::Analytics, ok());
    fake.push_fault(
        Route::Analytics,
        answer("response-400-invalidcadenceid.json", 400),
    );
    analytics_pass(&collector, &snapshot).await.unwrap();
    let text = scrape(&state);
    assert_eq!(executed(&text, &published, "task"), None);
    assert_eq!(executed(&text, &other, "email"), Some(6.0));
    assert_eq!(
        value(&text, &api_error("analytics", "INVALID_DATA")),
        Some(1.0)
    );

    // Every other example is about the request: the pass fails, counted by code, and the last
    // result stays.
    let mut failures: BTreeMap<String, f64> = BTreeMap::new();
    for (file, code) in [
        ("response-400-invaliddataresponse1.json", "INVALID_DATA"),
        ("response-400-invaliddatatype.json", "INVALID_DATA"),
        (
            "response-400-mandatorynotfoundresponse1.json",
            "DEPENDENT_PARAM_MISSING",
        ),
        (
            "response-400-mandatorynotfoundresponse2.json",
            "DEPENDENT_PARAM_MISSING",
        ),
        (
            "response-400-filtersmandatorynotfound.json",
            "MANDATORY_NOT_FOUND",
        ),
        (
            "response-400-filterscomparatormissing.json",
            "DEPENDENT_FIELD_MISSING",
        ),
        (
            "response-400-filtersvaluemissing.json",
            "DEPENDENT_FIELD_MISSING",
        ),
        (
            "response-400-filtersfieldmissing.json",
            "EXPECTED_FIELD_MISSING",
        ),
        (
            "response-400-filtersapinameinvaliddatatype.json",
            "INVALID_DATA",
        ),
        (
            "response-400-filtersvaluenotsupported.json",
            "DEPENDENT_MISMATCH",
        ),
        (
            "response-400-comparatornotsupported.json",
            "DEPENDENT_MISMATCH",
        ),
        ("response-403-nopermissionresponse1.json", "NO_PERMISSION"),
    ] {
        let status = file[9..12].parse().unwrap();
        fake.push_fault(Route::Analytics, answer(file, status));
        analytics_pass(&collector, &snapshot).await.unwrap_err();
        *failures.entry(code.to_owned()).or_default() += 1.0;
        let text = scrape(&state);
        assert_eq!(executed(&text, &other, "email"), Some(6.0), "{file}");
    }
    let text = scrape(&state);
    failures
        .entry("INVALID_DATA".to_owned())
        .and_modify(|n| *n += 1.0);
    for (code, n) in failures {
        assert_eq!(
            value(&text, &api_error("analytics", &code)),
            Some(n),
            "{code}"
        );
    }
}
