//! Property tests through the public API: the decoder never panics; paging reads every cadence
//! exactly once. (That every form Zoho uses decodes to the same cadence, and that snapshots keep
//! their invariants, are properties of the crate's own units: `src/zoho/cadences.rs`,
//! `src/domain/snapshot.rs`.)

mod common;

// The fuzz targets' entry points; this file uses the decoder's only.
#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod entry_points;

use common::*;
use fake_zoho::{generated_cadences, Route};
use proptest::prelude::*;
use zoho_cadences_exporter::decode_cadences_page;

proptest! {
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
