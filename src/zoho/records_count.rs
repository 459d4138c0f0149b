//! Records enrolled per cadence, `GET /crm/v8/settings/automation/cadences/actions/records_count`:
//! its answer shapes and the calls of one enrollment pass.
//!
//! Why it is shaped this way:
//! - At most [`MAX_IDS_PER_CALL`] ids per call. A 207 answer mixes counts with per-item errors:
//!   those are counted by Zoho's code and left out. A 400 answer without a top-level `code` is
//!   the same list with every item an error (Zoho's spec, `listCadencesRecordsCount`): that
//!   batch is left out and the pass goes on. A 400 with a top-level code is about the request
//!   itself and fails the pass.
//! - A pass in which every batch was refused fails, so a request Zoho cannot understand keeps
//!   the last result rather than emptying it.
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

/// Zoho's limit of cadence ids per `records_count` call. 100 ids of 19 digits and their commas
/// make 1,999 characters, just inside the `ids` parameter's 2,000.
pub(crate) const MAX_IDS_PER_CALL: usize = 100;

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
    /// Asks Zoho how many records are enrolled in each of `ids`, in batches of at most
    /// [`MAX_IDS_PER_CALL`] in id order. Fails without a partial result.
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
        let mut answered = 0usize;
        let mut refused = None;
        for batch in ids.chunks(MAX_IDS_PER_CALL) {
            let query = [("ids", batch.join(","))];
            match self
                .get(Endpoint::RecordsCount, &path, &query, deadline)
                .await
            {
                Ok(answer) => {
                    answered += 1;
                    self.count_batch(batch, &answer, &mut counts)?;
                }
                // Every id of the batch was refused; the client counted the answer.
                Err(
                    err @ ZohoError::Api {
                        status: 400,
                        code: None,
                        ..
                    },
                ) => {
                    tracing::info!(org = %self.org().name, ids = batch.len(), "Zoho refused every cadence id of a records_count batch (deleted since the last collection?); they are left out");
                    refused = Some(err);
                }
                Err(err) => return Err(err),
            }
        }
        match refused {
            Some(err) if answered == 0 => Err(err),
            _ => Ok(Enrollment { counts }),
        }
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
                    tracing::debug!(org = %self.org().name, id = id.as_deref().unwrap_or("?"), code = %code, "records_count refused one cadence id; it is left out");
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

#[cfg(test)]
mod tests {
    use super::*;

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
