//! Entry points shared by the cargo-fuzz targets (`fuzz/`) and the corpus replay test
//! (`tests/fuzz_corpus.rs`), so both exercise exactly the same code.

use crate::snapshot::{Cadence, Interner, OrgSnapshot};

/// Decodes a cadences page and, when it decodes, builds a snapshot of it. Returns whether the
/// page decoded.
pub fn decode_cadences(data: &[u8]) -> bool {
    match crate::zoho::model::decode_cadences_page(data) {
        Ok(page) => {
            let cadences: Vec<Cadence> = Interner::default().cadences(page.cadences).collect();
            let count = cadences.len();
            let snapshot = OrgSnapshot::build(cadences, std::time::SystemTime::UNIX_EPOCH);
            assert!(snapshot.cadences.len() <= count);
            let counted: u64 = snapshot
                .modules
                .values()
                .flat_map(|m| m.statuses.values())
                .sum();
            assert_eq!(counted, snapshot.cadences.len() as u64);
            true
        }
        Err(_) => false,
    }
}

/// Parses a config (as UTF-8 text, when it is). Returns whether it is a valid config.
pub fn parse_config(data: &[u8]) -> bool {
    std::str::from_utf8(data).is_ok_and(|text| crate::config::Config::parse(text).is_ok())
}
