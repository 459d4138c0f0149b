//! The shapes of Zoho's answers, decoded as leniently as Zoho is inconsistent.
//!
//! Real answers differ from the documentation (see `api-notes.md`): ids come as strings or as bare
//! JSON numbers beyond 2^53, objects and even `modified_time` can be null, offsets come as `-0700`
//! as well as `-07:00`, and new follow-up channels appear in `summary`. Zoho's OpenAPI
//! specification (zoho/crm-oas, `v8.0/cadences/`) is the source of truth where it speaks: `status`
//! is the lifecycle `active`, `inactive` or `draft` ("draft = not yet published"), older answers
//! sent a boolean there. Everything here accepts all of those and ignores unknown fields; a field
//! of a truly wrong type is an error that names its path (`cadences[3].id`).
//!
//! One odd cadence never costs a page: [`decode_cadences_page`] reads each cadence on its own,
//! leaves out a field it cannot read and skips a cadence without a usable id, and reports both
//! ([`InvalidCadence`]). Only a page that is not JSON, or whose `cadences` is not a list, fails.

use chrono::{DateTime, NaiveDate};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// One page of `GET /settings/automation/cadences`.
#[derive(Debug, Deserialize)]
pub struct CadencesPage {
    #[serde(default, deserialize_with = "null_as_default")]
    pub cadences: Vec<RawCadence>,
    #[serde(default)]
    pub info: Option<PageInfo>,
    /// The cadences of the page that could not be read whole, in page order: those in
    /// `cadences` without some field, and those skipped.
    #[serde(skip)]
    pub invalid: Vec<InvalidCadence>,
}

/// A cadence of a page that the exporter could not read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidCadence {
    /// Its position on the page.
    pub index: usize,
    /// Its id, when it is in the page's `cadences` without the fields below; `None` when it had
    /// no usable id and was skipped.
    pub id: Option<String>,
    pub fields: Vec<UnreadField>,
}

/// A part of a cadence the exporter could not read and left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadField {
    /// Its path within the cadence (`status`, `summary.email_follow_up_count`, `id`); empty when
    /// the cadence itself is not a JSON object.
    pub path: String,
    /// The JSON type found there (`string`, `object`, ...; `absent` for a missing `id`). The
    /// value itself is never kept: it is Zoho's data, and this ends up in logs.
    pub found: &'static str,
}

#[derive(Debug, Deserialize, Default)]
pub struct PageInfo {
    #[serde(default)]
    pub more_records: Option<LenientBool>,
}

/// A cadence as Zoho sends it. Only `id` is required.
#[derive(Debug, Deserialize)]
pub struct RawCadence {
    pub id: ZohoId,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub module: Option<NamedRef>,
    #[serde(default)]
    pub active: Option<LenientBool>,
    #[serde(default)]
    pub status: Option<CadenceStatus>,
    #[serde(default)]
    pub published: Option<LenientBool>,
    #[serde(default, rename = "type")]
    pub enrollment: Option<String>,
    #[serde(default)]
    pub summary: Option<BTreeMap<String, LenientCount>>,
    #[serde(default)]
    pub created_time: Option<String>,
    #[serde(default)]
    pub modified_time: Option<String>,
    #[serde(default)]
    pub created_by: Option<NamedRef>,
    #[serde(default)]
    pub modified_by: Option<NamedRef>,
    #[serde(default)]
    pub custom_view: Option<NamedRef>,
    #[serde(default)]
    pub execution_details: Option<ExecutionDetails>,
}

/// `{ "name" | "api_name": ..., "id": ... }`: modules, users and custom views.
#[derive(Debug, Deserialize, Default)]
pub struct NamedRef {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub api_name: Option<String>,
    #[serde(default)]
    pub id: Option<ZohoId>,
}

impl NamedRef {
    pub fn label(&self) -> Option<&str> {
        self.api_name.as_deref().or(self.name.as_deref())
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct ExecutionDetails {
    #[serde(default)]
    pub end_date: Option<String>,
    #[serde(default)]
    pub execute_every: Option<ExecuteEvery>,
}

/// `execution_details.execute_every`: the specification's `period` is `immediately`, `hours`,
/// `days` or `weeks`, and `unit` (1 to 99) is optional.
#[derive(Debug, Deserialize, Default)]
pub struct ExecuteEvery {
    #[serde(default)]
    pub unit: Option<LenientCount>,
    #[serde(default)]
    pub period: Option<String>,
}

impl ExecuteEvery {
    /// The execution period in seconds: 0 for `immediately` (each enrollment runs at once), `unit`
    /// periods otherwise, an absent `unit` read as 1 (the specification gives no default; one
    /// period is what a lone period name means). `None` without a period or for an unknown period
    /// name. The singular names, minutes and months are not in the specification but were seen in
    /// older answers, so they stay.
    pub fn seconds(&self) -> Option<f64> {
        let unit = self.unit.map_or(1, |unit| unit.0) as f64;
        let period = match self.period.as_deref()?.trim().to_ascii_lowercase().as_str() {
            "immediately" => return Some(0.0),
            "minute" | "minutes" => 60.0,
            "hour" | "hours" => 3_600.0,
            "day" | "days" => 86_400.0,
            "week" | "weeks" => 604_800.0,
            "month" | "months" => 2_592_000.0,
            _ => return None,
        };
        Some(unit * period)
    }
}

/// An id that Zoho sends as a string or as a bare JSON number (custom view ids exceed 2^53, so
/// the number is read as an integer, never through `f64`). Kept as its decimal string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZohoId(pub String);

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

/// A cadence's lifecycle, Zoho's `status`: `active` (published and enrolling records), `inactive`
/// (published but deactivated), `draft` (not yet published), or a value the specification does
/// not list yet, kept as sent (trimmed) so that a new lifecycle shows up instead of failing.
/// Older answers sent the boolean `active` here (`true`, `"false"`, 1, 0): read as active/inactive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CadenceStatus {
    Active,
    Inactive,
    Draft,
    Other(String),
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
                Ok(if v {
                    CadenceStatus::Active
                } else {
                    CadenceStatus::Inactive
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CadenceStatus, E> {
                match v {
                    0 | 1 => self.visit_bool(v == 1),
                    _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CadenceStatus, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
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

/// A boolean that may come as `true`, `"true"`, `"active"`, `"inactive"`, 1 or 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LenientBool(pub bool);

impl<'de> Deserialize<'de> for LenientBool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BoolVisitor;
        impl Visitor<'_> for BoolVisitor {
            type Value = LenientBool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a boolean, 0/1, or one of \"true\", \"false\", \"active\", \"inactive\"",
                )
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
        deserializer.deserialize_any(BoolVisitor)
    }
}

/// A non-negative count that may come as a number or a numeric string; null reads as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LenientCount(pub u64);

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

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Decodes one cadences page. A cadence with a field the exporter cannot read (a string where a
/// count belongs, an object where a bool belongs, an unknown period name is fine) is kept without
/// that field; a cadence without a usable `id` (missing, neither a string nor an integer) is
/// skipped; both are listed in [`CadencesPage::invalid`]. Fails only when the page is not JSON, or
/// its `cadences` is not a list or its `info` cannot be read (paging depends on it); the error
/// names the JSON path of the bad field.
pub fn decode_cadences_page(body: &[u8]) -> Result<CadencesPage, String> {
    // Almost every page decodes whole at once, as fast as serde can; only a page holding an odd
    // cadence pays for reading it cadence by cadence.
    serde_json::from_slice(body).or_else(|_| decode_cadence_by_cadence(body))
}

/// A page whose cadences are left as JSON, to be read one by one.
#[derive(Deserialize)]
struct LoosePage {
    #[serde(default, deserialize_with = "null_as_default")]
    cadences: Vec<Value>,
    #[serde(default)]
    info: Option<PageInfo>,
}

fn decode_cadence_by_cadence(body: &[u8]) -> Result<CadencesPage, String> {
    let page: LoosePage = decode_json(body)?;
    let mut cadences = Vec::with_capacity(page.cadences.len());
    let mut invalid = Vec::new();
    for (index, value) in page.cadences.into_iter().enumerate() {
        let (cadence, fields) = decode_cadence(value);
        if !fields.is_empty() {
            invalid.push(InvalidCadence {
                index,
                id: cadence.as_ref().map(|c| c.id.0.clone()),
                fields,
            });
        }
        cadences.extend(cadence);
    }
    Ok(CadencesPage {
        cadences,
        info: page.info,
        invalid,
    })
}

/// Fields of one cadence left out one at a time before a field that still cannot be read is
/// left out whole from the top (`summary` rather than its next bad count): every attempt decodes
/// the cadence again, and a cadence has only a dozen top-level fields the exporter reads.
const MAX_UNREAD_LEAVES: usize = 16;

/// Reads one cadence, leaving out each field that cannot be read; `None` when its `id` cannot.
fn decode_cadence(mut value: Value) -> (Option<RawCadence>, Vec<UnreadField>) {
    let mut unread = Vec::new();
    if !value.is_object() {
        unread.push(UnreadField {
            path: String::new(),
            found: json_type(&value),
        });
        return (None, unread);
    }
    loop {
        let err = match serde_path_to_error::deserialize::<_, RawCadence>(&value) {
            Ok(cadence) => return (Some(cadence), unread),
            Err(err) => err,
        };
        let mut keys = Vec::new();
        for segment in err.path().iter() {
            match segment {
                serde_path_to_error::Segment::Map { key } => keys.push(key.as_str()),
                // Nothing the exporter reads is a list (serde reads a list as an object's fields
                // in order): the field holding it is left out whole.
                _ => break,
            }
        }
        // At the root the error is the missing `id` (the one required field).
        if keys.is_empty() || keys[0] == "id" {
            unread.push(UnreadField {
                path: "id".to_owned(),
                found: value.get("id").map_or("absent", json_type),
            });
            return (None, unread);
        }
        if unread.len() >= MAX_UNREAD_LEAVES {
            keys.truncate(1);
        }
        let path = keys.join(".");
        let Some(removed) = remove_path(&mut value, &keys) else {
            // Not where the error says: give the cadence up rather than loop.
            unread.push(UnreadField {
                path,
                found: "absent",
            });
            return (None, unread);
        };
        unread.push(UnreadField {
            path,
            found: json_type(&removed),
        });
    }
}

/// Removes the field at `keys` (object keys from the root), returning it.
fn remove_path(value: &mut Value, keys: &[&str]) -> Option<Value> {
    let (last, parents) = keys.split_last()?;
    let mut object = value;
    for key in parents {
        object = object.get_mut(*key)?;
    }
    object.as_object_mut()?.remove(*last)
}

/// The JSON type of a value, for messages.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Decodes any of Zoho's JSON answers; the error names the JSON path of the bad field
/// (`cadences[3].id: invalid type ...`).
pub fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    // Tracking the path costs about a twentieth of decoding and matters only for the message,
    // so a body is decoded again with tracking only when it fails.
    serde_json::from_slice(body).or_else(|_| {
        let deserializer = &mut serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(deserializer).map_err(crate::path_error_message)
    })
}

/// Parses Zoho's times to Unix seconds: RFC 3339 (`-07:00`, `Z`), Zoho's `-0700` form, with or
/// without fractional seconds, and a bare date (read as midnight UTC). Empty means unset.
pub fn parse_zoho_time(value: &str) -> Option<f64> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    parse_usual_zoho_time(value).or_else(|| parse_any_zoho_time(value))
}

/// Every form [`parse_zoho_time`] takes, through chrono's parsers.
fn parse_any_zoho_time(value: &str) -> Option<f64> {
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Some(unix_seconds(
            time.timestamp(),
            time.timestamp_subsec_millis(),
        ));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(time) = DateTime::parse_from_str(value, format) {
            return Some(unix_seconds(
                time.timestamp(),
                time.timestamp_subsec_millis(),
            ));
        }
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp() as f64)
}

/// The forms every cadence carries (`2024-07-17T20:38:22-0700`, `-07:00`, `Z`, with or without
/// fractional seconds), parsed without chrono's format strings, which took a fourteenth of
/// decoding a page. Anything else, leap seconds included, is left to [`parse_zoho_time`]'s
/// general parsers.
fn parse_usual_zoho_time(value: &str) -> Option<f64> {
    let b = value.as_bytes();
    let number = |from: usize, len: usize| -> Option<u32> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !separators.iter().all(|&(at, c)| b.get(at) == Some(&c)) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(number(0, 4)? as i32, number(5, 2)?, number(8, 2)?)?;
    let time = date.and_hms_opt(number(11, 2)?, number(14, 2)?, number(17, 2)?)?;
    let mut at = 19;
    let mut millis = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let fraction = &b[start..at];
        if fraction.is_empty() {
            return None;
        }
        for (place, digit) in [100, 10, 1].into_iter().zip(fraction) {
            millis += place * u32::from(digit - b'0');
        }
    }
    let offset_seconds = match (b.get(at), b.len() - at) {
        (Some(b'Z'), 1) => 0,
        (Some(sign @ (b'+' | b'-')), len) => {
            let (hours, minutes) = match len {
                5 => (number(at + 1, 2)?, number(at + 3, 2)?),
                6 if b[at + 3] == b':' => (number(at + 1, 2)?, number(at + 4, 2)?),
                _ => return None,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i64::from(hours * 3_600 + minutes * 60);
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    Some(unix_seconds(
        time.and_utc().timestamp() - offset_seconds,
        millis,
    ))
}

fn unix_seconds(seconds: i64, millis: u32) -> f64 {
    seconds as f64 + f64::from(millis) / 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_and_without_colon_in_offset() {
        let expected = 1_721_273_902.0; // 2024-07-17T20:38:22-07:00
        assert_eq!(parse_zoho_time("2024-07-17T20:38:22-0700"), Some(expected));
        assert_eq!(parse_zoho_time("2024-07-17T20:38:22-07:00"), Some(expected));
        assert_eq!(parse_zoho_time("2024-07-18T03:38:22Z"), Some(expected));
        assert_eq!(parse_zoho_time("2024-07-18T09:08:22+0530"), Some(expected));
        assert_eq!(
            parse_zoho_time("2024-07-17T20:38:22.500-0700"),
            Some(expected + 0.5)
        );
        assert_eq!(parse_zoho_time("2024-07-18"), Some(1_721_260_800.0));
        assert_eq!(parse_zoho_time(""), None);
        assert_eq!(parse_zoho_time("yesterday"), None);
    }

    #[test]
    fn the_fast_path_agrees_with_chrono_or_leaves_the_value_to_it() {
        let values = [
            "2024-07-17T20:38:22-0700",
            "2024-07-17T20:38:22+05:30",
            "2024-07-17T20:38:22Z",
            "2024-07-17T20:38:22.5Z",
            "2024-07-17T20:38:22.123456-0700",
            "2024-02-29T00:00:00+0000",
            "1969-12-31T23:59:59Z",
            "2024-02-30T00:00:00Z",
            "2024-07-17T24:00:00Z",
            "2024-07-17T20:38:22+2400",
            "2024-07-17T20:38:22-07",
            "2024-07-17T20:38:22.-0700",
            "2024-07-17t20:38:22z",
            "2016-12-31T23:59:60Z",
            "2024-07-17T20:38:22",
            "2024-07-17 20:38:22Z",
            "+2024-07-17T20:38:22Z",
            "2024-07-17T20:38:22Z ",
        ];
        for value in values {
            let general = parse_any_zoho_time(value);
            if let Some(fast) = parse_usual_zoho_time(value) {
                assert_eq!(Some(fast), general, "{value}");
            }
            assert_eq!(
                parse_zoho_time(value),
                parse_any_zoho_time(value.trim()),
                "{value}"
            );
        }
        assert!(parse_usual_zoho_time("2024-07-17T20:38:22-0700").is_some());
        assert!(parse_usual_zoho_time("2024-07-17T20:38:22.500+05:30").is_some());
    }

    #[test]
    fn ids_beyond_two_to_the_53_keep_every_digit() {
        let page = decode_cadences_page(
            br#"{"cadences":[{"id":3652397000017949001,"custom_view":{"id":3652397000000087529}}]}"#,
        )
        .unwrap();
        assert_eq!(page.cadences[0].id.0, "3652397000017949001");
        let view = page.cadences[0].custom_view.as_ref().unwrap();
        assert_eq!(view.id.as_ref().unwrap().0, "3652397000000087529");
    }

    #[test]
    fn only_a_page_that_cannot_be_read_fails_and_its_error_names_the_path() {
        let err = decode_cadences_page(br#"{"cadences":{"id":"1"}}"#).unwrap_err();
        assert!(err.starts_with("cadences: invalid type: map"), "{err}");
        let err = decode_cadences_page(br#"{"cadences":[],"info":{"more_records":"maybe"}}"#)
            .unwrap_err();
        assert!(err.starts_with("info.more_records:"), "{err}");
        assert!(decode_cadences_page(br#"{"cadences":[{"id":"1"}"#).is_err());
        assert!(decode_cadences_page(b"<html>").is_err());
    }

    #[test]
    fn one_odd_cadence_never_costs_the_page() {
        let page = decode_cadences_page(
            br#"{"cadences":[
            {"id":"1","name":"ok","status":"draft"},
            {"id":"2","name":"odd","active":{"yes":true},"status":"","module":"Leads",
             "summary":{"email_follow_up_count":"many","call_follow_up_count":2},
             "execution_details":{"execute_every":{"unit":"five","period":"days"}}},
            {"name":"no id"},
            {"id":{"x":1}},
            {"id":1.5},
            {"id":"   "},
            42,
            null,
            {"id":3}],
            "info":{"more_records":false}}"#,
        )
        .expect("the page decodes");
        let ids: Vec<&str> = page.cadences.iter().map(|c| c.id.0.as_str()).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        let odd = &page.cadences[1];
        assert_eq!(odd.name.as_deref(), Some("odd"), "readable fields are kept");
        assert_eq!(odd.active, None);
        assert_eq!(odd.status, None);
        assert!(odd.module.is_none());
        let summary = odd.summary.as_ref().unwrap();
        assert_eq!(summary.len(), 1, "only the bad count is left out");
        assert_eq!(summary["call_follow_up_count"], LenientCount(2));
        let every = odd
            .execution_details
            .as_ref()
            .unwrap()
            .execute_every
            .as_ref()
            .unwrap();
        assert!(every.unit.is_none());
        assert_eq!(every.period.as_deref(), Some("days"));

        let field = field_of;
        assert_eq!(
            (page.invalid[0].index, page.invalid[0].id.as_deref()),
            (1, Some("2"))
        );
        let mut unread = page.invalid[0].fields.clone();
        unread.sort_by(|a, b| a.path.cmp(&b.path));
        assert_eq!(
            unread,
            [
                field("active", "object"),
                field("execution_details.execute_every.unit", "string"),
                field("module", "string"),
                field("status", "string"),
                field("summary.email_follow_up_count", "string"),
            ]
        );
        let skipped: Vec<(usize, Option<&str>, &UnreadField)> = page.invalid[1..]
            .iter()
            .map(|c| (c.index, c.id.as_deref(), &c.fields[0]))
            .collect();
        assert_eq!(
            skipped,
            [
                (2, None, &field("id", "absent")),
                (3, None, &field("id", "object")),
                (4, None, &field("id", "number")),
                (5, None, &field("id", "string")),
                (6, None, &field("", "number")),
                (7, None, &field("", "null")),
            ]
        );
        assert_eq!(page.info.unwrap().more_records, Some(LenientBool(false)));
    }

    #[test]
    fn a_cadence_with_countless_bad_fields_is_read_in_few_attempts() {
        let counts: serde_json::Map<String, Value> = (0..10_000)
            .map(|n| (format!("c{n}_follow_up_count"), Value::from("x")))
            .collect();
        let body = serde_json::json!({"cadences": [{"id": "1", "summary": counts, "name": "n"}]});
        let page = decode_cadences_page(body.to_string().as_bytes()).unwrap();
        assert_eq!(page.cadences[0].name.as_deref(), Some("n"));
        assert!(page.cadences[0].summary.is_none(), "left out whole");
        let fields = &page.invalid[0].fields;
        assert_eq!(fields.len(), MAX_UNREAD_LEAVES + 1);
        assert_eq!(fields.last().unwrap(), &field_of("summary", "object"));
    }

    fn field_of(path: &str, found: &'static str) -> UnreadField {
        UnreadField {
            path: path.to_owned(),
            found,
        }
    }

    #[test]
    fn every_status_is_kept_unknown_ones_as_sent() {
        let page = decode_cadences_page(
            br#"{"cadences":[{"id":"1","status":"active"},{"id":"2","status":"inactive"},
            {"id":"3","status":"draft"},{"id":"4","status":" paused "},{"id":"5","status":"Draft"},
            {"id":"6","status":true},{"id":"7","status":"false"},{"id":"8","status":0}]}"#,
        )
        .expect("an unknown status does not fail the page");
        let statuses: Vec<_> = page.cadences.into_iter().map(|c| c.status).collect();
        assert_eq!(
            statuses,
            [
                CadenceStatus::Active,
                CadenceStatus::Inactive,
                CadenceStatus::Draft,
                CadenceStatus::Other("paused".into()),
                CadenceStatus::Draft,
                CadenceStatus::Active,
                CadenceStatus::Inactive,
                CadenceStatus::Inactive,
            ]
            .map(Some)
        );
    }

    #[test]
    fn status_strings_and_nulls() {
        let page = decode_cadences_page(
            br#"{"cadences":[{"id":"1","status":"inactive","active":null,"execution_details":null,
            "modified_time":null,"custom_view":null,"summary":{"whatsapp_follow_up_count":"2","email_follow_up_count":null}}],
            "info":{"more_records":"false"}}"#,
        )
        .unwrap();
        let cadence = &page.cadences[0];
        assert_eq!(cadence.status, Some(CadenceStatus::Inactive));
        assert_eq!(cadence.active, None);
        let summary = cadence.summary.as_ref().unwrap();
        assert_eq!(summary["whatsapp_follow_up_count"], LenientCount(2));
        assert_eq!(summary["email_follow_up_count"], LenientCount(0));
        assert_eq!(page.info.unwrap().more_records, Some(LenientBool(false)));
    }

    #[test]
    fn execution_interval() {
        let every = |unit, period: &str| ExecuteEvery {
            unit: Some(LenientCount(unit)),
            period: Some(period.to_owned()),
        };
        assert_eq!(every(1, "hours").seconds(), Some(3_600.0));
        assert_eq!(every(2, "days").seconds(), Some(172_800.0));
        assert_eq!(every(99, "weeks").seconds(), Some(99.0 * 604_800.0));
        assert_eq!(every(3, "immediately").seconds(), Some(0.0));
        assert_eq!(every(1, "fortnights").seconds(), None);
        let without_unit = ExecuteEvery {
            unit: None,
            period: Some("days".to_owned()),
        };
        assert_eq!(without_unit.seconds(), Some(86_400.0), "absent means 1");
        let without_period = ExecuteEvery {
            unit: Some(LenientCount(2)),
            period: None,
        };
        assert_eq!(without_period.seconds(), None);
    }
}
