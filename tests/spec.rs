//! Zoho's own specification as the source of truth: the example answers of zoho/crm-oas
//! (`tests/fixtures/zoho/spec/`) served by the fake Zoho over real HTTP and exported with the
//! values they state, and every value the specification documents for a field.

mod common;

use common::*;
use serde_json::{json, Value};

/// One of Zoho's example answers, as saved in `tests/fixtures/zoho/spec/`.
fn spec(path: &str) -> Value {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/zoho/spec")
        .join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

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
