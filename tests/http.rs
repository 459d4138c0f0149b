//! The HTTP surface through the router with no socket (`oneshot`): format negotiation, gzip,
//! readiness, the status page, unknown paths and methods. (How long a large plain part lives
//! through the router is tested in `src/web/routes.rs`, where its inflation can be seen.)

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use fake_zoho::{generated_cadences, sample_cadences, FakeZoho, Fault, Route};
use http_body_util::BodyExt;
use std::io::Read;
use std::time::Duration;
use tower::ServiceExt;
use zoho_cadences_exporter::{router, AppState, Format, Org, SharedState};

fn app(state: &SharedState) -> axum::Router {
    router(AppState {
        shared: state.clone(),
        telemetry_path: "/metrics".to_owned(),
        reload: None,
        web: None,
    })
}

async fn get(
    state: &SharedState,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app(state)
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

/// A gzip body as curl's `--compressed` and Chromium read it: up to the end of the first gzip
/// member. The body must be one member, or they would show only its first part.
fn gunzip(body: &[u8]) -> String {
    let mut text = String::new();
    let mut member = flate2::read::GzDecoder::new(body);
    member.read_to_string(&mut text).unwrap();
    assert!(member.into_inner().is_empty(), "one gzip member");
    text
}

#[tokio::test]
async fn formats_follow_the_accept_header() {
    let (_fake, state, collector) = single(sample_cadences(), "").await;
    collector.collect_once().await.unwrap();

    let (status, headers, body) = get(&state, "/metrics", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("# TYPE zoho_crm_collections_total counter"));
    assert!(!text.contains("# EOF"));
    promtool_check_metrics(&text);

    let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let (_, headers, body) = get(&state, "/metrics", &[("accept", accept)]).await;
    assert_eq!(
        headers["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let openmetrics = String::from_utf8(body).unwrap();
    assert!(openmetrics.contains("# TYPE zoho_crm_collections counter"));
    assert!(openmetrics.contains("# UNIT zoho_crm_collection_duration_seconds seconds"));
    assert!(openmetrics.ends_with("# EOF\n"));
    assert_eq!(openmetrics.matches("# EOF").count(), 1);
}

#[tokio::test]
async fn gzip_when_asked_and_same_content() {
    let (_fake, state, collector) = single(sample_cadences(), "").await;
    collector.collect_once().await.unwrap();
    let (_, plain_headers, plain) = get(&state, "/metrics", &[]).await;
    assert!(plain_headers.get("content-encoding").is_none());
    let (_, headers, zipped) =
        get(&state, "/metrics", &[("accept-encoding", "gzip, deflate")]).await;
    assert_eq!(headers["content-encoding"], "gzip");
    let unzipped = gunzip(&zipped);
    // The live part (process metrics, durations) moves between two scrapes: compare the
    // cadence part and the set of series.
    let names = |text: &str| -> Vec<String> {
        samples(text)
            .keys()
            .filter(|k| !k.starts_with("process_"))
            .cloned()
            .collect()
    };
    assert_eq!(names(&unzipped), names(&String::from_utf8(plain).unwrap()));
    let [cadence_part, _live] = state.scrape_parts(Format::Text, false);
    assert!(unzipped.starts_with(std::str::from_utf8(&cadence_part).unwrap()));
}

/// Two orgs sharing one state: org0 healthy, org1 with a revoked refresh token.
async fn healthy_and_revoked_orgs() -> ([FakeZoho; 2], SharedState, Vec<Org>) {
    let fake = FakeZoho::start(sample_cadences()).await.unwrap();
    let broken = FakeZoho::start(sample_cadences()).await.unwrap();
    broken.set_revoked(true);
    let config = config_for(&[&fake, &broken], "");
    let (state, collectors) = collectors(&config);
    ([fake, broken], state, collectors)
}

/// `/metrics?org=`: each org as a target of its own, in both formats, plain and gzipped.
#[tokio::test]
async fn a_scrape_of_some_orgs_serves_their_series_and_the_build_info() {
    let (_fakes, state, collectors) = healthy_and_revoked_orgs().await;
    for collector in &collectors {
        let _ = collector.collect_once().await;
    }
    let openmetrics = "application/openmetrics-text;version=1.0.0";
    for (accept, eof) in [("text/plain", false), (openmetrics, true)] {
        let (_, _, full) = get(&state, "/metrics", &[("accept", accept)]).await;
        let full = samples(&String::from_utf8(full).unwrap());
        // The series labelled with `orgs`, and the build info; nothing of the process.
        let expected = |orgs: &[&str]| -> Vec<String> {
            let ours = |series: &String| {
                orgs.iter()
                    .any(|org| series.contains(&format!("org=\"{org}\"")))
                    || series.starts_with("zoho_crm_exporter_build_info")
            };
            full.keys().filter(|series| ours(series)).cloned().collect()
        };
        for (query, orgs) in [
            ("org=org1", &["org1"][..]),
            ("org=org0", &["org0"]),
            ("org=org1&org=org0&org=org1", &["org0", "org1"]),
            ("org=org0&other=ignored", &["org0"]),
        ] {
            for gzipped in [false, true] {
                let encoding = if gzipped { "gzip" } else { "identity" };
                let path = format!("/metrics?{query}");
                let headers = [("accept", accept), ("accept-encoding", encoding)];
                let (status, headers, body) = get(&state, &path, &headers).await;
                assert_eq!(status, StatusCode::OK, "{path}");
                assert_eq!(headers.get("content-encoding").is_some(), gzipped);
                assert_eq!(headers["x-content-type-options"], "nosniff");
                let text = if gzipped {
                    gunzip(&body)
                } else {
                    String::from_utf8(body).unwrap()
                };
                let series: Vec<String> = samples(&text).into_keys().collect();
                assert_eq!(series, expected(orgs), "{path} {accept} {encoding}");
                assert_eq!(text.ends_with("# EOF\n"), eof, "{path} {accept}");
                if !eof {
                    promtool_check_metrics(&text); // promtool reads the text format only
                }
            }
        }
    }
    let (_, _, org1) = get(&state, "/metrics?org=org1", &[]).await;
    let org1 = String::from_utf8(org1).unwrap();
    assert_eq!(value(&org1, "zoho_crm_up{org=\"org1\"}"), Some(0.0));
    let (status, headers, body) = get(&state, "/metrics?org=org1&org=nope", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(String::from_utf8(body).unwrap(), "unknown org \"nope\"\n");
    let (status, _, _) = get(&state, "/metrics?org=", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an empty name is no org");
}

#[tokio::test]
async fn ready_after_every_org_attempted_once() {
    let (_fakes, state, collectors) = healthy_and_revoked_orgs().await;
    assert_eq!(get(&state, "/-/healthy", &[]).await.0, StatusCode::OK);
    assert_eq!(
        get(&state, "/-/ready", &[]).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    collectors[0].collect_once().await.unwrap();
    assert_eq!(
        get(&state, "/-/ready", &[]).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    collectors[1].collect_once().await.unwrap_err();
    assert_eq!(
        get(&state, "/-/ready", &[]).await.0,
        StatusCode::OK,
        "a failed first attempt counts"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_at_the_first_scrape_that_counts_a_collection() {
    for (first_answer, succeeds) in [
        (Fault::Delay(Duration::from_millis(300)), true),
        (
            Fault::Status {
                status: 403,
                code: "NO_PERMISSION".into(),
                retry_after: None,
            },
            false,
        ),
    ] {
        let fake = FakeZoho::start(generated_cadences(3)).await.unwrap();
        // The token request is slow, so that scrapes run while the collection is in flight.
        fake.push_fault(Route::Token, Fault::Delay(Duration::from_millis(300)));
        fake.push_fault(Route::Cadences, first_answer);
        let config = config_for(&[&fake], "");
        let (state, mut collectors) = collectors(&config);
        let collector = collectors.remove(0);
        let collection = tokio::spawn(async move { collector.collect_once().await });
        let mut scrapes_before = 0;
        loop {
            let text = String::from_utf8(get(&state, "/metrics", &[]).await.2).unwrap();
            let ready = get(&state, "/-/ready", &[]).await.0;
            let collections = value(&text, r#"zoho_crm_collections_total{org="org0"}"#);
            let failures = value(&text, r#"zoho_crm_collection_failures_total{org="org0"}"#);
            if collections == Some(0.0) {
                assert_eq!(failures, Some(0.0), "{text}");
                scrapes_before += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
                continue;
            }
            assert_eq!(collections, Some(1.0), "{text}");
            assert_eq!(ready, StatusCode::OK, "ready when the count shows");
            // The same scrape shows the rest of that collection's outcome.
            let up = value(&text, r#"zoho_crm_up{org="org0"}"#);
            if succeeds {
                assert_eq!((up, failures), (Some(1.0), Some(0.0)), "{text}");
                assert_eq!(count_series(&text, "zoho_crm_cadence_active"), 3);
                assert_eq!(
                    count_series(&text, "zoho_crm_last_success_timestamp_seconds"),
                    1
                );
            } else {
                assert_eq!((up, failures), (Some(0.0), Some(1.0)), "{text}");
                assert_eq!(
                    count_series(&text, "zoho_crm_last_success_timestamp_seconds"),
                    0
                );
            }
            break;
        }
        assert_eq!(collection.await.unwrap().is_ok(), succeeds);
        assert!(
            scrapes_before > 0,
            "scrapes ran while the collection was in flight"
        );
    }
}

#[tokio::test]
async fn status_page_shows_each_org() {
    let (_fakes, state, collectors) = healthy_and_revoked_orgs().await;
    collectors[0].collect_once().await.unwrap();
    collectors[1].collect_once().await.unwrap_err();
    let (status, headers, body) = get(&state, "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains(r#"<a href="./metrics">"#), "relative: {html}");
    assert!(
        html.contains(r#"<a href="orgs/org0">org0</a></td><td class="state up">up</td>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<td class="n">1</td><td class="n">1</td><td class="n">0</td><td class="n"><span class="muted">–</span></td>"#),
        "active, inactive, draft, no enrollment pass: {html}"
    );
    assert!(
        html.contains(r#"<a href="orgs/org1">org1</a></td><td class="state down">down</td><td><span class="muted">never</span></td>"#),
        "{html}"
    );
    assert!(
        html.contains("invalid_code"),
        "the last error is shown: {html}"
    );
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let (_fake, state, _collector) = single(sample_cadences(), "").await;
    assert_eq!(get(&state, "/nope", &[]).await.0, StatusCode::NOT_FOUND);
    let response = app(&state)
        .oneshot(Request::post("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let response = app(&state)
        .oneshot(Request::head("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = app(&state)
        .oneshot(Request::post("/-/reload").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "no reload without a supervisor"
    );
}
