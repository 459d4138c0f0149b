//! Zoho's own specification as the source of truth: the example answers of zoho/crm-oas
//! (`tests/fixtures/zoho/spec/`) served by the fake Zoho over real HTTP and exported with the
//! values they state, and every value the specification documents for a field.

mod common;

use common::*;
use fake_zoho::{Fault, Route};
use serde_json::{json, Value};

/// The cadence of the specification's list example ("Onboard Leads", id 2001).
fn spec_cadence() -> Value {
    spec("getCadences/response-200-successfullist.json")["cadences"][0].clone()
}

/// The spec's cadence with `changes` applied, under another id and name.
fn variant(id: &str, name: &str, changes: Value) -> Value {
    let mut cadence = spec_cadence();
    cadence["id"] = json!(id);
    cadence["name"] = json!(name);
    for (key, value) in changes.as_object().unwrap() {
        cadence[key] = value.clone();
    }
    cadence
}

fn series(metric: &str, id: &str, name: &str) -> String {
    format!(r#"{metric}{{org="org0",id="{id}",name="{name}",module="Leads"}}"#)
}

fn info(text: &str, id: &str) -> Option<String> {
    samples(text)
        .into_keys()
        .find(|k| k.starts_with("zoho_crm_cadence_info{") && k.contains(&format!(r#"id="{id}""#)))
}

const UP: &str = r#"zoho_crm_up{org="org0"}"#;

fn leads(status: &str) -> String {
    format!(r#"zoho_crm_cadences{{org="org0",module="Leads",status="{status}"}}"#)
}

// ---------------------------------------------------------------------------------------------
// status: active, inactive, draft (and what the specification does not list)

#[tokio::test]
async fn status_active() {
    let cadence = variant("1", "On", json!({"status": "active", "active": true}));
    let (_fake, state, collector) = single(vec![cadence], "").await;
    collector.collect_once().await.expect("collection succeeds");
    let text = scrape(&state);
    assert_eq!(
        value(&text, &series("zoho_crm_cadence_active", "1", "On")),
        Some(1.0)
    );
    assert_eq!(value(&text, &leads("active")), Some(1.0));
    assert_eq!(value(&text, &leads("inactive")), Some(0.0));
    assert_eq!(value(&text, &leads("draft")), Some(0.0));
    assert!(info(&text, "1").unwrap().contains(r#"status="active""#));
}

#[tokio::test]
async fn status_inactive() {
    let cadence = variant("2", "Off", json!({"status": "inactive", "active": false}));
    let (_fake, state, collector) = single(vec![cadence], "").await;
    collector.collect_once().await.expect("collection succeeds");
    let text = scrape(&state);
    assert_eq!(
        value(&text, &series("zoho_crm_cadence_active", "2", "Off")),
        Some(0.0)
    );
    assert_eq!(value(&text, &leads("active")), Some(0.0));
    assert_eq!(value(&text, &leads("inactive")), Some(1.0));
    assert_eq!(value(&text, &leads("draft")), Some(0.0));
    assert!(info(&text, "2").unwrap().contains(r#"status="inactive""#));
}

#[tokio::test]
async fn status_draft_is_just_another_cadence() {
    // The shape the issue reported: a draft beside a published cadence failed the whole page.
    let draft = variant(
        "3",
        "New",
        json!({"status": "draft", "active": false, "published": false}),
    );
    let (_fake, state, collector) = single(vec![spec_cadence(), draft], "").await;
    collector
        .collect_once()
        .await
        .expect("a draft does not fail the collection");
    let text = scrape(&state);
    assert_eq!(value(&text, UP), Some(1.0));
    assert_eq!(
        value(&text, &series("zoho_crm_cadence_active", "3", "New")),
        Some(0.0)
    );
    assert_eq!(
        value(&text, &series("zoho_crm_cadence_published", "3", "New")),
        Some(0.0)
    );
    assert_eq!(value(&text, &leads("draft")), Some(1.0));
    assert_eq!(
        value(&text, &leads("active")),
        Some(1.0),
        "the published one"
    );
    assert_eq!(value(&text, &leads("inactive")), Some(0.0));
    assert!(info(&text, "3").unwrap().contains(r#"status="draft""#));
    assert_eq!(
        count_series(&text, "zoho_crm_cadence_active"),
        2,
        "every cadence of the page is exported"
    );
    promtool_check_metrics(&text);
}

#[tokio::test]
async fn a_draft_is_never_a_deactivation() {
    let cadences = |first: &str, second: &str| {
        vec![
            variant(
                "4",
                "Goes to draft",
                json!({"status": first, "active": first == "active"}),
            ),
            variant(
                "5",
                "Draft published",
                json!({"status": second, "active": second == "active"}),
            ),
        ]
    };
    let (fake, state, collector) = single(cadences("active", "draft"), "").await;
    collector.collect_once().await.unwrap();
    // Active to draft, and a draft published but left inactive: neither was switched off.
    fake.set_cadences(cadences("draft", "inactive"));
    collector.collect_once().await.unwrap();
    let deactivations = r#"zoho_crm_cadence_deactivations_total{org="org0",module="Leads"}"#;
    assert_eq!(value(&scrape(&state), deactivations), Some(0.0));
    // Active again, then inactive: that one is.
    fake.set_cadences(cadences("active", "inactive"));
    collector.collect_once().await.unwrap();
    fake.set_cadences(cadences("inactive", "inactive"));
    collector.collect_once().await.unwrap();
    assert_eq!(value(&scrape(&state), deactivations), Some(1.0));
}

#[tokio::test]
async fn a_status_the_specification_does_not_list_is_kept_as_sent() {
    let cadences = vec![
        variant("6", "Paused", json!({"status": "paused", "active": false})),
        variant(
            "7",
            "Odd",
            json!({"status": "not <plain>\n", "active": true}),
        ),
        // No status: the boolean `active` decides.
        {
            let mut c = variant("8", "Legacy", json!({"active": true}));
            c.as_object_mut().unwrap().remove("status");
            c
        },
    ];
    let (_fake, state, collector) = single(cadences, "").await;
    collector.collect_once().await.expect("collection succeeds");
    let text = scrape(&state);
    assert_eq!(value(&text, &leads("paused")), Some(1.0));
    assert_eq!(
        value(&text, &leads("other")),
        Some(1.0),
        "not a plain value"
    );
    assert_eq!(value(&text, &leads("active")), Some(1.0));
    assert!(info(&text, "6").unwrap().contains(r#"status="paused""#));
    assert_eq!(
        value(&text, &series("zoho_crm_cadence_active", "6", "Paused")),
        Some(0.0)
    );
    assert_eq!(
        value(&text, &series("zoho_crm_cadence_active", "7", "Odd")),
        Some(0.0),
        "active only when the status says so"
    );
    assert_eq!(
        value(&text, &series("zoho_crm_cadence_active", "8", "Legacy")),
        Some(1.0)
    );
    promtool_check_metrics(&text);
}

// ---------------------------------------------------------------------------------------------
// getCadences: the example answers

#[tokio::test]
async fn the_list_example_is_exported_with_the_values_it_states() {
    let answer = spec("getCadences/response-200-successfullist.json");
    let (fake, state, collector) = single(Vec::new(), "").await;
    fake.push_fault(
        Route::Cadences,
        Fault::Answer {
            status: 200,
            body: answer,
        },
    );
    collector.collect_once().await.expect("collection succeeds");
    let text = scrape(&state);
    let cadence = |metric: &str| value(&text, &series(metric, "2001", "Onboard Leads"));
    assert_eq!(value(&text, UP), Some(1.0));
    assert_eq!(cadence("zoho_crm_cadence_active"), Some(1.0));
    assert_eq!(cadence("zoho_crm_cadence_published"), Some(1.0));
    // 2025-10-30T08:46:14+00:00, 2025-01-01T16:43:11+05:30, 2025-12-31
    assert_eq!(
        cadence("zoho_crm_cadence_created_timestamp_seconds"),
        Some(1_761_813_974.0)
    );
    assert_eq!(
        cadence("zoho_crm_cadence_modified_timestamp_seconds"),
        Some(1_735_729_991.0)
    );
    assert_eq!(
        cadence("zoho_crm_cadence_end_timestamp_seconds"),
        Some(1_767_139_200.0)
    );
    assert_eq!(
        cadence("zoho_crm_cadence_execution_interval_seconds"),
        Some(86_400.0)
    );
    assert_eq!(
        info(&text, "2001").as_deref(),
        Some(
            r#"zoho_crm_cadence_info{org="org0",id="2001",name="Onboard Leads",module="Leads",status="active",enrollment="Custom view",custom_view="All Contacts",created_by="Nish test",modified_by="Nish test"}"#
        )
    );
    for (channel, n) in [("task", 2.0), ("call", 1.0), ("email", 3.0)] {
        let labels = format!(
            r#"{{org="org0",id="2001",name="Onboard Leads",module="Leads",channel="{channel}"}}"#
        );
        assert_eq!(
            value(&text, &format!("zoho_crm_cadence_follow_ups{labels}")),
            Some(n)
        );
        let module =
            format!(r#"zoho_crm_follow_ups{{org="org0",module="Leads",channel="{channel}"}}"#);
        assert_eq!(value(&text, &module), Some(n));
    }
    assert_eq!(value(&text, &leads("active")), Some(1.0));
    assert_eq!(value(&text, &leads("inactive")), Some(0.0));
    assert_eq!(value(&text, &leads("draft")), Some(0.0));
    promtool_check_metrics(&text);
}

#[tokio::test]
async fn the_list_error_examples_are_counted_by_their_code() {
    let (fake, state, collector) = single(vec![spec_cadence()], "").await;
    collector.collect_once().await.unwrap();
    for (file, status, code) in [
        (
            "getCadences/response-400-errorresponse1.json",
            400,
            "INVALID_DATA",
        ),
        (
            "getCadences/response-400-errorresponse3.json",
            400,
            "UNABLE_TO_PARSE_DATA_TYPE",
        ),
        (
            "getCadences/response-403-nopermissionresponse1.json",
            403,
            "NO_PERMISSION",
        ),
    ] {
        fake.push_fault(
            Route::Cadences,
            Fault::Answer {
                status,
                body: spec(file),
            },
        );
        collector.collect_once().await.unwrap_err();
        let text = scrape(&state);
        let error = format!(
            r#"zoho_crm_api_errors_total{{org="org0",endpoint="cadences",error="{code}"}}"#
        );
        assert_eq!(value(&text, &error), Some(1.0), "{file}");
        assert_eq!(value(&text, UP), Some(0.0), "{file}");
        assert_eq!(
            value(
                &text,
                &series("zoho_crm_cadence_active", "2001", "Onboard Leads")
            ),
            Some(1.0),
            "{file}: the last complete snapshot stays"
        );
    }
    assert_eq!(fake.calls(Route::Cadences), 4, "none of them is retried");
}

// ---------------------------------------------------------------------------------------------
// execute_every.period: immediately, hours, days, weeks; unit optional

async fn interval_of(execute_every: Value) -> Option<f64> {
    let mut cadence = spec_cadence();
    cadence["execution_details"]["execute_every"] = execute_every;
    let (_fake, state, collector) = single(vec![cadence], "").await;
    collector.collect_once().await.expect("collection succeeds");
    value(
        &scrape(&state),
        &series(
            "zoho_crm_cadence_execution_interval_seconds",
            "2001",
            "Onboard Leads",
        ),
    )
}

#[tokio::test]
async fn period_immediately() {
    assert_eq!(
        interval_of(json!({"period": "immediately"})).await,
        Some(0.0)
    );
    assert_eq!(
        interval_of(json!({"period": "immediately", "unit": 5})).await,
        Some(0.0)
    );
}

#[tokio::test]
async fn period_hours() {
    assert_eq!(
        interval_of(json!({"period": "hours", "unit": 6})).await,
        Some(21_600.0)
    );
}

#[tokio::test]
async fn period_days() {
    assert_eq!(
        interval_of(json!({"period": "days", "unit": 99})).await,
        Some(99.0 * 86_400.0)
    );
}

#[tokio::test]
async fn period_weeks() {
    assert_eq!(
        interval_of(json!({"period": "weeks", "unit": 2})).await,
        Some(1_209_600.0)
    );
}

#[tokio::test]
async fn an_absent_or_null_unit_means_one() {
    assert_eq!(
        interval_of(json!({"period": "weeks"})).await,
        Some(604_800.0)
    );
    assert_eq!(
        interval_of(json!({"period": "days", "unit": null})).await,
        Some(86_400.0)
    );
}

// ---------------------------------------------------------------------------------------------
// type: Custom view, Manual enrollment

async fn enrollment_label(kind: &str) -> String {
    let cadence = variant("9", "Typed", json!({"type": kind}));
    let (_fake, state, collector) = single(vec![cadence], "").await;
    collector.collect_once().await.expect("collection succeeds");
    info(&scrape(&state), "9").unwrap()
}

#[tokio::test]
async fn type_custom_view() {
    assert!(enrollment_label("Custom view")
        .await
        .contains(r#"enrollment="Custom view""#));
}

#[tokio::test]
async fn type_manual_enrollment() {
    assert!(enrollment_label("Manual enrollment")
        .await
        .contains(r#"enrollment="Manual enrollment""#));
}

// ---------------------------------------------------------------------------------------------
// Optional fields absent or null; the shapes of a page

/// Every field the specification does not require (all but `id` and `name`).
const OPTIONAL: [&str; 14] = [
    "summary",
    "description",
    "created_time",
    "module",
    "active",
    "execution_details",
    "published",
    "type",
    "created_by",
    "modified_time",
    "modified_by",
    "custom_view",
    "status",
    "unknown_in_the_specification",
];

#[tokio::test]
async fn optional_fields_absent() {
    let mut bare = spec_cadence();
    for field in OPTIONAL {
        bare.as_object_mut().unwrap().remove(field);
    }
    let (_fake, state, collector) = single(vec![bare], "").await;
    collector
        .collect_once()
        .await
        .expect("only id and name are required");
    let text = scrape(&state);
    let labels = r#"{org="org0",id="2001",name="Onboard Leads",module="unknown"}"#;
    assert_eq!(
        value(&text, &format!("zoho_crm_cadence_active{labels}")),
        Some(0.0)
    );
    assert_eq!(
        value(&text, &format!("zoho_crm_cadence_published{labels}")),
        Some(0.0)
    );
    for metric in [
        "zoho_crm_cadence_created_timestamp_seconds",
        "zoho_crm_cadence_modified_timestamp_seconds",
        "zoho_crm_cadence_end_timestamp_seconds",
        "zoho_crm_cadence_execution_interval_seconds",
        "zoho_crm_cadence_follow_ups",
    ] {
        assert_eq!(count_series(&text, metric), 0, "{metric}");
    }
    assert!(info(&text, "2001").unwrap().contains(
        r#"status="inactive",enrollment="",custom_view="",created_by="",modified_by="""#
    ));
    promtool_check_metrics(&text);
}

#[tokio::test]
async fn optional_fields_null() {
    let mut nulls = spec_cadence();
    for field in OPTIONAL {
        nulls[field] = Value::Null;
    }
    // And the nested ones the specification marks nullable or optional.
    let mut nested = spec_cadence();
    nested["execution_details"]["unenroll_properties"]["type"] = Value::Null;
    nested["execution_details"]["type"] = Value::Null;
    nested["execution_details"]["end_date"] = Value::Null;
    nested["execution_details"]["execute_every"] = Value::Null;
    nested["summary"]["email_follow_up_count"] = Value::Null;
    nested["module"]["id"] = Value::Null;
    nested["custom_view"]["id"] = Value::Null;
    nested["id"] = json!("2002");
    let (_fake, state, collector) = single(vec![nulls, nested], "").await;
    collector
        .collect_once()
        .await
        .expect("nulls decode as absent");
    let text = scrape(&state);
    assert_eq!(
        value(
            &text,
            r#"zoho_crm_cadence_active{org="org0",id="2001",name="Onboard Leads",module="unknown"}"#
        ),
        Some(0.0)
    );
    let second = |metric: &str| value(&text, &series(metric, "2002", "Onboard Leads"));
    assert_eq!(second("zoho_crm_cadence_active"), Some(1.0));
    assert_eq!(second("zoho_crm_cadence_execution_interval_seconds"), None);
    assert_eq!(second("zoho_crm_cadence_end_timestamp_seconds"), None);
    assert_eq!(
        value(
            &text,
            r#"zoho_crm_cadence_follow_ups{org="org0",id="2002",name="Onboard Leads",module="Leads",channel="email"}"#
        ),
        Some(0.0),
        "a null count is 0"
    );
    assert!(info(&text, "2002")
        .unwrap()
        .contains(r#"custom_view="All Contacts""#));
    promtool_check_metrics(&text);
}

#[tokio::test]
async fn ids_of_module_and_custom_view_as_string_or_number() {
    let mut numbers = spec_cadence();
    numbers["module"]["id"] = json!(111_111_000_000_002_648u64);
    numbers["custom_view"]["id"] = json!(3_652_397_000_000_087_529u64);
    let mut strings = variant("2002", "Strings", json!({}));
    strings["module"]["id"] = json!("111111000000002648");
    let (_fake, state, collector) = single(vec![numbers, strings], "").await;
    collector.collect_once().await.expect("collection succeeds");
    let text = scrape(&state);
    assert_eq!(count_series(&text, "zoho_crm_cadence_info"), 2);
    assert_eq!(value(&text, &leads("active")), Some(2.0));
}

#[tokio::test]
async fn whatsapp_follow_ups_as_the_specification_names_them() {
    let mut cadence = spec_cadence();
    cadence["summary"]["whatsapp_follow_up_count"] = json!(4);
    let (_fake, state, collector) = single(vec![cadence], "").await;
    collector.collect_once().await.expect("collection succeeds");
    let text = scrape(&state);
    assert_eq!(
        value(
            &text,
            r#"zoho_crm_follow_ups{org="org0",module="Leads",channel="whatsapp"}"#
        ),
        Some(4.0)
    );
}

#[tokio::test]
async fn four_hundred_cadences_on_one_page() {
    let cadences: Vec<Value> = (0..1_000)
        .map(|n| variant(&format!("{}", 10_000 + n), &format!("c{n}"), json!({})))
        .collect();
    let (fake, state, collector) = single(cadences, "").await;
    // The specification allows up to 400 cadences on a page, more than the 200 asked for.
    fake.set_page_size(Some(400));
    collector.collect_once().await.expect("collection succeeds");
    assert_eq!(
        fake.pages_requested(),
        [1, 2, 3],
        "more_records ends the paging"
    );
    let text = scrape(&state);
    assert_eq!(count_series(&text, "zoho_crm_cadence_active"), 1_000);
    assert_eq!(value(&text, &leads("active")), Some(1_000.0));
}

// ---------------------------------------------------------------------------------------------
// One cadence cannot fail a page

#[tokio::test]
async fn one_odd_cadence_never_costs_a_collection() {
    let mut odd = variant("20", "Odd", json!({"published": {"when": "later"}}));
    odd["summary"]["call_follow_up_count"] = json!("one");
    let mut no_id = variant("21", "No id", json!({}));
    no_id.as_object_mut().unwrap().remove("id");
    let bad_id = variant("22", "Bad id", json!({"id": [22]}));
    let cadences = vec![spec_cadence(), odd, no_id, bad_id, json!("not a cadence")];
    let (_fake, state, collector) = single(cadences, "").await;
    collector
        .collect_once()
        .await
        .expect("the collection succeeds with the rest");
    let text = scrape(&state);
    let invalid =
        r#"zoho_crm_api_errors_total{org="org0",endpoint="cadences",error="invalid_cadence"}"#;
    assert_eq!(value(&text, UP), Some(1.0));
    assert_eq!(
        value(&text, invalid),
        Some(4.0),
        "each odd cadence counted once"
    );
    assert_eq!(count_series(&text, "zoho_crm_cadence_active"), 2);
    let odd = |metric: &str| value(&text, &series(metric, "20", "Odd"));
    assert_eq!(odd("zoho_crm_cadence_active"), Some(1.0));
    assert_eq!(
        odd("zoho_crm_cadence_published"),
        Some(0.0),
        "left out: absent"
    );
    let channel = |channel: &str| {
        value(
            &text,
            &format!(
                r#"zoho_crm_cadence_follow_ups{{org="org0",id="20",name="Odd",module="Leads",channel="{channel}"}}"#
            ),
        )
    };
    assert_eq!(channel("call"), None, "the unreadable count is left out");
    assert_eq!(
        channel("task"),
        Some(2.0),
        "the rest of the cadence is kept"
    );
    assert_eq!(value(&text, &leads("active")), Some(2.0));
    collector.collect_once().await.unwrap();
    assert_eq!(
        value(&scrape(&state), invalid),
        Some(8.0),
        "counted again by every collection that sees them"
    );
    promtool_check_metrics(&text);
}

// ---------------------------------------------------------------------------------------------
// The fake Zoho serves the specification's shapes

#[tokio::test]
async fn the_fake_serves_every_documented_status_period_and_id_form() {
    let cadences = fake_zoho::generated_cadences(20);
    let periods: std::collections::BTreeSet<(String, bool)> = cadences
        .iter()
        .map(|c| {
            let every = &c["execution_details"]["execute_every"];
            (
                every["period"].as_str().unwrap().to_owned(),
                every.get("unit").is_some(),
            )
        })
        .collect();
    let expected: std::collections::BTreeSet<(String, bool)> = [
        ("days", false),
        ("hours", true),
        ("immediately", false),
        ("weeks", true),
    ]
    .map(|(p, unit)| (p.to_owned(), unit))
    .into();
    assert_eq!(periods, expected);
    for field in ["module", "custom_view"] {
        assert!(
            cadences.iter().any(|c| c[field]["id"].is_string()),
            "{field}"
        );
        assert!(cadences.iter().any(|c| c[field]["id"].is_u64()), "{field}");
    }
    let (_fake, state, collector) = single(cadences, "").await;
    collector.collect_once().await.expect("collection succeeds");
    let text = scrape(&state);
    for status in ["active", "inactive", "draft"] {
        let served = sum(
            &text,
            "zoho_crm_cadences",
            &[&format!(r#"status="{status}""#)],
        );
        assert!(served > 0.0, "{status}");
    }
    let intervals: std::collections::BTreeSet<u64> = samples(&text)
        .into_iter()
        .filter(|(k, _)| k.starts_with("zoho_crm_cadence_execution_interval_seconds{"))
        .map(|(_, v)| v as u64)
        .collect();
    assert_eq!(intervals, [0, 3_600, 86_400, 1_209_600].into());
}
