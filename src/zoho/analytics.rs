//! Follow-ups executed per active cadence,
//! `GET /crm/v8/settings/automation/cadences/{id}/actions/analytics`: its answer shapes and the
//! calls of one analytics pass.
//!
//! Why it is shaped this way:
//! - It costs one call per active cadence, so the pass is off by default, has its own slower
//!   interval, and makes its calls one at a time to leave Zoho's concurrency limit to the main
//!   collection.
//! - A cadence that Zoho no longer knows is left out: the specification answers 400
//!   `INVALID_DATA` with `details.resource_path_index` (the position of the id in the path) for
//!   it, counted by its code; a 404, or a 400 without a code, is read the same way. A 400 about a
//!   parameter (`details.param_name`, another code) is about the request and fails the pass.
//! - A pass in which every call was refused fails, so a request Zoho cannot understand keeps the
//!   last result rather than emptying it.
//!
//! Shapes follow Zoho's OpenAPI specification (zoho/crm-oas, `v8.0/cadences/`, operation
//! `getCadenceAnalytics`), decoded leniently.

use crate::domain::activity::FollowUpsExecuted;
use crate::domain::cadence::Cadence;
use crate::metrics::labels::Endpoint;
use crate::zoho::client::ZohoClient;
use crate::zoho::error::ZohoError;
use crate::zoho::lenient::{decode_json, LenientCount, ZohoId};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

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
pub(crate) fn decode_analytics(body: &[u8], id: &str) -> Result<BTreeMap<String, u64>, String> {
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

/// What one cadence's analytics call came to.
enum CadenceAnalytics {
    /// Follow-ups executed per channel.
    Executed(BTreeMap<String, u64>),
    /// Zoho does not know the cadence (deleted since the collection): left out, and counted as
    /// refused.
    Gone(ZohoError),
    /// Not asked: the id cannot go into a URL.
    NotAsked,
}

/// The window `[now - window, now]` as Zoho's ISO 8601 date-times, UTC, whole seconds.
pub(crate) fn analytics_window(now: SystemTime, window: Duration) -> (String, String) {
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

impl ZohoClient {
    /// Asks Zoho for the follow-ups each of `cadences` executed over `window` ending now, one
    /// call per cadence, one at a time. Every channel the cadence has configured follow-ups for
    /// is reported, at zero when nothing was executed. Fails without a partial result.
    pub(crate) async fn follow_ups_executed(
        &self,
        cadences: &[&Cadence],
        window: Duration,
        deadline: Instant,
    ) -> Result<FollowUpsExecuted, ZohoError> {
        let (from, till) = analytics_window(SystemTime::now(), window);
        let query = [
            ("follow_ups_executed_from", from),
            ("follow_ups_executed_till", till),
        ];
        let mut per_cadence = BTreeMap::new();
        let mut answered = 0usize;
        let mut refused = None;
        for cadence in cadences {
            match self.cadence_analytics(cadence, &query, deadline).await? {
                CadenceAnalytics::Executed(executed) => {
                    answered += 1;
                    per_cadence.insert(cadence.id.to_string(), executed);
                }
                CadenceAnalytics::Gone(err) => {
                    tracing::debug!(org = %self.org().name, id = %cadence.id, error = %err, "analytics: Zoho does not know the cadence (deleted since the last collection?); it is left out");
                    refused = Some(err);
                }
                CadenceAnalytics::NotAsked => {}
            }
        }
        match refused {
            Some(err) if answered == 0 => Err(err),
            _ => Ok(FollowUpsExecuted { per_cadence }),
        }
    }

    /// One cadence's follow-ups executed per channel, with every channel it has steps for.
    async fn cadence_analytics(
        &self,
        cadence: &Cadence,
        query: &[(&str, String)],
        deadline: Instant,
    ) -> Result<CadenceAnalytics, ZohoError> {
        if cadence.id.is_empty() || !cadence.id.chars().all(|c| c.is_ascii_alphanumeric()) {
            tracing::debug!(org = %self.org().name, id = %cadence.id, "cadence id unusable in a URL; no analytics for it");
            return Ok(CadenceAnalytics::NotAsked);
        }
        let path = format!(
            "/crm/{}/settings/automation/cadences/{}/actions/analytics",
            self.org().api_version.path(),
            cadence.id
        );
        let answered = self
            .get_answer(
                Endpoint::Analytics,
                &path,
                query,
                deadline,
                is_unknown_cadence_answer,
            )
            .await;
        let answer = match answered {
            Ok(answer) if is_unknown_cadence_answer(answer.status, &answer.body) => {
                return Ok(CadenceAnalytics::Gone(self.counted(ZohoError::Api {
                    endpoint: Endpoint::Analytics,
                    status: answer.status,
                    code: Some(UNKNOWN_CADENCE_CODE.to_owned()),
                    message: "the cadence id is unknown to Zoho".to_owned(),
                })));
            }
            Ok(answer) => answer,
            Err(err) if cadence_gone(&err) => return Ok(CadenceAnalytics::Gone(err)),
            Err(err) => return Err(err),
        };
        let mut executed = if answer.is_empty() {
            BTreeMap::new()
        } else {
            self.decoded(
                Endpoint::Analytics,
                decode_analytics(&answer.body, &cadence.id),
                |detail| format!("cadence {}: {detail}", cadence.id),
            )?
        };
        for (channel, configured) in cadence.follow_ups.iter() {
            if *configured > 0 {
                executed.entry(channel.to_string()).or_insert(0);
            }
        }
        Ok(CadenceAnalytics::Executed(executed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            endpoint: Endpoint::Analytics,
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
    fn analytics_totals_per_channel() {
        let executed = decode_analytics(ANALYTICS, "111112000000094004").unwrap();
        let expected: BTreeMap<String, u64> =
            [("call", 1), ("email", 0), ("task", 3), ("whatsapp", 4)]
                .map(|(c, n)| (c.to_owned(), n))
                .into();
        assert_eq!(executed, expected);
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
}
