//! The layers cannot drift: every `crate::` path in `src/` (in `use crate::…`, grouped
//! `use crate::{a, b::{c}}`, in code and in doc links) must name the file's own layer or one its
//! row of the layer table in ARCHITECTURE.md allows; and the table itself only lets a layer use
//! layers above it in the table, so the data path goes one way and no cycle can come back.

mod common;

use common::rust_files;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The layer table of ARCHITECTURE.md: layer to the layers it may use, in table order.
fn layer_table() -> Vec<(String, BTreeSet<String>)> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let section = text
        .split("\n## Layers")
        .nth(1)
        .expect("ARCHITECTURE.md has a Layers section");
    let section = section.split("\n## ").next().unwrap();
    let names = |cell: &str| -> BTreeSet<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(|name| name.trim_end_matches('/').to_owned())
            .collect()
    };
    let rows: Vec<(String, BTreeSet<String>)> = section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').collect();
            let layer = names(cells[1]).into_iter().next().expect("a layer name");
            (layer, names(cells[2]))
        })
        .collect();
    assert!(rows.len() >= 5, "the table has its layers: {rows:?}");
    let mut seen = BTreeSet::new();
    for (layer, _) in &rows {
        assert!(
            seen.insert(layer),
            "{layer} has two rows in the layer table"
        );
    }
    rows
}

/// The source without string and char literals and without plain `//` and `/* */` comments;
/// doc comments stay, since their links are uses too.
fn code_of(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let rest = &chars[i..];
        let starts = |s: &str| rest.iter().take(s.len()).copied().eq(s.chars());
        if starts("///") || starts("//!") {
            while i < chars.len() && chars[i] != '\n' {
                out.push(chars[i]);
                i += 1;
            }
        } else if starts("//") {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if starts("/*") {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if starts("r#\"") || starts("r\"") || starts("br#\"") || starts("br\"") {
            // A raw string: skip to the quote and as many hashes as it opened with.
            let open = rest.iter().position(|c| *c == '"').unwrap();
            let hashes = rest[..open].iter().filter(|c| **c == '#').count();
            i += open + 1;
            let close: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            while i < chars.len()
                && !chars[i..]
                    .iter()
                    .take(close.len())
                    .copied()
                    .eq(close.chars())
            {
                i += 1;
            }
            i += close.len();
            out.push_str("\"\"");
        } else if chars[i] == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if chars[i] == '\''
            && (rest.get(2) == Some(&'\'')
                || (rest.get(1) == Some(&'\\') && rest.get(3) == Some(&'\'')))
        {
            // A char literal ('x' or '\n'), not a lifetime.
            i += if rest[1] == '\\' { 4 } else { 3 };
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The first segment of each path that `code` names through `crate::`: `crate::a::b` gives `a`,
/// `crate::{a, b::{c}}` gives `a` and `b`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `my_crate::`, `$crate::`
        }
        let rest = code[at + "crate::".len()..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                    _ if depth == 0 => item.push(c),
                    _ => {}
                }
            }
            items.push(item);
            for item in items {
                let first: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !first.is_empty() {
                    found.insert(first);
                }
            }
        } else {
            let first: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !first.is_empty() {
                found.insert(first);
            }
        }
    }
    found
}

#[test]
fn the_path_parser_reads_every_form() {
    let code = code_of(
        "use crate::a::b;\nuse crate::{c, d::{e, f::g}, self as h};\n/// See [`crate::i::j`].\nfn x() { crate::k::l(); let s = \"crate::m\"; } // crate::n\nlet t = $crate::o; my_crate::p;",
    );
    let found = crate_paths(&code);
    let expected: BTreeSet<String> = ["a", "c", "d", "i", "k", "self"].map(str::to_owned).into();
    assert_eq!(found, expected);
}

#[test]
fn the_layer_table_goes_one_way() {
    let table = layer_table();
    let mut above: BTreeSet<String> = BTreeSet::new();
    for (layer, may_use) in &table {
        let unknown: Vec<_> = may_use.difference(&above).collect();
        assert!(
            unknown.is_empty(),
            "{layer} may use {unknown:?}, which are not above it in the table: a cycle could form"
        );
        above.insert(layer.clone());
    }
}

#[test]
fn every_folder_of_src_is_a_layer_of_the_table() {
    let table: BTreeSet<String> = layer_table().into_iter().map(|(l, _)| l).collect();
    let src = Path::new(ROOT).join("src");
    let mut folders = BTreeSet::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            folders.insert(name);
        } else {
            assert!(
                ["lib.rs", "main.rs"].contains(&name.as_str()),
                "src/{name}: code belongs in a layer folder"
            );
        }
    }
    assert_eq!(
        folders, table,
        "the folders of src/ and the layers of the table"
    );
}

#[test]
fn every_crate_path_in_src_keeps_to_the_table() {
    let table: BTreeMap<String, BTreeSet<String>> = layer_table().into_iter().collect();
    let src = Path::new(ROOT).join("src");
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).unwrap();
        let mut parts = relative.components();
        let first = parts
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        if parts.next().is_none() {
            continue; // lib.rs and main.rs stand above every layer
        }
        let allowed = &table[&first];
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for used in crate_paths(&code) {
            checked += 1;
            if used != first && !allowed.contains(&used) {
                violations.push(format!("src/{}: uses {used}", relative.display()));
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} paths read: is the parser blind?"
    );
    assert!(
        violations.is_empty(),
        "imports against the layer table of ARCHITECTURE.md:\n{}",
        violations.join("\n")
    );
}
