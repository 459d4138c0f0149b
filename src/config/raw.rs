//! The config file as serde reads it (`Raw*`, refusing unknown keys), and the checks that turn
//! it into a [`Config`], with errors that name the field and the value.
//!
//! Durations are parsed here with humantime rather than by humantime-serde inside the YAML
//! parse: humantime-serde reports a bad value as `invalid value: string "soon", expected a
//! duration`, without humantime's reason or the forms that work, and as a syntax error of the
//! whole file rather than an error of the field. The messages here name the field, quote the
//! value, give the reason and an example (`interval: invalid duration "soon" (...); use e.g. 30s,
//! 5m, 1h`); the tests assert them.

use crate::config::{
    AnalyticsConfig, ApiVersion, Config, ConfigError, CredentialFiles, EnrollmentConfig, OrgConfig,
    DEFAULT_INTERVAL, DEFAULT_MAX_CONCURRENT_COLLECTIONS, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
};
use crate::domain::datacenter::DataCenter;
use crate::domain::expectations::{Expectation, ExpectationSelector};
use crate::support::secret::Secret;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    interval: Option<String>,
    timeout: Option<String>,
    per_cadence_metrics: Option<bool>,
    max_response_bytes: Option<RawByteSize>,
    max_concurrent_collections: Option<i64>,
    #[serde(default)]
    orgs: Vec<RawOrg>,
    #[serde(default)]
    expectations: Vec<RawExpectation>,
    enrollment: Option<RawEnrollment>,
    analytics: Option<RawAnalytics>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    name: Option<String>,
    data_center: Option<String>,
    client_id: Option<String>,
    client_id_file: Option<PathBuf>,
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    refresh_token: Option<String>,
    refresh_token_file: Option<PathBuf>,
    api_version: Option<String>,
    accounts_url: Option<String>,
    api_domain: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectation {
    name: Option<String>,
    org: Option<String>,
    module: Option<String>,
    cadence: Option<String>,
    id: Option<String>,
    active: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnrollment {
    enabled: Option<bool>,
    interval: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnalytics {
    enabled: Option<bool>,
    interval: Option<String>,
    window: Option<String>,
}

/// `max_response_bytes`: a number of bytes, or a string like `16MiB`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawByteSize {
    Bytes(u64),
    Text(String),
}

/// Parses and validates YAML text whose relative paths are taken from `dir`.
pub(super) fn parse(text: &str, dir: &Path) -> Result<Config, ConfigError> {
    let raw: RawConfig = serde_yaml_ng::from_str(text).map_err(|err| ConfigError::Syntax {
        path: PathBuf::from("<config>"),
        message: err.to_string(),
    })?;
    from_raw(raw, dir)
}

/// One org named `default` from `ZOHO_CLIENT_ID`, `ZOHO_CLIENT_SECRET`, `ZOHO_REFRESH_TOKEN` and
/// `ZOHO_DATA_CENTER`, with every other setting at its default.
pub(super) fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
    let org = RawOrg {
        name: Some("default".to_owned()),
        data_center: get("ZOHO_DATA_CENTER"),
        client_id: get("ZOHO_CLIENT_ID"),
        client_id_file: None,
        client_secret: get("ZOHO_CLIENT_SECRET"),
        client_secret_file: None,
        refresh_token: get("ZOHO_REFRESH_TOKEN"),
        refresh_token_file: None,
        api_version: None,
        accounts_url: None,
        api_domain: None,
    };
    for (key, present) in [
        ("ZOHO_CLIENT_ID", org.client_id.is_some()),
        ("ZOHO_CLIENT_SECRET", org.client_secret.is_some()),
        ("ZOHO_REFRESH_TOKEN", org.refresh_token.is_some()),
    ] {
        if !present {
            return Err(invalid(
                key,
                "is not set: give --config.file, or set ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN (or run --demo)",
            ));
        }
    }
    let no_paths = Path::new("");
    let raw = RawConfig {
        interval: None,
        timeout: None,
        per_cadence_metrics: None,
        max_response_bytes: None,
        max_concurrent_collections: None,
        orgs: vec![org],
        expectations: Vec::new(),
        enrollment: None,
        analytics: None,
    };
    from_raw(raw, no_paths)
}

/// Checks every value of `raw`; relative paths are taken from `dir`.
fn from_raw(raw: RawConfig, dir: &Path) -> Result<Config, ConfigError> {
    let interval = min_duration_field(
        "interval",
        raw.interval.as_deref(),
        DEFAULT_INTERVAL,
        Duration::from_secs(1),
    )?;
    let timeout = min_duration_field(
        "timeout",
        raw.timeout.as_deref(),
        DEFAULT_TIMEOUT,
        Duration::from_millis(10),
    )?;
    let max_response_bytes = max_response_bytes(raw.max_response_bytes)?;
    let max_concurrent_collections = max_concurrent_collections(raw.max_concurrent_collections)?;
    let orgs = orgs(raw.orgs, dir)?;
    let expectations = expectations(raw.expectations, &orgs)?;
    Ok(Config {
        interval,
        timeout,
        per_cadence_metrics: raw.per_cadence_metrics.unwrap_or(true),
        max_response_bytes,
        max_concurrent_collections,
        orgs,
        expectations,
        enrollment: enrollment(raw.enrollment)?,
        analytics: analytics(raw.analytics)?,
    })
}

fn max_response_bytes(raw: Option<RawByteSize>) -> Result<u64, ConfigError> {
    let bytes = match raw {
        None => DEFAULT_MAX_RESPONSE_BYTES,
        Some(RawByteSize::Bytes(n)) => n,
        Some(RawByteSize::Text(text)) => parse_byte_size(&text).ok_or_else(|| {
            invalid(
                "max_response_bytes",
                format!("invalid size {text:?}: use bytes or a number with KiB, MiB or GiB"),
            )
        })?,
    };
    if bytes < 1024 {
        return Err(invalid(
            "max_response_bytes",
            format!("{bytes} is below the minimum of 1024"),
        ));
    }
    Ok(bytes)
}

fn max_concurrent_collections(raw: Option<i64>) -> Result<usize, ConfigError> {
    match raw {
        None => Ok(DEFAULT_MAX_CONCURRENT_COLLECTIONS),
        Some(n) if n >= 1 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        Some(n) => Err(invalid(
            "max_concurrent_collections",
            format!("{n} is below the minimum of 1"),
        )),
    }
}

fn orgs(raw: Vec<RawOrg>, dir: &Path) -> Result<Vec<OrgConfig>, ConfigError> {
    if raw.is_empty() {
        return Err(invalid("orgs", "at least one org is required"));
    }
    let mut orgs: Vec<OrgConfig> = Vec::with_capacity(raw.len());
    for (index, raw_org) in raw.into_iter().enumerate() {
        let org = org_from_raw(index, raw_org, dir)?;
        if orgs.iter().any(|o| o.name == org.name) {
            return Err(invalid(
                format!("orgs[{index}].name"),
                format!(
                    "{:?} is used by another org; org names must be unique",
                    org.name
                ),
            ));
        }
        orgs.push(org);
    }
    Ok(orgs)
}

fn expectations(
    raw: Vec<RawExpectation>,
    orgs: &[OrgConfig],
) -> Result<Vec<Expectation>, ConfigError> {
    let mut expectations: Vec<Expectation> = Vec::with_capacity(raw.len());
    for (index, raw_exp) in raw.into_iter().enumerate() {
        let expectation = expectation_from_raw(index, raw_exp, orgs)?;
        if expectations.iter().any(|e| e.name == expectation.name) {
            return Err(invalid(
                format!("expectations[{index}].name"),
                format!(
                    "{:?} is used by another expectation; names must be unique",
                    expectation.name
                ),
            ));
        }
        if let Some(other) = expectations.iter().find(|e| e.conflicts_with(&expectation)) {
            return Err(invalid(
                format!("expectations[{index}]"),
                format!(
                    "{:?} requires active: {} for the same cadences for which {:?} requires active: {}",
                    expectation.name, expectation.active, other.name, other.active
                ),
            ));
        }
        expectations.push(expectation);
    }
    Ok(expectations)
}

fn enrollment(raw: Option<RawEnrollment>) -> Result<EnrollmentConfig, ConfigError> {
    let defaults = EnrollmentConfig::default();
    let Some(raw) = raw else {
        return Ok(defaults);
    };
    Ok(EnrollmentConfig {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        interval: min_duration_field(
            "enrollment.interval",
            raw.interval.as_deref(),
            defaults.interval,
            Duration::from_secs(1),
        )?,
    })
}

fn analytics(raw: Option<RawAnalytics>) -> Result<AnalyticsConfig, ConfigError> {
    let defaults = AnalyticsConfig::default();
    let Some(raw) = raw else {
        return Ok(defaults);
    };
    let second = Duration::from_secs(1);
    Ok(AnalyticsConfig {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        interval: min_duration_field(
            "analytics.interval",
            raw.interval.as_deref(),
            defaults.interval,
            second,
        )?,
        window: min_duration_field(
            "analytics.window",
            raw.window.as_deref(),
            defaults.window,
            second,
        )?,
    })
}

/// A duration in humantime's forms (`30s`, `5m`, `1h 30m`); the error names `field`. The web
/// config reads its durations through this too, so both files take the same forms.
pub(crate) fn parse_duration(field: &str, text: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(text.trim()).map_err(|err| {
        invalid(
            field,
            format!("invalid duration {text:?} ({err}); use e.g. 30s, 5m, 1h"),
        )
    })
}

/// A duration field of at least `minimum`, `default` when absent.
fn min_duration_field(
    field: &str,
    value: Option<&str>,
    default: Duration,
    minimum: Duration,
) -> Result<Duration, ConfigError> {
    let duration = value.map_or(Ok(default), |text| parse_duration(field, text))?;
    if duration < minimum {
        return Err(invalid(
            field,
            format!(
                "{} is below the minimum of {}",
                humantime::format_duration(duration),
                humantime::format_duration(minimum)
            ),
        ));
    }
    Ok(duration)
}

pub(super) fn parse_byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let number: u64 = number.parse().ok()?;
    let multiplier = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "KB" => 1 << 10,
        "MiB" | "M" | "MB" => 1 << 20,
        "GiB" | "G" | "GB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(multiplier)
}

/// `path` as written in a file whose directory is `dir`: an absolute path as it is, a relative
/// one taken from `dir`, as Prometheus and exporter-toolkit resolve the paths in their files.
pub(crate) fn relative_to(dir: &Path, path: impl Into<PathBuf>) -> PathBuf {
    let path = path.into();
    if path.is_absolute() {
        path
    } else {
        dir.join(path)
    }
}

fn org_from_raw(index: usize, raw: RawOrg, dir: &Path) -> Result<OrgConfig, ConfigError> {
    let field = |key: &str| format!("orgs[{index}].{key}");
    let file = |path: Option<PathBuf>| path.map(|path| relative_to(dir, path));
    let credential_files = CredentialFiles {
        client_id: file(raw.client_id_file),
        client_secret: file(raw.client_secret_file),
        refresh_token: file(raw.refresh_token_file),
    };
    let name = raw
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid(field("name"), "is required"))?;
    let data_center = match raw.data_center.as_deref() {
        None => DataCenter::default(),
        Some(value) => DataCenter::parse(value.trim()).ok_or_else(|| {
            let names: Vec<&str> = DataCenter::ALL.iter().map(|dc| dc.name()).collect();
            invalid(
                field("data_center"),
                format!(
                    "unknown data center {value:?}; expected one of {}",
                    names.join(", ")
                ),
            )
        })?,
    };
    let files = &credential_files;
    let client_id = inline_or_file(
        &field("client_id"),
        raw.client_id,
        files.client_id.as_deref(),
    )?;
    let client_secret = inline_or_file(
        &field("client_secret"),
        raw.client_secret,
        files.client_secret.as_deref(),
    )?;
    let refresh_token = inline_or_file(
        &field("refresh_token"),
        raw.refresh_token,
        files.refresh_token.as_deref(),
    )?;
    let api_version = match raw.api_version.as_deref().map(str::trim) {
        None | Some("v8") => ApiVersion::V8,
        Some("v7") => ApiVersion::V7,
        Some(other) => {
            return Err(invalid(
                field("api_version"),
                format!("unsupported API version {other:?}; expected v8 or v7"),
            ))
        }
    };
    let accounts_url = match raw.accounts_url {
        None => data_center.accounts_url(),
        Some(url) => base_url(&field("accounts_url"), &url)?,
    };
    let api_domain = raw
        .api_domain
        .map(|url| base_url(&field("api_domain"), &url))
        .transpose()?;
    Ok(OrgConfig {
        name,
        data_center,
        client_id,
        client_secret: Secret::new(client_secret),
        refresh_token: Secret::new(refresh_token),
        api_version,
        accounts_url,
        api_domain,
        credential_files,
    })
}

/// Reads a credential given inline (`client_secret`) or as a file (`client_secret_file`).
/// The error never shows the value, only the field and the path.
fn inline_or_file(
    field: &str,
    inline: Option<String>,
    file: Option<&Path>,
) -> Result<String, ConfigError> {
    let value = match (inline, file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                field,
                format!("give either {field} or {field}_file, not both"),
            ))
        }
        (None, None) => return Err(invalid(field, format!("is required (or {field}_file)"))),
        (Some(value), None) => value,
        (None, Some(path)) => {
            return read_credential_file(path).map_err(|err| invalid(format!("{field}_file"), err))
        }
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(invalid(field, "is empty"));
    }
    Ok(value)
}

/// Reads a credential file: its text without surrounding white space, which must not be empty.
/// The error names the path, never the content.
pub(crate) fn read_credential_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let value = text.trim();
    if value.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(value.to_owned())
}

/// An `http(s)://host[:port][/path]` base URL, returned without a trailing slash.
fn base_url(field: &str, url: &str) -> Result<String, ConfigError> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && !host.starts_with('/')
                && !host.contains(['?', '#', ' ', '@']) =>
        {
            Ok(trimmed.to_owned())
        }
        _ => Err(invalid(
            field,
            format!("invalid URL {url:?}; expected http(s)://host[:port]"),
        )),
    }
}

fn expectation_from_raw(
    index: usize,
    raw: RawExpectation,
    orgs: &[OrgConfig],
) -> Result<Expectation, ConfigError> {
    let field = |key: &str| format!("expectations[{index}].{key}");
    let name = raw
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid(field("name"), "is required"))?;
    if let Some(org) = &raw.org {
        if !orgs.iter().any(|o| &o.name == org) {
            return Err(invalid(
                field("org"),
                format!("{org:?} is not the name of any org in orgs"),
            ));
        }
    }
    let selector = match (raw.cadence, raw.id) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                field("cadence"),
                "give either cadence (a name glob) or id, not both",
            ))
        }
        (None, None) => {
            return Err(invalid(
                field("cadence"),
                "one of cadence (a name glob) or id is required",
            ))
        }
        (Some(glob), None) => ExpectationSelector::name_glob(&glob)
            .map_err(|err| invalid(field("cadence"), format!("invalid glob {glob:?}: {err}")))?,
        (None, Some(id)) => {
            let id = id.trim().to_owned();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
                return Err(invalid(
                    field("id"),
                    format!("invalid cadence id {id:?}: expected digits"),
                ));
            }
            ExpectationSelector::Id(id)
        }
    };
    let active = raw
        .active
        .ok_or_else(|| invalid(field("active"), "is required (true or false)"))?;
    Ok(Expectation {
        name,
        org: raw.org,
        module: raw.module,
        selector,
        active,
    })
}
