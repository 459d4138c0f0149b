//! Where the config comes from, so that a reload (SIGHUP, `POST /-/reload`) reads it again from
//! the same place.

use crate::config::Config;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// `--config.file`.
    File(PathBuf),
    /// No `--config.file`: one org from the `ZOHO_*` variables.
    Environment,
    /// A config built in code (the demo): reloading re-applies it as it is.
    Fixed(Box<Config>),
}

impl ConfigSource {
    /// Reads the config; the error is the message to show, naming the field or the file.
    pub(crate) fn load(&self) -> Result<Config, String> {
        match self {
            ConfigSource::File(path) => Config::load(path).map_err(|e| e.to_string()),
            ConfigSource::Environment => {
                Config::from_env(|key| std::env::var(key).ok()).map_err(|e| e.to_string())
            }
            ConfigSource::Fixed(config) => Ok((**config).clone()),
        }
    }
}
