//! A stand-alone fake Zoho for load tests (`benches/load.sh`): serves `--cadences N` generated
//! cadences in each of `--orgs K` simulated orgs (one fake per org, each on its own loopback
//! port, since Zoho keeps at most 15 live tokens per refresh token) and writes an exporter
//! config pointing at them. `--fault-rate` makes it inject random faults (`scripts/soak.sh`).
//! `--call-log PATH` appends, every second, the token and cadence-page calls all orgs received
//! in that second (`benches/scale.sh` reads the busiest second at start). Exits after
//! `--exit-after` so a forgotten run cannot linger.
//!
//! ```text
//! cargo run --release --example fake_zoho_server -- --cadences 10000 --config /tmp/zce.yaml
//! ```

use fake_zoho::{generated_cadences, FakeZoho, Route};
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
    call_log: Option<String>,
}

const USAGE: &str = "usage: fake_zoho_server [--cadences N] [--orgs K] [--config PATH] \
[--interval 5s] [--timeout 30s] [--per-cadence-metrics true|false] [--enrollment true|false] \
[--fault-rate 0.0-1.0] [--exit-after 10m] [--call-log PATH]";

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
        call_log: None,
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
            "--call-log" => options.call_log = Some(value()?),
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
    let log_calls = async {
        match &options.call_log {
            Some(path) => log_calls(&fakes, path).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::time::sleep(options.exit_after) => {}
        _ = tokio::signal::ctrl_c() => {}
        err = log_calls => {
            eprintln!("cannot write the call log: {err}");
            return std::process::ExitCode::FAILURE;
        }
    }
    std::process::ExitCode::SUCCESS
}

/// Appends `<unix seconds> <token calls> <cadence-page calls>` every second: the calls every
/// org's fake received since the previous line. The counters are read once a second rather than
/// stamped per call, so a line covers one tick of the timer (about a second, give or take how
/// late the tick runs).
async fn log_calls(fakes: &[FakeZoho], path: &str) -> std::io::Error {
    use std::io::Write;
    let mut file = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        Ok(file) => file,
        Err(err) => return err,
    };
    let totals = || {
        fakes.iter().fold((0, 0), |(tokens, pages), fake| {
            (
                tokens + fake.calls(Route::Token),
                pages + fake.calls(Route::Cadences),
            )
        })
    };
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = totals();
    loop {
        ticks.tick().await;
        let now = totals();
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if let Err(err) = writeln!(file, "{unix} {} {}", now.0 - last.0, now.1 - last.1) {
            return err;
        }
        last = now;
    }
}
