//! The lenient field types of Zoho's answers, and the one decoder of its JSON.
//!
//! Real answers differ from the documentation (see `api-notes.md`): ids come as strings or as
//! bare JSON numbers beyond 2^53, booleans as strings, counts as strings or null. Zoho's OpenAPI
//! specification (zoho/crm-oas, `v8.0/cadences/`) is the source of truth where it speaks:
//! `status` is the lifecycle `active`, `inactive` or `draft` ("draft = not yet published"), and
//! older answers sent a boolean there ([`CadenceStatus`]). These types accept all of those; a
//! field of a truly wrong type is an error that names its path (`cadences[3].id`).

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

/// An id that Zoho sends as a string or as a bare JSON number (custom view ids exceed 2^53, so
/// the number is read as an integer, never through `f64`). Kept as its decimal string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ZohoId(pub(crate) String);

impl<'de> Deserialize<'de> for ZohoId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = ZohoId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an id as a string or an integer")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ZohoId, E> {
                Ok(ZohoId(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ZohoId, E> {
                Ok(ZohoId(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ZohoId, E> {
                // Beyond u64 serde_json falls back to f64, which would silently change the id.
                Err(E::invalid_value(de::Unexpected::Float(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ZohoId, E> {
                let v = v.trim();
                if v.is_empty() {
                    return Err(E::invalid_value(de::Unexpected::Str(v), &self));
                }
                Ok(ZohoId(v.to_owned()))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

/// A boolean that may come as `true`, `"true"`, `"active"`, `"inactive"`, 1 or 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LenientBool(pub(crate) bool);

impl<'de> Deserialize<'de> for LenientBool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BoolVisitor)
    }
}

/// Reads [`LenientBool`]; [`CadenceStatus`] reads its booleans and numbers through it too.
struct BoolVisitor;

impl Visitor<'_> for BoolVisitor {
    type Value = LenientBool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean, 0/1, or one of \"true\", \"false\", \"active\", \"inactive\"")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<LenientBool, E> {
        Ok(LenientBool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<LenientBool, E> {
        match v {
            0 => Ok(LenientBool(false)),
            1 => Ok(LenientBool(true)),
            _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<LenientBool, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<LenientBool, E> {
        match v.trim().to_ascii_lowercase().as_str() {
            "true" | "active" | "enabled" | "yes" => Ok(LenientBool(true)),
            "false" | "inactive" | "disabled" | "no" => Ok(LenientBool(false)),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }
}

/// A cadence's lifecycle as Zoho sends it in `status`: `active` (published and enrolling
/// records), `inactive` (published but deactivated), `draft` (not yet published), or a value the
/// specification does not list yet, kept as sent (trimmed) so that a new lifecycle shows up
/// instead of failing. Older answers sent the boolean `active` here (`true`, `"false"`, 1, 0):
/// read as active/inactive, as [`LenientBool`] reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CadenceStatus {
    Active,
    Inactive,
    Draft,
    Other(String),
}

impl From<LenientBool> for CadenceStatus {
    fn from(active: LenientBool) -> CadenceStatus {
        if active.0 {
            CadenceStatus::Active
        } else {
            CadenceStatus::Inactive
        }
    }
}

impl<'de> Deserialize<'de> for CadenceStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StatusVisitor;
        impl Visitor<'_> for StatusVisitor {
            type Value = CadenceStatus;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a status such as \"active\", \"inactive\" or \"draft\", or a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<CadenceStatus, E> {
                BoolVisitor.visit_bool(v).map(CadenceStatus::from)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CadenceStatus, E> {
                BoolVisitor.visit_u64(v).map(CadenceStatus::from)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CadenceStatus, E> {
                BoolVisitor.visit_i64(v).map(CadenceStatus::from)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CadenceStatus, E> {
                let trimmed = v.trim();
                let known = |name: &str| trimmed.eq_ignore_ascii_case(name);
                Ok(if known("active") || known("true") {
                    CadenceStatus::Active
                } else if known("inactive") || known("false") {
                    CadenceStatus::Inactive
                } else if known("draft") {
                    CadenceStatus::Draft
                } else if trimmed.is_empty() {
                    return Err(E::invalid_value(de::Unexpected::Str(v), &self));
                } else {
                    CadenceStatus::Other(trimmed.to_owned())
                })
            }
        }
        deserializer.deserialize_any(StatusVisitor)
    }
}

/// A non-negative count that may come as a number or a numeric string; null reads as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LenientCount(pub(crate) u64);

impl<'de> Deserialize<'de> for LenientCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl Visitor<'_> for CountVisitor {
            type Value = LenientCount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-negative integer")
            }
            fn visit_unit<E: de::Error>(self) -> Result<LenientCount, E> {
                Ok(LenientCount(0))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LenientCount, E> {
                Ok(LenientCount(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LenientCount, E> {
                u64::try_from(v)
                    .map(LenientCount)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<LenientCount, E> {
                if v >= 0.0 && v.fract() == 0.0 && v < u64::MAX as f64 {
                    Ok(LenientCount(v as u64))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LenientCount, E> {
                v.trim()
                    .parse()
                    .map(LenientCount)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_any(CountVisitor)
    }
}

pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Decodes any of Zoho's JSON answers; the error names the JSON path of the bad field
/// (`cadences[3].id: invalid type ...`).
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    // Tracking the path costs about a twentieth of decoding and matters only for the message,
    // so a body is decoded again with tracking only when it fails.
    serde_json::from_slice(body).or_else(|_| {
        let deserializer = &mut serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(deserializer).map_err(crate::support::path_error_message)
    })
}
