//! Layer 1, `support`: what every other layer may use and that knows nothing of Zoho or metrics.
//!
//! - [`secret`]: `Secret`, a string whose `Debug` and `Display` redact.
//! - [`logging`]: logfmt and JSON log output at the `--log.level` chosen.
//! - [`malloc`]: how glibc's allocator holds and returns memory.
//! - [`file_stamp`]: noticing that a file read earlier has changed.
//! - [`build`]: what the binary was built from, for `--version` and build info.
//! - [`hash`]: the stable hash of an org's name (its shard, its first collection's offset).
//! - [`label_values`]: the bounds on label values whose text Zoho chooses.
//! - here: the clock as Unix seconds, and the message of a deserialization error with the path
//!   of the bad field in front.
//!
//! Uses no other layer.

pub(crate) mod build;
pub(crate) mod file_stamp;
pub(crate) mod hash;
pub(crate) mod label_values;
pub(crate) mod logging;
pub(crate) mod malloc;
pub(crate) mod secret;

/// Now as Unix seconds.
pub(crate) fn unix_now() -> f64 {
    unix_seconds(std::time::SystemTime::now())
}

/// A point in time as Unix seconds (0 before 1970).
pub(crate) fn unix_seconds(time: std::time::SystemTime) -> f64 {
    time.duration_since(std::time::UNIX_EPOCH)
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
