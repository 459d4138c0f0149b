//! Property tests: the decoder never panics and reads back what Zoho encodes in any of its
//! forms; a cadence with a usable id is exported whatever else it holds; snapshots keep their
//! invariants; paging reads every cadence exactly once.

mod common;

use common::*;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::SystemTime;
use zoho_cadences_exporter::exposition::{CadenceSource, EncodedCadences};
use zoho_cadences_exporter::fake_zoho::{generated_cadences, Route};
use zoho_cadences_exporter::snapshot::{Cadence, Interner, OrgSnapshot, Status};
use zoho_cadences_exporter::zoho::model::decode_cadences_page;

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

fn cadence_strategy() -> impl Strategy<Value = Generated> {
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

/// The names the exporter reads at any depth of a cadence, and one it does not.
const KEYS: [&str; 23] = [
    "name",
    "module",
    "api_name",
    "active",
    "status",
    "published",
    "type",
    "summary",
    "email_follow_up_count",
    "whatsapp_follow_up_count",
    "created_time",
    "modified_time",
    "created_by",
    "modified_by",
    "custom_view",
    "execution_details",
    "end_date",
    "execute_every",
    "unit",
    "period",
    "unenroll_properties",
    "description",
    "id",
];

/// Any JSON value, with the values Zoho's fields take among them.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        proptest::sample::select(vec![
            "active",
            "inactive",
            "draft",
            "true",
            "1",
            "immediately",
            "weeks",
            "",
            "2024-07-17T20:38:22-0700",
            "2025-12-31",
            "Custom view",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    proptest::sample::select(KEYS.to_vec()).prop_map(str::to_owned),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A cadence id as Zoho may send it (a string, or an integer number) and the id it must be
/// exported under.
fn any_id() -> impl Strategy<Value = (Value, String)> {
    prop_oneof![
        any::<u64>().prop_map(|n| (json!(n), n.to_string())),
        any::<i64>().prop_map(|n| (json!(n), n.to_string())),
        "\\PC{1,24}"
            .prop_filter("no surrounding blanks", |s| !s.trim().is_empty()
                && s.trim() == s)
            .prop_map(|s| (json!(s), s)),
    ]
}

/// A JSON object with a usable id and anything else in any of the fields the exporter reads.
fn any_cadence() -> impl Strategy<Value = (Value, String)> {
    (
        any_id(),
        proptest::collection::btree_map(
            proptest::sample::select(KEYS[..KEYS.len() - 1].to_vec()),
            any_json(),
            0..14,
        ),
    )
        .prop_map(|((id, text), fields)| {
            let mut cadence: serde_json::Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            cadence.insert("id".to_owned(), id);
            (Value::Object(cadence), text)
        })
}

/// A label value as the text exposition escapes it.
fn escaped(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

proptest! {
    #[test]
    fn a_cadence_with_a_usable_id_is_exported_whatever_else_it_holds(
        cadences in proptest::collection::vec(any_cadence(), 1..6)
    ) {
        let mut ids = std::collections::BTreeSet::new();
        let cadences: Vec<(Value, String)> =
            cadences.into_iter().filter(|(_, id)| ids.insert(id.clone())).collect();
        let body = json!({
            "cadences": cadences.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>(),
            "info": {"more_records": false},
        });
        let page = decode_cadences_page(body.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("the page failed: {e}\n{body}"));
        let decoded: Vec<String> = page.cadences.iter().map(|c| c.id.0.clone()).collect();
        let expected: Vec<String> = cadences.iter().map(|(_, id)| id.clone()).collect();
        prop_assert_eq!(&decoded, &expected, "{}", body);
        prop_assert!(page.invalid.iter().all(|c| c.id.is_some()), "none skipped: {:?}", page.invalid);

        let snapshot = OrgSnapshot::build(
            Interner::default().cadences(page.cadences).collect(),
            SystemTime::UNIX_EPOCH,
        );
        let encoded = EncodedCadences::encode(CadenceSource {
            orgs: vec![("acme".to_owned(), Arc::new(snapshot))],
            enrollment: Default::default(),
            follow_ups_executed: Default::default(),
            expectations: Arc::new(Vec::new()),
            per_cadence_metrics: true,
        });
        let text = String::from_utf8(encoded.text.bytes().to_vec()).unwrap();
        for id in &expected {
            let label = format!("zoho_crm_cadence_info{{org=\"acme\",id=\"{}\",", escaped(id));
            prop_assert!(text.contains(&label), "{} not exported:\n{}", id, text);
        }
    }

    #[test]
    fn the_decoder_never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_cadences_page(&data);
        let _ = zoho_cadences_exporter::fuzzing::decode_cadences(&data);
    }

    #[test]
    fn every_form_zoho_uses_decodes_to_the_same_cadence(cadences in proptest::collection::vec(cadence_strategy(), 0..20)) {
        let body = json!({"cadences": cadences.iter().map(|c| c.json.clone()).collect::<Vec<_>>(), "info": {"more_records": false}});
        let page = decode_cadences_page(body.to_string().as_bytes()).expect("decodes");
        prop_assert_eq!(page.cadences.len(), cadences.len());
        let mut texts = Interner::default();
        for (raw, expected) in page.cadences.into_iter().zip(&cadences) {
            let cadence = Cadence::from_raw(raw, &mut texts);
            prop_assert_eq!(cadence.id.to_string(), expected.id.to_string());
            prop_assert_eq!(cadence.active(), expected.active);
            prop_assert_eq!(cadence.modified, expected.modified.map(|m| m as f64));
        }
    }

    #[test]
    fn snapshots_count_each_id_once_and_stay_sorted(
        entries in proptest::collection::vec((0u8..30, 0usize..4, any::<bool>()), 0..80)
    ) {
        const MODULES: [&str; 4] = ["Leads", "Contacts", "Deals", "Vendors"];
        let cadences: Vec<Cadence> = entries.iter().map(|(id, module, active)| Cadence {
            id: id.to_string().into(),
            name: format!("n{id}").into(),
            module: MODULES[*module].into(),
            status: if *active { Status::Active } else { Status::Inactive },
            ..Cadence::default()
        }).collect();
        let snapshot = OrgSnapshot::build(cadences.clone(), SystemTime::UNIX_EPOCH);
        let mut last: std::collections::BTreeMap<&str, &Cadence> = Default::default();
        for c in &cadences {
            last.insert(&c.id, c);
        }
        prop_assert_eq!(snapshot.cadences.len(), last.len());
        prop_assert_eq!(snapshot.active_count() + snapshot.inactive_count(), last.len() as u64);
        prop_assert_eq!(snapshot.active_count(), last.values().filter(|c| c.active()).count() as u64);
        let keys: Vec<_> = snapshot.cadences.iter().map(|c| (&c.module, &c.name, &c.id)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        prop_assert_eq!(keys, sorted);
        for cadence in &snapshot.cadences {
            prop_assert_eq!(&cadence.module, &last[&*cadence.id].module, "the later sighting wins");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn paging_reads_every_cadence_exactly_once(count in 0u64..900) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let (fake, state, collector) = single(generated_cadences(count), "").await;
            collector.collect_once().await.unwrap();
            let pages = count.div_ceil(200).max(1);
            assert_eq!(fake.calls(Route::Cadences), pages, "{count} cadences");
            let text = scrape(&state);
            assert_eq!(count_series(&text, "zoho_crm_cadence_active") as u64, count);
            assert_eq!(sum(&text, "zoho_crm_cadences", &[]) as u64, count);
        });
    }
}
