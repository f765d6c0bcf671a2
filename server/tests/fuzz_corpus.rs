//! Replays every file of the server's fuzz corpora (`fuzz/corpus/<target>`)
//! and crash reproducers (`fuzz/artifacts/<target>`) through the same
//! checks the fuzz targets run, on stable: an input that once failed stays
//! a test. Fuzzing itself is `./scripts/fuzz.sh` (nightly).

#[path = "../../fuzz/checks/server.rs"]
mod checks;

use std::path::{Path, PathBuf};

/// The inputs of one target, by file.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
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
fn replay(target: &str, check: fn(&[u8]) -> bool) -> Vec<(PathBuf, bool)> {
    let files = inputs(target);
    let mut outcomes = Vec::new();
    let mut failed = Vec::new();
    for (path, data) in &files {
        match std::panic::catch_unwind(|| check(data)) {
            Ok(accepted) => outcomes.push((path.clone(), accepted)),
            Err(_) => failed.push(path.display().to_string()),
        }
    }
    assert!(failed.is_empty(), "{target}: failing inputs: {failed:#?}");
    let accepted = outcomes.iter().filter(|(_, a)| *a).count();
    assert!(accepted > 0, "{target}: no input of the corpus is accepted");
    assert!(accepted < files.len(), "{target}: no input is refused");
    outcomes
}

#[test]
fn server_request_corpus() {
    let outcomes = replay("server_request", checks::server_request);
    // Every endpoint has a seed the handler accepts.
    for endpoint in passage_auth_server::fuzzing::ENDPOINTS {
        let seeded = outcomes.iter().any(|(path, accepted)| {
            *accepted
                && std::fs::read(path)
                    .unwrap()
                    .starts_with(format!("{endpoint}\n").as_bytes())
        });
        assert!(seeded, "no accepted seed for {endpoint}");
    }
}

#[test]
fn server_bearer_corpus() {
    replay("server_bearer", checks::server_bearer);
}

/// The key's tokens verify, for their app only, until they expire: the
/// corpus's tokens exercise the real verification.
#[test]
fn the_fuzz_key_signs_tokens_that_verify() {
    let v = checks::verifier();
    let token = v.sign(
        checks::ISSUER,
        checks::APP,
        "user",
        checks::NOW,
        checks::NOW + 300,
    );
    assert!(checks::server_bearer(format!("Bearer {token}").as_bytes()));
    let expired = v.sign(checks::ISSUER, checks::APP, "user", 0, checks::NOW);
    assert!(!checks::server_bearer(
        format!("Bearer {expired}").as_bytes()
    ));
    let other = v.sign(
        checks::ISSUER,
        "other",
        "user",
        checks::NOW,
        checks::NOW + 300,
    );
    assert!(!checks::server_bearer(format!("Bearer {other}").as_bytes()));
}
