//! Replays a fuzz target's corpus (`fuzz/corpus/<target>`) and crash
//! reproducers (`fuzz/artifacts/<target>`) through its check, on stable.
//! The client's and the server's replay tests (`tests/fuzz_corpus.rs`,
//! `server/tests/fuzz_corpus.rs`) both include this file.

use std::path::{Path, PathBuf};

/// The inputs of one target under `fuzz` (the `fuzz/` directory), by file.
fn inputs(fuzz: &Path, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for dir in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a readable directory").path();
            let data = std::fs::read(&path).expect("a readable file");
            files.push((path, data));
        }
    }
    files.sort();
    files
}

/// Runs `check` on every input of `target`, naming each one that fails.
/// The corpus must hold inputs the parser accepts and inputs it refuses, so
/// that both paths stay covered. Answers each input with whether `check`
/// accepted it.
pub fn replay(fuzz: &Path, target: &str, check: fn(&[u8]) -> bool) -> Vec<(Vec<u8>, bool)> {
    let files = inputs(fuzz, target);
    let mut outcomes = Vec::new();
    let mut failed = Vec::new();
    for (path, data) in files {
        match std::panic::catch_unwind(|| check(&data)) {
            Ok(accepted) => outcomes.push((data, accepted)),
            Err(_) => failed.push(path.display().to_string()),
        }
    }
    assert!(failed.is_empty(), "{target}: failing inputs: {failed:#?}");
    let accepted = outcomes.iter().filter(|(_, a)| *a).count();
    assert!(accepted > 0, "{target}: no input of the corpus is accepted");
    assert!(accepted < outcomes.len(), "{target}: no input is refused");
    outcomes
}
