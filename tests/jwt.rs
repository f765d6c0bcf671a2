//! Properties of the JWT payload reader (`passage_user::core::jwt`), checked
//! with proptest on the host: it takes any input without panicking, reads
//! back exactly the claims any server writes (in any member order, escaping
//! style and whitespace, the local auth server's own claims included), and
//! refuses nesting too deep and tokens too long. The generators that write
//! JSON payloads the way servers do are here too.
//!
//! Each property runs a modest number of cases so the file stays fast; set
//! `PROPTEST_CASES` for a longer run, e.g.
//! `PROPTEST_CASES=20000 cargo test --release -p passage-user --test jwt`.
//! Failing cases are kept in `proptest-regressions/jwt.txt` and replayed
//! first on every run.
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/core.rs"]
mod support;

/// The `jwt` fuzz target's check: `jwt::decode` against the JWT shape rules,
/// an independent base64url check and serde_json for the claims.
#[path = "../fuzz/checks/client.rs"]
mod checks;

use passage_user::core::jwt::{self, base64url_decode, JwtError};
use passage_user::core::policy::{skew_from_iat, Policy};
use passage_user::core::session::{RawAuthResult, Session, Status};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::Config;
use support::{b64, json_string, jwt_with, Escape};

/// `cases` unless `PROPTEST_CASES` asks for more (or fewer); failures are
/// kept in `proptest-regressions/jwt.txt`.
fn config(cases: u32) -> Config {
    support::config("proptest-regressions/jwt.txt", cases)
}

// ---------------------------------------------------------------------------
// Writing JSON payloads the way servers do.

/// A JSON value, for claims the client does not read (or reads and must
/// ignore when they have the wrong type).
#[derive(Clone, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

/// Whitespace between tokens, drawn from a pool in turn.
struct Writer<'a> {
    out: String,
    ws: &'a [u8],
    next_ws: usize,
    style: Escape,
}

impl Writer<'_> {
    fn ws(&mut self) {
        if self.ws.is_empty() {
            return;
        }
        let pick = self.ws[self.next_ws % self.ws.len()];
        self.next_ws += 1;
        self.out.push_str(match pick % 8 {
            5 => " ",
            6 => "\n\t",
            7 => "\r\n  ",
            _ => "",
        });
    }

    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn string(&mut self, s: &str) {
        let s = json_string(s, self.style);
        self.out.push_str(&s);
    }

    fn value(&mut self, v: &Json) {
        match v {
            Json::Null => self.raw("null"),
            Json::Bool(b) => self.raw(if *b { "true" } else { "false" }),
            Json::Int(n) => self.raw(&n.to_string()),
            Json::Float(f) => self.raw(&format!("{f:?}")),
            Json::Str(s) => self.string(s),
            Json::Arr(items) => {
                self.raw("[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.raw(",");
                    }
                    self.ws();
                    self.value(item);
                    self.ws();
                }
                self.raw("]");
            }
            Json::Obj(members) => {
                self.raw("{");
                for (i, (k, item)) in members.iter().enumerate() {
                    if i > 0 {
                        self.raw(",");
                    }
                    self.ws();
                    self.string(k);
                    self.ws();
                    self.raw(":");
                    self.ws();
                    self.value(item);
                    self.ws();
                }
                self.raw("}");
            }
        }
    }
}

/// Any characters, with those that JSON escapes (or that need surrogate
/// pairs) drawn often.
fn text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '"',
        '\\',
        '/',
        '\u{8}',
        '\u{c}',
        '\n',
        '\r',
        '\t',
        '\u{0}',
        '\u{1f}',
        '\u{7f}',
        '\u{e9}',
        '\u{2028}',
        '\u{d7ff}',
        '\u{e000}',
        '\u{fffd}',
        '\u{ffff}',
        '\u{10000}',
        '\u{1F600}',
        '\u{10FFFF}',
    ]);
    vec(prop_oneof![2 => any::<char>(), 1 => special], 0..24).prop_map(String::from_iter)
}

fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::Int),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Json::Float),
        text().prop_map(Json::Str),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Json::Arr),
            vec((text(), inner), 0..4).prop_map(Json::Obj),
        ]
    })
}

/// A numeric claim as some server might write it, with the whole seconds
/// the client must read from it.
#[derive(Clone, Debug)]
enum Seconds {
    /// An integer, as every JWT library writes `exp` and `iat`.
    Int(i64),
    /// A float below 2^53 (JavaScript servers may write fractions).
    Float(f64),
    /// `MeK`: a mantissa and a positive exponent.
    Exponent(i64, u32, bool),
}

/// The whole seconds a JSON number denotes as written (its fraction
/// dropped, toward zero), or `None` when they do not fit an i64. Written
/// independently of the decoder, for the number shapes Rust's `{:?}` and
/// `to_string` produce.
fn reference_seconds(text: &str) -> Option<i64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (number, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (
            &rest[..i],
            rest[i + 1..].trim_start_matches('+').parse::<i64>().ok()?,
        ),
        None => (rest, 0),
    };
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let all = format!("{int}{frac}");
    let digits = all.trim_start_matches('0');
    let scale = exponent - frac.len() as i64;
    // The integer digits of digits × 10^scale.
    let int_digits = digits.len() as i64 + scale;
    let magnitude: u128 = if digits.is_empty() || int_digits <= 0 {
        0
    } else if int_digits > 19 {
        return None;
    } else if scale >= 0 {
        digits.parse::<u128>().ok()? * 10u128.pow(scale as u32)
    } else {
        digits[..int_digits as usize].parse::<u128>().ok()?
    };
    let magnitude = i64::try_from(magnitude).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

impl Seconds {
    fn render(&self) -> String {
        match self {
            Seconds::Int(n) => n.to_string(),
            Seconds::Float(f) => format!("{f:?}"),
            Seconds::Exponent(m, k, upper) => {
                format!("{m}{}{k}", if *upper { "E+" } else { "e" })
            }
        }
    }

    /// What the client reads: whole seconds, fractions dropped.
    fn expected(&self) -> i64 {
        match self {
            Seconds::Int(n) => *n,
            Seconds::Float(f) => reference_seconds(&format!("{f:?}")).unwrap(),
            Seconds::Exponent(m, k, _) => m * 10i64.pow(*k),
        }
    }
}

fn seconds() -> impl Strategy<Value = Seconds> {
    prop_oneof![
        // Every i64 but i64::MIN, whose magnitude does not fit an i64 (the
        // reader accumulates the digits unsigned-first); see
        // `i64_min_is_refused_not_misread`.
        4 => (i64::MIN + 1..=i64::MAX).prop_map(Seconds::Int),
        4 => (0i64..4_102_444_800).prop_map(Seconds::Int),
        1 => (-9.0e18f64..9.0e18).prop_map(Seconds::Float),
        1 => (-1.0e6f64..1.0e6).prop_map(Seconds::Float),
        1 => (0.0f64..4.2e9).prop_map(Seconds::Float),
        1 => (-999_999i64..1_000_000, 0u32..=12, any::<bool>())
            .prop_map(|(m, k, u)| Seconds::Exponent(m, k, u)),
    ]
}

/// The claims of a token, with values of any type where the client must
/// cope with the wrong one.
#[derive(Clone, Debug)]
struct Payload {
    exp: Seconds,
    iat: Option<Json>,
    sub: Option<Json>,
    iss: Option<Json>,
    aud: Option<Json>,
    extra: Vec<(String, Json)>,
    /// The order the members are written in.
    order: Vec<u16>,
}

const READ: [&str; 5] = ["exp", "iat", "sub", "iss", "aud"];

fn string_mostly() -> impl Strategy<Value = Json> {
    prop_oneof![4 => text().prop_map(Json::Str), 1 => json_value()]
}

fn payload() -> impl Strategy<Value = Payload> {
    let iat = prop_oneof![
        4 => (i64::MIN + 1..=i64::MAX).prop_map(Json::Int),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Json::Float),
        1 => json_value(),
    ];
    let aud = prop_oneof![
        4 => (text(), text()).prop_map(|(o, a)| Json::Arr(vec![Json::Str(o), Json::Str(a)])),
        1 => json_value(),
    ];
    let iss = prop_oneof![
        4 => (text(), text(), any::<bool>()).prop_map(|(base, app, slash)| {
            Json::Str(format!("{base}/v1/apps/{app}{}", if slash { "/" } else { "" }))
        }),
        1 => string_mostly(),
    ];
    let extra = vec(
        (
            text().prop_filter("not a claim the client reads", |k| {
                !READ.contains(&k.as_str())
            }),
            json_value(),
        ),
        0..4,
    );
    (
        seconds(),
        option::of(iat),
        option::of(string_mostly()),
        option::of(iss),
        option::of(aud),
        extra,
        vec(any::<u16>(), 10),
    )
        .prop_map(|(exp, iat, sub, iss, aud, extra, order)| Payload {
            exp,
            iat,
            sub,
            iss,
            aud,
            extra,
            order,
        })
}

impl Payload {
    fn write(&self, style: Escape, ws: &[u8]) -> String {
        let mut members: Vec<(String, Option<String>, Option<&Json>)> = Vec::new();
        members.push(("exp".into(), Some(self.exp.render()), None));
        for (name, value) in [
            ("iat", &self.iat),
            ("sub", &self.sub),
            ("iss", &self.iss),
            ("aud", &self.aud),
        ] {
            if let Some(v) = value {
                members.push((name.into(), None, Some(v)));
            }
        }
        for (k, v) in &self.extra {
            members.push((k.clone(), None, Some(v)));
        }
        // Shuffle by the generated order (stable, so it shrinks well).
        let mut keyed: Vec<_> = members
            .into_iter()
            .enumerate()
            .map(|(i, m)| (self.order[i % self.order.len()], i, m))
            .collect();
        keyed.sort_by_key(|(k, i, _)| (*k, *i));
        let mut w = Writer {
            out: String::new(),
            ws,
            next_ws: 0,
            style,
        };
        w.ws();
        w.raw("{");
        for (n, (_, _, (key, raw, value))) in keyed.iter().enumerate() {
            if n > 0 {
                w.raw(",");
            }
            w.ws();
            w.string(key);
            w.ws();
            w.raw(":");
            w.ws();
            match (raw, value) {
                (Some(raw), _) => w.raw(raw),
                (None, Some(v)) => w.value(v),
                (None, None) => unreachable!(),
            }
            w.ws();
        }
        w.raw("}");
        w.ws();
        w.out
    }

    fn expected_iat(&self) -> Option<i64> {
        match &self.iat {
            Some(Json::Int(n)) => reference_seconds(&n.to_string()),
            Some(Json::Float(f)) => reference_seconds(&format!("{f:?}")),
            _ => None,
        }
    }

    fn expected_sub(&self) -> Option<String> {
        match &self.sub {
            Some(Json::Str(s)) => Some(s.clone()),
            _ => None,
        }
    }

    /// passage-js's rule: `aud[1]`, else the last path segment of `iss`.
    fn expected_app_id(&self) -> Option<String> {
        let from_aud = match &self.aud {
            Some(Json::Arr(items)) => match items.get(1) {
                Some(Json::Str(s)) if !s.is_empty() => Some(s.clone()),
                _ => None,
            },
            _ => None,
        };
        // The last path segment of `iss`; a URL (`scheme://`) without a
        // path names no app.
        from_aud.or_else(|| match &self.iss {
            Some(Json::Str(iss)) => checks::app_of_iss(iss),
            _ => None,
        })
    }
}

fn escape() -> impl Strategy<Value = Escape> {
    prop_oneof![
        3 => Just(Escape::Serde),
        1 => Just(Escape::Ascii),
        1 => Just(Escape::All)
    ]
}

// ---------------------------------------------------------------------------
// The JWT payload decoder.

proptest! {
    #![proptest_config(config(512))]

    /// Any string: no panic, and the same answer as the `jwt` fuzz target's
    /// independent reader (`checks::jwt`), which also checks
    /// `base64url_decode` on it.
    #[test]
    fn decode_never_panics_on_any_string(s in any::<String>()) {
        checks::jwt(s.as_bytes());
    }

    #[test]
    fn decode_never_panics_on_any_bytes_in_a_jwt_shape(
        header in vec(any::<u8>(), 0..40),
        payload in vec(any::<u8>(), 0..200),
        signature in vec(any::<u8>(), 0..40),
    ) {
        let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64(&signature));
        let result = jwt::decode(&token);
        if header.is_empty() || payload.is_empty() {
            prop_assert_eq!(result, Err(JwtError::Shape));
        } else if std::str::from_utf8(&payload).is_err() {
            prop_assert_eq!(result, Err(JwtError::Json));
        }
    }

    #[test]
    fn anything_but_three_segments_is_a_shape_error(
        parts in prop_oneof![
            vec("[A-Za-z0-9_-]{0,12}", 0..3),
            vec("[A-Za-z0-9_-]{0,12}", 4..8),
        ],
    ) {
        prop_assert_eq!(jwt::decode(&parts.join(".")), Err(JwtError::Shape));
    }

    #[test]
    fn header_and_signature_bytes_do_not_change_what_is_read(
        payload in payload(),
        header in vec(any::<u8>(), 1..60),
        signature in vec(any::<u8>(), 0..300),
    ) {
        let text = payload.write(Escape::Serde, &[]);
        let a = jwt::decode(&jwt_with(text.as_bytes(), b"x"));
        let b = jwt::decode(&format!("{}.{}.{}", b64(&header), b64(text.as_bytes()), b64(&signature)));
        prop_assert_eq!(a, b);
    }

    #[test]
    fn base64url_round_trips_with_and_without_padding(bytes in vec(any::<u8>(), 0..200)) {
        let encoded = b64(&bytes);
        prop_assert_eq!(base64url_decode(&encoded), Some(bytes.clone()));
        let padded = format!("{encoded}{}", "=".repeat((4 - encoded.len() % 4) % 4));
        prop_assert_eq!(base64url_decode(&padded), Some(bytes));
    }

    /// Any claims a server writes, in any member order, with any escaping
    /// style and whitespace, are read back exactly.
    #[test]
    fn claims_a_server_writes_are_read_back_exactly(
        payload in payload(),
        style in escape(),
        ws in vec(any::<u8>(), 0..16),
        signature in vec(any::<u8>(), 0..300),
    ) {
        let text = payload.write(style, &ws);
        // Past the length cap the decoder refuses by design; keep to tokens
        // that fit.
        prop_assume!(text.len() < 10_000);
        let claims = jwt::decode(&jwt_with(text.as_bytes(), &signature));
        let claims = match claims {
            Ok(c) => c,
            Err(e) => return Err(TestCaseError::fail(format!("{e:?} for payload {text:?}"))),
        };
        prop_assert_eq!(claims.exp, payload.exp.expected(), "exp of {}", text);
        prop_assert_eq!(claims.iat, payload.expected_iat(), "iat of {}", text);
        prop_assert_eq!(claims.sub, payload.expected_sub(), "sub of {}", text);
        prop_assert_eq!(claims.app_id, payload.expected_app_id(), "app id of {}", text);
    }

    /// Exactly the claims the local auth server signs (serde_json, its field
    /// order): read back, and fresh on receipt.
    #[test]
    fn the_local_servers_claims_round_trip_and_are_fresh_on_receipt(
        base in "http://127\\.0\\.0\\.1:[0-9]{1,5}",
        origin in "https?://[!-~&&[^/?# @]]{1,40}",
        app in "[A-Za-z0-9_-]{1,64}",
        sub in "[A-Za-z0-9]{1,32}",
        iat in 0i64..4_102_444_800,
        // Shorter tokens may be stale on receipt by design (see
        // `skew_correction_keeps_tokens_valid_on_the_servers_clock` in
        // tests/session.rs).
        lifetime in 3i64..=315_360_000,
        latency_ms in 0.0f64..999.0,
    ) {
        let exp = iat + lifetime;
        let payload = format!(
            r#"{{"iss":{},"aud":[{},{}],"sub":{},"iat":{iat},"exp":{exp},"jti":"j0"}}"#,
            json_string(&format!("{base}/v1/apps/{app}"), Escape::Serde),
            json_string(&origin, Escape::Serde),
            json_string(&app, Escape::Serde),
            json_string(&sub, Escape::Serde),
        );
        let token = jwt_with(payload.as_bytes(), &[7; 256]);
        let claims = jwt::decode(&token).unwrap();
        prop_assert_eq!(claims.exp, exp);
        prop_assert_eq!(claims.iat, Some(iat));
        prop_assert_eq!(claims.sub.as_deref(), Some(sub.as_str()));
        prop_assert_eq!(claims.app_id.as_deref(), Some(app.as_str()));
        // Received just after issue, whatever our clock says.
        let session = Session::from_auth_result(RawAuthResult {
            auth_token: Some(token),
            refresh_token: Some("rt".into()),
            refresh_expiration: None,
        }, 0.0)
        .unwrap();
        let local_now = iat as f64 * 1000.0 + latency_ms;
        let skew = skew_from_iat(iat, local_now);
        let fresh = matches!(session.status(local_now, skew, &Policy::default()), Status::Fresh { .. });
        prop_assert!(fresh, "a token of {} s is not fresh on receipt", lifetime);
    }

    /// Mutated claims (truncated, with JSON punctuation inserted, deleted or
    /// replaced): never a panic, and what the `jwt` fuzz target's
    /// independent reader (`checks::jwt`) expects: a payload serde_json reads
    /// as an object is decoded to the same claims, and whatever the decoder
    /// accepts is JSON.
    #[test]
    fn near_miss_json_never_panics(
        payload in payload(),
        style in escape(),
        edits in vec((0u8..5, any::<prop::sample::Index>(), prop::sample::select(vec![
            '{', '}', '[', ']', '"', ':', ',', '\\', '.', '-', '+', 'e', 'E', '0', '1', '9',
            't', 'f', 'n', 'u', '/', ' ', '\u{0}', '\u{1f}', '\u{e9}', '\u{1F600}', '\u{d7ff}',
        ])), 1..6),
    ) {
        let mut chars: Vec<char> = payload.write(style, &[]).chars().collect();
        for (kind, at, c) in edits {
            let i = at.index(chars.len() + 1);
            match kind {
                0 => chars.insert(i, c),
                1 if i < chars.len() => {
                    chars.remove(i);
                }
                2 if i < chars.len() => chars[i] = c,
                3 => chars.truncate(i),
                _ => {
                    let tail: Vec<char> = chars[i..].to_vec();
                    chars.extend(tail);
                }
            }
        }
        let text: String = chars.into_iter().collect();
        checks::jwt(jwt_with(text.as_bytes(), b"sig").as_bytes());
    }

    /// Deeply nested values anywhere are refused or skipped, never a stack
    /// overflow.
    #[test]
    fn deep_nesting_never_overflows(depth in 0usize..5000, object in any::<bool>(), place in 0u8..4) {
        let (open, close) = if object { ("{\"a\":", "}") } else { ("[", "]") };
        let nested = format!("{}0{}", open.repeat(depth), close.repeat(depth));
        let text = match place {
            0 => format!(r#"{{"exp":1,"x":{nested}}}"#),
            1 => format!(r#"{{"aud":["o",{nested}],"exp":1}}"#),
            2 => format!(r#"{{"exp":{nested}}}"#),
            _ => format!(r#"{{"sub":{nested},"exp":1}}"#),
        };
        let result = jwt::decode(&jwt_with(text.as_bytes(), b"sig"));
        if depth <= 16 && place != 2 {
            prop_assert!(result.is_ok(), "depth {}: {:?}", depth, result);
        }
        if depth > 40 {
            prop_assert!(result.is_err());
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// The reference reader above agrees with f64 truncation where that is
    /// exact.
    #[test]
    fn reference_seconds_is_truncation(f in -9.0e15f64..9.0e15) {
        prop_assert_eq!(reference_seconds(&format!("{f:?}")), Some(f.trunc() as i64));
        prop_assert_eq!(reference_seconds(&format!("{f:e}")), Some(f.trunc() as i64));
    }
}

#[test]
fn i64_min_is_refused_not_misread() {
    let token = jwt_with(format!(r#"{{"exp":{}}}"#, i64::MIN).as_bytes(), b"s");
    assert_eq!(jwt::decode(&token), Err(JwtError::NoExp));
}

#[test]
fn tokens_over_the_cap_are_refused_at_once() {
    let payload = format!(r#"{{"exp":1,"x":"{}"}}"#, "a".repeat(20_000));
    assert_eq!(
        jwt::decode(&jwt_with(payload.as_bytes(), b"s")),
        Err(JwtError::TooLong)
    );
}

#[test]
fn a_token_of_exactly_the_cap_is_read() {
    let token = jwt_with(br#"{"exp":1}"#, b"s");
    let pad = jwt::MAX_TOKEN_LEN - token.len();
    let at_cap = format!("{token}{}", "A".repeat(pad));
    assert_eq!(at_cap.len(), jwt::MAX_TOKEN_LEN);
    assert_eq!(jwt::decode(&at_cap).map(|c| c.exp), Ok(1));
    let over = format!("{at_cap}A");
    assert_eq!(jwt::decode(&over), Err(JwtError::TooLong));
}

#[test]
fn fraction_digits_beyond_an_i64_are_dropped_not_refused() {
    let token = jwt_with(br#"{"exp":1800000000.12345678901234567890123}"#, b"s");
    assert_eq!(jwt::decode(&token).map(|c| c.exp), Ok(1_800_000_000));
}

#[test]
fn the_app_an_iss_names_on_short_hosts_and_odd_schemes() {
    for (iss, app) in [
        // A host shorter than three times its scheme.
        ("https://a.io/x/app1", Some("app1")),
        ("http://h/app2", Some("app2")),
        // Not a URL (a scheme starts with a letter, and has no `_`): the
        // whole text is a path.
        ("a_b://host", Some("host")),
        ("1ab://host", Some("host")),
        // A URL without a path names no app.
        ("https://auth.example.com", None),
    ] {
        let payload = format!(r#"{{"exp":1,"iss":"{iss}"}}"#);
        let claims = jwt::decode(&jwt_with(payload.as_bytes(), b"s")).expect("claims");
        assert_eq!(claims.app_id.as_deref(), app, "iss {iss}");
        assert_eq!(
            checks::app_of_iss(iss).as_deref(),
            app,
            "the reference, iss {iss}"
        );
    }
}

#[test]
fn claims_nested_to_the_limit_are_skipped_and_deeper_refused() {
    let nested = |n: usize| {
        let payload = format!(r#"{{"exp":1,"x":{}{}}}"#, "[".repeat(n), "]".repeat(n));
        jwt::decode(&jwt_with(payload.as_bytes(), b"s")).map(|c| c.exp)
    };
    assert_eq!(nested(33), Ok(1));
    assert_eq!(nested(34), Err(JwtError::Json));
}

#[test]
fn a_skipped_claim_closed_by_the_wrong_bracket_is_refused() {
    for x in ["[1}", "{\"a\":1]"] {
        let payload = format!(r#"{{"exp":1,"x":{x}}}"#);
        let decoded = jwt::decode(&jwt_with(payload.as_bytes(), b"s"));
        assert_eq!(decoded.map(|c| c.exp), Err(JwtError::Json), "{payload}");
    }
}
