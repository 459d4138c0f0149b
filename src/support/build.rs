//! What the binary was built from, recorded by `build.rs`: the version, the git revision and
//! branch, the build time and the rustc version, for `--version` and
//! `zoho_crm_exporter_build_info`.

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
pub(crate) fn version_report() -> String {
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
