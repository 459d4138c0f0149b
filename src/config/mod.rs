//! Layer 3, `config`: the configuration, from the YAML file (`--config.file`), the environment,
//! or code (the demo), validated into the typed [`Config`] the rest of the exporter uses.
//!
//! - here: [`Config`] and its parts, and the policies that follow from them and that several
//!   layers need: a pass's deadline ([`Config::deadline`]) and which side passes an org runs
//!   ([`Config::enrollment_for`], [`Config::analytics_for`]).
//! - [`raw`]: the file as serde reads it, and the checks that turn it into a `Config`, with
//!   errors that name the field and the value.
//! - [`source`]: where the config comes from, so that a reload reads it again.
//! - [`shard`]: which orgs of the config this process collects (`--shard`, `--total-shards`).
//!
//! Loading is two steps. Serde reads the file into `Raw*` structs that refuse unknown keys (serde
//! names the key and its path); [`raw`] then checks every value. Secrets given as `<key>_file`
//! are read there, so a reload picks up rotated credentials.
//!
//! Uses `domain` and `support`.

pub(crate) mod raw;
pub(crate) mod shard;
pub(crate) mod source;

use crate::domain::datacenter::DataCenter;
use crate::domain::expectations::Expectation;
use crate::support::secret::Secret;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;
pub(crate) const DEFAULT_MAX_CONCURRENT_COLLECTIONS: usize = 8;

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

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) per_cadence_metrics: bool,
    pub(crate) max_response_bytes: u64,
    /// How many collections and side passes, of every org together, may be in flight at once.
    pub(crate) max_concurrent_collections: usize,
    pub(crate) orgs: Vec<OrgConfig>,
    pub(crate) expectations: Vec<Expectation>,
    pub(crate) enrollment: EnrollmentConfig,
    pub(crate) analytics: AnalyticsConfig,
}

/// One Zoho org: its credentials and where its servers are.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrgConfig {
    pub(crate) name: String,
    pub(crate) data_center: DataCenter,
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret,
    pub(crate) refresh_token: Secret,
    pub(crate) api_version: ApiVersion,
    /// Base URL of the accounts server (OAuth), without a trailing slash.
    pub(crate) accounts_url: String,
    /// Explicit API domain; `None` means the token answer's `api_domain`.
    pub(crate) api_domain: Option<String>,
    /// The files the credentials above were read from, which the org's Zoho client watches
    /// while the org runs; the values above are what they held at load.
    pub(crate) credential_files: CredentialFiles,
}

/// Where an org's credentials given as `<key>_file` are (resolved against the config file's
/// directory); `None` for those given inline or from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CredentialFiles {
    pub(crate) client_id: Option<PathBuf>,
    pub(crate) client_secret: Option<PathBuf>,
    pub(crate) refresh_token: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ApiVersion {
    V7,
    #[default]
    V8,
}

impl ApiVersion {
    pub(crate) fn path(self) -> &'static str {
        match self {
            ApiVersion::V7 => "v7",
            ApiVersion::V8 => "v8",
        }
    }

    /// Whether this version has the `records_count` and `analytics` endpoints: v8 only.
    pub(crate) fn has_cadence_activity(self) -> bool {
        self == ApiVersion::V8
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EnrollmentConfig {
    pub(crate) enabled: bool,
    pub(crate) interval: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AnalyticsConfig {
    pub(crate) enabled: bool,
    pub(crate) interval: Duration,
    pub(crate) window: Duration,
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

impl Config {
    /// Reads and validates a config file. Relative paths in it (`*_file`) are taken from the
    /// file's directory, as Prometheus does, not from the current directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let dir = path.parent().unwrap_or_else(|| Path::new(""));
        raw::parse(&text, dir).map_err(|err| match err {
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
        raw::parse(text, Path::new(""))
    }

    /// The config used without `--config.file`: one org named `default` from `ZOHO_CLIENT_ID`,
    /// `ZOHO_CLIENT_SECRET`, `ZOHO_REFRESH_TOKEN` and `ZOHO_DATA_CENTER`.
    pub(crate) fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        raw::from_env(lookup)
    }

    /// How many orgs and expectations it holds, for `--config.check`.
    pub(crate) fn summary(&self) -> String {
        format!(
            "{} org(s), {} expectation(s)",
            self.orgs.len(),
            self.expectations.len()
        )
    }

    /// How long one pass that runs every `interval` may take in all, retries included: the
    /// interval, but at least two request timeouts. The one rule for the collection and the side
    /// passes alike.
    pub(crate) fn deadline(&self, interval: Duration) -> Duration {
        interval.max(self.timeout * 2)
    }

    /// The enrollment settings of `org`, when its enrollment pass runs: enrollment is on and the
    /// org's API version has `records_count`.
    pub(crate) fn enrollment_for(&self, org: &OrgConfig) -> Option<&EnrollmentConfig> {
        (self.enrollment.enabled && org.api_version.has_cadence_activity())
            .then_some(&self.enrollment)
    }

    /// The analytics settings of `org`, when its analytics pass runs: analytics is on, the
    /// per-cadence metrics are (its only metric is per cadence), and the org's API version has
    /// `analytics`.
    pub(crate) fn analytics_for(&self, org: &OrgConfig) -> Option<&AnalyticsConfig> {
        (self.analytics.enabled
            && self.per_cadence_metrics
            && org.api_version.has_cadence_activity())
        .then_some(&self.analytics)
    }
}

#[cfg(test)]
mod tests;
