//! Replays every file of the client's fuzz corpora (`fuzz/corpus/<target>`)
//! and crash reproducers (`fuzz/artifacts/<target>`) through the same
//! checks the fuzz targets run, on stable: an input that once failed stays
//! a test. Fuzzing itself is `./scripts/fuzz.sh` (nightly).
#![cfg(not(target_arch = "wasm32"))]

#[path = "../fuzz/checks/client.rs"]
mod checks;
#[path = "../fuzz/checks/replay.rs"]
mod replay;

use std::path::Path;

/// Replays `target` through `check` (see [`replay::replay`]).
fn replay(target: &str, check: fn(&[u8]) -> bool) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    replay::replay(&fuzz, target, check);
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
