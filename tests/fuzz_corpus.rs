//! Replays the fuzz corpora (`fuzz/corpus/*`) through the fuzz targets' own entry points, so
//! every input that ever mattered keeps being checked by the ordinary test run.

#[path = "../fuzz/src/lib.rs"]
mod entry_points;

use entry_points::{decode_cadences, parse_config};
use std::path::Path;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
            )
        })
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the {target} corpus is there");
    files
}

#[test]
fn decode_cadences_corpus() {
    for (name, data) in corpus("decode_cadences") {
        let decoded = decode_cadences(&data);
        let expected =
            matches!(name.as_str(), "sample.json" | "quirks.json") || name.starts_with("ok-");
        if expected
            || [
                "wrong-shape.json",
                "truncated.json",
                "huge-number.json",
                "empty.json",
            ]
            .contains(&name.as_str())
        {
            assert_eq!(decoded, expected, "{name}");
        }
    }
}

#[test]
fn config_parse_corpus() {
    for (name, data) in corpus("config_parse") {
        let valid = parse_config(&data);
        match name.as_str() {
            "full.yaml" | "minimal.yaml" => assert!(valid, "{name}"),
            "unknown-key.yaml" | "bad-glob.yaml" | "anchors.yaml" => assert!(!valid, "{name}"),
            _ => {}
        }
    }
}
