//! The core exporter against a fake Zoho over real HTTP: the sample answer exported exactly,
//! paging and token reuse, 204, deletions, Zoho's decoding quirks, golden exposition, promtool.

mod common;

use common::*;
use fake_zoho::{cadence, generated_cadences, sample_cadences, Route};
use serde_json::json;
use zoho_cadences_exporter::Format;

#[tokio::test]
async fn sample_answer_is_exported_exactly() {
    let (_fake, state, collector) = single(sample_cadences(), "").await;
    collector.collect_once().await.expect("collection succeeds");
    let text = scrape(&state);
    let org = r#"org="org0""#;
    let first = r#"{org="org0",id="3652397000017949001",name="CadenceTest1",module="Contacts"}"#;
    let second = r#"{org="org0",id="3652397000017985012",name="test 2",module="Contacts"}"#;
    let expect = [
        (
            format!(r#"zoho_crm_cadences{{{org},module="Contacts",status="active"}}"#),
            1.0,
        ),
        (
            format!(r#"zoho_crm_cadences{{{org},module="Contacts",status="inactive"}}"#),
            1.0,
        ),
        (
            format!(r#"zoho_crm_cadences{{{org},module="Contacts",status="draft"}}"#),
            0.0,
        ),
        (
            format!(r#"zoho_crm_follow_ups{{{org},module="Contacts",channel="email"}}"#),
            2.0,
        ),
        (
            format!(r#"zoho_crm_follow_ups{{{org},module="Contacts",channel="call"}}"#),
            1.0,
        ),
        (
            format!(r#"zoho_crm_follow_ups{{{org},module="Contacts",channel="task"}}"#),
            1.0,
        ),
        (format!("zoho_crm_cadence_active{first}"), 1.0),
        (format!("zoho_crm_cadence_active{second}"), 0.0),
        (format!("zoho_crm_cadence_published{second}"), 1.0),
        // 2024-07-17T20:38:22-0700 and 2024-07-17T23:01:40-0700
        (
            format!("zoho_crm_cadence_created_timestamp_seconds{first}"),
            1_721_273_902.0,
        ),
        (
            format!("zoho_crm_cadence_modified_timestamp_seconds{first}"),
            1_721_282_500.0,
        ),
        (
            format!("zoho_crm_cadence_modified_timestamp_seconds{second}"),
            1_721_284_480.0,
        ),
        (
            format!("zoho_crm_cadence_execution_interval_seconds{first}"),
            3_600.0,
        ),
        (
            format!(
                r#"zoho_crm_cadence_follow_ups{{{org},id="3652397000017949001",name="CadenceTest1",module="Contacts",channel="call"}}"#
            ),
            1.0,
        ),
        (
            format!(
                r#"zoho_crm_cadence_follow_ups{{{org},id="3652397000017985012",name="test 2",module="Contacts",channel="task"}}"#
            ),
            0.0,
        ),
        (
            format!(
                r#"zoho_crm_cadence_info{{{org},id="3652397000017949001",name="CadenceTest1",module="Contacts",status="active",enrollment="Custom view",custom_view="All Contacts",created_by="Patricia Boyle",modified_by="Patricia Boyle"}}"#
            ),
            1.0,
        ),
        (
            format!(
                r#"zoho_crm_cadence_info{{{org},id="3652397000017985012",name="test 2",module="Contacts",status="inactive",enrollment="Manual enrollment",custom_view="",created_by="Patricia Boyle",modified_by="Patricia Boyle"}}"#
            ),
            1.0,
        ),
        (format!("zoho_crm_up{{{org}}}"), 1.0),
    ];
    for (series, expected) in expect {
        assert_eq!(value(&text, &series), Some(expected), "{series}\n{text}");
    }
    // Neither cadence has an end date: the series is left out, not exported as 0.
    assert_eq!(
        count_series(&text, "zoho_crm_cadence_end_timestamp_seconds"),
        0
    );
    // The second cadence has no execution_details: no interval series for it.
    assert_eq!(
        count_series(&text, "zoho_crm_cadence_execution_interval_seconds"),
        1
    );
    promtool_check_metrics(&text);
}

#[tokio::test]
async fn golden_exposition_of_the_sample_answer() {
    let (_fake, state, collector) = single(sample_cadences(), "").await;
    collector.collect_once().await.unwrap();
    for (file, format) in [
        ("sample.prom", Format::Text),
        ("sample.openmetrics", Format::OpenMetrics),
    ] {
        let [bytes, _live] = state.scrape_parts(format, false);
        let actual = std::str::from_utf8(&bytes).unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(file);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, actual).unwrap();
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
        assert_eq!(
            actual, golden,
            "{file} differs from the golden file; review and rerun with UPDATE_GOLDEN=1"
        );
    }
}

#[tokio::test]
async fn paging_1234_cadences_takes_7_pages_and_one_token_across_collections() {
    let (fake, state, collector) = single(generated_cadences(1_234), "").await;
    for round in 1..=3u64 {
        collector.collect_once().await.expect("collection succeeds");
        assert_eq!(
            fake.calls(Route::Cadences),
            7 * round,
            "7 pages per collection"
        );
    }
    assert_eq!(fake.pages_requested(), [1, 2, 3, 4, 5, 6, 7].repeat(3));
    assert_eq!(fake.calls(Route::Token), 1, "the access token is reused");
    let text = scrape(&state);
    assert_eq!(count_series(&text, "zoho_crm_cadence_active"), 1_234);
    assert_eq!(sum(&text, "zoho_crm_cadences", &[]), 1_234.0);
    // Every fifth is not active: inactive (n % 10 == 4) or a draft (n % 10 == 9).
    assert_eq!(
        sum(&text, "zoho_crm_cadences", &[r#"status="inactive""#]),
        123.0
    );
    assert_eq!(
        sum(&text, "zoho_crm_cadences", &[r#"status="draft""#]),
        123.0
    );
    assert_eq!(
        sum(&text, "zoho_crm_cadences", &[r#"status="active""#]),
        (1_234 - 1_234 / 5) as f64
    );
    assert_eq!(
        value(
            &text,
            r#"zoho_crm_api_requests_total{org="org0",endpoint="cadences",status_code="200"}"#
        ),
        Some(21.0)
    );
    assert_eq!(
        value(&text, r#"zoho_crm_collections_total{org="org0"}"#),
        Some(3.0)
    );
}

#[tokio::test]
async fn no_content_means_no_cadences() {
    let (fake, state, collector) = single(Vec::new(), "").await;
    collector
        .collect_once()
        .await
        .expect("204 is a successful, empty collection");
    assert_eq!(fake.calls(Route::Cadences), 1);
    let text = scrape(&state);
    assert_eq!(value(&text, r#"zoho_crm_up{org="org0"}"#), Some(1.0));
    assert_eq!(count_series(&text, "zoho_crm_cadences"), 0);
    assert_eq!(count_series(&text, "zoho_crm_cadence_active"), 0);
    promtool_check_metrics(&text);
}

#[tokio::test]
async fn a_deleted_cadence_vanishes_and_is_counted() {
    let (fake, state, collector) = single(generated_cadences(3), "").await;
    collector.collect_once().await.unwrap();
    let before = scrape(&state);
    assert_eq!(count_series(&before, "zoho_crm_cadence_active"), 3);
    assert_eq!(
        sum(&before, "zoho_crm_cadence_deletions_total", &[]),
        0.0,
        "the counters start at 0 for every module seen"
    );
    assert_eq!(count_series(&before, "zoho_crm_cadence_deletions_total"), 3);
    let mut remaining = fake.cadences();
    let deleted = remaining.remove(1);
    fake.set_cadences(remaining);
    collector.collect_once().await.unwrap();
    let after = scrape(&state);
    let id = deleted["id"].as_str().unwrap();
    assert_eq!(count_series(&after, "zoho_crm_cadence_active"), 2);
    assert!(
        !after.contains(id),
        "every series of the deleted cadence is gone"
    );
    let module = deleted["module"]["api_name"].as_str().unwrap();
    assert_eq!(
        value(
            &after,
            &format!(r#"zoho_crm_cadence_deletions_total{{org="org0",module="{module}"}}"#)
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn deactivation_is_counted_between_complete_snapshots() {
    let (fake, state, collector) = single(vec![cadence(1, "Onboarding", "Leads", true)], "").await;
    collector.collect_once().await.unwrap();
    fake.set_cadences(vec![cadence(1, "Onboarding", "Leads", false)]);
    collector.collect_once().await.unwrap();
    collector.collect_once().await.unwrap();
    let text = scrape(&state);
    assert_eq!(
        value(
            &text,
            r#"zoho_crm_cadence_deactivations_total{org="org0",module="Leads"}"#
        ),
        Some(1.0),
        "counted once, not on every collection while it stays off"
    );
}

#[tokio::test]
async fn decoding_quirks_of_real_answers() {
    let quirky = vec![
        // Numeric id, boolean status, no `active`, null times, colon offset, unknown fields,
        // a WhatsApp channel, counts as strings, end date set.
        json!({
            "id": 3652397000017949999u64,
            "name": "Quirky \"one\"\\\nline",
            "module": {"api_name": "Deals", "id": 42},
            "status": true,
            "published": "true",
            "summary": {"email_follow_up_count": "3", "whatsapp_follow_up_count": 2, "call_follow_up_count": null},
            "created_time": "2024-07-17T20:38:22-07:00",
            "modified_time": null,
            "custom_view": {"name": "Hot", "id": 3652397000000087529u64},
            "execution_details": {"end_date": "2025-01-31T00:00:00+05:30", "execute_every": null},
            "brand_new_field": {"nested": [1, 2, 3]}
        }),
        // Only an id and a string status.
        json!({"id": "7", "status": "inactive", "module": null, "summary": null}),
    ];
    let (_fake, state, collector) = single(quirky, "").await;
    collector.collect_once().await.expect("quirks decode");
    let text = scrape(&state);
    let first =
        r#"{org="org0",id="3652397000017949999",name="Quirky \"one\"\\\nline",module="Deals"}"#;
    assert_eq!(
        value(&text, &format!("zoho_crm_cadence_active{first}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!("zoho_crm_cadence_created_timestamp_seconds{first}")
        ),
        Some(1_721_273_902.0)
    );
    assert_eq!(
        value(
            &text,
            &format!("zoho_crm_cadence_end_timestamp_seconds{first}")
        ),
        Some(1_738_261_800.0)
    );
    assert_eq!(
        count_series(&text, "zoho_crm_cadence_modified_timestamp_seconds"),
        0
    );
    assert_eq!(
        value(
            &text,
            r#"zoho_crm_follow_ups{org="org0",module="Deals",channel="whatsapp"}"#
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &text,
            r#"zoho_crm_follow_ups{org="org0",module="unknown",channel="whatsapp"}"#
        ),
        Some(0.0),
        "a channel seen anywhere in the org is reported for every module"
    );
    assert_eq!(
        value(
            &text,
            r#"zoho_crm_cadence_active{org="org0",id="7",name="",module="unknown"}"#
        ),
        Some(0.0)
    );
    assert!(text.contains(r#"custom_view="Hot""#));
    promtool_check_metrics(&text);
}

#[tokio::test]
async fn per_cadence_metrics_off_keeps_only_aggregates() {
    let (_fake, state, collector) =
        single(generated_cadences(500), "per_cadence_metrics: false").await;
    collector.collect_once().await.unwrap();
    let text = scrape(&state);
    assert_eq!(count_series(&text, "zoho_crm_cadence_active"), 0);
    assert_eq!(count_series(&text, "zoho_crm_cadence_info"), 0);
    assert_eq!(sum(&text, "zoho_crm_cadences", &[]), 500.0);
    assert!(
        state.scrape_parts(Format::Text, false)[0].len() < 4 * 1024,
        "cadence part is a few KiB"
    );
}

#[tokio::test]
async fn expectations_match_by_glob_id_org_and_module_and_follow_renames() {
    let cadences = vec![
        cadence(1, "Onboarding Welcome", "Contacts", true),
        cadence(2, "Onboarding Day 3", "Contacts", false),
        cadence(3, "Onboarding Leads", "Leads", false),
        cadence(4, "Renewal", "Deals", true),
    ];
    let renewal_id = cadences[3]["id"].as_str().unwrap().to_owned();
    let extra = format!(
        "expectations:\n  - name: onboarding-contacts\n    module: Contacts\n    cadence: \"Onboarding*\"\n    active: true\n  - name: renewal-off\n    org: org0\n    id: \"{renewal_id}\"\n    active: false\n"
    );
    let (fake, state, collector) = single(cadences.clone(), &extra).await;
    collector.collect_once().await.unwrap();
    let text = scrape(&state);
    let matches = |name: &str| {
        value(
            &text,
            &format!(r#"zoho_crm_expectation_matches{{org="org0",expectation="{name}"}}"#),
        )
    };
    assert_eq!(matches("onboarding-contacts"), Some(2.0));
    assert_eq!(matches("renewal-off"), Some(1.0));
    assert_eq!(
        count_series(&text, "zoho_crm_cadence_expected_active"),
        3,
        "{text}"
    );
    let expected = |id: &str| {
        samples(&text)
            .into_iter()
            .find(|(k, _)| {
                k.starts_with("zoho_crm_cadence_expected_active{")
                    && k.contains(&format!(r#"id="{id}""#))
            })
            .map(|(_, v)| v)
    };
    let id = |i: usize| cadences[i]["id"].as_str().unwrap().to_owned();
    assert_eq!(expected(&id(0)), Some(1.0));
    assert_eq!(
        expected(&id(1)),
        Some(1.0),
        "inactive but expected active: the alert's case"
    );
    assert_eq!(expected(&id(2)), None, "module filter");
    assert_eq!(expected(&renewal_id), Some(0.0));

    // Renamed and deleted cadences no longer match.
    let mut renamed = cadences.clone();
    renamed[0]["name"] = json!("Welcome Sequence");
    renamed.remove(1);
    fake.set_cadences(renamed);
    collector.collect_once().await.unwrap();
    let text = scrape(&state);
    assert_eq!(
        value(
            &text,
            r#"zoho_crm_expectation_matches{org="org0",expectation="onboarding-contacts"}"#
        ),
        Some(0.0),
        "0 means gone or renamed"
    );
    assert_eq!(count_series(&text, "zoho_crm_cadence_expected_active"), 1);
}
