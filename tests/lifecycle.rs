//! The built binary end to end: `--config.check`, `--once`, the environment org, reload by
//! `POST /-/reload` and SIGHUP, and shutdown on SIGTERM in the middle of a hung request.

mod common;

use common::*;
use fake_zoho::{generated_cadences, FakeZoho, Fault, Route, CLIENT_SECRET, REFRESH_TOKEN};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn write_config(dir: &std::path::Path, yaml: &str) -> PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn config_check_accepts_good_and_names_the_problem_in_bad_configs() {
    let dir = tempfile::tempdir().unwrap();
    let good = "interval: 1m\norgs:\n  - name: acme\n    client_id: a\n    client_secret: s3cr3t-value\n    refresh_token: r3fr3sh-value\n";
    let path = write_config(dir.path(), good);
    let (code, stdout, stderr) = run(
        &["--config.file", path.to_str().unwrap(), "--config.check"],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "config OK: 1 org(s), 0 expectation(s)\n");
    for (bad, expected) in [
        (format!("{good}    region: us\n"), "unknown field `region`"),
        (good.replace("interval: 1m", "interval: soon"), "interval: invalid duration \"soon\""),
        (format!("{good}    data_center: xx\n"), "orgs[0].data_center: unknown data center \"xx\""),
        (
            format!("{good}expectations:\n  - name: e\n    cadence: \"A*\"\n    id: \"1\"\n    active: true\n"),
            "expectations[0].cadence: give either cadence",
        ),
    ] {
        let path = write_config(dir.path(), &bad);
        let (code, stdout, stderr) = run(&["--config.file", path.to_str().unwrap(), "--config.check"], &[]);
        assert_eq!(code, 1, "{bad}");
        assert!(stderr.contains(expected), "expected {expected:?} in {stderr:?}");
        for secret in ["s3cr3t-value", "r3fr3sh-value"] {
            assert!(!stderr.contains(secret) && !stdout.contains(secret), "secret leaked: {stderr}");
        }
    }
    let (code, _, stderr) = run(
        &[
            "--config.file",
            "/nonexistent/config.yaml",
            "--config.check",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot read config file /nonexistent/config.yaml"),
        "{stderr}"
    );
}

#[test]
fn environment_org_without_a_config_file() {
    let (code, stdout, _) = run(
        &["--config.check"],
        &[
            ("ZOHO_CLIENT_ID", "1000.X"),
            ("ZOHO_CLIENT_SECRET", "s"),
            ("ZOHO_REFRESH_TOKEN", "r"),
            ("ZOHO_DATA_CENTER", "eu"),
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(stdout, "config OK: 1 org(s), 0 expectation(s)\n");
    let (code, _, stderr) = run(&["--config.check"], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("ZOHO_CLIENT_ID: is not set"), "{stderr}");
    let (code, _, stderr) = run(
        &["--config.check"],
        &[
            ("ZOHO_CLIENT_ID", "1000.X"),
            ("ZOHO_CLIENT_SECRET", "s"),
            ("ZOHO_REFRESH_TOKEN", "r"),
            ("ZOHO_DATA_CENTER", "mars"),
        ],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("data_center: unknown data center \"mars\""),
        "{stderr}"
    );
}

#[test]
fn demo_runs_or_says_the_build_left_it_out() {
    let (code, stdout, stderr) = run(&["--demo", "--config.check"], &[]);
    if cfg!(feature = "demo") {
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(stdout, "config OK: 1 org(s), 3 expectation(s)\n");
    } else {
        assert_eq!(code, 1, "{stdout}");
        assert!(
            stderr.contains("--demo: this exporter was built without the demo"),
            "{stderr}"
        );
    }
    // `--demo` and `--config.file` exclude each other in every build.
    let (code, _, stderr) = run(&["--demo", "--config.file", "x.yaml"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn once_prints_the_exposition_and_exits_by_outcome() {
    let fake = FakeZoho::start(generated_cadences(3)).await.unwrap();
    let broken = FakeZoho::start(generated_cadences(3)).await.unwrap();
    broken.set_revoked(true);
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(dir.path(), &format!("orgs:\n{}", fake.org_yaml("good")));
    let output = tokio::task::spawn_blocking(move || {
        run(&["--config.file", good.to_str().unwrap(), "--once"], &[])
    })
    .await
    .unwrap();
    assert_eq!(output.0, 0, "{}", output.2);
    assert_eq!(value(&output.1, r#"zoho_crm_up{org="good"}"#), Some(1.0));
    assert_eq!(count_series(&output.1, "zoho_crm_cadence_active"), 3);
    assert_eq!(
        count_series(&output.1, "zoho_crm_cadence_enrolled_records"),
        3,
        "--once runs an enrollment pass too"
    );
    promtool_check_metrics(&output.1);

    let both = write_config(
        dir.path(),
        &format!("orgs:\n{}{}", fake.org_yaml("good"), broken.org_yaml("bad")),
    );
    let output = tokio::task::spawn_blocking(move || {
        run(&["--config.file", both.to_str().unwrap(), "--once"], &[])
    })
    .await
    .unwrap();
    assert_eq!(output.0, 1, "one org failed");
    assert_eq!(value(&output.1, r#"zoho_crm_up{org="bad"}"#), Some(0.0));
    assert_eq!(value(&output.1, r#"zoho_crm_up{org="good"}"#), Some(1.0));
    for secret in [CLIENT_SECRET, REFRESH_TOKEN, "fakeaccesstoken"] {
        assert!(
            !output.1.contains(secret) && !output.2.contains(secret),
            "{secret} leaked"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_refuses_a_bad_config_and_applies_a_good_one() {
    let first = FakeZoho::start(generated_cadences(4)).await.unwrap();
    let second = FakeZoho::start(generated_cadences(6)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let both = format!(
        "interval: 1s\norgs:\n{}{}",
        first.org_yaml("first"),
        second.org_yaml("second")
    );
    let path = write_config(dir.path(), &both);
    let exporter = Exporter::start(&path);
    exporter
        .wait_for("both orgs up", |t| {
            value(t, r#"zoho_crm_up{org="first"}"#) == Some(1.0)
                && value(t, r#"zoho_crm_up{org="second"}"#) == Some(1.0)
        })
        .await;

    std::fs::write(&path, "orgs:\n  - name: [broken\n").unwrap();
    let response = exporter
        .http
        .post(format!("{}/-/reload", exporter.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("failed to reload config"));
    let text = exporter.metrics().await;
    assert_eq!(
        value(&text, "zoho_crm_config_last_reload_successful"),
        Some(0.0)
    );
    assert_eq!(
        count_series(&text, "zoho_crm_cadence_active"),
        10,
        "the old config keeps running"
    );

    // Drop the second org by SIGHUP; the first keeps its token and snapshot.
    std::fs::write(
        &path,
        format!("interval: 1s\norgs:\n{}", first.org_yaml("first")),
    )
    .unwrap();
    exporter.signal("-HUP");
    let text = exporter
        .wait_for("the second org gone", |t| !t.contains(r#"org="second""#))
        .await;
    assert_eq!(
        value(&text, "zoho_crm_config_last_reload_successful"),
        Some(1.0)
    );
    assert_eq!(count_series(&text, "zoho_crm_cadence_active"), 4);
    let calls = first.calls(Route::Cadences);
    exporter
        .wait_for("another collection of the first org", |_| {
            first.calls(Route::Cadences) > calls + 1
        })
        .await;
    assert_eq!(
        first.calls(Route::Token),
        1,
        "the unchanged org kept its access token"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_hung_request_exits_promptly() {
    let fake = FakeZoho::start(generated_cadences(4)).await.unwrap();
    for _ in 0..10 {
        fake.push_fault(Route::Cadences, Fault::Hang);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &format!("timeout: 1h\norgs:\n{}", fake.org_yaml("hung")),
    );
    let mut exporter = Exporter::start(&path);
    let started = Instant::now();
    while fake.calls(Route::Cadences) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no request reached the fake"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A scrape still answers while the collection hangs.
    let text = exporter.metrics().await;
    assert!(text.contains("zoho_crm_exporter_build_info"));
    exporter.signal("-TERM");
    let code = tokio::task::spawn_blocking(move || exporter.wait_exit(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivations_and_deletions_are_logged_with_who_and_when() {
    let cadences = generated_cadences(3);
    let fake = FakeZoho::start(cadences.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &format!("interval: 1s\norgs:\n{}", fake.org_yaml("acme")),
    );
    let exporter = Exporter::start(&path);
    exporter
        .wait_for("first collection", |t| {
            value(t, r#"zoho_crm_up{org="acme"}"#) == Some(1.0)
        })
        .await;
    let mut changed = cadences.clone();
    changed[0]["status"] = serde_json::json!("inactive");
    changed[0]["active"] = serde_json::json!(false);
    changed[0]["modified_by"] = serde_json::json!({"name": "Dana Ops", "id": "1"});
    changed[0]["modified_time"] = serde_json::json!("2026-11-28T10:00:00-0700");
    let deleted = changed.remove(1);
    fake.set_cadences(changed.clone());
    let id = changed[0]["id"].as_str().unwrap();
    let line = exporter.wait_for_log(&["cadence deactivated", id]).await;
    for part in [
        "level=info",
        "org=acme",
        "name=\"Cadence 00000\"",
        "module=Leads",
        "modified_by=\"Dana Ops\"",
        "modified_time=2026-11-28T17:00:00.000Z",
    ] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    let line = exporter
        .wait_for_log(&["cadence deleted", deleted["id"].as_str().unwrap()])
        .await;
    assert!(
        line.contains("org=acme") && line.contains("module=Contacts"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lasting_failure_is_logged_once() {
    let fake = FakeZoho::start(generated_cadences(2)).await.unwrap();
    fake.set_revoked(true);
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &format!("interval: 1s\norgs:\n{}", fake.org_yaml("acme")),
    );
    let exporter = Exporter::start(&path);
    exporter
        .wait_for("four failed collections", |t| {
            value(t, r#"zoho_crm_collection_failures_total{org="acme"}"#).unwrap_or(0.0) >= 4.0
        })
        .await;
    let log = exporter.log.lock().unwrap().clone();
    let warnings = |text: &str| {
        log.iter()
            .filter(|l| l.contains("level=warn") && l.contains(text))
            .count()
    };
    assert_eq!(warnings("collection failed;"), 1, "{log:#?}");
    assert_eq!(warnings("OAuth token refresh failed"), 1, "{log:#?}");
    assert!(log
        .iter()
        .any(|l| l.contains("level=debug") && l.contains("collection failed again")));
    assert_eq!(fake.calls(Route::Token), 1, "backed off after the refusal");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_cadence_field_is_logged_once_while_it_stays() {
    let mut cadences = generated_cadences(3);
    let good = cadences.clone();
    cadences[1]["summary"]["email_follow_up_count"] = serde_json::json!({"n": 2});
    cadences[2].as_object_mut().unwrap().remove("id");
    let odd_id = cadences[1]["id"].as_str().unwrap().to_owned();
    let fake = FakeZoho::start(cadences.clone()).await.unwrap();
    let dir = temp_dir("unreadable");
    let path = write_config(
        dir.path(),
        &format!("interval: 1s\norgs:\n{}", fake.org_yaml("acme")),
    );
    let exporter = Exporter::start(&path);
    let invalid =
        r#"zoho_crm_api_errors_total{org="acme",endpoint="cadences",error="invalid_cadence"}"#;
    let text = exporter
        .wait_for("three collections with two odd cadences each", |t| {
            value(t, invalid).unwrap_or(0.0) >= 6.0
        })
        .await;
    assert_eq!(value(&text, r#"zoho_crm_up{org="acme"}"#), Some(1.0));
    assert_eq!(count_series(&text, "zoho_crm_cadence_active"), 2);
    let warnings = |text: &str| {
        let log = exporter.log.lock().unwrap().clone();
        log.into_iter()
            .filter(|l| l.contains("level=warn") && l.contains(text))
            .collect::<Vec<_>>()
    };
    let unreadable = warnings("cadence field unreadable");
    assert_eq!(unreadable.len(), 1, "{unreadable:#?}");
    for part in [
        format!("id={odd_id}"),
        "field=summary.email_follow_up_count".to_owned(),
        "found=object".to_owned(),
    ] {
        assert!(unreadable[0].contains(&part), "{part}: {}", unreadable[0]);
    }
    let skipped = warnings("cadence without a usable id skipped");
    assert_eq!(skipped.len(), 1, "{skipped:#?}");
    assert!(skipped[0].contains("field=id") && skipped[0].contains("found=absent"));
    assert!(exporter
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("level=debug") && l.contains("cadence field still unreadable")));

    // Fixed (a complete collection sees all three), then broken again: logged again.
    fake.set_cadences(good);
    exporter
        .wait_for("a collection without odd cadences", |t| {
            count_series(t, "zoho_crm_cadence_active") == 3
        })
        .await;
    fake.set_cadences(cadences);
    exporter
        .wait_for("the odd cadences again", |t| {
            count_series(t, "zoho_crm_cadence_active") == 2
        })
        .await;
    assert_eq!(warnings("cadence field unreadable").len(), 2);
    std::fs::remove_dir_all(dir).unwrap();
}
