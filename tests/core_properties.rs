//! Properties of the pure core, checked with proptest on the host: the JWT
//! payload decoder and the stored-value readers take any input without
//! panicking, read back exactly what a server writes, and the timing
//! decisions (freshness, session end, retries) hold
//! their invariants over random sessions, clocks and schedules.
//!
//! Each property runs a modest number of cases so the file stays fast; set
//! `PROPTEST_CASES` for a longer run, e.g.
//! `PROPTEST_CASES=20000 cargo test --release -p passage-user --test core_properties`.
//! Failing cases are kept in `proptest-regressions/core_properties.txt` and
//! replayed first on every run.
#![cfg(not(target_arch = "wasm32"))]

use std::fmt::Write as _;

use passage_user::core::error::Code;
use passage_user::core::jwt::{self, base64url_decode, JwtError};
use passage_user::core::policy::{skew_from_iat, Failure, Next, Policy, SKEW_THRESHOLD_MS};
use passage_user::core::session::{parse_unix_seconds, RawAuthResult, Session, Status};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};

/// `cases` unless `PROPTEST_CASES` asks for more (or fewer).
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/core_properties.txt",
        ))),
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------
// Writing JWTs the way servers do.

/// base64url without padding (the core's own encoder, which
/// `base64url_encoding_round_trips_and_has_no_padding` checks).
fn b64(bytes: &[u8]) -> String {
    jwt::base64url_encode(bytes)
}

/// A JWT with this payload text, the header an RS256 signer writes and the
/// given signature bytes.
fn jwt_with(payload: &[u8], signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(br#"{"typ":"JWT","alg":"RS256","kid":"k1"}"#),
        b64(payload),
        b64(signature)
    )
}

fn simple_jwt(iat: i64, exp: i64) -> String {
    jwt_with(
        format!(r#"{{"sub":"u","iat":{iat},"exp":{exp},"aud":["http://localhost","app"]}}"#)
            .as_bytes(),
        b"sig",
    )
}

/// How a writer escapes strings.
#[derive(Clone, Copy, Debug)]
enum Escape {
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

fn push_u(out: &mut String, c: char) {
    let mut units = [0u16; 2];
    for u in c.encode_utf16(&mut units) {
        let _ = write!(out, "\\u{u:04X}");
    }
}

fn json_string(s: &str, style: Escape) -> String {
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
        from_aud.or_else(|| match &self.iss {
            Some(Json::Str(iss)) => iss
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
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

    #[test]
    fn decode_never_panics_on_any_string(s in any::<String>()) {
        let _ = jwt::decode(&s);
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
        // `skew_correction_keeps_tokens_valid_on_the_servers_clock`).
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
    /// replaced): never a panic.
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
        let _ = jwt::decode(&jwt_with(text.as_bytes(), b"sig"));
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
        }, 0.0);
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
// Retries and backoff.

fn failure() -> impl Strategy<Value = Failure> {
    prop_oneof![
        Just(Failure::Network),
        Just(Failure::Timeout),
        Just(Failure::Malformed),
        (
            prop::sample::select(vec![401u16, 403, 404, 429, 500, 502, 503, 504, 599]),
            option::of(0u32..30)
        )
            .prop_map(|(s, r)| Failure::Status(s, r)),
        (any::<u16>(), option::of(any::<u32>())).prop_map(|(s, r)| Failure::Status(s, r)),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        0i64..=3_600_000,
        100u32..=300_000,
        1u32..=8,
        any::<u32>(),
        0u32..=10,
    )
        .prop_map(
            |(leeway_ms, timeout_ms, max_attempts, backoff_ms, max_retry_after_s)| Policy {
                leeway_ms,
                timeout_ms,
                max_attempts,
                backoff_ms,
                max_retry_after_s,
            },
        )
}

/// The code a failure is reported with, once no retry is left.
fn code_of(failure: Failure) -> Option<Code> {
    match failure {
        Failure::Network | Failure::Timeout => Some(Code::Network),
        Failure::Malformed => Some(Code::InvalidResponse),
        Failure::Status(401 | 403 | 404, _) => None,
        Failure::Status(429, _) => Some(Code::RateLimited),
        Failure::Status(500..=599, _) => Some(Code::Server),
        Failure::Status(..) => Some(Code::InvalidResponse),
    }
}

proptest! {
    #![proptest_config(config(1024))]

    /// A refresh that keeps failing makes at most `max_attempts` requests,
    /// never waits more than 10 s between two, and ends with the code of
    /// its last failure.
    #[test]
    fn retries_are_bounded_in_number_and_delay(
        policy in policy(),
        failures in vec(failure(), 12),
        jitters in vec(any::<f64>(), 12),
    ) {
        let mut attempt = 1u32;
        let mut waited = 0u64;
        let outcome = loop {
            let failure = failures[(attempt - 1) as usize];
            match policy.after_failure(attempt, failure, jitters[(attempt - 1) as usize]) {
                Next::RetryIn(ms) => {
                    prop_assert!(ms <= 10_000, "waits {} ms", ms);
                    waited += u64::from(ms);
                    attempt += 1;
                    prop_assert!(attempt <= policy.max_attempts, "attempt {} of {}", attempt, policy.max_attempts);
                }
                other => break (failure, other),
            }
        };
        prop_assert!(waited <= u64::from(policy.max_attempts - 1) * 10_000);
        match outcome {
            (failure, Next::Refused) => prop_assert_eq!(code_of(failure), None),
            (failure, Next::Fail(e)) => {
                prop_assert_eq!(Some(e.code), code_of(failure));
                if let Failure::Status(429, retry_after) = failure {
                    prop_assert_eq!(e.retry_after, retry_after);
                } else {
                    prop_assert_eq!(e.retry_after, None);
                }
            }
            (_, Next::RetryIn(_)) => unreachable!(),
        }
    }

    /// `Retry-After`: honoured exactly up to the limit (for 429 and 5xx),
    /// a longer one on a 429 is reported at once with its seconds, a longer
    /// one on a 5xx falls back to the usual backoff.
    #[test]
    fn retry_after_semantics(
        policy in policy(),
        attempt in 1u32..=8,
        status in prop::sample::select(vec![429u16, 500, 502, 503, 504]),
        retry_after in 0u32..=30,
        jitter in 0.0f64..1.0,
    ) {
        let next = policy.after_failure(attempt, Failure::Status(status, Some(retry_after)), jitter);
        let last = attempt >= policy.max_attempts;
        let honoured = retry_after <= policy.max_retry_after_s;
        match (status, honoured, last) {
            (429, false, _) => {
                let Next::Fail(e) = next else {
                    return Err(TestCaseError::fail(format!("{next:?}")));
                };
                prop_assert_eq!((e.code, e.retry_after), (Code::RateLimited, Some(retry_after)));
            }
            (_, _, true) => prop_assert!(matches!(next, Next::Fail(_)), "{:?}", next),
            (_, true, false) => prop_assert_eq!(next, Next::RetryIn(retry_after * 1000)),
            (_, false, false) => {
                let step = policy.backoff_ms.saturating_mul(1 << (attempt - 1).min(16)).min(10_000);
                let Next::RetryIn(ms) = next else {
                    return Err(TestCaseError::fail(format!("{next:?}")));
                };
                prop_assert!(ms >= step / 2 && ms <= step, "{} ms for a step of {}", ms, step);
            }
        }
    }

    /// Jittered backoff stays within [step/2, step], whatever the jitter
    /// (even NaN), and the step doubles from `backoff_ms` up to 10 s.
    #[test]
    fn backoff_is_jittered_within_its_step(
        policy in policy(),
        attempt in 1u32..=8,
        jitter in any::<f64>(),
        timeout in any::<bool>(),
    ) {
        let policy = Policy { max_attempts: policy.max_attempts.max(attempt + 1), ..policy };
        let failure = if timeout { Failure::Timeout } else { Failure::Network };
        let step = policy.backoff_ms.saturating_mul(1 << (attempt - 1)).min(10_000);
        let Next::RetryIn(ms) = policy.after_failure(attempt, failure, jitter) else {
            return Err(TestCaseError::fail("a transient failure before the last attempt must retry"));
        };
        prop_assert!(ms >= step / 2 && ms <= step, "{} ms for a step of {}", ms, step);
    }

    #[test]
    fn leeway_is_the_configured_one_capped_at_a_tenth_of_the_lifetime(
        leeway_ms in 0i64..=3_600_000,
        iat in option::of(any::<i64>()),
        exp in any::<i64>(),
    ) {
        let policy = Policy { leeway_ms, ..Policy::default() };
        let claims = jwt::Claims { exp, iat, sub: None, app_id: None };
        let l = policy.leeway_for(&claims);
        prop_assert!((0..=leeway_ms).contains(&l));
        if let Some(iat) = iat.filter(|&i| exp > i) {
            prop_assert!(i128::from(l) <= (i128::from(exp) - i128::from(iat)) * 100);
        } else {
            prop_assert_eq!(l, leeway_ms);
        }
    }

    #[test]
    fn skew_threshold_is_exact(
        iat in 0i64..4_102_444_800,
        delta in prop_oneof![
            prop::sample::select(vec![-2_001i64, -2_000, -1_999, 0, 1_999, 2_000, 2_001]),
            -5_000i64..=5_000,
        ],
    ) {
        let skew = skew_from_iat(iat, (iat * 1000 - delta) as f64);
        prop_assert_eq!(skew, if delta.abs() > 2_000 { delta as f64 } else { 0.0 });
    }

    #[test]
    fn skew_is_zero_within_the_threshold_and_exact_beyond(
        iat in any::<i64>(),
        now in any::<f64>(),
    ) {
        let skew = skew_from_iat(iat, now);
        let offset = iat as f64 * 1000.0 - now;
        if offset.abs() > SKEW_THRESHOLD_MS {
            prop_assert_eq!(skew.to_bits(), offset.to_bits());
        } else {
            prop_assert_eq!(skew, 0.0);
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
    /// panic, and still never `Fresh` past `exp`.
    #[test]
    fn status_is_total_on_extreme_values(
        iat in option::of(any::<i64>()),
        exp in any::<i64>(),
        end in option::of(any::<u64>()),
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
        if let Status::Fresh { .. } = session.status(now, skew, &policy) {
            prop_assert!(now + skew < exp as f64 * 1000.0);
        }
        let _ = session.is_authenticated(now, skew);
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

// ---------------------------------------------------------------------------
// The local auth server's real tokens, read back by the client's decoder.

mod server {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::sync::mpsc;
    use std::time::Duration;

    /// The server binary next to this test's own build
    /// (`target/<profile>/passage-auth-server`), when it has been built.
    pub fn binary() -> Option<PathBuf> {
        let exe = std::env::current_exe().ok()?;
        let path = exe.parent()?.parent()?.join("passage-auth-server");
        path.is_file().then_some(path)
    }

    pub struct Running {
        child: Child,
        pub port: u16,
        dir: PathBuf,
    }

    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    pub fn start(bin: &PathBuf) -> Running {
        let dir = std::env::temp_dir().join(format!(
            "psg-core-properties-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut child = Command::new(bin)
            .args(["--addr", "127.0.0.1:0", "--data"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the auth server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the auth server prints its address");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Running { child, port, dir }
    }

    impl Running {
        /// One request on its own connection: (status, body).
        pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
            let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            let body = body.unwrap_or("");
            let head = format!(
                "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
                 Authorization: Bearer local-admin-key\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(body.as_bytes()).unwrap();
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).unwrap();
            let raw = String::from_utf8(raw).expect("a UTF-8 reply");
            let (head, body) = raw.split_once("\r\n\r\n").expect("a reply head");
            let status = head.split(' ').nth(1).unwrap().parse().unwrap();
            let chunked = head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked");
            (
                status,
                if chunked {
                    dechunk(body)
                } else {
                    body.to_owned()
                },
            )
        }
    }

    fn dechunk(mut data: &str) -> String {
        let mut out = String::new();
        while let Some((size, rest)) = data.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            if size == 0 {
                break;
            }
            out.push_str(&rest[..size]);
            data = &rest[size + 2..];
        }
        out
    }

    /// The string member `key` of a compact serde_json reply, for values
    /// with no escapes (tokens, ids).
    pub fn str_field(body: &str, key: &str) -> Option<String> {
        let start = body.find(&format!("\"{key}\":\""))? + key.len() + 4;
        let len = body[start..].find('"')?;
        Some(body[start..start + len].to_owned())
    }

    /// The integer member `key` of a compact serde_json reply.
    pub fn int_field(body: &str, key: &str) -> Option<i64> {
        let start = body.find(&format!("\"{key}\":"))? + key.len() + 3;
        let digits: String = body[start..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .collect();
        digits.parse().ok()
    }

    /// Percent-encodes a path segment.
    pub fn encode(s: &str) -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }
}

/// Apps with random lifetimes, origins (quotes and backslashes included,
/// which the server escapes in `aud[0]`) and clocks shifted by up to ten
/// years; users with unicode addresses. Every token the server signs, at
/// login and at refresh, is read back with the right app id, subject and
/// lifetime, and makes a session the client accepts and finds fresh.
///
/// Needs the server binary (`cargo build -p passage-auth-server`, which
/// `cargo test --workspace` does); skipped with a note without it.
#[test]
fn the_local_servers_real_tokens_are_read_back() {
    let Some(bin) = server::binary() else {
        eprintln!("skipped: build the auth server first (cargo build -p passage-auth-server)");
        return;
    };
    let running = server::start(&bin);
    // Each case signs two RSA tokens: keep a long run (PROPTEST_CASES) short here.
    let mut config = config(24);
    config.cases = config.cases.min(200);
    let mut runner = TestRunner::new(config);
    let counter = std::cell::Cell::new(0u32);
    let strategy = (
        "[A-Za-z0-9_-]{1,40}",
        3i64..=315_360_000,
        option::of("https?://[!-~&&[^/?# @]]{1,40}"),
        -315_000_000i64..315_000_000,
        "[a-z0-9\u{e9}\u{4e2d}\u{1F600}.+]{1,20}@[a-z\u{e9}]{1,10}\\.example",
    );
    runner
        .run(&strategy, |(app, lifetime, origin, offset, email)| {
            counter.set(counter.get() + 1);
            let app = format!("p{}{app}", counter.get());
            let app = &app[..app.len().min(64)];
            let mut settings = format!(r#"{{"auth_token_lifetime":{lifetime}"#);
            if let Some(o) = &origin {
                let _ = write!(settings, r#","origin":{}"#, json_string(o, Escape::Serde));
            }
            settings.push('}');
            let (status, body) =
                running.request("PUT", &format!("/admin/apps/{app}"), Some(&settings));
            prop_assert_eq!(status, 200, "{}", body);
            let (status, body) = running.request(
                "POST",
                "/admin/clock",
                Some(&format!(r#"{{"offset_secs":{offset},"app":"{app}"}}"#)),
            );
            prop_assert_eq!(status, 200, "{}", body);
            let (status, body) = running.request(
                "GET",
                &format!("/admin/apps/{app}/users/{}", server::encode(&email)),
                None,
            );
            prop_assert_eq!(status, 404, "{}", body);

            let system_now = || {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64
            };
            let before = system_now();
            let (status, login) = running.request(
                "POST",
                &format!("/v1/apps/{app}/demo/login"),
                Some(&format!(
                    r#"{{"identifier":{}}}"#,
                    json_string(&email, Escape::Serde)
                )),
            );
            prop_assert_eq!(status, 200, "{}", login);
            let (_, user) = running.request(
                "GET",
                &format!("/admin/apps/{app}/users/{}", server::encode(&email)),
                None,
            );
            let user_id = server::str_field(&user, "id").expect("a user id");

            let check = |reply: &str| -> Result<Session, TestCaseError> {
                let token = server::str_field(reply, "auth_token").expect("an auth_token");
                let claims = jwt::decode(&token)
                    .map_err(|e| TestCaseError::fail(format!("{e:?} for a server token")))?;
                prop_assert_eq!(claims.app_id.as_deref(), Some(app));
                prop_assert_eq!(claims.sub.as_deref(), Some(user_id.as_str()));
                let iat = claims.iat.expect("iat");
                prop_assert_eq!(claims.exp - iat, lifetime);
                prop_assert!(
                    (before + offset - 1..=system_now() + offset + 1).contains(&iat),
                    "iat {} for an offset of {}",
                    iat,
                    offset
                );
                let expiration = server::int_field(reply, "refresh_token_expiration");
                let session = Session::from_auth_result(
                    RawAuthResult {
                        auth_token: Some(token),
                        refresh_token: server::str_field(reply, "refresh_token"),
                        refresh_expiration: expiration.map(|e| e as f64),
                    },
                    iat as f64 * 1000.0,
                )
                .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                prop_assert_eq!(session.refresh_expiration(), expiration);
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as f64;
                let skew = skew_from_iat(iat, now_ms);
                let status = session.status(now_ms, skew, &Policy::default());
                prop_assert!(
                    matches!(status, Status::Fresh { .. }),
                    "{:?} for a {} s token",
                    status,
                    lifetime
                );
                Ok(session)
            };
            let first = check(&login)?;
            let rt = first.refresh_token().unwrap().to_owned();
            let (status, refreshed) = running.request(
                "POST",
                &format!("/v1/apps/{app}/tokens"),
                Some(&format!(r#"{{"refresh_token":"{rt}"}}"#)),
            );
            prop_assert_eq!(status, 200, "{}", refreshed);
            let second = check(&refreshed)?;
            prop_assert_ne!(second.refresh_token(), Some(rt.as_str()));
            let raw = RawAuthResult {
                auth_token: second.auth_token().map(str::to_owned),
                refresh_token: second.refresh_token().map(str::to_owned),
                refresh_expiration: None,
            };
            let next = first
                .after_refresh(raw, system_now() as f64 * 1000.0)
                .unwrap();
            prop_assert_eq!(next.refresh_expiration(), first.refresh_expiration());
            Ok(())
        })
        .unwrap();
}
