//! Records enrolled per cadence, `GET /crm/v8/settings/automation/cadences/actions/records_count`:
//! its answer shapes and the calls of one enrollment pass.
//!
//! Why it is shaped this way:
//! - At most [`MAX_IDS_PER_CALL`] ids per call, and an `ids` parameter of at most
//!   [`MAX_IDS_CHARS`] characters: the ids are joined by literal commas (as the specification
//!   writes the list; an encoded `%2C` is not the separator it documents) and batched so that
//!   the value stays within both limits whatever the ids' lengths.
//! - A 207 answer mixes counts with per-item errors: those are counted by Zoho's code and left
//!   out. The 400 answer whose `cadences_records_count` lists only errors (Zoho's spec,
//!   `listCadencesRecordsCount`) is a normal answer the same way: each item is counted by its
//!   code, those ids are left out and the pass goes on. A 400 with a top-level code is about the
//!   request itself and fails the pass, as 403 `NO_PERMISSION` does.
//!
//! Shapes follow Zoho's OpenAPI specification (zoho/crm-oas, `v8.0/cadences/`), decoded as
//! leniently as the cadences list (ids as strings or numbers, counts as numbers or strings,
//! nulls, unknown fields).

use crate::domain::activity::Enrollment;
use crate::metrics::labels::Endpoint;
use crate::zoho::client::{Answer, ZohoClient};
use crate::zoho::error::ZohoError;
use crate::zoho::lenient::{decode_json, LenientCount, ZohoId};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use tokio::time::Instant;

/// Zoho's limit of cadence ids per `records_count` call.
pub(crate) const MAX_IDS_PER_CALL: usize = 100;

/// Zoho's limit of the `ids` parameter's length, in characters as sent. 100 ids of 19 digits and
/// their commas make 1,999; longer ids make smaller batches.
pub(crate) const MAX_IDS_CHARS: usize = 2_000;

/// `GET .../cadences/actions/records_count`: 200, 207 and the per-item 400 share this shape.
#[derive(Debug, Deserialize)]
struct RecordsCountAnswer {
    #[serde(default)]
    cadences_records_count: Option<Vec<RecordsCountItem>>,
}

/// Either `{"count", "cadences": {"name", "id"}}` or `{"code", "details": {"id"}, "message",
/// "status": "error"}`.
#[derive(Debug, Deserialize)]
struct RecordsCountItem {
    #[serde(default)]
    count: Option<LenientCount>,
    #[serde(default)]
    cadences: Option<ItemCadence>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    details: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct ItemCadence {
    #[serde(default)]
    id: Option<ZohoId>,
}

/// One item of a `records_count` answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RecordsCountEntry {
    Count {
        id: String,
        count: u64,
    },
    /// A per-item error: Zoho's code and, when given, the id it is about.
    Error {
        id: Option<String>,
        code: String,
    },
    /// Neither a count with an id nor an error.
    Malformed,
}

/// Decodes a `records_count` answer; the error names the JSON path of the bad field.
pub(crate) fn decode_records_count(body: &[u8]) -> Result<Vec<RecordsCountEntry>, String> {
    let answer: RecordsCountAnswer = decode_json(body)?;
    Ok(answer
        .cadences_records_count
        .unwrap_or_default()
        .into_iter()
        .map(|item| {
            let is_error = item.code.is_some()
                || item
                    .status
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("error"));
            if is_error {
                let id = item
                    .details
                    .as_ref()
                    .and_then(|d| d.get("id"))
                    .and_then(id_text);
                return RecordsCountEntry::Error {
                    id,
                    code: item.code.unwrap_or_else(|| "error".to_owned()),
                };
            }
            match (item.count, item.cadences.and_then(|c| c.id)) {
                (Some(count), Some(id)) => RecordsCountEntry::Count {
                    id: id.0,
                    count: count.0,
                },
                _ => RecordsCountEntry::Malformed,
            }
        })
        .collect())
}

fn id_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) if n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

impl ZohoClient {
    /// Asks Zoho how many records are enrolled in each of `ids`, in batches ([`id_batches`]) in
    /// id order. Fails without a partial result.
    pub(crate) async fn records_count(
        &self,
        ids: &[&str],
        deadline: Instant,
    ) -> Result<Enrollment, ZohoError> {
        let path = format!(
            "/crm/{}/settings/automation/cadences/actions/records_count",
            self.org().api_version.path()
        );
        let ids: Vec<&str> = ids
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut counts = BTreeMap::new();
        for batch in id_batches(&self.org().name, &ids) {
            let path_and_ids = format!("{path}?ids={}", ids_parameter(&batch));
            let answer = self
                .get_answer(
                    Endpoint::RecordsCount,
                    &path_and_ids,
                    &[],
                    deadline,
                    is_per_item_answer,
                )
                .await?;
            self.count_batch(&batch, &answer, &mut counts)?;
        }
        Ok(Enrollment { counts })
    }

    /// Takes the counts of one batch's answer; per-item errors are counted and left out.
    fn count_batch(
        &self,
        batch: &[&str],
        answer: &Answer,
        counts: &mut BTreeMap<String, u64>,
    ) -> Result<(), ZohoError> {
        if answer.is_empty() {
            return Ok(());
        }
        let entries = self.decoded(
            Endpoint::RecordsCount,
            decode_records_count(&answer.body),
            |detail| detail,
        )?;
        for entry in entries {
            match entry {
                RecordsCountEntry::Count { id, count } => {
                    // Only ids asked for: anything else is not ours to report.
                    if batch.contains(&id.as_str()) {
                        counts.insert(id, count);
                    }
                }
                RecordsCountEntry::Error { id, code } => {
                    let label = ZohoError::api_label(answer.status, Some(&code));
                    self.telemetry().count_error(Endpoint::RecordsCount, &label);
                    tracing::debug!(org = %self.org().name, id = id.as_deref().unwrap_or("?"), code = %code, "records_count refused one cadence id (deleted since the last collection?); it is left out");
                }
                RecordsCountEntry::Malformed => {
                    self.telemetry()
                        .count_error(Endpoint::RecordsCount, "decode");
                }
            }
        }
        Ok(())
    }
}

/// The 400 answer of `records_count` that lists an error per id (every id unknown): an answer to
/// read, not a failed request. A 400 with a top-level `code` is not one.
fn is_per_item_answer(status: u16, body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Shape {
        #[serde(default)]
        code: Option<serde::de::IgnoredAny>,
        #[serde(default)]
        cadences_records_count: Option<Vec<serde::de::IgnoredAny>>,
    }
    status == 400
        && serde_json::from_slice::<Shape>(body).is_ok_and(|shape| {
            shape.code.is_none() && shape.cadences_records_count.is_some_and(|l| !l.is_empty())
        })
}

/// `ids` in order, in batches of at most [`MAX_IDS_PER_CALL`] whose `ids` parameter stays within
/// [`MAX_IDS_CHARS`]. An id too long to be sent even alone (Zoho's ids have at most 255
/// characters) is left out.
fn id_batches<'a>(org: &str, ids: &[&'a str]) -> Vec<Vec<&'a str>> {
    let mut batches: Vec<Vec<&str>> = Vec::new();
    let mut length = 0;
    for id in ids {
        let id_length = encoded_length(id);
        if id_length > MAX_IDS_CHARS {
            tracing::debug!(
                org,
                id_length,
                "cadence id too long for records_count; it is left out"
            );
            continue;
        }
        match batches.last_mut() {
            Some(batch)
                if batch.len() < MAX_IDS_PER_CALL && length + 1 + id_length <= MAX_IDS_CHARS =>
            {
                batch.push(id);
                length += 1 + id_length;
            }
            _ => {
                batches.push(vec![id]);
                length = id_length;
            }
        }
    }
    batches
}

/// The `ids` parameter as sent: each id percent-encoded (Zoho's ids are digits and need none; a
/// comma inside an id would), joined by literal commas.
fn ids_parameter(ids: &[&str]) -> String {
    let mut out = String::new();
    for (n, id) in ids.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        for byte in id.bytes() {
            if is_unreserved(byte) {
                out.push(char::from(byte));
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    out
}

/// An id's length in `ids` as sent.
fn encoded_length(id: &str) -> usize {
    id.bytes()
        .map(|b| if is_unreserved(b) { 1 } else { 3 })
        .sum()
}

/// RFC 3986's unreserved characters, sent as they are.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_within_100_ids_and_2000_characters() {
        let short: Vec<String> = (0..250).map(|n| format!("{:019}", n)).collect();
        let short: Vec<&str> = short.iter().map(String::as_str).collect();
        let sizes: Vec<usize> = id_batches("acme", &short).iter().map(Vec::len).collect();
        assert_eq!(sizes, [100, 100, 50], "100 ids of 19 digits fit");
        assert_eq!(ids_parameter(&id_batches("acme", &short)[0]).len(), 1_999);

        let long: Vec<String> = (0..20).map(|n| format!("{:0>255}", n)).collect();
        let mut ids: Vec<&str> = long.iter().map(String::as_str).collect();
        let too_long = "9".repeat(MAX_IDS_CHARS + 1);
        ids.insert(3, &too_long);
        let batches = id_batches("acme", &ids);
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, [7, 7, 6], "7 ids of 255 characters fit, 8 do not");
        for batch in &batches {
            assert!(ids_parameter(batch).len() <= MAX_IDS_CHARS);
            assert!(
                !batch.contains(&too_long.as_str()),
                "an id that cannot fit is left out"
            );
        }
        // Encoded characters count three times.
        let encoded = "::::".repeat(100);
        assert_eq!(encoded_length(&encoded), 1_200);
        assert_eq!(id_batches("acme", &[&encoded, &encoded]).len(), 2);
    }

    #[test]
    fn ids_are_joined_by_literal_commas_and_escaped_inside() {
        assert_eq!(ids_parameter(&["1", "22", "333"]), "1,22,333");
        assert_eq!(ids_parameter(&["a,b", "c d", "é"]), "a%2Cb,c%20d,%C3%A9");
        assert_eq!(encoded_length("a,b"), 5);
    }

    #[test]
    fn the_per_item_400_is_an_answer_and_a_request_error_is_not() {
        let spec = |file: &str| {
            std::fs::read(format!(
                "{}/tests/fixtures/zoho/spec/listCadencesRecordsCount/{file}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        };
        let per_item = spec("response-400-invaliddataresponse1.json");
        assert!(is_per_item_answer(400, &per_item));
        assert!(!is_per_item_answer(500, &per_item));
        assert!(!is_per_item_answer(
            400,
            br#"{"code":"LIMIT_EXCEEDED","details":{"param_name":"ids","limit":100},"message":"m","status":"error"}"#
        ));
        assert!(!is_per_item_answer(
            400,
            br#"{"cadences_records_count":[]}"#
        ));
        assert!(!is_per_item_answer(400, b"<html>"));
        let entries = decode_records_count(&per_item).unwrap();
        assert_eq!(
            entries,
            ["111112000000092001", "111112000000092000"].map(|id| RecordsCountEntry::Error {
                id: Some(id.to_owned()),
                code: "INVALID_DATA".to_owned()
            })
        );
        assert!(!is_per_item_answer(
            403,
            &spec("response-403-nopermissionresponse1.json")
        ));
    }

    #[test]
    fn records_count_200_as_in_zohos_spec() {
        let body = br#"{"cadences_records_count":[
            {"count":5,"cadences":{"name":"cadence","id":"111112000000092007"}},
            {"count":0,"cadences":{"name":"darft cadence","id":"111112000000092270"}},
            {"count":1,"cadences":{"name":"publish cadence","id":"111112000000094004"}}]}"#;
        assert_eq!(
            decode_records_count(body).unwrap(),
            vec![
                RecordsCountEntry::Count {
                    id: "111112000000092007".into(),
                    count: 5
                },
                RecordsCountEntry::Count {
                    id: "111112000000092270".into(),
                    count: 0
                },
                RecordsCountEntry::Count {
                    id: "111112000000094004".into(),
                    count: 1
                },
            ]
        );
    }

    #[test]
    fn records_count_207_mixes_counts_and_errors() {
        let body = br#"{"cadences_records_count":[
            {"count":5,"cadences":{"name":"cadence","id":"111112000000092007"}},
            {"code":"INVALID_DATA","details":{"id":"111112000000092000"},
             "message":"The id given seems to be invalid.","status":"error"}]}"#;
        let entries = decode_records_count(body).unwrap();
        assert_eq!(
            entries[1],
            RecordsCountEntry::Error {
                id: Some("111112000000092000".into()),
                code: "INVALID_DATA".into()
            }
        );
    }

    #[test]
    fn records_count_leniency() {
        // Numeric ids beyond 2^53 keep every digit; counts as strings; unknown fields ignored;
        // an error without a code; an item with neither count nor error.
        let body = br#"{"cadences_records_count":[
            {"count":"12","cadences":{"id":3652397000017949001},"extra":true},
            {"status":"error","details":{}},
            {"cadences":{"id":"1"}},
            {"count":null,"cadences":{"id":"2"}}],"info":{}}"#;
        assert_eq!(
            decode_records_count(body).unwrap(),
            vec![
                RecordsCountEntry::Count {
                    id: "3652397000017949001".into(),
                    count: 12
                },
                RecordsCountEntry::Error {
                    id: None,
                    code: "error".into()
                },
                RecordsCountEntry::Malformed,
                RecordsCountEntry::Malformed,
            ]
        );
        assert_eq!(
            decode_records_count(br#"{"cadences_records_count":null}"#).unwrap(),
            vec![]
        );
        let err =
            decode_records_count(br#"{"cadences_records_count":[{"count":-3}]}"#).unwrap_err();
        assert!(err.starts_with("cadences_records_count[0].count:"), "{err}");
        assert!(decode_records_count(b"{\"cadences_records_count\": [").is_err());
    }
}
