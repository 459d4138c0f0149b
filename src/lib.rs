//! zoho-cadences-exporter: a Prometheus exporter for Zoho CRM cadences.
//!
//! Code map (see ARCHITECTURE.md for the data flow and invariants):
//! - [`config`]: the YAML config and the environment fallback, validated into [`config::Config`].
//! - [`zoho`]: Zoho's data centers, answer shapes ([`zoho::model`]) and the HTTP client with its
//!   token cache, retries and limits ([`zoho::client`]); [`credentials`]: an org's credentials,
//!   re-read from their files when these change.
//! - [`snapshot`]: one org's complete, immutable picture of its cadences.
//! - [`expectations`]: which cadences must be active, matched against a snapshot.
//! - [`history`]: what happened to an org since start (changes, inactive since, last failure).
//! - [`collector`]: one org's collection loop; [`supervisor`]: all orgs' loops across reloads.
//! - [`enrollment`]: the per-org loops for enrolled records (`records_count`) and executed
//!   follow-ups (`analytics`), apart from the main collection.
//! - [`state`]: where collections publish and scrapes read.
//! - [`exposition`]: the cadence metrics, encoded once per collection; [`telemetry`]: the live
//!   per-scrape metrics (collection health, API counters, process).
//! - [`http`]: the routes; [`status_page`]: the HTML pages at `/` and `/orgs/<name>`; [`server`]:
//!   serving, reload and shutdown; [`connections`]: the accept loop with its limits and the TLS
//!   handshake; [`listen`]: the listen addresses and the sockets of systemd's socket activation.
//! - [`web_config`] and [`tls`]: `--web.config.file` (exporter-toolkit format): TLS, mutual TLS,
//!   basic auth and extra headers, re-read when the files change.
//! - [`fake_zoho`] and [`demo`]: the simulated Zoho behind `--demo` and every test.
//! - [`secret`], [`logging`]: redacted secrets and log formats; [`malloc`]: how glibc's allocator
//!   holds and returns memory; [`file_stamp`]: noticing that a file read earlier has changed.
//! - [`fuzzing`]: the entry points of the fuzz targets and their corpus replay.

pub mod collector;
pub mod config;
pub mod connections;
pub mod credentials;
pub mod demo;
pub mod enrollment;
pub mod expectations;
pub mod exposition;
pub mod fake_zoho;
pub mod file_stamp;
pub mod fuzzing;
pub mod history;
pub mod http;
pub mod listen;
pub mod logging;
pub mod malloc;
pub mod secret;
pub mod server;
pub mod snapshot;
pub mod state;
pub mod status_page;
pub mod supervisor;
pub mod telemetry;
pub mod tls;
pub mod web_config;
pub mod zoho;

/// The crate version, for build info and the status page.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git revision built from (`unknown` outside a checkout).
pub const REVISION: &str = env!("ZCE_REVISION");
/// The git branch built from (`unknown` outside a checkout or on a detached HEAD).
pub const BRANCH: &str = env!("ZCE_BRANCH");
/// The version of rustc that built the binary, e.g. `1.85.0`.
pub const RUST_VERSION: &str = env!("ZCE_RUST_VERSION");
/// When the binary was built, as Unix seconds (`SOURCE_DATE_EPOCH` when set).
const BUILD_TIMESTAMP: &str = env!("ZCE_BUILD_TIMESTAMP");

/// What `--version` prints, in the layout of the Prometheus tools (prometheus/common's version
/// package), with the rustc version where they give Go's. No build user: it would put the
/// builder's user and host name into every binary, and make builds unreproducible.
pub fn version_report() -> String {
    let built = BUILD_TIMESTAMP
        .parse::<i64>()
        .ok()
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map_or_else(
            || "unknown".to_owned(),
            |time| time.format("%Y%m%d-%H:%M:%S").to_string(),
        );
    format!(
        "zoho-cadences-exporter, version {VERSION} (branch: {BRANCH}, revision: {REVISION})\n  build date:       {built}\n  rustc version:    {RUST_VERSION}\n  platform:         {}/{}\n",
        std::env::consts::OS,
        std::env::consts::ARCH,
    )
}

/// Now as Unix seconds.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A deserialization error with the path of the bad field in front (`cadences[3].id: ...`),
/// for the JSON answers of Zoho and the YAML web config alike.
pub(crate) fn path_error_message<E: std::fmt::Display>(
    err: serde_path_to_error::Error<E>,
) -> String {
    let path = err.path().to_string();
    let inner = err.into_inner();
    if path.is_empty() || path == "." {
        inner.to_string()
    } else {
        format!("{path}: {inner}")
    }
}
