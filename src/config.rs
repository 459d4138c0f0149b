//! The configuration: the YAML file (`--config.file`), or one org from the environment.
//!
//! Loading is two steps. Serde reads the file into `Raw*` structs that refuse unknown keys (serde
//! names the key and its path); [`Config::from_raw`] then checks every value and turns it into the
//! typed [`Config`] the rest of the exporter uses, with errors that name the field and the value.
//! Secrets given as `<key>_file` are read here, so a reload picks up rotated credentials.

use crate::expectations::{Expectation, ExpectationSelector};
use crate::secret::Secret;
use crate::zoho::datacenter::DataCenter;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub interval: Duration,
    pub timeout: Duration,
    pub per_cadence_metrics: bool,
    pub max_response_bytes: u64,
    pub orgs: Vec<OrgConfig>,
    pub expectations: Vec<Expectation>,
    pub enrollment: EnrollmentConfig,
    pub analytics: AnalyticsConfig,
}

/// One Zoho org: its credentials and where its servers are.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgConfig {
    pub name: String,
    pub data_center: DataCenter,
    pub client_id: String,
    pub client_secret: Secret,
    pub refresh_token: Secret,
    pub api_version: ApiVersion,
    /// Base URL of the accounts server (OAuth), without a trailing slash.
    pub accounts_url: String,
    /// Explicit API domain; `None` means the token answer's `api_domain`.
    pub api_domain: Option<String>,
    /// The files the credentials above were read from, watched while the org runs
    /// ([`crate::credentials`]); the values above are what they held at load.
    pub credential_files: CredentialFiles,
}

/// Where an org's credentials given as `<key>_file` are (resolved against the config file's
/// directory); `None` for those given inline or from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CredentialFiles {
    pub client_id: Option<PathBuf>,
    pub client_secret: Option<PathBuf>,
    pub refresh_token: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiVersion {
    V7,
    #[default]
    V8,
}

impl ApiVersion {
    pub fn path(self) -> &'static str {
        match self {
            ApiVersion::V7 => "v7",
            ApiVersion::V8 => "v8",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnrollmentConfig {
    pub enabled: bool,
    pub interval: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticsConfig {
    pub enabled: bool,
    pub interval: Duration,
    pub window: Duration,
}

impl Default for EnrollmentConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(15 * 60),
        }
    }
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            interval: Duration::from_secs(3_600),
            window: Duration::from_secs(86_400),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    interval: Option<String>,
    timeout: Option<String>,
    per_cadence_metrics: Option<bool>,
    max_response_bytes: Option<RawByteSize>,
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

impl Config {
    /// Reads and validates a config file. Relative paths in it (`*_file`) are taken from the
    /// file's directory, as Prometheus does, not from the current directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let dir = path.parent().unwrap_or_else(|| Path::new(""));
        Self::parse_in(&text, dir).map_err(|err| match err {
            ConfigError::Syntax { message, .. } => ConfigError::Syntax {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates YAML text; relative paths in it are taken from the current
    /// directory.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        Self::parse_in(text, Path::new(""))
    }

    /// Parses and validates YAML text whose relative paths are taken from `dir`.
    fn parse_in(text: &str, dir: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = serde_yaml_ng::from_str(text).map_err(|err| ConfigError::Syntax {
            path: PathBuf::from("<config>"),
            message: err.to_string(),
        })?;
        Self::from_raw(raw, dir)
    }

    /// The config used without `--config.file`: one org named `default` from `ZOHO_CLIENT_ID`,
    /// `ZOHO_CLIENT_SECRET`, `ZOHO_REFRESH_TOKEN` and `ZOHO_DATA_CENTER`.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
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
        Self::from_raw(
            RawConfig {
                interval: None,
                timeout: None,
                per_cadence_metrics: None,
                max_response_bytes: None,
                orgs: vec![org],
                expectations: Vec::new(),
                enrollment: None,
                analytics: None,
            },
            no_paths,
        )
    }

    /// Checks every value of `raw`; relative paths are taken from `dir`.
    fn from_raw(raw: RawConfig, dir: &Path) -> Result<Config, ConfigError> {
        let interval = duration_field("interval", raw.interval.as_deref(), DEFAULT_INTERVAL)?;
        if interval < Duration::from_secs(1) {
            return Err(invalid(
                "interval",
                format!(
                    "{} is below the minimum of 1s",
                    humantime::format_duration(interval)
                ),
            ));
        }
        let timeout = duration_field("timeout", raw.timeout.as_deref(), DEFAULT_TIMEOUT)?;
        if timeout < Duration::from_millis(10) {
            return Err(invalid(
                "timeout",
                format!(
                    "{} is below the minimum of 10ms",
                    humantime::format_duration(timeout)
                ),
            ));
        }
        let max_response_bytes = match raw.max_response_bytes {
            None => DEFAULT_MAX_RESPONSE_BYTES,
            Some(RawByteSize::Bytes(n)) => n,
            Some(RawByteSize::Text(text)) => parse_byte_size(&text).ok_or_else(|| {
                invalid(
                    "max_response_bytes",
                    format!("invalid size {text:?}: use bytes or a number with KiB, MiB or GiB"),
                )
            })?,
        };
        if max_response_bytes < 1024 {
            return Err(invalid(
                "max_response_bytes",
                format!("{max_response_bytes} is below the minimum of 1024"),
            ));
        }

        if raw.orgs.is_empty() {
            return Err(invalid("orgs", "at least one org is required"));
        }
        let mut orgs: Vec<OrgConfig> = Vec::with_capacity(raw.orgs.len());
        for (index, raw_org) in raw.orgs.into_iter().enumerate() {
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

        let mut expectations: Vec<Expectation> = Vec::with_capacity(raw.expectations.len());
        for (index, raw_exp) in raw.expectations.into_iter().enumerate() {
            let expectation = expectation_from_raw(index, raw_exp, &orgs)?;
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

        let enrollment_defaults = EnrollmentConfig::default();
        let enrollment = match raw.enrollment {
            None => enrollment_defaults,
            Some(raw) => EnrollmentConfig {
                enabled: raw.enabled.unwrap_or(enrollment_defaults.enabled),
                interval: min_duration_field(
                    "enrollment.interval",
                    raw.interval.as_deref(),
                    enrollment_defaults.interval,
                )?,
            },
        };
        let analytics_defaults = AnalyticsConfig::default();
        let analytics = match raw.analytics {
            None => analytics_defaults,
            Some(raw) => AnalyticsConfig {
                enabled: raw.enabled.unwrap_or(analytics_defaults.enabled),
                interval: min_duration_field(
                    "analytics.interval",
                    raw.interval.as_deref(),
                    analytics_defaults.interval,
                )?,
                window: min_duration_field(
                    "analytics.window",
                    raw.window.as_deref(),
                    analytics_defaults.window,
                )?,
            },
        };

        Ok(Config {
            interval,
            timeout,
            per_cadence_metrics: raw.per_cadence_metrics.unwrap_or(true),
            max_response_bytes,
            orgs,
            expectations,
            enrollment,
            analytics,
        })
    }

    /// How long one collection of one org may take in all, retries included.
    pub fn collection_deadline(&self) -> Duration {
        self.interval.max(self.timeout * 2)
    }
}

fn duration_field(
    field: &str,
    value: Option<&str>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(default),
        Some(text) => humantime::parse_duration(text.trim()).map_err(|err| {
            invalid(
                field,
                format!("invalid duration {text:?} ({err}); use e.g. 30s, 5m, 1h"),
            )
        }),
    }
}

fn min_duration_field(
    field: &str,
    value: Option<&str>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let duration = duration_field(field, value, default)?;
    if duration < Duration::from_secs(1) {
        return Err(invalid(
            field,
            format!(
                "{} is below the minimum of 1s",
                humantime::format_duration(duration)
            ),
        ));
    }
    Ok(duration)
}

fn parse_byte_size(text: &str) -> Option<u64> {
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
    let client_id = inline_or_file(
        &field("client_id"),
        raw.client_id,
        credential_files.client_id.as_deref(),
    )?;
    let client_secret = inline_or_file(
        &field("client_secret"),
        raw.client_secret,
        credential_files.client_secret.as_deref(),
    )?;
    let refresh_token = inline_or_file(
        &field("refresh_token"),
        raw.refresh_token,
        credential_files.refresh_token.as_deref(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::parse(text).unwrap_err().to_string()
    }

    const ORG: &str = "orgs:\n  - name: acme\n    client_id: id\n    client_secret: s3cr3t\n    refresh_token: r3fr3sh\n";

    #[test]
    fn defaults() {
        let config = Config::parse(ORG).unwrap();
        assert_eq!(config.interval, DEFAULT_INTERVAL);
        assert_eq!(config.timeout, DEFAULT_TIMEOUT);
        assert!(config.per_cadence_metrics);
        let org = &config.orgs[0];
        assert_eq!(org.data_center, DataCenter::Us);
        assert_eq!(org.api_version, ApiVersion::V8);
        assert_eq!(org.accounts_url, "https://accounts.zoho.com");
        assert_eq!(org.api_domain, None);
        assert!(config.enrollment.enabled);
        assert!(!config.analytics.enabled);
    }

    #[test]
    fn unknown_keys_are_named() {
        assert!(err(&format!("intervall: 5m\n{ORG}")).contains("unknown field `intervall`"));
        let e = err(&format!("{ORG}    colour: blue\n"));
        assert!(
            e.contains("unknown field `colour`") && e.contains("orgs[0]"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_name_field_and_value() {
        let e = err(&format!("interval: 5 minutes please\n{ORG}"));
        assert!(
            e.starts_with("interval: invalid duration \"5 minutes please\""),
            "{e}"
        );
        let e = err(&format!("interval: 500ms\n{ORG}"));
        assert!(e.starts_with("interval: 500ms is below"), "{e}");
        let e = err(&format!("{ORG}    data_center: mars\n"));
        assert!(
            e.starts_with("orgs[0].data_center: unknown data center \"mars\""),
            "{e}"
        );
        let e = err(&format!("{ORG}    api_version: v6\n"));
        assert!(
            e.starts_with("orgs[0].api_version: unsupported API version \"v6\""),
            "{e}"
        );
        let e = err(&format!("{ORG}    accounts_url: ftp://x\n"));
        assert!(
            e.starts_with("orgs[0].accounts_url: invalid URL \"ftp://x\""),
            "{e}"
        );
        let e = err(&format!(
            "{ORG}  - name: acme\n    client_id: a\n    client_secret: b\n    refresh_token: c\n"
        ));
        assert!(e.starts_with("orgs[1].name: \"acme\" is used"), "{e}");
        let e = err("orgs: []\n");
        assert!(e.starts_with("orgs: at least one org"), "{e}");
    }

    #[test]
    fn secrets_never_in_errors() {
        let e = err("orgs:\n  - name: a\n    client_id: id\n    client_secret: s3cr3t\n    client_secret_file: /x\n    refresh_token: r3fr3sh\n");
        assert!(e.contains("not both") && !e.contains("s3cr3t"), "{e}");
        let config = Config::parse(ORG).unwrap();
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("s3cr3t") && !debug.contains("r3fr3sh"),
            "{debug}"
        );
    }

    #[test]
    fn secrets_from_files() {
        let dir = std::env::temp_dir().join(format!("zce-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("secret"), "from-file\n").unwrap();
        let text = format!(
            "orgs:\n  - name: a\n    client_id: id\n    client_secret_file: {}\n    refresh_token: t\n",
            dir.join("secret").display()
        );
        let config = Config::parse(&text).unwrap();
        assert_eq!(config.orgs[0].client_secret.expose(), "from-file");
        let missing = text.replace("secret\n", "missing\n");
        let e = err(&missing);
        assert!(
            e.starts_with("orgs[0].client_secret_file: cannot read"),
            "{e}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn relative_secret_files_are_taken_from_the_config_files_directory() {
        let dir = std::env::temp_dir().join(format!("zce-config-rel-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("secrets")).unwrap();
        std::fs::write(dir.join("secrets/secret"), "beside-the-config\n").unwrap();
        let path = dir.join("config.yaml");
        std::fs::write(
            &path,
            "orgs:\n  - name: a\n    client_id: id\n    client_secret_file: secrets/secret\n    refresh_token: t\n",
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.orgs[0].client_secret.expose(), "beside-the-config");
        assert_eq!(relative_to(&dir, "/abs/x"), PathBuf::from("/abs/x"));
        assert_eq!(relative_to(Path::new(""), "x"), PathBuf::from("x"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn environment_org() {
        let env = |key: &str| match key {
            "ZOHO_CLIENT_ID" => Some("1000.X".to_owned()),
            "ZOHO_CLIENT_SECRET" => Some("s".to_owned()),
            "ZOHO_REFRESH_TOKEN" => Some("r".to_owned()),
            "ZOHO_DATA_CENTER" => Some("eu".to_owned()),
            _ => None,
        };
        let config = Config::from_env(env).unwrap();
        assert_eq!(config.orgs[0].name, "default");
        assert_eq!(config.orgs[0].accounts_url, "https://accounts.zoho.eu");
        let e = Config::from_env(|_| None).unwrap_err().to_string();
        assert!(e.starts_with("ZOHO_CLIENT_ID: is not set"), "{e}");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("16MiB"), Some(16 << 20));
        assert_eq!(parse_byte_size("2048"), Some(2048));
        assert_eq!(parse_byte_size("1 GiB"), Some(1 << 30));
        assert_eq!(parse_byte_size("lots"), None);
        let config = Config::parse(&format!("max_response_bytes: 1MiB\n{ORG}")).unwrap();
        assert_eq!(config.max_response_bytes, 1 << 20);
    }
}
