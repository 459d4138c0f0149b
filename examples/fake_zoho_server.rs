//! A stand-alone fake Zoho for load tests (`benches/load.sh`): serves `--cadences N` generated
//! cadences in each of `--orgs K` simulated orgs, each with its own credentials (Zoho keeps at
//! most 15 live tokens per refresh token), and writes an exporter config pointing at them.
//! `--one-address true` (the default) puts every org behind one loopback address, as Zoho's
//! accounts and API hosts serve all the orgs of a data center, told apart by their tokens: the
//! exporter's connection pool then holds what it would against Zoho. `--one-address false` gives
//! each org a fake of its own on its own port (a pool entry, and an idle keep-alive connection,
//! per org), kept to compare with. `--fault-rate` makes it inject random faults
//! (`scripts/soak.sh`).
//! `--call-log PATH` appends, every second, the token and cadence-page calls all orgs received
//! in that second (`benches/scale.sh` reads the busiest second at start). Exits after
//! `--exit-after` so a forgotten run cannot linger.
//!
//! ```text
//! cargo run --release --example fake_zoho_server -- --cadences 10000 --config /tmp/zce.yaml
//! cargo run --release --example fake_zoho_server -- --cadences 100 --orgs 1000 --one-address false
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
    one_address: bool,
}

const USAGE: &str = "usage: fake_zoho_server [--cadences N] [--orgs K] [--config PATH] \
[--interval 5s] [--timeout 30s] [--per-cadence-metrics true|false] [--enrollment true|false] \
[--fault-rate 0.0-1.0] [--exit-after 10m] [--call-log PATH] [--one-address true|false]";

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
        one_address: true,
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
            "--one-address" => {
                let one_address = value()?;
                options.one_address = one_address.parse().map_err(|_| {
                    format!("--one-address must be true or false, not {one_address:?}")
                })?
            }
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
    let fakes = match start_fakes(options.orgs, cadences, options.one_address).await {
        Ok(fakes) => fakes,
        Err(err) => {
            eprintln!("cannot start a fake Zoho: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    for fake in &fakes {
        // Real Zoho sends these; reading them is part of the measured work.
        fake.set_rate_limit_headers(true);
        // Soak tests (scripts/soak.sh) inject random faults.
        fake.set_fault_rate(options.fault_rate);
    }
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
    let addresses = if options.one_address {
        format!("behind one address, {}", fakes[0].url())
    } else {
        "each on its own port".to_owned()
    };
    println!(
        "serving {} cadences in each of {} org(s), {addresses}; config written to {}",
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

/// `orgs` orgs serving `cadences`: behind one address, or each a fake of its own.
async fn start_fakes(
    orgs: usize,
    cadences: Vec<serde_json::Value>,
    one_address: bool,
) -> std::io::Result<Vec<FakeZoho>> {
    if one_address {
        return FakeZoho::start_many(orgs, cadences).await;
    }
    let mut fakes = Vec::with_capacity(orgs);
    for _ in 0..orgs {
        fakes.push(FakeZoho::start(cadences.clone()).await?);
    }
    Ok(fakes)
}

/// Appends `<unix seconds> <token calls> <cadence-page calls>` every second: the calls every
/// org received since the previous line (whether behind one address or not: each org counts
/// its own). The counters are read once a second rather than
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
