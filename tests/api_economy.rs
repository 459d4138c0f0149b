//! Economy: the fewest Zoho calls the data allows (one page call per 200 cadences per
//! collection, one token call per token lifetime), the rate-limit headers read when Zoho sends
//! them, and an exposition whose size follows what is asked of it (a few KiB per org without
//! per-cadence metrics, whatever the org's size; gzip far smaller than plain).

mod common;

use common::{collectors, config_for, samples, scrape, single, value};
use fake_zoho::{generated_cadences, FakeZoho, Route};
use zoho_cadences_exporter::Format;

#[tokio::test]
async fn ten_thousand_cadences_take_50_pages_per_collection_and_one_token_in_all() {
    let (fake, state, collector) = single(generated_cadences(10_000), "").await;
    for round in 1..=3u64 {
        collector.collect_once().await.expect("collection succeeds");
        assert_eq!(
            fake.calls(Route::Cadences),
            50 * round,
            "one page call per 200 cadences"
        );
    }
    let one_collection: Vec<u32> = (1..=50).collect();
    assert_eq!(fake.pages_requested(), one_collection.repeat(3));
    assert_eq!(
        fake.calls(Route::Token),
        1,
        "one token call while the token lives"
    );
    let text = scrape(&state);
    assert_eq!(
        value(
            &text,
            r#"zoho_crm_api_requests_total{org="org0",endpoint="token",status_code="200"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            r#"zoho_crm_api_requests_total{org="org0",endpoint="cadences",status_code="200"}"#
        ),
        Some(150.0)
    );
}

#[tokio::test]
async fn a_page_call_per_200_cadences_rounds_up_and_an_exact_multiple_takes_no_extra_call() {
    for (cadences, pages) in [(1, 1), (200, 1), (201, 2), (400, 2), (401, 3)] {
        let (fake, _state, collector) = single(generated_cadences(cadences), "").await;
        collector.collect_once().await.expect("collection succeeds");
        assert_eq!(
            fake.calls(Route::Cadences),
            pages,
            "{cadences} cadences take {pages} page call(s)"
        );
    }
}

#[tokio::test]
async fn each_org_has_its_own_token_and_reuses_it() {
    let first = FakeZoho::start(generated_cadences(10)).await.unwrap();
    let second = FakeZoho::start(generated_cadences(10)).await.unwrap();
    let config = config_for(&[&first, &second], "");
    let (_state, collectors) = collectors(&config);
    for _ in 0..3 {
        for collector in &collectors {
            collector.collect_once().await.expect("collection succeeds");
        }
    }
    assert_eq!(first.calls(Route::Token), 1);
    assert_eq!(second.calls(Route::Token), 1);
}

#[tokio::test]
async fn rate_limit_headers_become_gauges_by_window() {
    let (fake, state, collector) = single(generated_cadences(10), "").await;
    collector.collect_once().await.unwrap();
    let text = scrape(&state);
    assert!(
        !text.contains("zoho_crm_api_rate_limit_"),
        "no rate-limit series while Zoho sends no headers"
    );

    fake.set_rate_limit_headers(true);
    collector.collect_once().await.unwrap();
    let text = scrape(&state);
    for (metric, window, expected) in [
        ("remaining", "request_window", 99.0),
        ("limit", "request_window", 100.0),
        ("remaining", "day", 49_000.0),
        ("limit", "day", 50_000.0),
    ] {
        assert_eq!(
            value(
                &text,
                &format!(r#"zoho_crm_api_rate_limit_{metric}{{org="org0",window="{window}"}}"#)
            ),
            Some(expected),
            "{metric} {window}"
        );
    }
}

/// The cadence part of the text exposition of one org of `cadences` cadences.
async fn cadence_part(cadences: u64, extra: &str) -> String {
    let (_fake, state, collector) = single(generated_cadences(cadences), extra).await;
    collector.collect_once().await.unwrap();
    let [cadence_part, _live] = state.scrape_parts(Format::Text, false);
    String::from_utf8(cadence_part.to_vec()).unwrap()
}

#[tokio::test]
async fn without_per_cadence_metrics_the_exposition_does_not_grow_with_the_org() {
    let small = cadence_part(200, "per_cadence_metrics: false").await;
    let large = cadence_part(10_000, "per_cadence_metrics: false").await;
    let series = |text: &str| -> Vec<String> { samples(text).into_keys().collect() };
    assert_eq!(
        series(&small),
        series(&large),
        "200 and 10,000 cadences over the same modules have the same series"
    );
    assert!(
        large.len() < small.len() + 64,
        "only the values' digits differ: {} and {} bytes",
        small.len(),
        large.len()
    );
    assert!(large.len() < 4 * 1024, "a few KiB: {} bytes", large.len());
}

#[tokio::test]
async fn gzip_is_at_least_ten_times_smaller_than_plain_at_10000_cadences() {
    let (_fake, state, collector) = single(generated_cadences(10_000), "").await;
    collector.collect_once().await.unwrap();
    for format in [Format::Text, Format::OpenMetrics] {
        let plain = state.scrape_body(format, false);
        let gzipped = state.scrape_body(format, true);
        assert!(
            plain.len() >= 10 * gzipped.len(),
            "{format:?}: plain {} bytes, gzip {} bytes",
            plain.len(),
            gzipped.len()
        );
        // One gzip member: clients that read only the first (curl, browsers) read it all.
        let mut decoded = Vec::new();
        let mut member = flate2::read::GzDecoder::new(&gzipped[..]);
        std::io::Read::read_to_end(&mut member, &mut decoded).unwrap();
        assert!(member.into_inner().is_empty(), "one gzip member");
        let (plain, decoded) = (
            String::from_utf8(plain).unwrap(),
            String::from_utf8(decoded).unwrap(),
        );
        // The live part (process metrics) may differ between the two scrapes: compare up to it.
        let cadence_part = |text: &str| text.split("zoho_crm_up").next().unwrap().to_owned();
        assert_eq!(cadence_part(&plain), cadence_part(&decoded));
    }
}
