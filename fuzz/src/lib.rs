//! The entry points of the fuzz targets (`fuzz_targets/`), through the exporter's public API only.
//! `tests/fuzz_corpus.rs` and `tests/properties.rs` include this file as a module, so the corpus
//! replay in the ordinary test run exercises exactly the code the fuzzer does, and the exporter
//! itself carries no fuzzing entry point.

use zoho_cadences_exporter::{decode_cadences_page, Cadence, Config, Interner, OrgSnapshot};

/// Decodes a cadences page and, when it decodes, builds a snapshot of it. Returns whether the
/// page decoded.
pub fn decode_cadences(data: &[u8]) -> bool {
    match decode_cadences_page(data) {
        Ok(page) => {
            let mut texts = Interner::default();
            let cadences: Vec<Cadence> = page.into_cadences(&mut texts).collect();
            let count = cadences.len();
            let snapshot = OrgSnapshot::build(cadences, std::time::SystemTime::UNIX_EPOCH);
            assert!(snapshot.cadences().len() <= count);
            // Statuses the specification does not list are counted apart from these three.
            let documented =
                snapshot.active_count() + snapshot.inactive_count() + snapshot.draft_count();
            assert!(documented <= snapshot.cadences().len() as u64);
            true
        }
        Err(_) => false,
    }
}

/// Parses a config (as UTF-8 text, when it is). Returns whether it is a valid config.
pub fn parse_config(data: &[u8]) -> bool {
    std::str::from_utf8(data).is_ok_and(|text| Config::parse(text).is_ok())
}
