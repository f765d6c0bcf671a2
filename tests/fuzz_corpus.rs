//! Replays every file of the client's fuzz corpora (`fuzz/corpus/<target>`)
//! and crash reproducers (`fuzz/artifacts/<target>`) through the same
//! checks the fuzz targets run, on stable: an input that once failed stays
//! a test. Fuzzing itself is `./scripts/fuzz.sh` (nightly).
#![cfg(not(target_arch = "wasm32"))]

#[path = "../fuzz/checks/client.rs"]
mod checks;

use std::path::{Path, PathBuf};

/// The inputs of one target, by file.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
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
/// that both paths stay covered.
fn replay(target: &str, check: fn(&[u8]) -> bool) {
    let files = inputs(target);
    let mut accepted = 0;
    let mut failed = Vec::new();
    for (path, data) in &files {
        match std::panic::catch_unwind(|| check(data)) {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(_) => failed.push(path.display().to_string()),
        }
    }
    assert!(failed.is_empty(), "{target}: failing inputs: {failed:#?}");
    assert!(accepted > 0, "{target}: no input of the corpus is accepted");
    assert!(accepted < files.len(), "{target}: no input is refused");
}

#[test]
fn jwt_corpus() {
    replay("jwt", checks::jwt);
}

#[test]
fn stored_corpus() {
    replay("stored", checks::stored);
}

#[test]
fn auth_result_corpus() {
    replay("auth_result", checks::auth_result);
}

#[test]
fn refresh_reply_corpus() {
    replay("refresh_reply", checks::refresh_reply);
}

#[test]
fn account_reply_corpus() {
    replay("account_reply", checks::account_reply);
}
