//! The client's fuzz checks: each takes one input, runs it through the
//! parser the wasm edge calls, and asserts what must hold for every input,
//! not only that nothing panics. The fuzz targets (`fuzz/fuzz_targets`) and
//! the stable replay test (`tests/fuzz_corpus.rs`) both include this file,
//! so a corpus file replays through exactly the target's logic.
#![allow(dead_code)]

use passage_user::client::values::{AuthResultFields, RefreshReply, AUTH_RESULT_KEYS};
use passage_user::core::error::{Code, Error};
use passage_user::core::jwt::{self, base64url_decode, base64url_encode as b64, Claims, JwtError};
use passage_user::core::policy::{parse_retry_after, Policy};
use passage_user::core::session::{parse_unix_seconds, RawAuthResult, Session, Status};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Host JSON for the account mapping: serde_json's, with `new Date(...)`
/// marked so that a date shows where passage-js makes one. Shared with the
/// account mapping tests and the simulation.
#[path = "../../tests/support/json.rs"]
mod json;

use json::HostJson;

/// Local and server time in the checks: 2023-11-14T22:13:20Z, in ms.
pub const NOW_MS: f64 = 1_700_000_000_000.0;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn is_b64(s: &str) -> bool {
    s.bytes().all(|b| ALPHABET.contains(&b))
}

// ---- the JWT reader ----

/// `jwt` target: `base64url_decode` on the raw bytes, and `decode` on them
/// as a token, checked against an independent encoder and serde_json.
/// True when the token decodes.
pub fn jwt(data: &[u8]) -> bool {
    check_base64url(data);
    let Ok(token) = std::str::from_utf8(data) else {
        return false;
    };
    let result = jwt::decode(token);
    let parts: Vec<&str> = token.split('.').collect();
    let shaped = token.len() <= 16 * 1024
        && parts.len() == 3
        && !parts[0].is_empty()
        && !parts[1].is_empty()
        && is_b64(parts[0])
        && is_b64(parts[2]);
    if token.len() > 16 * 1024 {
        assert_eq!(result, Err(JwtError::TooLong), "{token:?}");
        return false;
    }
    if !shaped {
        assert_eq!(result, Err(JwtError::Shape), "{token:?}");
        return false;
    }
    let Some(payload) = base64url_decode(parts[1]) else {
        assert_eq!(result, Err(JwtError::Base64));
        return false;
    };
    let Ok(text) = std::str::from_utf8(&payload) else {
        assert_eq!(result, Err(JwtError::Json));
        return false;
    };
    check_claims(text, &result);
    result.is_ok()
}

/// Every accepted input is base64url of the output: the output re-encodes
/// to a string of the input's length that decodes to the same bytes, and an
/// input is refused only for a character outside the alphabet or a length
/// that no encoding has.
fn check_base64url(data: &[u8]) {
    let mut trimmed = data;
    while let [head @ .., b'='] = trimmed {
        trimmed = head;
    }
    match base64url_decode(data) {
        Some(out) => {
            assert!(trimmed.iter().all(|b| ALPHABET.contains(b)));
            assert_ne!(trimmed.len() % 4, 1);
            assert_eq!(out.len(), trimmed.len() * 6 / 8);
            let again = b64(&out);
            assert_eq!(again.len(), trimmed.len());
            assert_eq!(base64url_decode(&again).as_deref(), Some(&out[..]));
        }
        None => assert!(
            trimmed.len() % 4 == 1 || trimmed.iter().any(|b| !ALPHABET.contains(b)),
            "valid base64url refused: {data:?}"
        ),
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// What the claim reader may make of a JSON number: `Some(n)` exactly, or
/// `Err(v)` for a value it may read within one (a fraction, an exponent) or
/// find out of its range.
fn number_claim(v: Option<&Value>) -> Option<Result<i64, f64>> {
    let n = v?.as_number()?;
    Some(match n.as_i64() {
        Some(i) => Ok(i),
        None => Err(n.as_f64().unwrap_or(f64::NAN)),
    })
}

/// The reader computes in integers, serde_json in f64: they may differ by
/// one in the last place of either.
fn close_enough(read: i64, value: f64) -> bool {
    (read as f64 - value.trunc()).abs() <= 1.0 + value.abs() * 1e-15
}

/// The claims of a payload that has the JWT shape: against serde_json,
/// which is a complete JSON parser. Whatever serde_json parses (within the
/// reader's nesting limit) the reader parses too, to the same claims; and
/// whatever the reader accepts is JSON.
fn check_claims(text: &str, result: &Result<Claims, JwtError>) {
    let parsed = serde_json::from_str::<Value>(text);
    match (&parsed, result) {
        (Err(e), Ok(_)) => {
            // The reader skips numbers past f64 in claims it does not use.
            assert!(
                e.to_string().starts_with("number out of range"),
                "not JSON, yet accepted as a payload: {text:?}: {e}"
            );
        }
        (Ok(Value::Object(_)), _) => {}
        (Ok(_), r) => assert_eq!(r, &Err(JwtError::Json), "{text:?}"),
        (Err(_), r) => assert!(r.is_err()),
    }
    let Ok(Value::Object(map)) = parsed else {
        return;
    };
    if depth(&Value::Object(map.clone())) > 30 {
        return;
    }
    let claims = match result {
        Ok(claims) => claims,
        Err(JwtError::NoExp) => {
            // exp is absent, not a number, or a number it cannot read.
            if let Some(Ok(exp)) = number_claim(map.get("exp")) {
                panic!("exp {exp} not read from {text:?}");
            }
            return;
        }
        Err(e) => panic!("valid JSON payload refused ({e:?}): {text:?}"),
    };
    match number_claim(map.get("exp")) {
        Some(Ok(exp)) => assert_eq!(claims.exp, exp),
        Some(Err(v)) => assert!(close_enough(claims.exp, v), "exp {} for {v}", claims.exp),
        None => panic!("exp {} read from {text:?}", claims.exp),
    }
    match (number_claim(map.get("iat")), claims.iat) {
        (Some(Ok(iat)), read) => assert_eq!(read, Some(iat)),
        (Some(Err(v)), Some(read)) => assert!(close_enough(read, v)),
        (Some(Err(_)), None) => {}
        (None, read) => assert_eq!(read, None),
    }
    assert_eq!(
        claims.sub.as_deref(),
        map.get("sub").and_then(Value::as_str)
    );
    assert_eq!(claims.app_id.as_deref(), app_id(&map).as_deref());
}

/// passage-js's app id: `aud[1]`, else the last path segment of `iss` (a
/// URL, `scheme://...`, without a path names none).
fn app_id(map: &Map<String, Value>) -> Option<String> {
    let from_aud = map
        .get("aud")
        .and_then(Value::as_array)
        .and_then(|a| a.get(1))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    if let Some(id) = from_aud {
        return Some(id.to_owned());
    }
    app_of_iss(map.get("iss")?.as_str()?)
}

/// The app an `iss` names: its last path segment; a URL (`scheme://...`)
/// without a path names none.
pub fn app_of_iss(iss: &str) -> Option<String> {
    let path = match iss.split_once("://") {
        Some((scheme, rest))
            if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            &rest[rest.find('/')?..]
        }
        _ => iss,
    };
    let segment = path.trim_end_matches('/').rsplit('/').next()?;
    (!segment.is_empty()).then(|| segment.to_owned())
}

// ---- the stored-value readers ----

/// A stored value of a `stored` input: a line, `None` for a line that is
/// exactly NUL (the key is absent) or a missing line.
fn stored_field(field: Option<&str>) -> Option<String> {
    field.filter(|f| *f != "\0").map(str::to_owned)
}

/// `stored` target: up to three lines (auth token, refresh token,
/// refresh_token_expiration) read as the store reads them, then the
/// session's state at several moments and clock skews. True when the auth
/// token decodes.
pub fn stored(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let auth = stored_field(lines.next());
    let refresh = stored_field(lines.next());
    let end = stored_field(lines.next());
    for field in [&auth, &refresh, &end].into_iter().flatten() {
        check_unix_seconds(field);
        check_retry_after(field);
    }
    let s = Session::from_stored(auth.clone(), refresh.clone(), end.as_deref());
    let auth = auth.filter(|a| !a.is_empty());
    assert_eq!(s.auth_token(), auth.as_deref());
    assert_eq!(
        s.claims(),
        auth.as_deref().and_then(|a| jwt::decode(a).ok()).as_ref()
    );
    assert_eq!(
        s.refresh_token(),
        refresh
            .as_deref()
            .filter(|r| !r.is_empty() && r.len() <= 4096)
    );
    assert_eq!(
        s.refresh_expiration(),
        end.as_deref().and_then(parse_unix_seconds)
    );
    check_status(&s);
    s.claims().is_some()
}

/// The session's state, consistent with what it holds, at moments around
/// its token's life and its end.
fn check_status(s: &Session) {
    let policy = Policy::default();
    let mut moments = vec![0.0, NOW_MS, -1.0e15, 1.0e15];
    if let Some(c) = s.claims() {
        let exp = c.exp as f64 * 1000.0;
        moments.extend([exp - 10_001.0, exp - 1.0, exp, exp + 1.0]);
    }
    if let Some(end) = s.refresh_expiration() {
        let end = end as f64 * 1000.0;
        moments.extend([end - 1.0, end, end + 1.0]);
    }
    for now in moments {
        for skew in [0.0, 60_000.0, -3_600_000.0] {
            let authenticated = s.is_authenticated(now, skew);
            match s.status(now, skew, &policy) {
                Status::Fresh { until_ms } => {
                    assert!(s.claims().is_some() && s.auth_token().is_some());
                    assert!(authenticated, "fresh but not signed in at {now}");
                    if until_ms.abs() < 4.0e15 && now.abs() < 4.0e15 {
                        assert!(until_ms > now, "fresh until {until_ms}, at {now}");
                    }
                }
                Status::NeedsRefresh => assert!(s.refresh_token().is_some()),
                Status::Ended => {
                    assert!(s.refresh_expiration().is_some());
                    assert!(!authenticated);
                }
                Status::SignedOut => assert!(s.refresh_token().is_none()),
            }
        }
    }
}

/// `parse_unix_seconds` against its definition: optional ASCII whitespace,
/// 1 to 15 digits, optionally a dot and more digits (dropped).
fn check_unix_seconds(s: &str) {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    let expected = (!int.is_empty() && int.len() <= 15 && digits(int) && digits(frac))
        .then(|| int.parse::<i64>().expect("15 digits fit an i64"));
    assert_eq!(parse_unix_seconds(s), expected, "{s:?}");
}

/// `parse_retry_after` against its definition: whole seconds, 1 to 9
/// digits, surrounding whitespace allowed.
fn check_retry_after(s: &str) {
    let t = s.trim();
    let expected = ((1..=9).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
        .then(|| t.parse::<u32>().expect("9 digits fit a u32"));
    assert_eq!(parse_retry_after(s), expected, "{s:?}");
}

// ---- AuthResult and refresh reply validation ----

/// What the edge does with an AuthResult: copies the known keys of the
/// object into a fresh one and reads that with serde (serde-wasm-bindgen in
/// the browser, serde_json over the value tree here).
fn fields_of(value: &Value) -> AuthResultFields {
    let mut copy = Map::new();
    if let Value::Object(o) = value {
        for key in AUTH_RESULT_KEYS {
            if let Some(v) = o.get(key) {
                copy.insert(key.to_owned(), v.clone());
            }
        }
    }
    AuthResultFields::deserialize(&Value::Object(copy)).expect("Field never fails")
}

/// One field from its two spellings, as the documentation says: absent
/// (missing or null), a value of its type, or an error naming it.
fn spelled<T: PartialEq>(
    o: &Map<String, Value>,
    names: [&str; 2],
    read: impl Fn(&Value) -> Option<T>,
    wrong: &'static str,
    differ: &'static str,
) -> Result<Option<T>, &'static str> {
    let mut values = Vec::new();
    for name in names {
        match o.get(name) {
            None | Some(Value::Null) => values.push(None),
            Some(v) => values.push(Some(read(v).ok_or(wrong)?)),
        }
    }
    let camel = values.pop().flatten();
    let snake = values.pop().flatten();
    match (snake, camel) {
        (Some(a), Some(b)) if a != b => Err(differ),
        (a, b) => Ok(a.or(b)),
    }
}

/// The AuthResult an object describes, by the documented rules.
fn expected_raw(value: &Value) -> Result<RawAuthResult, &'static str> {
    let empty = Map::new();
    let o = value.as_object().unwrap_or(&empty);
    let string = |v: &Value| v.as_str().map(str::to_owned);
    let exp = spelled(
        o,
        ["refresh_token_expiration", "refreshTokenExpiration"],
        Value::as_f64,
        "refresh_token_expiration must be a number of unix seconds",
        "refresh_token_expiration and refreshTokenExpiration differ",
    )?;
    Ok(RawAuthResult {
        auth_token: spelled(
            o,
            ["auth_token", "authToken"],
            string,
            "auth_token must be a string",
            "auth_token and authToken differ",
        )?,
        refresh_token: spelled(
            o,
            ["refresh_token", "refreshToken"],
            string,
            "refresh_token must be a string",
            "refresh_token and refreshToken differ",
        )?,
        refresh_expiration: exp,
    })
}

/// The session end an accepted expiration gives: unknown for 0 or less, or
/// past 10^11 (milliseconds by mistake).
fn expected_end(e: Option<f64>) -> Option<i64> {
    e.filter(|&e| e > 0.0 && e <= 1e11).map(|e| e as i64)
}

fn assert_code(e: &Error, code: Code) {
    assert_eq!(e.code, code, "{e:?}");
    assert!(!e.message.is_empty() && e.retry_after().is_none());
}

/// `auth_result` target: arbitrary JSON as the AuthResult given to
/// `setAuthResult`, read, then made a session at [`NOW_MS`]. True when it
/// is accepted.
pub fn auth_result(data: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return false;
    };
    let read = fields_of(&value).read();
    match (&read, expected_raw(&value)) {
        (Ok(raw), Ok(expected)) => assert_eq!(raw, &expected),
        (Err(e), Err(message)) => {
            assert_code(e, Code::InvalidAuthResult);
            assert_eq!(e.message, message);
        }
        (got, expected) => panic!("read {got:?}, expected {expected:?}"),
    }
    let Ok(raw) = read else {
        return false;
    };
    match Session::from_auth_result(raw.clone(), NOW_MS) {
        Ok(s) => {
            let token = raw.auth_token.as_deref().expect("accepted without a token");
            assert_eq!(s.auth_token(), Some(token));
            assert_eq!(s.claims(), jwt::decode(token).ok().as_ref());
            assert!(s.claims().is_some());
            let refresh = raw.refresh_token.as_deref().filter(|r| !r.is_empty());
            assert_eq!(s.refresh_token(), refresh);
            assert!(refresh.is_none_or(|r| r.len() <= 4096));
            assert_eq!(s.refresh_expiration(), expected_end(raw.refresh_expiration));
            // A session accepted now has not ended now.
            let status = s.status(NOW_MS, 0.0, &Policy::default());
            assert_ne!(status, Status::Ended);
            check_status(&s);
            true
        }
        Err(e) => {
            assert_code(&e, Code::InvalidAuthResult);
            let token_ok = raw.auth_token.as_deref().map(jwt::decode);
            let refused_for_a_reason = !matches!(token_ok, Some(Ok(_)))
                || matches!(token_ok, Some(Ok(ref c)) if c.exp as f64 > 1e11)
                || raw.refresh_token.as_ref().is_some_and(|r| r.len() > 4096)
                || raw
                    .refresh_expiration
                    .is_some_and(|e| e > 0.0 && e <= 1e11 && e * 1000.0 <= NOW_MS);
            assert!(refused_for_a_reason, "{raw:?} refused: {e:?}");
            false
        }
    }
}

/// The session a refresh is made from: a refresh token, a known end.
fn stored_session() -> Session {
    let token =
        format!(
        "{}.{}.c2ln",
        b64(br#"{"alg":"RS256","typ":"JWT"}"#),
        b64(br#"{"sub":"user","iat":1699999000,"exp":1699999300,"aud":["http://localhost","app"]}"#)
    );
    Session::from_stored(
        Some(token),
        Some("rt-stored".to_owned()),
        Some("1800000000"),
    )
}

/// `refresh_reply` target: arbitrary JSON as the body of a 200 answer to
/// `POST /tokens`, read as the client reads it, then applied to a stored
/// session and to an empty one. True when the stored session takes it.
pub fn refresh_reply(data: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return false;
    };
    // The simulation's (and the browser's) `Json::decode`.
    let Some(reply) = serde_json::from_value::<RefreshReply>(value.clone()).ok() else {
        return false;
    };
    let raw = reply.read();
    // A reply is its auth_result object, read as an AuthResult is.
    if let Some(inner) = value.get("auth_result").filter(|v| v.is_object()) {
        let fields = AuthResultFields::deserialize(inner).expect("Field never fails");
        assert_eq!(raw, fields.read().ok());
    }
    let Some(raw) = raw else {
        return false;
    };
    let mut taken = false;
    for old in [stored_session(), Session::default()] {
        let next = old.after_refresh(raw.clone());
        let refresh = raw
            .refresh_token
            .clone()
            .filter(|r| !r.is_empty())
            .or_else(|| old.refresh_token().map(str::to_owned));
        // Read as a login's, but never refused for an end that has passed
        // by our clock: the server has just accepted the session.
        let as_login = Session::from_auth_result(
            RawAuthResult {
                refresh_token: refresh.clone(),
                ..raw.clone()
            },
            f64::NEG_INFINITY,
        );
        assert_eq!(next.is_ok(), as_login.is_ok());
        taken |= next.is_ok();
        match next {
            Ok(s) => {
                assert_eq!(s.auth_token(), raw.auth_token.as_deref());
                assert_eq!(s.refresh_token(), refresh.as_deref());
                let end = expected_end(raw.refresh_expiration).or(old.refresh_expiration());
                assert_eq!(s.refresh_expiration(), end);
                check_status(&s);
            }
            Err(e) => {
                assert_code(&e, Code::InvalidResponse);
                assert_eq!(e.message, "the refresh reply is not an auth_result");
            }
        }
    }
    taken
}

// ---- the account replies ----

/// Checks `mapped` against `shape` for `value`: an object has exactly the
/// shape's members under passage-js's names, each as `member` makes it.
fn check_shape(value: &Value, mapped: &Value, shape: &passage_user::client::account::Shape) {
    use passage_user::client::account::Member;
    if value.is_null() {
        assert_eq!(mapped, &Value::Null);
        return;
    }
    let source = value.as_object().expect("mapped only from an object");
    let out = mapped.as_object().expect("an object maps to an object");
    assert_eq!(out.len(), shape.0.len(), "exactly the shape's members");
    for &(from, to, member) in shape.0 {
        let v = source.get(from).unwrap_or(&Value::Null);
        let m = &out[to];
        match member {
            Member::Copy => assert_eq!(m, v),
            Member::Present => assert_eq!(m, v),
            Member::Date => assert_eq!(m, &serde_json::json!({ "Date": v })),
            Member::Object(inner) | Member::ObjectOrUndefined(inner) => check_shape(v, m, inner),
            Member::List(inner) | Member::OptionalList(inner) => match v {
                Value::Null => assert_eq!(m, &Value::Null),
                Value::Array(items) => {
                    let mapped = m.as_array().expect("a list maps to a list");
                    assert_eq!(items.len(), mapped.len());
                    for (item, m) in items.iter().zip(mapped) {
                        check_shape(item, m, inner);
                    }
                }
                _ => unreachable!("mapped only from a list"),
            },
            Member::ListCopy => assert_eq!(m, v),
        }
    }
}

/// `account_reply` target: any JSON as a reply of a current-user endpoint,
/// mapped with each of passage-js's shapes. A value that maps has exactly
/// the shape's members, renamed, copied, dated or mapped as the table says;
/// one that does not is refused (`None`), never a panic. True when the
/// value maps as a `CurrentUser`.
pub fn account_reply(data: &[u8]) -> bool {
    use passage_user::client::account::{
        apply, map, Member, Shape, CREATION_OPTIONS, CURRENT_USER, MAGIC_LINK, PASSKEY,
        SOCIAL_CONNECTIONS,
    };
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return false;
    };
    let shapes: [&Shape; 5] = [
        &CURRENT_USER,
        &PASSKEY,
        &SOCIAL_CONNECTIONS,
        &MAGIC_LINK,
        &CREATION_OPTIONS,
    ];
    let mut user = false;
    for shape in shapes {
        let mapped = map(HostJson(value.clone()), shape);
        match (&mapped, &value) {
            (Some(m), v) => check_shape(v, &m.0, shape),
            // Refused: not null, and not an object of that shape.
            (None, v) => assert!(!v.is_null()),
        }
        if std::ptr::eq(shape, &CURRENT_USER) {
            user = mapped.is_some() && value.is_object();
        }
    }
    // A list of passkeys, as `GET /currentuser/devices` holds one.
    if let Some(m) = apply(HostJson(value.clone()), Member::List(&PASSKEY)) {
        let items = value.as_array().expect("a list maps from a list");
        assert_eq!(m.0.as_array().map(Vec::len), Some(items.len()));
    }
    user
}
