//! Property tests through the public API: the decoder never panics; a cadence with a usable id
//! is exported whatever else it holds; paging reads every cadence exactly once. (That every form
//! Zoho uses decodes to the same cadence, and that snapshots keep their invariants, are
//! properties of the crate's own units: `src/zoho/cadences.rs`, `src/domain/snapshot.rs`.)

mod common;

// The fuzz targets' entry points; this file uses the decoder's only.
#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod entry_points;

use common::*;
use fake_zoho::{generated_cadences, Route};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::SystemTime;
use zoho_cadences_exporter::{decode_cadences_page, Config, Interner, OrgSnapshot, SharedState};

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
        let mut texts = Interner::default();
        let snapshot = OrgSnapshot::build(page.into_cadences(&mut texts).collect(), SystemTime::UNIX_EPOCH);
        prop_assert_eq!(snapshot.cadences().len(), cadences.len(), "none skipped: {}", body);

        let config = Config::parse(
            "orgs:\n  - {name: acme, client_id: i, client_secret: s, refresh_token: r}\n",
        )
        .unwrap();
        let state = SharedState::new(&config);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(state.publish_snapshot("acme", Arc::new(snapshot)));
        let text = scrape(&state);
        for (_, id) in &cadences {
            let label = format!("zoho_crm_cadence_info{{org=\"acme\",id=\"{}\",", escaped(id));
            prop_assert!(text.contains(&label), "{} not exported:\n{}", id, text);
        }
    }

    #[test]
    fn the_decoder_never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_cadences_page(&data);
        let _ = entry_points::decode_cadences(&data);
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
