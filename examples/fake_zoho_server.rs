//! A stand-alone fake Zoho for load tests (`benches/load.sh`): serves `--cadences N` generated
//! cadences in each of `--orgs K` simulated orgs (one fake per org, each on its own loopback
//! port, since Zoho keeps at most 15 live tokens per refresh token) and writes an exporter
//! config pointing at them. `--fault-rate` makes it inject random faults (`scripts/soak.sh`). Exits after `--exit-after` so a forgotten run cannot linger.
//!
//! ```text
//! cargo run --release --example fake_zoho_server -- --cadences 10000 --config /tmp/zce.yaml
//! ```

use fake_zoho::{generated_cadences, FakeZoho};
use std::time::Duration;

struct Options {
    cadences: u64,
    orgs: usize,
    config: String,
    interval: String,
    timeout: String,
    per_cadence_metrics: bool,
    enrollment: bool,
    fault_rate: f64,
    exit_after: Duration,
}

const USAGE: &str = "usage: fake_zoho_server [--cadences N] [--orgs K] [--config PATH] \
[--interval 5s] [--timeout 30s] [--per-cadence-metrics true|false] [--enrollment true|false] \
[--fault-rate 0.0-1.0] [--exit-after 10m]";

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        cadences: 10_000,
        orgs: 1,
        config: "zce-load.yaml".to_owned(),
        interval: "5s".to_owned(),
        timeout: "30s".to_owned(),
        enrollment: false,
        fault_rate: 0.0,
        per_cadence_metrics: true,
        exit_after: Duration::from_secs(600),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--cadences" => options.cadences = value()?.parse().map_err(|e| format!("{e}"))?,
            "--orgs" => options.orgs = value()?.parse().map_err(|e| format!("{e}"))?,
            "--config" => options.config = value()?,
            "--interval" => options.interval = value()?,
            "--timeout" => options.timeout = value()?,
            "--enrollment" => options.enrollment = value()?.parse().map_err(|e| format!("{e}"))?,
            "--fault-rate" => options.fault_rate = value()?.parse().map_err(|e| format!("{e}"))?,
            "--per-cadence-metrics" => {
                options.per_cadence_metrics = value()?.parse().map_err(|e| format!("{e}"))?
            }
            "--exit-after" => {
                options.exit_after =
                    humantime::parse_duration(&value()?).map_err(|e| e.to_string())?
            }
            _ => return Err(USAGE.to_owned()),
        }
    }
    if options.orgs == 0 {
        return Err("--orgs must be at least 1".to_owned());
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let cadences = generated_cadences(options.cadences);
    let mut fakes = Vec::with_capacity(options.orgs);
    for _ in 0..options.orgs {
        match FakeZoho::start(cadences.clone()).await {
            Ok(fake) => {
                // Real Zoho sends these; reading them is part of the measured work.
                fake.set_rate_limit_headers(true);
                // Soak tests (scripts/soak.sh) inject random faults.
                fake.set_fault_rate(options.fault_rate);
                fakes.push(fake);
            }
            Err(err) => {
                eprintln!("cannot start a fake Zoho: {err}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    drop(cadences);
    let mut config = format!(
        "interval: {}\ntimeout: {}\nper_cadence_metrics: {}\nenrollment: {{enabled: {}, interval: {}}}\norgs:\n",
        options.interval, options.timeout, options.per_cadence_metrics, options.enrollment, options.interval
    );
    for (n, fake) in fakes.iter().enumerate() {
        config.push_str(&fake.org_yaml(&format!("org{n:03}")));
    }
    if let Err(err) = std::fs::write(&options.config, config) {
        eprintln!("cannot write {}: {err}", options.config);
        return std::process::ExitCode::FAILURE;
    }
    println!(
        "serving {} cadences in each of {} org(s); config written to {}",
        options.cadences, options.orgs, options.config
    );
    tokio::select! {
        _ = tokio::time::sleep(options.exit_after) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    std::process::ExitCode::SUCCESS
}
