//! Helpers shared by the core's property tests (`tests/jwt.rs`,
//! `tests/session.rs`, `tests/policy.rs`, `tests/server_tokens.rs`), each of
//! which includes this file with `#[path = "support/core.rs"] mod support;`:
//! the proptest configuration and writing JWTs and JSON strings the way
//! servers do.
#![allow(dead_code)]

use std::fmt::Write as _;

use passage_user::core::jwt;
use proptest::test_runner::{Config, FileFailurePersistence};

/// `cases` unless `PROPTEST_CASES` asks for more (or fewer), with failing
/// cases kept in (and replayed first from) `regressions`, a file under
/// `proptest-regressions/` of the test that calls it.
pub fn config(regressions: &'static str, cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------
// Writing JWTs the way servers do.

/// base64url without padding (the core's own encoder, which
/// `base64url_encoding_round_trips_and_has_no_padding` checks).
pub fn b64(bytes: &[u8]) -> String {
    jwt::base64url_encode(bytes)
}

/// A JWT with this payload text, the header an RS256 signer writes and the
/// given signature bytes.
pub fn jwt_with(payload: &[u8], signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(br#"{"typ":"JWT","alg":"RS256","kid":"k1"}"#),
        b64(payload),
        b64(signature)
    )
}

// ---------------------------------------------------------------------------
// JSON strings as servers escape them.

/// How a writer escapes strings.
#[derive(Clone, Copy, Debug)]
pub enum Escape {
    /// As serde_json (the local server): only `"`, `\` and control
    /// characters, the common ones by their short escapes.
    Serde,
    /// ASCII-only output (Python's `json.dumps`, many JWT libraries):
    /// everything else as `\uXXXX`, astral characters as surrogate pairs,
    /// and `/` as `\/` (PHP).
    Ascii,
    /// Every character as a `\u` escape.
    All,
}

pub fn push_u(out: &mut String, c: char) {
    let mut units = [0u16; 2];
    for u in c.encode_utf16(&mut units) {
        let _ = write!(out, "\\u{u:04X}");
    }
}

pub fn json_string(s: &str, style: Escape) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match (c, style) {
            (_, Escape::All) => push_u(&mut out, c),
            ('"', _) => out.push_str("\\\""),
            ('\\', _) => out.push_str("\\\\"),
            ('\n', _) => out.push_str("\\n"),
            ('\r', _) => out.push_str("\\r"),
            ('\t', _) => out.push_str("\\t"),
            ('\u{8}', _) => out.push_str("\\b"),
            ('\u{c}', _) => out.push_str("\\f"),
            (c, _) if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            ('/', Escape::Ascii) => out.push_str("\\/"),
            (c, Escape::Ascii) if !c.is_ascii() => push_u(&mut out, c),
            (c, _) => out.push(c),
        }
    }
    out.push('"');
    out
}
