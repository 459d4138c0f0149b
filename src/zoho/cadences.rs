//! The cadences list, `GET /crm/{version}/settings/automation/cadences`: its answer shapes,
//! decoded as leniently as Zoho is inconsistent, the reduction of each cadence to the exporter's
//! own [`Cadence`], and the paging through every page of one collection.
//!
//! Real answers differ from the documentation (see `api-notes.md`): objects and even
//! `modified_time` can be null, and new follow-up channels appear in `summary`. Everything here
//! accepts those and ignores unknown fields; `status` is the specification's lifecycle
//! ([`CadenceStatus`]).
//!
//! One odd cadence never costs a page: a page that does not decode whole is read cadence by
//! cadence ([`crate::zoho::salvage`]), leaving out a field that cannot be read and skipping a
//! cadence without a usable id. Each such cadence is counted once per collection under
//! `error="invalid_cadence"` and logged at warn once per cadence id and field while it stays so;
//! the collection goes on with the rest. Only a page that is not JSON, or whose `cadences` is not
//! a list, fails.

use crate::domain::cadence::{Cadence, Interner, Status, UNKNOWN_MODULE};
use crate::metrics::labels::Endpoint;
use crate::support::label_values::{is_label_safe, OVERFLOW_LABEL};
use crate::zoho::client::{UnreadKey, ZohoClient};
use crate::zoho::error::ZohoError;
use crate::zoho::lenient::{null_as_default, CadenceStatus, LenientBool, LenientCount, ZohoId};
use crate::zoho::salvage::{decode_cadence_by_cadence, InvalidCadence};
use crate::zoho::time::parse_zoho_time;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::time::Instant;

/// Cadences per page: Zoho's maximum.
pub const PER_PAGE: u32 = 200;
/// A guard against an answer that claims `more_records` forever.
pub(crate) const MAX_PAGES: u32 = 10_000;

/// The `error` label of a cadence the exporter could not read whole (kept without some field,
/// or skipped for want of a usable id).
pub(crate) const INVALID_CADENCE: &str = "invalid_cadence";

/// One page of `GET /settings/automation/cadences`.
#[derive(Debug, Deserialize)]
pub struct CadencesPage {
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) cadences: Vec<RawCadence>,
    #[serde(default)]
    pub(crate) info: Option<PageInfo>,
    /// The cadences of the page that could not be read whole, in page order: those in
    /// `cadences` without some field, and those skipped.
    #[serde(skip)]
    pub(crate) invalid: Vec<InvalidCadence>,
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
    pub(crate) status: Option<CadenceStatus>,
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

/// `execution_details.execute_every`: the specification's `period` is `immediately`, `hours`,
/// `days` or `weeks`, and `unit` (1 to 99) is optional.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct ExecuteEvery {
    #[serde(default)]
    pub(crate) unit: Option<LenientCount>,
    #[serde(default)]
    pub(crate) period: Option<String>,
}

impl ExecuteEvery {
    /// The execution period in seconds: 0 for `immediately` (each enrollment runs at once), `unit`
    /// periods otherwise, an absent `unit` read as 1 (the specification gives no default; one
    /// period is what a lone period name means). `None` without a period or for an unknown period
    /// name. The singular names, minutes and months are not in the specification but were seen in
    /// older answers, so they stay.
    pub(crate) fn seconds(&self) -> Option<f64> {
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

/// Decodes one cadences page. A cadence with a field the exporter cannot read (a string where a
/// count belongs, an object where a bool belongs; an unknown period name is fine) is kept without
/// that field; a cadence without a usable `id` (missing, neither a string nor an integer) is
/// skipped; both are listed in [`CadencesPage::invalid`]. Fails only when the page is not JSON, or
/// its `cadences` is not a list or its `info` cannot be read (paging depends on it); the error
/// names the JSON path of the bad field.
pub fn decode_cadences_page(body: &[u8]) -> Result<CadencesPage, String> {
    // Almost every page decodes whole at once, as fast as serde can; only a page holding an odd
    // cadence pays for reading it cadence by cadence.
    serde_json::from_slice(body).or_else(|_| decode_cadence_by_cadence(body))
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
        // The specification's lifecycle is `status`; the boolean `active` says only whether a
        // cadence runs, so it decides only when `status` is absent.
        let status = match raw.status.or(raw.active.map(CadenceStatus::from)) {
            Some(CadenceStatus::Active) => Status::Active,
            Some(CadenceStatus::Inactive) | None => Status::Inactive,
            Some(CadenceStatus::Draft) => Status::Draft,
            Some(CadenceStatus::Other(status)) if is_label_safe(&status) => {
                Status::Other(texts.intern(&status))
            }
            Some(CadenceStatus::Other(_)) => Status::Other(texts.intern(OVERFLOW_LABEL)),
        };
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
            status,
            published: raw.published.map(|b| b.0).unwrap_or(false),
            enrollment: texts.intern(raw.enrollment.as_deref().unwrap_or_default()),
            custom_view,
            created_by,
            modified_by,
            follow_ups: texts.follow_ups(follow_ups),
            created: raw.created_time.as_deref().and_then(parse_zoho_time).into(),
            modified: raw
                .modified_time
                .as_deref()
                .and_then(parse_zoho_time)
                .into(),
            end: execution
                .end_date
                .as_deref()
                .and_then(parse_zoho_time)
                .into(),
            execution_interval: execution
                .execute_every
                .as_ref()
                .and_then(|e| e.seconds())
                .into(),
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
        let mut unread = HashSet::new();
        for page in 1..=MAX_PAGES {
            self.cadences_page.store(page, Ordering::Relaxed);
            let query = [
                ("page", page.to_string()),
                ("per_page", PER_PAGE.to_string()),
            ];
            let answer = self
                .get(Endpoint::Cadences, &path, &query, deadline)
                .await?;
            if answer.is_empty() {
                self.forget_fixed_fields(unread);
                return Ok(cadences);
            }
            let decoded = self.decoded(
                Endpoint::Cadences,
                decode_cadences_page(&answer.body),
                |detail| format!("page {page}: {detail}"),
            )?;
            for invalid in &decoded.invalid {
                self.telemetry
                    .count_error(Endpoint::Cadences, INVALID_CADENCE);
                self.log_invalid(page, invalid, &mut unread);
            }
            // A skipped cadence was received all the same: a page of only those is not the end.
            let skipped = decoded.invalid.iter().filter(|c| c.id.is_none()).count();
            let (received, more) = (decoded.cadences.len() + skipped, decoded.more_records());
            cadences.extend(decoded.into_cadences(&mut texts));
            if !more || received == 0 {
                self.forget_fixed_fields(unread);
                return Ok(cadences);
            }
        }
        Err(self.counted(ZohoError::Decode {
            endpoint: Endpoint::Cadences,
            detail: format!("more_records still true after {MAX_PAGES} pages"),
        }))
    }
}

impl ZohoClient {
    /// The cadence page the current or last collection reads (0 before the first).
    pub(crate) fn cadences_page(&self) -> u32 {
        self.cadences_page.load(Ordering::Relaxed)
    }

    /// Logs what could not be read of one cadence: at warn the first time a cadence id and field
    /// show up, at debug while they stay. Names the field and the JSON type found, never a value.
    fn log_invalid(&self, page: u32, invalid: &InvalidCadence, seen: &mut HashSet<UnreadKey>) {
        let org = &self.org().name;
        for field in &invalid.fields {
            let key = (invalid.id.clone(), field.path.clone());
            seen.insert(key.clone());
            let first = self
                .unread_logged
                .lock()
                .expect("unread fields lock")
                .insert(key);
            let (path, found) = (field.path.as_str(), field.found);
            match (&invalid.id, first) {
                (Some(id), true) => {
                    tracing::warn!(org = %org, id = %id, field = path, found, "cadence field unreadable; the cadence is exported without it")
                }
                (Some(id), false) => {
                    tracing::debug!(org = %org, id = %id, field = path, found, "cadence field still unreadable")
                }
                (None, true) => {
                    tracing::warn!(org = %org, page, index = invalid.index, field = path, found, "cadence without a usable id skipped")
                }
                (None, false) => {
                    tracing::debug!(org = %org, page, index = invalid.index, field = path, found, "cadence without a usable id skipped again")
                }
            }
        }
    }

    /// After a complete collection: forgets the logged fields it did not see again.
    fn forget_fixed_fields(&self, seen: HashSet<UnreadKey>) {
        self.unread_logged
            .lock()
            .expect("unread fields lock")
            .retain(|key| seen.contains(key));
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
                proptest::prop_assert_eq!(cadence.active(), expected.active);
                proptest::prop_assert_eq!(cadence.modified.get(), expected.modified.map(|m| m as f64));
            }
        }
    }
}
