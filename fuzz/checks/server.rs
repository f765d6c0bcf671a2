//! The auth server's fuzz checks: request bodies and query strings as each
//! handler reads them, and the `Authorization` header as the API and the
//! admin API read it, with the JWT verification behind it. The fuzz targets
//! (`fuzz/fuzz_targets`) and the stable replay test
//! (`server/tests/fuzz_corpus.rs`) both include this file, so a corpus file
//! replays through exactly the target's logic.
#![allow(dead_code)]

use std::sync::OnceLock;

use passage_auth_server::fuzzing::{
    self, Accepted, Refusal, Verifier, MAX_CLOCK_OFFSET, MAX_REFRESH_TOKEN_LEN,
};

/// The app and issuer the bearer checks verify tokens for, and the moment.
pub const APP: &str = "demo";
pub const ISSUER: &str = "http://127.0.0.1:8787/v1/apps/demo";
pub const NOW: i64 = 1_700_000_000;

/// A key for the fuzz checks only (its tokens are in the corpus): it signs
/// nothing anywhere else.
pub const KEY_PEM: &str = include_str!("../keys/fuzz-only-signing-key.pem");

pub fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| Verifier::from_pem(KEY_PEM))
}

/// `server_request` target: the first line names the endpoint (one of
/// `fuzzing::ENDPOINTS`), the rest is its body (or query string). True when
/// the handler goes on with it.
pub fn server_request(data: &[u8]) -> bool {
    let (name, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    let Ok(name) = std::str::from_utf8(name) else {
        return false;
    };
    let Some(outcome) = fuzzing::request(name, body) else {
        // Only a query string can be bytes no request carries.
        let query = matches!(name, "revoke" | "links" | "stats");
        assert!(!fuzzing::ENDPOINTS.contains(&name) || query);
        return false;
    };
    match outcome {
        Ok(accepted) => {
            check_accepted(name, accepted);
            true
        }
        Err(refusal) => {
            check_refusal(name, &refusal);
            false
        }
    }
}

/// Every refusal is a client error with a code and a short message.
fn check_refusal(name: &str, r: &Refusal) {
    let expected_status = match (name, r.code) {
        ("refresh", "invalid_refresh_token") => 401,
        ("revoke", "refresh_token_not_found") => 404,
        _ => 400,
    };
    assert_eq!(r.status, expected_status, "{name}: {r:?}");
    assert!(
        matches!(r.code, "invalid_json" | "invalid_request") || r.status != 400,
        "{name}: {r:?}"
    );
    assert!(!r.message.is_empty());
    // Input is quoted in messages only truncated (70 or 300 characters,
    // each at most 10 once escaped).
    assert!(r.message.chars().count() <= 1024, "{name}: a long message");
}

fn printable(s: &str, max: usize) -> bool {
    s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// What a handler goes on with is what its checks promise.
fn check_accepted(name: &str, accepted: Accepted) {
    match accepted {
        Accepted::RefreshToken(t) | Accepted::RevokeToken(t) => {
            assert!(!t.is_empty() && t.len() <= MAX_REFRESH_TOKEN_LEN, "{name}");
        }
        Accepted::LoginIdentifier(email) => {
            assert_eq!(email.trim(), email);
            check_email(&email);
        }
        Accepted::Change {
            value,
            language,
            magic_link_path,
            redirect_url,
        } => {
            if name == "email" {
                assert_eq!(value, value.trim().to_lowercase());
                check_email(&value);
            } else {
                let digits = value.strip_prefix('+').expect("E.164 starts with +");
                assert!((7..=15).contains(&digits.len()));
                assert!(digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0'));
            }
            assert!(language.as_deref().is_none_or(|l| printable(l, 35)));
            for option in [magic_link_path, redirect_url].into_iter().flatten() {
                assert!(printable(&option, 2048));
            }
        }
        Accepted::Metadata(merged) => {
            const FIELDS: [&str; 6] = [
                "nickname",
                "newsletter",
                "age",
                "birthday",
                "work_email",
                "mobile",
            ];
            for (key, value) in &merged {
                assert!(FIELDS.contains(&key.as_str()), "{key} stored");
                assert!(!value.is_null());
            }
            // What was stored passes the checks again, unchanged.
            let again = format!(
                "{{\"user_metadata\": {}}}",
                serde_json::Value::Object(merged.clone())
            );
            match fuzzing::request("metadata", again.as_bytes()) {
                Some(Ok(Accepted::Metadata(twice))) => assert_eq!(twice, merged),
                other => panic!("stored metadata no longer accepted: {other:?}"),
            }
        }
        Accepted::DeviceName(n) => {
            assert_eq!(n.trim(), n);
            assert!(!n.is_empty() && printable(&n, 255));
        }
        Accepted::Attachment(a) => {
            assert!(["platform", "cross-platform", "any"].contains(&a.as_str()));
        }
        Accepted::Registration { .. } => {}
        Accepted::AppPatch { schema } => {
            if let Some(names) = schema {
                assert!(names.len() <= 100);
                for (i, n) in names.iter().enumerate() {
                    assert!(!n.is_empty() && n.len() <= 64 && !names[..i].contains(n));
                    assert!(n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
                }
            }
        }
        Accepted::Fault {
            count,
            status,
            mode,
            delay_ms,
            retry_after,
        } => {
            assert!((1..=10_000).contains(&count));
            assert!(mode != "status" || (400..=599).contains(&status));
            assert!(delay_ms <= 120_000 && (mode != "late" || delay_ms > 0));
            assert!(retry_after.is_none_or(|s| s <= 86_400));
        }
        Accepted::Clock { offset_secs } => {
            assert!((-MAX_CLOCK_OFFSET..=MAX_CLOCK_OFFSET).contains(&offset_secs));
        }
        Accepted::Social { provider } => {
            assert!(["apple", "github", "google"].contains(&provider.as_str()));
        }
        Accepted::Query(_) => {}
    }
}

fn check_email(email: &str) {
    assert!(email.len() <= 254 && !email.chars().any(|c| c.is_whitespace() || c.is_control()));
    let (local, domain) = email.split_once('@').expect("an email has an @");
    assert!(!local.is_empty() && !domain.is_empty() && !domain.contains('@'));
}

/// `server_bearer` target: the bytes as the value of `Authorization`. True
/// when its token verifies.
pub fn server_bearer(data: &[u8]) -> bool {
    let Some((token, admin_key, verified)) = verifier().authorization(data, ISSUER, APP, NOW)
    else {
        return false;
    };
    if let Some(t) = &token {
        // `Bearer <token>`, the scheme in any case, the token trimmed.
        assert!(!t.is_empty() && t.trim() == t);
        let value = std::str::from_utf8(data).expect("a token comes from a text header");
        let (scheme, rest) = value.trim().split_once(' ').expect("a scheme and a token");
        assert!(scheme.eq_ignore_ascii_case("bearer") && rest.trim() == t);
        // The admin API reads the same header the same way.
        assert_eq!(admin_key.as_deref(), Some(t.as_str()));
    }
    let Some(claims) = verified else {
        return false;
    };
    // Only a token this key signed for this app, unexpired, verifies.
    assert!(token.is_some());
    assert_eq!(claims.iss, ISSUER);
    assert!(claims.aud.iter().any(|a| a == APP));
    assert!(claims.exp > NOW);
    true
}
