//! The JavaScript edge: the core's decisions as synchronous calls.
//!
//! The package's entry (`pkg-template/`) does the input and output (storage,
//! `fetch`, Web Locks, other tabs' signals, timers) and asks [`Core`] at each
//! step: is this token fresh, is this AuthResult or refresh reply usable,
//! what does this failure mean. Nothing here awaits, so the wasm carries no
//! futures executor and no browser bindings, and every call returns at once.
//! Nothing here outlives a call either: the per-session state (the server's
//! clock offset, the leeway) is the entry's, passed in.
//!
//! Absent stored values cross as `""` and `NaN`: fewer shapes of glue than
//! `Option`s. Errors cross as thrown strings,
//! `code TAB message [TAB retryAfter]`; the entry turns them into
//! `PassageError`s.

use alloc::borrow::ToOwned;
use alloc::string::String;

use wasm_bindgen::prelude::*;

use crate::core::decimal;
use crate::core::error::{Code, Error};
use crate::core::jwt;
use crate::core::policy::{skew_from_iat, Failure, Next, Policy};
use crate::core::session::{RawAuthResult, Session, Status};

/// `status()` for a session that needs a refresh.
const NEEDS_REFRESH: f64 = -1.0;
/// `status()` for a session past its absolute end.
const ENDED: f64 = -2.0;
/// `status()` for a session with nothing usable.
const SIGNED_OUT: f64 = -3.0;
/// `retry()` for a refusal of the refresh token.
const REFUSED: f64 = -1.0;

/// An error as the string the entry parses.
fn throw(e: Error) -> JsValue {
    let mut text = String::from(e.code.as_str());
    text.push('\t');
    text.push_str(e.message);
    if let Some(seconds) = e.retry_after {
        text.push('\t');
        text.push_str(&decimal(i64::from(seconds)));
    }
    JsValue::from_str(&text)
}

fn text(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn number(n: f64) -> Option<f64> {
    (!n.is_nan()).then_some(n)
}

/// The policy of SPEC section 5 with the app's `leeway` (ms).
fn policy(leeway_ms: f64) -> Policy {
    let mut policy = Policy::default();
    if leeway_ms.is_finite() {
        policy.leeway_ms = leeway_ms.clamp(0.0, 3_600_000.0) as i64;
    }
    policy
}

/// What the stored session (auth token, refresh token, end as stored: unix
/// seconds in decimal) means at local time `now`, with the server's clock
/// `skew` ms ahead and a `leeway` in ms (`NaN` for the default): the local
/// time (ms) until which its auth token is fresh, or -1 (needs a refresh),
/// -2 (ended) or -3 (signed out). With `guard`, `authGuard`'s answer
/// instead: 1 for a well-formed, unexpired auth token in a session that has
/// not ended, else 0.
#[wasm_bindgen]
pub fn status(
    auth: &str,
    refresh: &str,
    end: &str,
    now: f64,
    skew: f64,
    leeway: f64,
    guard: bool,
) -> f64 {
    let session = Session::from_stored(text(auth), text(refresh), Some(end));
    if guard {
        return f64::from(u8::from(session.is_authenticated(now, skew)));
    }
    match session.status(now, skew, &policy(leeway)) {
        Status::Fresh { until_ms } => until_ms,
        Status::NeedsRefresh => NEEDS_REFRESH,
        Status::Ended => ENDED,
        Status::SignedOut => SIGNED_OUT,
    }
}

/// Checks the fields of a login's AuthResult, or with `refreshed` of a
/// refresh reply (whose refresh token is the reply's or the one used).
/// (Here an empty string is present, and refused: `undefined` is absent.)
///
/// Returns the server clock's offset (ms) to keep from the token's `iat`, or
/// `NaN` to keep the current one: from a refresh reply, surely new, both
/// ways; from a login, whose token may be old, only a server ahead of us
/// (that can only make tokens stale sooner).
#[wasm_bindgen]
pub fn check(
    auth: Option<String>,
    refresh: Option<String>,
    end: Option<f64>,
    now: f64,
    refreshed: bool,
) -> Result<f64, JsValue> {
    let next = Session::from_auth_result(
        RawAuthResult {
            auth_token: auth,
            refresh_token: refresh,
            refresh_expiration: end,
        },
        now,
    );
    let next = match next {
        Ok(next) => next,
        Err(_) if refreshed => {
            return Err(throw(Error::new(
                Code::InvalidResponse,
                "the refresh reply is not an auth_result",
            )))
        }
        Err(e) => return Err(throw(e)),
    };
    Ok(match next.claims().and_then(|c| c.iat) {
        Some(iat) if refreshed => skew_from_iat(iat, now),
        Some(iat) => skew_from_iat(iat, now).max(0.0),
        None => f64::NAN,
    })
}

/// After attempt `attempt` failed with HTTP `status` (0: network, 1:
/// timeout, 2: a malformed success body) and `Retry-After` seconds (`NaN`
/// when absent): the ms to wait before the next attempt, or -1 when the
/// server refused the refresh token. Throws the error to report when it is
/// time to stop (at once for an attempt past the last).
#[wasm_bindgen]
pub fn retry(attempt: u32, status: u16, retry_after: f64, jitter: f64) -> Result<f64, JsValue> {
    let failure = match status {
        0 => Failure::Network,
        1 => Failure::Timeout,
        2 => Failure::Malformed,
        s => Failure::Status(s, number(retry_after).map(|s| s as u32)),
    };
    match Policy::default().after_failure(attempt, failure, jitter) {
        Next::RetryIn(ms) => Ok(f64::from(ms)),
        Next::Refused => Ok(REFUSED),
        Next::Fail(e) => Err(throw(e)),
    }
}

/// The longest wait for the cross-tab refresh lock with this request
/// timeout (ms): a holder's every attempt, and then some.
#[wasm_bindgen(js_name = lockTimeout)]
pub fn lock_timeout(timeout_ms: u32) -> u32 {
    Policy {
        timeout_ms,
        ..Policy::default()
    }
    .lock_timeout_ms()
}

/// A claim of an auth token, when it is a JWT that has it: `"sub"` (the
/// user id), `"exp"` (unix seconds) or `"app"` (the app id named by `aud`,
/// else `iss`, as passage-js derives it).
#[wasm_bindgen]
pub fn claim(token: &str, name: &str) -> Option<String> {
    let claims = jwt::decode(token).ok()?;
    match name {
        "sub" => claims.sub,
        "exp" => Some(decimal(claims.exp)),
        _ => claims.app_id,
    }
}
