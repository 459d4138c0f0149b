//! Docs that cannot drift: the README's metric table against what the exporter emits and what
//! the code registers. (The README's configuration example is checked against the config parser
//! by the config's own tests, `src/config/tests.rs`.)
//!
//! The check runs on the demo org, which builds without the `demo` feature leave out.
#![cfg(feature = "demo")]

mod common;

use common::*;
use fake_zoho::{Fault, Route};
use std::collections::BTreeSet;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// Metric names listed in the README's metric table (first column, in backticks).
fn documented_metrics() -> BTreeSet<String> {
    let readme = readme();
    let table = readme
        .split("## Metrics")
        .nth(1)
        .expect("a Metrics section")
        .split("\n## ")
        .next()
        .unwrap();
    table
        .lines()
        .filter(|line| line.starts_with("| `"))
        .flat_map(|line| {
            let first_cell = line.split('|').nth(1).unwrap().to_owned();
            first_cell
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The source of every module, for the registered-name check.
fn all_source() -> String {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    rust_files(&src)
        .into_iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect()
}

#[tokio::test]
async fn every_emitted_metric_is_documented_and_every_documented_one_is_registered() {
    let documented = documented_metrics();
    assert!(documented.len() > 30, "{documented:?}");

    // A demo org, collected twice with a deletion, a deactivation and an API error in between,
    // so that the conditional metrics appear too.
    let (fake, config) = zoho_cadences_exporter::start_demo().await.unwrap();
    let (state, collectors) = collectors(&config);
    collectors[0].collect_once().await.unwrap();
    let mut cadences = fake.cadences();
    cadences.pop();
    cadences[0]["active"] = serde_json::json!(false);
    cadences[0]["status"] = serde_json::json!("inactive");
    fake.set_cadences(cadences);
    fake.push_fault(
        Route::Cadences,
        Fault::Status {
            status: 500,
            code: "INTERNAL_ERROR".into(),
            retry_after: None,
        },
    );
    collectors[0].collect_once().await.unwrap();

    let text = scrape(&state);
    let emitted: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    let undocumented: Vec<&String> = emitted.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "emitted but not in the README table: {undocumented:?}"
    );

    let source = all_source();
    let unregistered: Vec<&String> = documented
        .iter()
        .filter(|name| {
            let base = name.strip_suffix("_total").unwrap_or(name);
            let base = base
                .strip_suffix("_seconds")
                .or_else(|| base.strip_suffix("_bytes"))
                .unwrap_or(base);
            !source.contains(&format!("\"{name}\"")) && !source.contains(&format!("\"{base}\""))
        })
        .collect();
    assert!(
        unregistered.is_empty(),
        "in the README table but nowhere in the code: {unregistered:?}"
    );
}
