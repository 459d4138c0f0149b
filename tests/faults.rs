//! Fault injection against the fake Zoho: each case checks the counters, `zoho_crm_up`, the
//! retained snapshot and the recovery.

mod common;

use common::*;
use fake_zoho::{generated_cadences, FakeZoho, Fault, Route};
use std::time::{Duration, Instant};
use zoho_cadences_exporter::TOKEN_REQUESTS_PER_WINDOW;

const UP: &str = r#"zoho_crm_up{org="org0"}"#;

fn api_error(endpoint: &str, error: &str) -> String {
    format!(r#"zoho_crm_api_errors_total{{org="org0",endpoint="{endpoint}",error="{error}"}}"#)
}

fn status(status: u16, code: &str) -> Fault {
    Fault::Status {
        status,
        code: code.to_owned(),
        retry_after: None,
    }
}

/// Asserts the org is down but still exports its last complete snapshot of `cadences`.
fn assert_down_with_snapshot(text: &str, cadences: usize) {
    assert_eq!(value(text, UP), Some(0.0), "{text}");
    assert_eq!(
        count_series(text, "zoho_crm_cadence_active"),
        cadences,
        "last snapshot kept"
    );
}

#[tokio::test]
async fn expired_token_is_refreshed_once_and_the_call_retried() {
    let (fake, state, collector) = single(generated_cadences(10), "").await;
    collector.collect_once().await.unwrap();
    fake.expire_tokens();
    collector
        .collect_once()
        .await
        .expect("refresh and retry succeed");
    let text = scrape(&state);
    assert_eq!(fake.calls(Route::Token), 2);
    assert_eq!(
        fake.calls(Route::Cadences),
        3,
        "one rejected call, one retried"
    );
    assert_eq!(
        value(&text, &api_error("cadences", "INVALID_TOKEN")),
        Some(1.0)
    );
    assert_eq!(value(&text, UP), Some(1.0));
}

#[tokio::test]
async fn authentication_failure_is_treated_like_an_expired_token() {
    let (fake, state, collector) = single(generated_cadences(10), "").await;
    collector.collect_once().await.unwrap();
    fake.push_fault(Route::Cadences, status(401, "AUTHENTICATION_FAILURE"));
    collector
        .collect_once()
        .await
        .expect("refresh and retry succeed");
    assert_eq!(fake.calls(Route::Token), 2);
    assert_eq!(
        value(
            &scrape(&state),
            &api_error("cadences", "AUTHENTICATION_FAILURE")
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn revoked_refresh_token_keeps_the_snapshot_backs_off_and_recovers() {
    let (fake, state, collector) = single(generated_cadences(10), "").await;
    collector.collect_once().await.unwrap();
    fake.set_revoked(true);
    fake.expire_tokens();
    collector.collect_once().await.unwrap_err();
    let text = scrape(&state);
    assert_down_with_snapshot(&text, 10);
    assert_eq!(value(&text, &api_error("token", "invalid_code")), Some(1.0));
    let token_calls = fake.calls(Route::Token);
    // Within the back-off, no token request is made at all.
    let err = collector.collect_once().await.unwrap_err();
    assert_eq!(err.metric_label(), "token_paused", "{err}");
    assert_eq!(fake.calls(Route::Token), token_calls);
    // After it, the next collection tries again and recovers.
    fake.set_revoked(false);
    tokio::time::sleep(fast_limits().token_backoff_base + Duration::from_millis(50)).await;
    collector
        .collect_once()
        .await
        .expect("recovers after the back-off");
    assert_eq!(value(&scrape(&state), UP), Some(1.0));
}

#[tokio::test]
async fn throttled_token_endpoint_is_counted_and_backed_off() {
    let (fake, state, collector) = single(generated_cadences(5), "").await;
    fake.push_fault(Route::Token, Fault::TokenThrottled);
    let err = collector.collect_once().await.unwrap_err();
    assert!(err.to_string().contains("Access Denied"), "{err}");
    let text = scrape(&state);
    assert_eq!(
        value(&text, &api_error("token", "Access Denied")),
        Some(1.0)
    );
    assert_eq!(value(&text, UP), Some(0.0));
    assert_eq!(fake.calls(Route::Cadences), 0);
    collector.collect_once().await.unwrap_err();
    assert_eq!(fake.calls(Route::Token), 1, "backed off");
}

#[tokio::test]
async fn wrong_client_is_refused() {
    let (fake, state, collector) = single(generated_cadences(5), "").await;
    fake.push_fault(Route::Token, Fault::TokenError("invalid_client".to_owned()));
    collector.collect_once().await.unwrap_err();
    assert_eq!(
        value(&scrape(&state), &api_error("token", "invalid_client")),
        Some(1.0)
    );
}

#[tokio::test]
async fn never_more_than_ten_token_requests_in_ten_minutes() {
    let (fake, _state, collector) = single(generated_cadences(5), "").await;
    for _ in 0..15 {
        // Zoho kills every token: each collection needs a new one.
        fake.expire_tokens();
        let _ = collector.collect_once().await;
    }
    assert_eq!(fake.calls(Route::Token), TOKEN_REQUESTS_PER_WINDOW as u64);
}

#[tokio::test]
async fn configuration_errors_are_not_retried() {
    for (code, http) in [
        ("OAUTH_SCOPE_MISMATCH", 401),
        ("NO_PERMISSION", 403),
        ("FEATURE_NOT_ENABLED", 403),
        ("INVALID_URL_PATTERN", 404),
        ("INVALID_DATA", 400),
    ] {
        let (fake, state, collector) = single(generated_cadences(5), "").await;
        fake.push_fault(Route::Cadences, status(http, code));
        let err = collector.collect_once().await.unwrap_err();
        assert_eq!(err.metric_label(), code);
        assert_eq!(fake.calls(Route::Cadences), 1, "{code}: one attempt only");
        assert_eq!(fake.calls(Route::Token), 1, "{code}: no token refresh");
        let text = scrape(&state);
        assert_eq!(
            value(&text, &api_error("cadences", code)),
            Some(1.0),
            "{code}"
        );
        assert_eq!(
            value(
                &text,
                &format!(
                    r#"zoho_crm_api_requests_total{{org="org0",endpoint="cadences",status_code="{http}"}}"#
                )
            ),
            Some(1.0)
        );
        // The next collection tries again.
        collector
            .collect_once()
            .await
            .expect("next collection succeeds");
    }
}

#[tokio::test]
async fn server_errors_and_throttling_are_retried_within_the_collection() {
    for (code, http) in [
        ("INTERNAL_ERROR", 500),
        ("INTERNAL_SERVER_ERROR", 500),
        ("TOO_MANY_REQUESTS", 429),
        ("", 502),
    ] {
        let (fake, state, collector) = single(generated_cadences(5), "").await;
        fake.push_fault(Route::Cadences, status(http, code));
        fake.push_fault(Route::Cadences, status(http, code));
        collector
            .collect_once()
            .await
            .unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_eq!(
            fake.calls(Route::Cadences),
            3,
            "{code}: two failures, then success"
        );
        let label = if code.is_empty() {
            format!("http_{http}")
        } else {
            code.to_owned()
        };
        assert_eq!(
            value(&scrape(&state), &api_error("cadences", &label)),
            Some(2.0),
            "{label}"
        );
        assert_eq!(value(&scrape(&state), UP), Some(1.0));
    }
}

#[tokio::test]
async fn retries_are_bounded() {
    let (fake, state, collector) = single(generated_cadences(5), "").await;
    for _ in 0..10 {
        fake.push_fault(Route::Cadences, status(500, "INTERNAL_ERROR"));
    }
    collector.collect_once().await.unwrap_err();
    assert_eq!(
        fake.calls(Route::Cadences),
        fast_limits().max_attempts as u64
    );
    assert_eq!(
        value(&scrape(&state), &api_error("cadences", "INTERNAL_ERROR")),
        Some(4.0)
    );
}

#[tokio::test]
async fn a_failed_middle_page_never_publishes_a_partial_snapshot() {
    let (fake, state, collector) = single(generated_cadences(1_000), "").await;
    collector.collect_once().await.unwrap();
    // 1,000 cadences are 5 pages; shrink to 700 (4 pages) and fail page 3 on every attempt.
    fake.set_cadences(generated_cadences(700));
    let sampler_state = state.clone();
    let sampler = tokio::spawn(async move {
        let mut seen = std::collections::BTreeSet::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(400) {
            seen.insert(count_series(
                &scrape(&sampler_state),
                "zoho_crm_cadence_active",
            ));
            tokio::task::yield_now().await;
        }
        seen
    });
    // Pages 1 and 2 answer; page 3 fails on all four attempts.
    fake.push_fault(Route::Cadences, Fault::Delay(Duration::from_millis(50)));
    fake.push_fault(Route::Cadences, Fault::Delay(Duration::from_millis(50)));
    for _ in 0..4 {
        fake.push_fault(Route::Cadences, status(500, "INTERNAL_SERVER_ERROR"));
    }
    collector.collect_once().await.unwrap_err();
    assert_eq!(fake.pages_requested()[5..], [1, 2, 3, 3, 3, 3]);
    let seen = sampler.await.unwrap();
    assert_eq!(
        seen,
        [1_000].into(),
        "every scrape saw the complete old snapshot"
    );
    assert_down_with_snapshot(&scrape(&state), 1_000);
    collector.collect_once().await.unwrap();
    assert_eq!(
        count_series(&scrape(&state), "zoho_crm_cadence_active"),
        700
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (fake, state, collector) = single(generated_cadences(5), "").await;
    fake.push_fault(
        Route::Cadences,
        Fault::Status {
            status: 429,
            code: "TOO_MANY_REQUESTS".to_owned(),
            retry_after: Some("1".to_owned()),
        },
    );
    let started = Instant::now();
    collector
        .collect_once()
        .await
        .expect("succeeds after waiting");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "no call before Retry-After passed"
    );
    assert_eq!(fake.calls(Route::Cadences), 2);
    assert_eq!(
        value(&scrape(&state), &api_error("cadences", "TOO_MANY_REQUESTS")),
        Some(1.0)
    );
}

#[tokio::test]
async fn retry_after_beyond_the_deadline_fails_the_collection_without_calling() {
    let (fake, state, collector) =
        single(generated_cadences(5), "interval: 1s\ntimeout: 500ms").await;
    fake.push_fault(
        Route::Cadences,
        Fault::Status {
            status: 429,
            code: "TOO_MANY_REQUESTS".to_owned(),
            retry_after: Some("3600".to_owned()),
        },
    );
    let err = collector.collect_once().await.unwrap_err();
    assert_eq!(err.metric_label(), "retry_after");
    // Within the hour, no call at all is made.
    collector.collect_once().await.unwrap_err();
    assert_eq!(fake.calls(Route::Cadences), 1);
    assert_eq!(value(&scrape(&state), UP), Some(0.0));
}

#[tokio::test]
async fn malformed_and_wrongly_shaped_answers_are_decode_errors() {
    for fault in [Fault::Malformed, Fault::WrongShape] {
        let (fake, state, collector) = single(generated_cadences(5), "").await;
        collector.collect_once().await.unwrap();
        fake.push_fault(Route::Cadences, fault.clone());
        let err = collector.collect_once().await.unwrap_err();
        assert_eq!(err.metric_label(), "decode", "{fault:?}");
        let text = scrape(&state);
        assert_down_with_snapshot(&text, 5);
        assert_eq!(value(&text, &api_error("cadences", "decode")), Some(1.0));
        assert_eq!(
            fake.calls(Route::Cadences),
            2,
            "decode errors are not retried"
        );
    }
}

#[tokio::test]
async fn oversized_answers_are_their_own_error_class() {
    let (fake, state, collector) = single(generated_cadences(5), "max_response_bytes: 64KiB").await;
    collector.collect_once().await.unwrap();
    fake.push_fault(Route::Cadences, Fault::Oversized(100_000));
    let err = collector.collect_once().await.unwrap_err();
    assert_eq!(err.metric_label(), "too_large");
    let text = scrape(&state);
    assert_down_with_snapshot(&text, 5);
    assert_eq!(value(&text, &api_error("cadences", "too_large")), Some(1.0));
}

#[tokio::test]
async fn connection_reset_is_retried() {
    let (fake, state, collector) = single(generated_cadences(5), "").await;
    fake.push_fault(Route::Cadences, Fault::Reset);
    collector.collect_once().await.expect("the retry succeeds");
    assert_eq!(fake.calls(Route::Cadences), 2);
    assert_eq!(
        value(&scrape(&state), &api_error("cadences", "connect")),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_hang_past_the_timeout_is_retried() {
    let (fake, state, collector) = single(generated_cadences(5), "timeout: 300ms").await;
    fake.push_fault(Route::Cadences, Fault::Hang);
    let started = Instant::now();
    collector.collect_once().await.expect("the retry succeeds");
    assert!(started.elapsed() < Duration::from_secs(2));
    let text = scrape(&state);
    assert_eq!(value(&text, &api_error("cadences", "timeout")), Some(1.0));
    assert_eq!(
        value(
            &text,
            r#"zoho_crm_api_requests_total{org="org0",endpoint="cadences",status_code="none"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_hung_org_never_delays_another() {
    let healthy = FakeZoho::start(generated_cadences(5)).await.unwrap();
    let hung = FakeZoho::start(generated_cadences(5)).await.unwrap();
    for _ in 0..10 {
        hung.push_fault(Route::Cadences, Fault::Hang);
    }
    let config = config_for(&[&healthy, &hung], "interval: 2s\ntimeout: 1s");
    let (state, collectors) = collectors(&config);
    let mut collectors = collectors.into_iter();
    let (good, bad) = (collectors.next().unwrap(), collectors.next().unwrap());
    let bad_run = tokio::spawn(async move { bad.collect_once().await });
    let started = Instant::now();
    good.collect_once().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "the healthy org is not held up"
    );
    let scrape_started = Instant::now();
    let text = scrape(&state);
    assert!(scrape_started.elapsed() < Duration::from_millis(100));
    assert_eq!(value(&text, UP), Some(1.0));
    let err = bad_run.await.unwrap().unwrap_err();
    assert!(
        matches!(err.metric_label().as_str(), "timeout" | "deadline"),
        "{err}"
    );
    assert_eq!(
        value(&scrape(&state), r#"zoho_crm_up{org="org1"}"#),
        Some(0.0)
    );
}
