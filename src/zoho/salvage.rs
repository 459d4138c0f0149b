//! Reading a cadences page cadence by cadence, when it does not decode whole: one odd cadence
//! never costs the page.
//!
//! Each cadence is decoded on its own. A field that cannot be read is left out and the cadence
//! decoded again without it; a cadence without a usable `id` (the one required field) is skipped.
//! Both are reported as [`InvalidCadence`]s, naming the field and the JSON type found there, never
//! the value: it is Zoho's data, and it ends up in logs.

use crate::zoho::cadences::{CadencesPage, PageInfo, RawCadence};
use crate::zoho::lenient::{decode_json, null_as_default};
use serde::Deserialize;
use serde_json::Value;

/// A cadence of a page that the exporter could not read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidCadence {
    /// Its position on the page.
    pub(crate) index: usize,
    /// Its id, when it is in the page's `cadences` without the fields below; `None` when it had
    /// no usable id and was skipped.
    pub(crate) id: Option<String>,
    pub(crate) fields: Vec<UnreadField>,
}

/// A part of a cadence the exporter could not read and left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnreadField {
    /// Its path within the cadence (`status`, `summary.email_follow_up_count`, `id`); empty when
    /// the cadence itself is not a JSON object.
    pub(crate) path: String,
    /// The JSON type found there (`string`, `object`, ...; `absent` for a missing `id`).
    pub(crate) found: &'static str,
}

/// A page whose cadences are left as JSON, to be read one by one.
#[derive(Deserialize)]
struct LoosePage {
    #[serde(default, deserialize_with = "null_as_default")]
    cadences: Vec<Value>,
    #[serde(default)]
    info: Option<PageInfo>,
}

/// Reads a page cadence by cadence; fails only when the page is not JSON, its `cadences` is not
/// a list or its `info` cannot be read.
pub(crate) fn decode_cadence_by_cadence(body: &[u8]) -> Result<CadencesPage, String> {
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
        let mut keys = error_keys(&err);
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

/// The object keys leading to the field an error is about.
fn error_keys<E>(err: &serde_path_to_error::Error<E>) -> Vec<String> {
    let mut keys = Vec::new();
    for segment in err.path().iter() {
        match segment {
            serde_path_to_error::Segment::Map { key } => keys.push(key.clone()),
            // Nothing the exporter reads is a list (serde reads a list as an object's fields in
            // order): the field holding it is left out whole.
            _ => break,
        }
    }
    keys
}

/// Removes the field at `keys` (object keys from the root), returning it.
fn remove_path(value: &mut Value, keys: &[String]) -> Option<Value> {
    let (last, parents) = keys.split_last()?;
    let mut object = value;
    for key in parents {
        object = object.get_mut(key)?;
    }
    object.as_object_mut()?.remove(last)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoho::cadences::decode_cadences_page;
    use crate::zoho::lenient::{LenientBool, LenientCount};

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
}
