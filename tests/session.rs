//! Properties of the session (`passage_user::core::session`), checked with
//! proptest on the host: the stored-value readers take anything storage
//! holds and mean exactly what it says, the AuthResult handed over after
//! login (docs/contract.md §2) and a refresh reply are accepted exactly as
//! the contract says, and the session's status over a simulated clock with
//! skew never hands out an expired token.
//!
//! Each property runs a modest number of cases so the file stays fast; set
//! `PROPTEST_CASES` for a longer run, e.g.
//! `PROPTEST_CASES=20000 cargo test --release -p passage-user --test session`.
//! Failing cases are kept in `proptest-regressions/session.txt` and replayed
//! first on every run.
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/core.rs"]
mod support;

use passage_user::core::error::Code;
use passage_user::core::jwt;
use passage_user::core::policy::{skew_from_iat, Policy};
use passage_user::core::session::{parse_unix_seconds, RawAuthResult, Session, Status};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::Config;
use support::jwt_with;

/// `cases` unless `PROPTEST_CASES` asks for more (or fewer); failures are
/// kept in `proptest-regressions/session.txt`.
fn config(cases: u32) -> Config {
    support::config("proptest-regressions/session.txt", cases)
}

/// A token with a subject, an audience, and these `iat` and `exp`.
fn simple_jwt(iat: i64, exp: i64) -> String {
    jwt_with(
        format!(r#"{{"sub":"u","iat":{iat},"exp":{exp},"aud":["http://localhost","app"]}}"#)
            .as_bytes(),
        b"sig",
    )
}

// ---------------------------------------------------------------------------
// Stored values.

/// The documented reading of a stored expiration, written independently:
/// optional surrounding ASCII whitespace, 1 to 15 ASCII digits, and an
/// optional fraction of ASCII digits that is dropped.
fn reference_unix_seconds(s: &str) -> Option<i64> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let (int, frac) = match t.find('.') {
        Some(i) => (&t[..i], &t[i + 1..]),
        None => (t, ""),
    };
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || int.len() > 15 || !digits(int) || !digits(frac) {
        return None;
    }
    Some(int.bytes().fold(0i64, |n, b| n * 10 + i64::from(b - b'0')))
}

fn stored_value() -> impl Strategy<Value = Option<String>> {
    option::of(prop_oneof![
        any::<String>(),
        "[ \t]{0,2}[0-9]{0,17}(\\.[0-9]{0,4})?[ \t]{0,2}",
        "[-+0-9.eE ]{0,12}",
        (0i64..4_102_444_800, 0i64..4_102_444_800).prop_map(|(a, b)| simple_jwt(a, b)),
        Just(String::new()),
        Just("r".repeat(4096)),
        Just("r".repeat(4097)),
    ])
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn parse_unix_seconds_is_total_and_matches_its_definition(s in prop_oneof![
        any::<String>(),
        "[ \t\n]{0,2}[0-9]{0,17}(\\.[0-9]{0,4})?[ \t\n]{0,2}",
        "[-+0-9.eExX ]{0,20}",
    ]) {
        prop_assert_eq!(parse_unix_seconds(&s), reference_unix_seconds(&s), "{:?}", s);
    }

    #[test]
    fn parse_unix_seconds_round_trips_what_the_library_writes(
        n in 0i64..1_000_000_000_000_000,
        frac in option::of("[0-9]{0,6}"),
    ) {
        let s = match frac {
            Some(f) => format!("{n}.{f}"),
            None => n.to_string(),
        };
        prop_assert_eq!(parse_unix_seconds(&s), Some(n));
    }

    /// Whatever storage holds, a session is built, and it means exactly
    /// what the stored values say.
    #[test]
    fn from_stored_is_total(
        auth in stored_value(),
        refresh in stored_value(),
        expiration in stored_value(),
        now in any::<f64>(),
        skew in any::<f64>(),
    ) {
        let s = Session::from_stored(auth.clone(), refresh.clone(), expiration.as_deref());
        let auth = auth.filter(|t| !t.is_empty());
        prop_assert_eq!(s.auth_token(), auth.as_deref());
        prop_assert_eq!(s.claims().cloned(), auth.as_deref().and_then(|t| jwt::decode(t).ok()));
        let refresh = refresh.filter(|t| !t.is_empty() && t.len() <= 4096);
        prop_assert_eq!(s.refresh_token(), refresh.as_deref());
        prop_assert_eq!(s.refresh_expiration(), expiration.as_deref().and_then(parse_unix_seconds));
        prop_assert_eq!(s.is_empty(), auth.is_none() && refresh.is_none());
        let _ = s.status(now, skew, &Policy::default());
        let _ = s.is_authenticated(now, skew);
    }
}

// ---------------------------------------------------------------------------
// The AuthResult handed over after login (docs/contract.md §2).

/// An auth token and whether it is a JWT in the sense of docs/contract.md §1: three base64url
/// segments whose middle one decodes to a JSON object with a numeric `exp`.
#[derive(Clone, Debug)]
struct Candidate {
    token: Option<String>,
    is_jwt: Option<bool>,
    exp: Option<i64>,
}

fn candidate_token() -> impl Strategy<Value = Candidate> {
    let known = |token: String, is_jwt: bool, exp: Option<i64>| Candidate {
        token: Some(token),
        is_jwt: Some(is_jwt),
        exp,
    };
    prop_oneof![
        // Valid, expired long ago or far in the future.
        4 => (0i64..4_102_444_800, -1_000_000i64..1_000_000).prop_map(move |(iat, life)| {
            known(simple_jwt(iat, iat + life), true, Some(iat + life))
        }),
        // No exp.
        1 => Just(known(jwt_with(br#"{"sub":"u","iat":1}"#, b"s"), false, None)),
        // exp of another type.
        1 => prop::sample::select(vec![
            r#""1700000000""#, "true", "null", "[1700000000]", r#"{"v":1}"#,
        ])
        .prop_map(move |v| known(jwt_with(format!(r#"{{"exp":{v}}}"#).as_bytes(), b"s"), false, None)),
        // Not an object.
        1 => prop::sample::select(vec!["[]", "1700000000", r#""exp""#, "null", ""])
            .prop_map(move |v| known(jwt_with(v.as_bytes(), b"s"), false, None)),
        // Not three base64url segments.
        1 => prop::sample::select(vec![
            "", "abc", "a.b", "a.e30.c.d", ".eyJleHAiOjF9.c", "a.eyJleHAiOjF9.c=",
            "a.eyJle+AiOjF9.c", "a b.eyJleHAiOjF9.c",
        ])
        .prop_map(move |t| known(t.to_owned(), false, None)),
        // Anything at all.
        2 => any::<String>().prop_map(|t| Candidate { token: Some(t), is_jwt: None, exp: None }),
        1 => Just(Candidate { token: None, is_jwt: Some(false), exp: None }),
    ]
}

fn candidate_refresh_token() -> impl Strategy<Value = Option<String>> {
    option::of(prop_oneof![
        "[A-Za-z0-9_-]{1,64}",
        any::<String>(),
        Just(String::new()),
        Just("r".repeat(4096)),
        Just("r".repeat(4097)),
    ])
}

fn candidate_expiration() -> impl Strategy<Value = Option<f64>> {
    option::of(prop_oneof![
        0.0f64..4.2e9,
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-1.0),
        Just(0.0),
        Just(1e11),
        Just(1e11 + 1.0),
        Just(1.7e12),
        Just(NOW_MS / 1000.0),
        Just(NOW_MS / 1000.0 + 1.0),
    ])
}

/// The local time of the AuthResult properties, ms.
const NOW_MS: f64 = 1_700_000_000_000.0;

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn from_auth_result_accepts_exactly_what_the_spec_says(
        token in candidate_token(),
        refresh in candidate_refresh_token(),
        expiration in candidate_expiration(),
    ) {
        let raw = RawAuthResult {
            auth_token: token.token.clone(),
            refresh_token: refresh.clone(),
            refresh_expiration: expiration,
        };
        let is_jwt = token
            .is_jwt
            .unwrap_or_else(|| token.token.as_deref().is_some_and(|t| jwt::decode(t).is_ok()));
        // An empty refresh token is none; 0 or less, or over 10^11, is an
        // unknown end; a plausible end that has passed is refused.
        let refresh_ok = refresh.as_deref().is_none_or(|t| t.len() <= 4096);
        let expiration_ok = expiration.is_none_or(|s| {
            s.is_finite() && (s <= 0.0 || s > 1e11 || s * 1000.0 > NOW_MS)
        });
        let kept_end = expiration.filter(|&s| s > 0.0 && s <= 1e11).map(|s| s as i64);
        match Session::from_auth_result(raw, NOW_MS) {
            Ok(s) => {
                prop_assert!(is_jwt && refresh_ok && expiration_ok);
                // The whole session is what was handed over: nothing else.
                prop_assert_eq!(s.auth_token(), token.token.as_deref());
                prop_assert_eq!(s.refresh_token(), refresh.as_deref().filter(|t| !t.is_empty()));
                prop_assert_eq!(s.refresh_expiration(), kept_end);
                if let Some(exp) = token.exp {
                    prop_assert_eq!(s.claims().map(|c| c.exp), Some(exp));
                }
            }
            Err(e) => {
                prop_assert!(!(is_jwt && refresh_ok && expiration_ok), "refused a valid AuthResult");
                prop_assert_eq!(e.code, Code::InvalidAuthResult);
            }
        }
    }

    /// A refresh reply replaces the tokens; one without a refresh token
    /// keeps the one used, one without an expiration keeps the stored one,
    /// and one that is not an auth_result is `invalid_response`.
    #[test]
    fn after_refresh_keeps_what_the_reply_leaves_out(
        stored_rt in "[A-Za-z0-9]{1,20}",
        stored_exp in option::of(0i64..4_102_444_800),
        reply in candidate_token(),
        reply_rt in option::of("[A-Za-z0-9]{1,20}"),
        reply_exp in option::of(0.0f64..4.2e9),
    ) {
        let exp_text = stored_exp.map(|e| e.to_string());
        let old = Session::from_stored(Some(simple_jwt(1, 2)), Some(stored_rt.clone()), exp_text.as_deref());
        let is_jwt = reply
            .is_jwt
            .unwrap_or_else(|| reply.token.as_deref().is_some_and(|t| jwt::decode(t).is_ok()));
        let next = old.after_refresh(RawAuthResult {
            auth_token: reply.token.clone(),
            refresh_token: reply_rt.clone(),
            refresh_expiration: reply_exp,
        });
        match next {
            Ok(next) => {
                prop_assert!(is_jwt);
                prop_assert_eq!(next.auth_token(), reply.token.as_deref());
                prop_assert_eq!(next.refresh_token(), Some(reply_rt.as_deref().unwrap_or(&stored_rt)));
                let reply_end = reply_exp.filter(|&e| e > 0.0).map(|e| e as i64);
                prop_assert_eq!(next.refresh_expiration(), reply_end.or(stored_exp));
            }
            Err(e) => {
                prop_assert!(!is_jwt);
                prop_assert_eq!(e.code, Code::InvalidResponse);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Freshness on a simulated clock.

/// A session with a token issued at `iat` expiring at `exp`, maybe a refresh
/// token and maybe an absolute end, all in seconds small enough that every
/// millisecond sum is exact in an f64.
fn timed_session() -> impl Strategy<Value = (Session, i64, Option<i64>)> {
    (
        0i64..100_000_000_000,
        -100_000i64..10_000_000,
        any::<bool>(),
        option::of(0i64..100_000_000_000),
    )
        .prop_map(|(iat, life, with_rt, end)| {
            let exp = iat + life;
            let end_text = end.map(|e| e.to_string());
            let session = Session::from_stored(
                Some(simple_jwt(iat, exp)),
                with_rt.then(|| "rt".to_owned()),
                end_text.as_deref(),
            );
            (session, exp, end)
        })
}

proptest! {
    #![proptest_config(config(512))]

    /// Stepping a clock through a session's life: never `Fresh` for a token
    /// that has expired by the server's clock (our clock plus the known
    /// skew), always `Ended` once the session's end has passed, and what is
    /// published as fresh until `until_ms` stays fresh (and unexpired) at
    /// every moment before it, which is what the entry's cached fast path
    /// relies on.
    #[test]
    fn status_never_hands_out_an_expired_token(
        (session, exp, end) in timed_session(),
        leeway_ms in 0i64..=3_600_000,
        skew in prop_oneof![Just(0i64), -1_000_000_000_000i64..1_000_000_000_000],
        start in 0i64..100_000_000_000_000,
        steps in vec(0i64..2_000_000_000, 1..40),
    ) {
        let policy = Policy { leeway_ms, ..Policy::default() };
        let skew = skew as f64;
        let exp_ms = exp as f64 * 1000.0;
        // A random walk from `start`, then the instants where the answer
        // changes (and one millisecond either side), where an off-by-one
        // would show.
        let mut times = Vec::new();
        let mut t = start;
        for step in steps {
            times.push(t as f64);
            t += step;
        }
        let skew_ms = skew as i64;
        let leeway = session.claims().map_or(0, |c| policy.leeway_for(c));
        let mut edges = vec![exp * 1000 - skew_ms, exp * 1000 - leeway - skew_ms];
        if let Some(e) = end {
            edges.push(e * 1000 - skew_ms);
        }
        for edge in edges {
            times.extend([edge - 1, edge, edge + 1].map(|t| t as f64));
        }
        let mut published: Option<f64> = None;
        for now in times {
            let server_now = now + skew;
            let status = session.status(now, skew, &policy);
            if end.is_some_and(|e| server_now >= e as f64 * 1000.0) {
                prop_assert_eq!(status, Status::Ended);
            }
            if let Some(until) = published.filter(|&u| now < u) {
                prop_assert_eq!(status, Status::Fresh { until_ms: until }, "the cache and the core disagree");
            }
            match status {
                Status::Fresh { until_ms } => {
                    prop_assert!(server_now < exp_ms, "fresh at {} but expired at {}", server_now, exp_ms);
                    prop_assert!(now < until_ms);
                    prop_assert!(until_ms + skew <= exp_ms);
                    if let Some(e) = end {
                        prop_assert!(until_ms + skew <= e as f64 * 1000.0);
                    }
                    prop_assert!(session.is_authenticated(now, skew));
                    published = Some(until_ms);
                }
                Status::NeedsRefresh => prop_assert!(session.refresh_token().is_some()),
                Status::SignedOut => prop_assert!(session.refresh_token().is_none()),
                Status::Ended => prop_assert!(end.is_some()),
            }
            if session.is_authenticated(now, skew) {
                prop_assert!(server_now < exp_ms);
            }
        }
    }

    /// The same with any values at all (NaN clocks, i64 extremes): no
    /// panic, still never `Fresh` past `exp`, and `is_authenticated` is
    /// exactly its definition, consistent with the status: a token whose
    /// `exp` has not passed by the server's clock (our clock plus the skew;
    /// no leeway) in a session whose end has not passed.
    #[test]
    fn status_is_total_on_extreme_values(
        iat in option::of(any::<i64>()),
        exp in any::<i64>(),
        // Ends that parse (15 digits at most) as often as any others.
        end in option::of(prop_oneof![any::<u64>(), 0u64..1_000_000_000_000_000]),
        now in any::<f64>(),
        skew in any::<f64>(),
        leeway_ms in 0i64..=3_600_000,
    ) {
        let payload = match iat {
            Some(iat) => format!(r#"{{"iat":{iat},"exp":{exp}}}"#),
            None => format!(r#"{{"exp":{exp}}}"#),
        };
        let end_text = end.map(|e| e.to_string());
        let session = Session::from_stored(
            Some(jwt_with(payload.as_bytes(), b"s")),
            Some("rt".into()),
            end_text.as_deref(),
        );
        let policy = Policy { leeway_ms, ..Policy::default() };
        let status = session.status(now, skew, &policy);
        let authenticated = session.is_authenticated(now, skew);
        // Written independently: a stored end of more than 15 digits is
        // unknown; every exp but i64::MIN is read (see
        // `i64_min_is_refused_not_misread` in tests/jwt.rs), and one over
        // 10^11 (milliseconds by mistake) never counts; a NaN clock passes
        // nothing and reaches nothing.
        let server_now = now + skew;
        let ended = end
            .filter(|&e| e < 1_000_000_000_000_000)
            .is_some_and(|e| server_now >= e as f64 * 1000.0);
        let unexpired = exp != i64::MIN && exp as f64 <= 1e11 && server_now < exp as f64 * 1000.0;
        prop_assert_eq!(
            authenticated,
            !ended && unexpired,
            "at {} + {} for exp {} and end {:?}", now, skew, exp, end
        );
        prop_assert_eq!(status == Status::Ended, ended, "{:?}", status);
        match status {
            Status::Fresh { .. } => {
                prop_assert!(now + skew < exp as f64 * 1000.0);
                prop_assert!(authenticated, "fresh but not authenticated");
            }
            Status::Ended => prop_assert!(!authenticated),
            Status::NeedsRefresh => {}
            Status::SignedOut => {
                return Err(TestCaseError::fail("signed out with a refresh token"));
            }
        }
    }

    /// The whole clock model: the server's clock is `offset` ms ahead of
    /// ours, a refresh reaches it after `up` ms and its reply comes back
    /// after `down` ms; we correct the skew from the new token's `iat`
    /// (whole seconds). With the default leeway (10 s, capped at a tenth of
    /// the lifetime), a token of 100 s or more is never handed out after the
    /// server's own `exp`, and any token of 3 s or more is fresh on receipt
    /// (no refresh storm), whatever the offset.
    #[test]
    fn skew_correction_keeps_tokens_valid_on_the_servers_clock(
        offset in -400_000_000_000i64..400_000_000_000,
        lifetime in 3i64..=86_400,
        sent_at in 1_600_000_000_000i64..2_000_000_000_000,
        up in 0i64..=3_000,
        down in 0i64..=3_000,
    ) {
        let iat = (sent_at + up + offset).div_euclid(1000);
        let exp = iat + lifetime;
        let received_at = (sent_at + up + down) as f64;
        let skew = skew_from_iat(iat, received_at);
        let session = Session::from_stored(Some(simple_jwt(iat, exp)), Some("rt".into()), None);
        let status = session.status(received_at, skew, &Policy::default());
        let Status::Fresh { until_ms } = status else {
            return Err(TestCaseError::fail(format!("a {lifetime} s token is {status:?} on receipt")));
        };
        if offset.abs() > 3_000 + down {
            // Corrected to within iat's rounding and the reply's latency.
            let error = skew - offset as f64;
            prop_assert!((-(999.0 + down as f64)..=0.0).contains(&error), "skew off by {} ms", error);
        }
        if lifetime >= 100 {
            // The last moment we hand it out, on the server's clock.
            prop_assert!(until_ms + (offset as f64) <= exp as f64 * 1000.0,
                "handed out {} ms past exp", until_ms + offset as f64 - exp as f64 * 1000.0);
        }
    }
}
