//! Property tests: the decoder never panics and reads back what Zoho encodes in any of its
//! forms; snapshots keep their invariants; paging reads every cadence exactly once.

mod common;

use common::*;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::time::SystemTime;
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

proptest! {
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
