//! Reading which of a crate's modules a piece of its code imports: every
//! `crate::` path, each member of a `use crate::{a, b::c}` group, comment
//! lines left out. Shared by the layering tests of the client
//! (`tests/layers.rs`) and of the server (`server/tests/layers.rs`).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The code of a file without its comment lines (doc links such as
/// [`crate::clock::Clock`] are not imports).
pub fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.trim_start().starts_with("//"))
}

/// The top-level modules a piece of code names after `crate::`, including
/// each one of a `use crate::{a, b::c}` group.
pub fn crate_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        // `passage_auth_server::...` or `$crate::` are not this crate's paths.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            let mut depth = 0;
            let mut item = String::new();
            for c in group[..end].chars().chain([',']) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(first_ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
        } else {
            found.insert(first_ident(rest));
        }
    }
    found.remove("");
    found.remove("self");
    found
}

fn first_ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

pub fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// Each top-level module of the crate in `src` (a file `src/x.rs` or
/// `src/x/**.rs` is `x`; `lib.rs` is `lib`) and the code of its files,
/// comment lines left out; the modules named in `skip` left out too.
pub fn modules(src: &Path, skip: &[&str]) -> BTreeMap<String, String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut modules: BTreeMap<String, String> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = Path::new(first).file_stem().unwrap().to_str().unwrap();
        if skip.contains(&module) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = modules.entry(module.to_owned()).or_default();
        for line in code_lines(&text) {
            code.push_str(line);
            code.push('\n');
        }
    }
    modules
}
