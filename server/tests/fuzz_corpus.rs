//! Replays every file of the server's fuzz corpora (`fuzz/corpus/<target>`)
//! and crash reproducers (`fuzz/artifacts/<target>`) through the same
//! checks the fuzz targets run, on stable: an input that once failed stays
//! a test. Fuzzing itself is `./scripts/fuzz.sh` (nightly).

#[path = "../../fuzz/checks/server.rs"]
mod checks;
#[path = "../../fuzz/checks/replay.rs"]
mod replay;

use std::path::Path;

/// Replays `target` through `check` (see [`replay::replay`]): each input
/// with whether it was accepted.
fn replay(target: &str, check: fn(&[u8]) -> bool) -> Vec<(Vec<u8>, bool)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    replay::replay(&fuzz, target, check)
}

#[test]
fn server_request_corpus() {
    let outcomes = replay("server_request", checks::server_request);
    // Every endpoint has a seed the handler accepts.
    for endpoint in passage_auth_server::fuzzing::ENDPOINTS {
        let seeded = outcomes.iter().any(|(data, accepted)| {
            *accepted && data.starts_with(format!("{endpoint}\n").as_bytes())
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
