//! What cadences do, beyond their settings: the records enrolled in each cadence
//! (`records_count`) and the follow-ups each active cadence executed over a window
//! (`analytics`), each fetched by its own loop per org.
//!
//! Why it is shaped this way:
//! - These loops stay out of the main collection's way: they read the org's latest complete
//!   snapshot, call Zoho through the org's shared client (one token cache, one `Retry-After`),
//!   count their calls under their own `endpoint` label, and publish their own result into
//!   [`SharedState`]. A failed pass keeps the last complete result, as a failed collection keeps
//!   the last snapshot; it never touches `zoho_crm_up`.
//! - `records_count` takes at most [`MAX_IDS_PER_CALL`] ids per call, and its `ids` parameter at
//!   most [`MAX_IDS_CHARS`] characters: the ids are joined by literal commas (as the
//!   specification writes the list; an encoded `%2C` is not the separator it documents) and
//!   batched so that the value stays within both limits whatever the ids' lengths. A 207 answer
//!   mixes counts with per-item errors: those are counted by Zoho's code and left out. The 400
//!   answer whose `cadences_records_count` lists only errors (Zoho's spec,
//!   `listCadencesRecordsCount`) is a normal answer the same way: each item is counted by its
//!   code, those ids are left out and the pass goes on. A 400 with a top-level code is about the
//!   request itself and fails the pass, as 403 `NO_PERMISSION` does.
//! - Results are keyed by cadence id and joined with the current snapshot when encoded, so a
//!   cadence deleted since the pass loses its series with the next snapshot, not the next pass.
//! - `analytics` costs one call per active cadence, so it is off by default, has its own slower
//!   interval, and makes its calls one at a time to leave Zoho's concurrency limit to the main
//!   collection. A cadence that Zoho no longer knows is left out: the specification answers 400
//!   `INVALID_DATA` with `details.resource_path_index` (the position of the id in the path) for
//!   it, counted by its code; a 404 is read the same way. A 400 about a parameter
//!   (`details.param_name`, another code) is about the request and fails the pass.
//! - An analytics pass in which every call was refused fails, so a request Zoho cannot
//!   understand keeps the last result rather than emptying it.
//! - Only API v8 has these endpoints: [`supported`] says whether an org may use them.
//!
//! Shapes follow Zoho's OpenAPI specification (zoho/crm-oas, `v8.0/cadences/`, operations
//! `listCadencesRecordsCount` and `getCadenceAnalytics`), decoded as leniently as the cadences
//! list (ids as strings or numbers, counts as numbers or strings, nulls, unknown fields).

use crate::collector::{last_error, FailureLog};
use crate::config::{AnalyticsConfig, ApiVersion, Config, EnrollmentConfig, OrgConfig};
use crate::history::Pass;
use crate::snapshot::{Cadence, OrgSnapshot};
use crate::state::SharedState;
use crate::telemetry::{Endpoint, OrgTelemetry};
use crate::zoho::client::{ZohoClient, ZohoError};
use crate::zoho::model::{decode_json, LenientCount, ZohoId};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// Zoho's limit of cadence ids per `records_count` call.
pub const MAX_IDS_PER_CALL: usize = 100;

/// Zoho's limit of the `ids` parameter's length, in characters as sent. 100 ids of 19 digits and
/// their commas make 1,999; longer ids make smaller batches.
pub const MAX_IDS_CHARS: usize = 2_000;

/// Records enrolled per cadence, from one complete `records_count` pass.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Enrollment {
    /// Cadence id to the number of records enrolled in it.
    pub counts: BTreeMap<String, u64>,
    pub completed_at: Option<SystemTime>,
}

/// Follow-ups executed per active cadence and channel over a window, from one complete
/// `analytics` pass.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FollowUpsExecuted {
    /// Cadence id to channel (`email`, `call`, `task`, `whatsapp`, ...) to follow-ups executed.
    pub per_cadence: BTreeMap<String, BTreeMap<String, u64>>,
    /// The window asked for, as sent (`follow_ups_executed_from`, `_till`).
    pub from: String,
    pub till: String,
    pub completed_at: Option<SystemTime>,
}

/// Whether the org's API version has the `records_count` and `analytics` endpoints (v8 only).
pub fn supported(org: &OrgConfig) -> bool {
    org.api_version == ApiVersion::V8
}

/// How long one enrollment pass may take in all, retries included.
pub fn enrollment_deadline(config: &Config) -> Duration {
    config.enrollment.interval.max(config.timeout * 2)
}

/// How long one analytics pass may take in all, retries included.
pub fn analytics_deadline(config: &Config) -> Duration {
    config.analytics.interval.max(config.timeout * 2)
}

/// Whether the analytics loop has anything to export: its only metric is per cadence.
pub fn analytics_wanted(config: &Config) -> bool {
    config.analytics.enabled && config.per_cadence_metrics
}

// ---------------------------------------------------------------------------------------------
// Answers

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
pub enum RecordsCountEntry {
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
pub fn decode_records_count(body: &[u8]) -> Result<Vec<RecordsCountEntry>, String> {
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

/// `GET .../cadences/{id}/actions/analytics`.
#[derive(Debug, Deserialize)]
struct AnalyticsAnswer {
    #[serde(default)]
    cadences: Option<Vec<AnalyticsCadence>>,
}

#[derive(Debug, Deserialize)]
struct AnalyticsCadence {
    #[serde(default)]
    id: Option<ZohoId>,
    #[serde(default)]
    follow_ups: Option<Vec<AnalyticsFollowUp>>,
}

#[derive(Debug, Deserialize)]
struct AnalyticsFollowUp {
    /// Counts by name, plus text such as `subject`: read field by field.
    #[serde(default)]
    analytics: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    action: Option<FollowUpAction>,
}

#[derive(Debug, Deserialize)]
struct FollowUpAction {
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// The channel label of a follow-up action type, and the analytics field that holds the
/// number of actions it executed (Zoho's total for the type: `tasks_count` beside
/// `open_tasks_count`, `completed_tasks_count`, ...).
fn channel_of(action_type: &str) -> (String, Option<&'static str>) {
    match action_type.trim().to_ascii_lowercase().as_str() {
        "email_notifications" | "email_notification" | "email" => {
            ("email".to_owned(), Some("email_count"))
        }
        "schedule_call" | "schedule_calls" | "call" | "calls" => {
            ("call".to_owned(), Some("calls_count"))
        }
        "tasks" | "task" => ("task".to_owned(), Some("tasks_count")),
        "whatsapp_message_notification" | "whatsapp_message_notifications" | "whatsapp" => {
            ("whatsapp".to_owned(), Some("whatsapp_count"))
        }
        other => {
            let safe = !other.is_empty()
                && other.len() <= 64
                && other.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            (if safe { other } else { "other" }.to_owned(), None)
        }
    }
}

/// Decodes an analytics answer into follow-ups executed per channel for cadence `id`.
/// A follow-up of an action type not known here counts under its own channel, using the
/// shortest `*_count` field (the pattern of every documented type's total).
pub fn decode_analytics(body: &[u8], id: &str) -> Result<BTreeMap<String, u64>, String> {
    let answer: AnalyticsAnswer = decode_json(body)?;
    let cadences = answer.cadences.unwrap_or_default();
    let only = cadences.len() == 1;
    let mut executed = BTreeMap::new();
    let Some(cadence) = cadences
        .into_iter()
        .find(|c| only || c.id.as_ref().is_some_and(|i| i.0 == id))
    else {
        return Ok(executed);
    };
    for (index, follow_up) in cadence
        .follow_ups
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let Some(kind) = follow_up.action.and_then(|a| a.kind) else {
            continue;
        };
        let (channel, total) = channel_of(&kind);
        let analytics = follow_up.analytics.unwrap_or_default();
        let field = match total {
            Some(field) => Some(field.to_owned()),
            None => analytics
                .keys()
                .filter(|k| k.ends_with("_count"))
                .min_by_key(|k| (k.len(), (*k).clone()))
                .cloned(),
        };
        let count = match field.as_deref().and_then(|f| analytics.get(f)) {
            None => 0,
            Some(value) => {
                LenientCount::deserialize(value)
                    .map_err(|err| format!("follow_ups[{index}].analytics: {err}"))?
                    .0
            }
        };
        *executed.entry(channel).or_default() += count;
    }
    Ok(executed)
}

fn id_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) if n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// The bounded `error` label of a per-item error code, as the client labels whole answers.
fn item_error_label(endpoint: Endpoint, status: u16, code: &str) -> String {
    ZohoError::Api {
        endpoint: endpoint.as_str(),
        status,
        code: Some(code.to_owned()),
        message: String::new(),
    }
    .metric_label()
}

/// The code of the analytics answer for a cadence Zoho does not know.
const UNKNOWN_CADENCE_CODE: &str = "INVALID_DATA";

/// The analytics answer for a cadence Zoho does not know: 400 `INVALID_DATA` about the id in the
/// path (`details.resource_path_index`, the specification's `InvalidCadenceId` example; or
/// `details.id`, as records_count names an unknown id). An answer to read, not a failed request:
/// the cadence is left out. A 400 `INVALID_DATA` naming a parameter is not one.
fn is_unknown_cadence_answer(status: u16, body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Shape {
        code: Option<String>,
        details: Option<Details>,
    }
    #[derive(Deserialize)]
    struct Details {
        resource_path_index: Option<serde::de::IgnoredAny>,
        id: Option<serde::de::IgnoredAny>,
    }
    status == 400
        && serde_json::from_slice::<Shape>(body).is_ok_and(|shape| {
            shape.code.as_deref() == Some(UNKNOWN_CADENCE_CODE)
                && shape
                    .details
                    .is_some_and(|d| d.resource_path_index.is_some() || d.id.is_some())
        })
}

/// Other refusals of an analytics call read as "no such cadence": 404, and a 400 without a
/// code (the specification documents neither; both say nothing about the request itself).
fn cadence_gone(err: &ZohoError) -> bool {
    matches!(
        err,
        ZohoError::Api { status: 404, .. }
            | ZohoError::Api {
                status: 400,
                code: None,
                ..
            }
    )
}

fn is_empty_answer(status: u16, body: &[u8]) -> bool {
    status == 204 || body.iter().all(u8::is_ascii_whitespace)
}

// ---------------------------------------------------------------------------------------------
// Passes

/// Asks Zoho how many records are enrolled in each of `ids`, in batches of at most
/// [`MAX_IDS_PER_CALL`] in id order. Fails without a partial result.
pub async fn fetch_enrollment(
    client: &ZohoClient,
    telemetry: &OrgTelemetry,
    ids: &[String],
    deadline: Instant,
) -> Result<Enrollment, ZohoError> {
    let org = &client.org().name;
    let path = format!(
        "/crm/{}/settings/automation/cadences/actions/records_count",
        client.org().api_version.path()
    );
    let ids: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let ids: Vec<&str> = ids.into_iter().collect();
    let mut counts = BTreeMap::new();
    for batch in id_batches(org, &ids) {
        let query = format!("{path}?ids={}", ids_parameter(&batch));
        let answer = client
            .get_answer(
                Endpoint::RecordsCount,
                &query,
                &[],
                deadline,
                is_per_item_answer,
            )
            .await?;
        if is_empty_answer(answer.status, &answer.body) {
            continue;
        }
        let entries = decode_records_count(&answer.body).map_err(|detail| {
            let err = ZohoError::Decode {
                endpoint: Endpoint::RecordsCount.as_str(),
                detail,
            };
            telemetry.count_error(Endpoint::RecordsCount, &err.metric_label());
            err
        })?;
        for entry in entries {
            match entry {
                RecordsCountEntry::Count { id, count } => {
                    // Only ids asked for: anything else is not ours to report.
                    if batch.contains(&id.as_str()) {
                        counts.insert(id, count);
                    }
                }
                RecordsCountEntry::Error { id, code } => {
                    telemetry.count_error(
                        Endpoint::RecordsCount,
                        &item_error_label(Endpoint::RecordsCount, answer.status, &code),
                    );
                    tracing::debug!(org = %org, id = id.as_deref().unwrap_or("?"), code = %code, "records_count refused one cadence id (deleted since the last collection?); it is left out");
                }
                RecordsCountEntry::Malformed => {
                    telemetry.count_error(Endpoint::RecordsCount, "decode");
                }
            }
        }
    }
    Ok(Enrollment {
        counts,
        completed_at: Some(SystemTime::now()),
    })
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

/// The window `[now - window, now]` as Zoho's ISO 8601 date-times, UTC, whole seconds.
pub fn analytics_window(now: SystemTime, window: Duration) -> (String, String) {
    let format = |t: SystemTime| {
        chrono::DateTime::<chrono::Utc>::from(t)
            .format("%Y-%m-%dT%H:%M:%S+00:00")
            .to_string()
    };
    let now_secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let till = SystemTime::UNIX_EPOCH + Duration::from_secs(now_secs);
    let from = till.checked_sub(window).unwrap_or(SystemTime::UNIX_EPOCH);
    (format(from), format(till))
}

/// Asks Zoho for the follow-ups each of `cadences` executed between `from` and `till`, one
/// call per cadence, one at a time. Every channel the cadence has configured follow-ups for
/// is reported, at zero when nothing was executed. Fails without a partial result.
pub async fn fetch_follow_ups_executed(
    client: &ZohoClient,
    telemetry: &OrgTelemetry,
    cadences: &[&Cadence],
    (from, till): (String, String),
    deadline: Instant,
) -> Result<FollowUpsExecuted, ZohoError> {
    let org = &client.org().name;
    let version = client.org().api_version.path();
    let query = [
        ("follow_ups_executed_from", from.clone()),
        ("follow_ups_executed_till", till.clone()),
    ];
    let mut per_cadence = BTreeMap::new();
    let mut answered = 0usize;
    let mut refused = None;
    for cadence in cadences {
        if cadence.id.is_empty() || !cadence.id.chars().all(|c| c.is_ascii_alphanumeric()) {
            tracing::debug!(org = %org, id = %cadence.id, "cadence id unusable in a URL; no analytics for it");
            continue;
        }
        let path = format!(
            "/crm/{version}/settings/automation/cadences/{}/actions/analytics",
            cadence.id
        );
        let answer = match client
            .get_answer(
                Endpoint::Analytics,
                &path,
                &query,
                deadline,
                is_unknown_cadence_answer,
            )
            .await
        {
            Ok(answer) if is_unknown_cadence_answer(answer.status, &answer.body) => {
                let err = ZohoError::Api {
                    endpoint: Endpoint::Analytics.as_str(),
                    status: answer.status,
                    code: Some(UNKNOWN_CADENCE_CODE.to_owned()),
                    message: "the cadence id is unknown to Zoho".to_owned(),
                };
                telemetry.count_error(Endpoint::Analytics, &err.metric_label());
                tracing::debug!(org = %org, id = %cadence.id, "analytics: Zoho does not know the cadence (deleted since the last collection?); it is left out");
                refused = Some(err);
                continue;
            }
            Ok(answer) => answer,
            Err(err) if cadence_gone(&err) => {
                tracing::debug!(org = %org, id = %cadence.id, error = %err, "analytics refused a cadence (deleted since the last collection?); it is left out");
                refused = Some(err);
                continue;
            }
            Err(err) => return Err(err),
        };
        answered += 1;
        let mut executed = if is_empty_answer(answer.status, &answer.body) {
            BTreeMap::new()
        } else {
            decode_analytics(&answer.body, &cadence.id).map_err(|detail| {
                let err = ZohoError::Decode {
                    endpoint: Endpoint::Analytics.as_str(),
                    detail: format!("cadence {}: {detail}", cadence.id),
                };
                telemetry.count_error(Endpoint::Analytics, &err.metric_label());
                err
            })?
        };
        for (channel, configured) in &cadence.follow_ups {
            if *configured > 0 {
                executed.entry(channel.to_string()).or_insert(0);
            }
        }
        per_cadence.insert(cadence.id.to_string(), executed);
    }
    match refused {
        Some(err) if answered == 0 => Err(err),
        _ => Ok(FollowUpsExecuted {
            per_cadence,
            from,
            till,
            completed_at: Some(SystemTime::now()),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Loops

/// Waits until the org has a complete snapshot, and returns the latest.
async fn latest_snapshot(state: &SharedState, org: &str) -> Arc<OrgSnapshot> {
    let mut published = state.subscribe_snapshots();
    loop {
        if let Some(snapshot) = state.snapshot(org) {
            return snapshot;
        }
        if published.changed().await.is_err() {
            // The state is gone: nothing will ever be published; wait to be aborted.
            std::future::pending::<()>().await;
        }
    }
}

/// Runs one pass within its deadline: on success `publish` takes the result, on failure the
/// last complete result stays and the failure goes to the org's status. `kind` names the pass
/// in the log.
#[allow(clippy::too_many_arguments)] // both loops' whole context, passed once
async fn timed_pass<R>(
    kind: &str,
    pass_kind: Pass,
    client: &ZohoClient,
    state: &SharedState,
    failures: &FailureLog,
    deadline: Instant,
    pass: impl Future<Output = Result<R, ZohoError>>,
    cadences: impl Fn(&R) -> usize,
    publish: impl AsyncFnOnce(R),
) -> Result<(), ZohoError> {
    let org = &client.org().name;
    let result = match tokio::time::timeout_at(deadline, pass).await {
        Ok(result) => result,
        Err(_) => Err(ZohoError::Deadline),
    };
    match result {
        Ok(result) => {
            failures.succeeded(org, &format!("{kind} pass"));
            tracing::debug!(org, cadences = cadences(&result), "{kind} pass complete");
            publish(result).await;
            Ok(())
        }
        Err(err) => {
            failures.failed(org, &format!("{kind} pass"), "result", &err);
            state.publish_pass_failure(org, last_error(&err, pass_kind, client));
            Err(err)
        }
    }
}

/// Runs `pass` every `interval` on the org's latest snapshot until the task is aborted; the
/// first pass waits for the org's first snapshot.
async fn every<Fut>(
    interval: Duration,
    state: &SharedState,
    org: &str,
    mut pass: impl FnMut(Arc<OrgSnapshot>) -> Fut,
) where
    Fut: Future<Output = Result<(), ZohoError>>,
{
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let snapshot = latest_snapshot(state, org).await;
        let _ = pass(snapshot).await;
    }
}

/// One org's enrollment loop: every `interval`, the enrolled records of every cadence of the
/// org's latest snapshot.
pub struct EnrollmentCollector {
    pub client: Arc<ZohoClient>,
    pub state: SharedState,
    pub telemetry: Arc<OrgTelemetry>,
    pub config: EnrollmentConfig,
    pub deadline: Duration,
    /// Logs a lasting failure once per change of state.
    pub failures: FailureLog,
}

impl EnrollmentCollector {
    /// The loop of the client's org, when enrollment is on and the org's API version has it.
    pub fn wanted(
        config: &Config,
        client: &Arc<ZohoClient>,
        state: &SharedState,
    ) -> Option<EnrollmentCollector> {
        let org = client.org();
        (supported(org) && config.enrollment.enabled).then(|| EnrollmentCollector {
            client: client.clone(),
            state: state.clone(),
            telemetry: state.telemetry().org(&org.name),
            config: config.enrollment.clone(),
            deadline: enrollment_deadline(config),
            failures: FailureLog::default(),
        })
    }

    fn org(&self) -> &str {
        &self.client.org().name
    }

    /// One pass over `snapshot`'s cadences; on success the result is published, on failure
    /// the last complete one stays.
    pub async fn collect_once(&self, snapshot: &OrgSnapshot) -> Result<(), ZohoError> {
        let deadline = Instant::now() + self.deadline;
        let ids: Vec<String> = snapshot.cadences.iter().map(|c| c.id.to_string()).collect();
        timed_pass(
            "enrollment",
            Pass::Enrollment,
            &self.client,
            &self.state,
            &self.failures,
            deadline,
            fetch_enrollment(&self.client, &self.telemetry, &ids, deadline),
            |enrollment| enrollment.counts.len(),
            async |enrollment| {
                self.state
                    .publish_enrollment(self.org(), Arc::new(enrollment))
                    .await
            },
        )
        .await
    }

    /// Runs a pass every interval until aborted; the first once the org has a snapshot.
    pub async fn run(self) {
        let this = &self;
        every(
            this.config.interval,
            &this.state,
            this.org(),
            |snapshot| async move { this.collect_once(&snapshot).await },
        )
        .await
    }
}

/// One org's analytics loop: every `interval`, the follow-ups each active cadence of the org's
/// latest snapshot executed over the last `window`.
pub struct AnalyticsCollector {
    pub client: Arc<ZohoClient>,
    pub state: SharedState,
    pub telemetry: Arc<OrgTelemetry>,
    pub config: AnalyticsConfig,
    pub deadline: Duration,
    /// Logs a lasting failure once per change of state.
    pub failures: FailureLog,
}

impl AnalyticsCollector {
    /// The loop of the client's org, when analytics is wanted ([`analytics_wanted`]) and the
    /// org's API version has it.
    pub fn wanted(
        config: &Config,
        client: &Arc<ZohoClient>,
        state: &SharedState,
    ) -> Option<AnalyticsCollector> {
        let org = client.org();
        (supported(org) && analytics_wanted(config)).then(|| AnalyticsCollector {
            client: client.clone(),
            state: state.clone(),
            telemetry: state.telemetry().org(&org.name),
            config: config.analytics.clone(),
            deadline: analytics_deadline(config),
            failures: FailureLog::default(),
        })
    }

    fn org(&self) -> &str {
        &self.client.org().name
    }

    /// One pass over `snapshot`'s active cadences, for the window ending now.
    pub async fn collect_once(&self, snapshot: &OrgSnapshot) -> Result<(), ZohoError> {
        let deadline = Instant::now() + self.deadline;
        let active: Vec<&Cadence> = snapshot.cadences.iter().filter(|c| c.active()).collect();
        let window = analytics_window(SystemTime::now(), self.config.window);
        timed_pass(
            "analytics",
            Pass::Analytics,
            &self.client,
            &self.state,
            &self.failures,
            deadline,
            fetch_follow_ups_executed(&self.client, &self.telemetry, &active, window, deadline),
            |executed| executed.per_cadence.len(),
            async |executed| {
                self.state
                    .publish_follow_ups_executed(self.org(), Arc::new(executed))
                    .await
            },
        )
        .await
    }

    /// Runs a pass every interval until aborted; the first once the org has a snapshot.
    pub async fn run(self) {
        let this = &self;
        every(
            this.config.interval,
            &this.state,
            this.org(),
            |snapshot| async move { this.collect_once(&snapshot).await },
        )
        .await
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

    /// Zoho's documented analytics answer (getCadenceAnalytics, 200).
    const ANALYTICS: &[u8] = br#"{"cadences":[{"module":{"api_name":"Leads","id":"111112000000002628"},
      "name":"publish cadence","id":"111112000000094004",
      "follow_ups":[
        {"analytics":{"open_tasks_count":1,"failed_tasks_count":0,"subject":"task1","completed_tasks_count":0,"tasks_count":1},
         "parent_follow_up":null,"action":{"name":"task1","type":"tasks"},"id":"111112000000094014"},
        {"analytics":{"created_calls_count":0,"cancelled_calls_count":0,"failed_calls_count":0,"completed_calls_count":0,
          "scheduled_calls_count":1,"subject":"Call scheduled with test","calls_count":1,"overdue_calls_count":0,"missed_calls_count":0},
         "parent_follow_up":{"id":"111112000000094014","type":"tasks"},"action":{"name":"Demo","type":"schedule_call"},"id":"111112000000094026"},
        {"analytics":{"email_count":0,"bounced_email_count":0,"clicked_email_count":0,"replied_email_count":0,
          "sent_email_count":0,"unsent_email_count":1,"opened_email_count":0},
         "action":{"template":{"name":"Template","id":"111112000000080016"},"name":"1","type":"email_notifications"},"id":"111112000000094048"},
        {"analytics":{"whatsapp_count":4,"delivered_whatsapp_count":3,"failed_whatsapp_count":1},
         "action":{"name":"cad whtsapp","type":"whatsapp_message_notification"},"id":"111111000000115111"},
        {"analytics":{"tasks_count":"2"},"action":{"name":"task2","type":"tasks"}}
      ],"created_by":{"name":"Poongodi89 S","id":"111112000000057662"}}]}"#;

    #[test]
    fn analytics_totals_per_channel() {
        let executed = decode_analytics(ANALYTICS, "111112000000094004").unwrap();
        let expected: BTreeMap<String, u64> =
            [("call", 1), ("email", 0), ("task", 3), ("whatsapp", 4)]
                .map(|(c, n)| (c.to_owned(), n))
                .into();
        assert_eq!(executed, expected);
    }

    /// One of Zoho's example answers of `getCadenceAnalytics` (tests/fixtures/zoho/spec/).
    fn analytics_example(file: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/zoho/spec/getCadenceAnalytics/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn the_analytics_example_decodes_as_it_states() {
        let body = analytics_example("response-200-success200.json");
        let executed = decode_analytics(&body, "111112000000094004").unwrap();
        // tasks_count 1, calls_count 1, email_count 0, whatsapp_count 0.
        let expected: BTreeMap<String, u64> =
            [("call", 1), ("email", 0), ("task", 1), ("whatsapp", 0)]
                .map(|(c, n)| (c.to_owned(), n))
                .into();
        assert_eq!(executed, expected);
    }

    #[test]
    fn only_the_unknown_cadence_400_is_an_answer() {
        let dir = format!(
            "{}/tests/fixtures/zoho/spec/getCadenceAnalytics",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut examples: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.starts_with("response-4"))
            .collect();
        examples.sort();
        assert_eq!(examples.len(), 13, "{examples:?}");
        for file in examples {
            let status = file[9..12].parse().unwrap();
            let body = analytics_example(&file);
            assert_eq!(
                is_unknown_cadence_answer(status, &body),
                file == "response-400-invalidcadenceid.json",
                "{file}"
            );
        }
        assert!(is_unknown_cadence_answer(
            400,
            br#"{"code":"INVALID_DATA","details":{"id":"7"},"message":"m","status":"error"}"#
        ));
        let gone = |status, code: Option<&str>| ZohoError::Api {
            endpoint: "analytics",
            status,
            code: code.map(str::to_owned),
            message: String::new(),
        };
        assert!(cadence_gone(&gone(404, Some("INVALID_URL_PATTERN"))));
        assert!(cadence_gone(&gone(400, None)));
        assert!(!cadence_gone(&gone(400, Some("INVALID_DATA"))));
        assert!(!cadence_gone(&gone(403, Some("NO_PERMISSION"))));
    }

    #[test]
    fn analytics_unknown_types_and_oddities() {
        let body = br#"{"cadences":[{"id":"7","follow_ups":[
            {"analytics":{"sms_count":3,"failed_sms_count":1},"action":{"type":"SMS"}},
            {"analytics":{"x_count":1},"action":{"type":"push notification!"}},
            {"analytics":null,"action":{"type":"tasks"}},
            {"analytics":{"tasks_count":5}},
            {"action":null}]}]}"#;
        let executed = decode_analytics(body, "7").unwrap();
        let expected: BTreeMap<String, u64> = [("other", 1), ("sms", 3), ("task", 0)]
            .map(|(c, n)| (c.to_owned(), n))
            .into();
        assert_eq!(executed, expected);
        // An answer about another cadence, or none at all, reports nothing.
        let two = br#"{"cadences":[{"id":"8","follow_ups":[]},{"id":"9","follow_ups":[]}]}"#;
        assert!(decode_analytics(two, "7").unwrap().is_empty());
        assert!(decode_analytics(br#"{"cadences":[]}"#, "7")
            .unwrap()
            .is_empty());
        let err = decode_analytics(
            br#"{"cadences":[{"follow_ups":[{"analytics":{"tasks_count":"many"},"action":{"type":"tasks"}}]}]}"#,
            "7",
        )
        .unwrap_err();
        assert!(err.contains("follow_ups[0].analytics"), "{err}");
    }

    #[test]
    fn window_is_utc_iso_8601_in_whole_seconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_721_273_902_750);
        let (from, till) = analytics_window(now, Duration::from_secs(86_400));
        assert_eq!(till, "2024-07-18T03:38:22+00:00");
        assert_eq!(from, "2024-07-17T03:38:22+00:00");
    }

    #[test]
    fn only_v8_orgs_are_supported() {
        let config = Config::parse(
            "orgs:\n  - {name: a, client_id: i, client_secret: s, refresh_token: r}\n  - {name: b, client_id: i, client_secret: s, refresh_token: r, api_version: v7}\n",
        )
        .unwrap();
        assert!(supported(&config.orgs[0]));
        assert!(!supported(&config.orgs[1]));
    }

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
    fn item_errors_get_bounded_labels() {
        assert_eq!(
            item_error_label(Endpoint::RecordsCount, 207, "INVALID_DATA"),
            "INVALID_DATA"
        );
        assert_eq!(
            item_error_label(Endpoint::RecordsCount, 207, "<b>boom</b>\n"),
            "http_207"
        );
    }
}
