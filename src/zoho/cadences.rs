//! The cadences list, `GET /crm/{version}/settings/automation/cadences`: its answer shapes,
//! decoded as leniently as Zoho is inconsistent, the reduction of each cadence to the exporter's
//! own [`Cadence`], and the paging through every page of one collection.
//!
//! Real answers differ from the documentation (see `api-notes.md`): `status` is a string where a
//! boolean is documented, objects and even `modified_time` can be null, and new follow-up
//! channels appear in `summary`. Everything here accepts those and ignores unknown fields.

use crate::domain::cadence::{Cadence, Interner, UNKNOWN_MODULE};
use crate::metrics::labels::Endpoint;
use crate::zoho::client::ZohoClient;
use crate::zoho::error::ZohoError;
use crate::zoho::lenient::{decode_json, null_as_default, LenientBool, LenientCount, ZohoId};
use crate::zoho::time::parse_zoho_time;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::time::Instant;

/// Cadences per page: Zoho's maximum.
pub const PER_PAGE: u32 = 200;
/// A guard against an answer that claims `more_records` forever.
pub(crate) const MAX_PAGES: u32 = 10_000;

/// One page of `GET /settings/automation/cadences`.
#[derive(Debug, Deserialize)]
pub struct CadencesPage {
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) cadences: Vec<RawCadence>,
    #[serde(default)]
    pub(crate) info: Option<PageInfo>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct PageInfo {
    #[serde(default)]
    pub(crate) more_records: Option<LenientBool>,
}

/// A cadence as Zoho sends it. Only `id` is required.
#[derive(Debug, Deserialize)]
pub(crate) struct RawCadence {
    pub(crate) id: ZohoId,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) module: Option<NamedRef>,
    #[serde(default)]
    pub(crate) active: Option<LenientBool>,
    #[serde(default)]
    pub(crate) status: Option<LenientBool>,
    #[serde(default)]
    pub(crate) published: Option<LenientBool>,
    #[serde(default, rename = "type")]
    pub(crate) enrollment: Option<String>,
    #[serde(default)]
    pub(crate) summary: Option<BTreeMap<String, LenientCount>>,
    #[serde(default)]
    pub(crate) created_time: Option<String>,
    #[serde(default)]
    pub(crate) modified_time: Option<String>,
    #[serde(default)]
    pub(crate) created_by: Option<NamedRef>,
    #[serde(default)]
    pub(crate) modified_by: Option<NamedRef>,
    #[serde(default)]
    pub(crate) custom_view: Option<NamedRef>,
    #[serde(default)]
    pub(crate) execution_details: Option<ExecutionDetails>,
}

/// `{ "name" | "api_name": ..., "id": ... }`: modules, users and custom views.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct NamedRef {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) api_name: Option<String>,
    /// Decoded so that its shape is checked like the rest (an id beyond 2^53 keeps every
    /// digit), though no metric shows it.
    #[serde(default)]
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) id: Option<ZohoId>,
}

impl NamedRef {
    pub(crate) fn label(&self) -> Option<&str> {
        self.api_name.as_deref().or(self.name.as_deref())
    }
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct ExecutionDetails {
    #[serde(default)]
    pub(crate) end_date: Option<String>,
    #[serde(default)]
    pub(crate) execute_every: Option<ExecuteEvery>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct ExecuteEvery {
    #[serde(default)]
    pub(crate) unit: Option<LenientCount>,
    #[serde(default)]
    pub(crate) period: Option<String>,
}

impl ExecuteEvery {
    /// The execution period in seconds; `None` for an unknown period name.
    pub(crate) fn seconds(&self) -> Option<f64> {
        let unit = self.unit.as_ref()?.0 as f64;
        let period = match self.period.as_deref()?.trim().to_ascii_lowercase().as_str() {
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

/// Decodes one cadences page; the error names the JSON path of the bad field.
pub fn decode_cadences_page(body: &[u8]) -> Result<CadencesPage, String> {
    decode_json(body)
}

impl CadencesPage {
    /// Whether Zoho says more pages follow.
    fn more_records(&self) -> bool {
        self.info
            .as_ref()
            .and_then(|info| info.more_records)
            .is_some_and(|more| more.0)
    }

    /// The page's cadences, reduced, sharing `texts` with the other pages of the collection.
    pub fn into_cadences(self, texts: &mut Interner) -> impl Iterator<Item = Cadence> + '_ {
        self.cadences.into_iter().map(|raw| raw.reduce(texts))
    }
}

impl RawCadence {
    /// The cadence as the exporter keeps it: only what the metrics show.
    fn reduce(self, texts: &mut Interner) -> Cadence {
        let raw = self;
        let mut label = |r: &Option<NamedRef>| {
            texts.intern(r.as_ref().and_then(|r| r.label()).unwrap_or_default())
        };
        let custom_view = label(&raw.custom_view);
        let created_by = label(&raw.created_by);
        let modified_by = label(&raw.modified_by);
        // `active` is the documented boolean; `status` is what real answers fill reliably.
        let active = raw.active.or(raw.status).map(|b| b.0).unwrap_or(false);
        let mut follow_ups: Vec<(Arc<str>, u64)> = raw
            .summary
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(key, count)| {
                key.strip_suffix("_follow_up_count")
                    .filter(|channel| !channel.is_empty())
                    .map(|channel| (texts.intern(channel), count.0))
            })
            .collect();
        follow_ups.sort();
        let execution = raw.execution_details.unwrap_or_default();
        let module = raw
            .module
            .as_ref()
            .and_then(|m| m.label())
            .filter(|m| !m.is_empty())
            .unwrap_or(UNKNOWN_MODULE);
        Cadence {
            name: raw.name.unwrap_or_default().into_boxed_str(),
            module: texts.intern(module),
            active,
            published: raw.published.map(|b| b.0).unwrap_or(false),
            enrollment: texts.intern(raw.enrollment.as_deref().unwrap_or_default()),
            custom_view,
            created_by,
            modified_by,
            follow_ups: follow_ups.into_boxed_slice(),
            created: raw.created_time.as_deref().and_then(parse_zoho_time),
            modified: raw.modified_time.as_deref().and_then(parse_zoho_time),
            end: execution.end_date.as_deref().and_then(parse_zoho_time),
            execution_interval: execution.execute_every.as_ref().and_then(|e| e.seconds()),
            id: raw.id.0.into_boxed_str(),
        }
    }
}

impl ZohoClient {
    /// Reads every page of the org's cadences. Fails without a partial result.
    pub(crate) async fn fetch_cadences(
        &self,
        deadline: Instant,
    ) -> Result<Vec<Cadence>, ZohoError> {
        let path = format!(
            "/crm/{}/settings/automation/cadences",
            self.org().api_version.path()
        );
        let mut cadences = Vec::new();
        let mut texts = Interner::default();
        for page in 1..=MAX_PAGES {
            let query = [
                ("page", page.to_string()),
                ("per_page", PER_PAGE.to_string()),
            ];
            let answer = self
                .get(Endpoint::Cadences, &path, &query, deadline)
                .await?;
            if answer.is_empty() {
                return Ok(cadences);
            }
            let decoded = self.decoded(
                Endpoint::Cadences,
                decode_cadences_page(&answer.body),
                |detail| format!("page {page}: {detail}"),
            )?;
            let (received, more) = (decoded.cadences.len(), decoded.more_records());
            cadences.extend(decoded.into_cadences(&mut texts));
            if !more || received == 0 {
                return Ok(cadences);
            }
        }
        Err(self.counted(ZohoError::Decode {
            endpoint: Endpoint::Cadences,
            detail: format!("more_records still true after {MAX_PAGES} pages"),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

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
    fn errors_name_the_path() {
        let err = decode_cadences_page(br#"{"cadences":[{"id":"1"},{"id":{"x":1}}]}"#).unwrap_err();
        assert!(err.starts_with("cadences[1].id:"), "{err}");
        let err =
            decode_cadences_page(br#"{"cadences":[{"id":"1","status":"paused"}]}"#).unwrap_err();
        assert!(err.starts_with("cadences[0].status:"), "{err}");
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
        assert_eq!(cadence.status, Some(LenientBool(false)));
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
        assert_eq!(every(1, "fortnights").seconds(), None);
    }

    /// One cadence as Zoho might send it, with the value the exporter must read from it.
    #[derive(Debug, Clone)]
    struct Generated {
        json: Value,
        id: u64,
        active: bool,
        modified: Option<i64>,
    }

    fn time_text(unix: i64, offset_minutes: i32, colon: bool) -> String {
        let offset = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
        let time = chrono::DateTime::from_timestamp(unix, 0)
            .unwrap()
            .with_timezone(&offset);
        if colon {
            time.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
        } else {
            time.format("%Y-%m-%dT%H:%M:%S%z").to_string()
        }
    }

    fn cadence_strategy() -> impl proptest::strategy::Strategy<Value = Generated> {
        use proptest::prelude::*;
        (
            1u64..u64::MAX,
            any::<bool>(),
            0..4u8,
            proptest::option::of(0i64..4_000_000_000),
            -12 * 60..14 * 60i32,
            any::<bool>(),
            any::<bool>(),
            "\\PC{0,40}",
        )
            .prop_map(
                |(id, active, status_form, modified, offset, colon, id_as_number, name)| {
                    let status = match status_form {
                        0 => json!(if active { "active" } else { "inactive" }),
                        1 => json!(active),
                        2 => json!(if active { "true" } else { "false" }),
                        _ => json!(u8::from(active)),
                    };
                    let json = json!({
                        "id": if id_as_number { json!(id) } else { json!(id.to_string()) },
                        "name": name,
                        "status": status,
                        "modified_time": modified.map(|m| time_text(m, offset, colon)),
                        "custom_view": {"id": id, "name": "View"},
                        "unknown_field": [1, {"x": null}],
                    });
                    Generated {
                        json,
                        id,
                        active,
                        modified,
                    }
                },
            )
    }

    proptest::proptest! {
        #[test]
        fn every_form_zoho_uses_decodes_to_the_same_cadence(cadences in proptest::collection::vec(cadence_strategy(), 0..20)) {
            let body = json!({"cadences": cadences.iter().map(|c| c.json.clone()).collect::<Vec<_>>(), "info": {"more_records": false}});
            let page = decode_cadences_page(body.to_string().as_bytes()).expect("decodes");
            proptest::prop_assert_eq!(page.cadences.len(), cadences.len());
            let mut texts = Interner::default();
            for (cadence, expected) in page.into_cadences(&mut texts).zip(&cadences) {
                proptest::prop_assert_eq!(cadence.id.to_string(), expected.id.to_string());
                proptest::prop_assert_eq!(cadence.active, expected.active);
                proptest::prop_assert_eq!(cadence.modified, expected.modified.map(|m| m as f64));
            }
        }
    }
}
