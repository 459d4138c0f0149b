//! Support shared by the integration tests: a fake Zoho, an org collector pointed at it, and a
//! small exposition parser. Each test builds its own state; nothing is global.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use zoho_cadences_exporter::collector::OrgCollector;
use zoho_cadences_exporter::config::Config;
use zoho_cadences_exporter::exposition::{scrape_body, Format};
use zoho_cadences_exporter::fake_zoho::FakeZoho;
use zoho_cadences_exporter::state::SharedState;
use zoho_cadences_exporter::zoho::client::{http_client, Limits, ZohoClient};

/// Limits with the production counts but waits short enough for real-time tests.
pub fn fast_limits() -> Limits {
    Limits {
        retry_base: Duration::from_millis(20),
        retry_cap: Duration::from_millis(100),
        token_backoff_base: Duration::from_millis(300),
        token_backoff_cap: Duration::from_secs(2),
        ..Limits::default()
    }
}

/// A config with one org per fake, named org0, org1, …, plus `extra` top-level YAML.
pub fn config_for(fakes: &[&FakeZoho], extra: &str) -> Config {
    let mut yaml = format!("{extra}\norgs:\n");
    for (i, fake) in fakes.iter().enumerate() {
        yaml.push_str(&fake.org_yaml(&format!("org{i}")));
    }
    Config::parse(&yaml).unwrap_or_else(|e| panic!("test config: {e}\n{yaml}"))
}

/// A collector for each org of `config`, sharing one state, with [`fast_limits`].
pub fn collectors(config: &Config) -> (SharedState, Vec<OrgCollector>) {
    let state = SharedState::new(config);
    let http = http_client();
    let collectors = config
        .orgs
        .iter()
        .map(|org| {
            let client = ZohoClient::new(
                http.clone(),
                org.clone(),
                config.timeout,
                config.max_response_bytes,
                state.telemetry().org(&org.name),
            )
            .with_limits(fast_limits());
            OrgCollector::new(
                Arc::new(client),
                state.clone(),
                config.interval,
                config.collection_deadline(),
            )
        })
        .collect();
    (state, collectors)
}

/// One fake, one org, one collector.
pub async fn single(
    cadences: Vec<serde_json::Value>,
    extra: &str,
) -> (FakeZoho, SharedState, OrgCollector) {
    let fake = FakeZoho::start(cadences).await.expect("fake Zoho starts");
    let config = config_for(&[&fake], extra);
    let (state, mut collectors) = collectors(&config);
    (fake, state, collectors.remove(0))
}

/// The whole text-format exposition, as a scrape would see it.
pub fn scrape(state: &SharedState) -> String {
    String::from_utf8(scrape_body(
        &state.encoded(),
        state.live_registry(),
        Format::Text,
        false,
    ))
    .expect("UTF-8")
}

/// Samples of a text exposition: `name{labels}` to value.
pub fn samples(exposition: &str) -> BTreeMap<String, f64> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {line:?}"));
            (
                series.to_owned(),
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            )
        })
        .collect()
}

/// The value of one series, e.g. `zoho_crm_up{org="org0"}`.
pub fn value(exposition: &str, series: &str) -> Option<f64> {
    samples(exposition).get(series).copied()
}

/// Sum of every sample of `name` whose labels contain all of `labels` (`key="value"` pairs).
pub fn sum(exposition: &str, name: &str, labels: &[&str]) -> f64 {
    samples(exposition)
        .iter()
        .filter(|(series, _)| {
            let (metric, rest) = series.split_once('{').unwrap_or((series.as_str(), ""));
            metric == name && labels.iter().all(|l| rest.contains(l))
        })
        .map(|(_, v)| v)
        .sum()
}

/// Series of `name` present in the exposition.
pub fn count_series(exposition: &str, name: &str) -> usize {
    samples(exposition)
        .keys()
        .filter(|series| series.split_once('{').map_or(series.as_str(), |(m, _)| m) == name)
        .count()
}

/// Runs promtool's own exposition linter on text-format output.
pub fn promtool_check_metrics(exposition: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/test installs Debian's prometheus package)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
