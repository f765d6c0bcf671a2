//! The wasm's exports as the package's entry calls them, in headless
//! Chromium: absent values as `""` and `NaN`, errors thrown as
//! `code TAB message` strings, and memory that does not grow with use.
#![cfg(target_arch = "wasm32")]

use passage_user::js_api::{check, claim, lock_timeout, retry, status};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// `{"exp":4102444800,"iat":1700000000,"sub":"u1","aud":["x","app1"]}`.
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDAsImlhdCI6MTcwMDAwMDAwMCwic3ViIjoidTEiLCJhdWQiOlsieCIsImFwcDEiXX0.c2ln";

const NOW: f64 = 1_700_000_000_000.0;

fn thrown(e: JsValue) -> String {
    e.as_string().expect("errors cross as strings")
}

#[wasm_bindgen_test]
fn a_fresh_token_is_fresh_until_exp_minus_the_leeway() {
    let until = status(TOKEN, "rt", "", NOW, 0.0, f64::NAN, false);
    assert_eq!(until, 4_102_444_800_000.0 - 10_000.0);
    // The app's leeway, in ms.
    let until = status(TOKEN, "rt", "", NOW, 0.0, 60_000.0, false);
    assert_eq!(until, 4_102_444_800_000.0 - 60_000.0);
}

#[wasm_bindgen_test]
fn absent_values_are_empty_strings_and_stored_ends_are_decimal_text() {
    assert_eq!(status("", "rt", "", NOW, 0.0, f64::NAN, false), -1.0);
    assert_eq!(status("", "", "", NOW, 0.0, f64::NAN, false), -3.0);
    // An end in the past, as localStorage holds it.
    assert_eq!(
        status(TOKEN, "rt", "1600000000", NOW, 0.0, f64::NAN, false),
        -2.0
    );
    // An unreadable end is unknown, not an error.
    assert!(status(TOKEN, "rt", "soon", NOW, 0.0, f64::NAN, false) > 0.0);
    assert_eq!(status(TOKEN, "", "", NOW, 0.0, f64::NAN, true), 1.0);
    assert_eq!(status("x.y.z", "", "", NOW, 0.0, f64::NAN, true), 0.0);
}

#[wasm_bindgen_test]
fn a_bad_auth_result_throws_its_code_and_a_token_free_message() {
    let e = thrown(check(Some("x.y.z".into()), None, None, NOW, false).unwrap_err());
    assert!(e.starts_with("invalid_auth_result\t"), "{e}");
    // An empty refresh token is present, and refused.
    let e = thrown(check(Some(TOKEN.into()), Some(String::new()), None, NOW, false).unwrap_err());
    assert!(e.starts_with("invalid_auth_result\t"), "{e}");
    assert!(!e.contains(TOKEN));
    // The same fields from a refresh reply are the server's fault.
    let e = thrown(check(None, Some("rt".into()), None, NOW, true).unwrap_err());
    assert!(e.starts_with("invalid_response\t"), "{e}");
}

#[wasm_bindgen_test]
fn a_login_token_from_the_past_keeps_our_clock_and_a_refresh_corrects_it() {
    // iat is 1700000000 s; our clock says 100 s later.
    let later = NOW + 100_000.0;
    assert_eq!(
        check(Some(TOKEN.into()), None, None, later, false).unwrap(),
        0.0
    );
    assert_eq!(
        check(Some(TOKEN.into()), None, None, later, true).unwrap(),
        -100_000.0
    );
}

#[wasm_bindgen_test]
fn failures_map_to_waits_refusals_and_thrown_errors() {
    assert_eq!(retry(1, 401, f64::NAN, 0.5).unwrap(), -1.0);
    assert_eq!(retry(1, 503, 2.0, 0.5).unwrap(), 2000.0);
    let e = thrown(retry(3, 0, f64::NAN, 0.5).unwrap_err());
    assert!(e.starts_with("network\t"), "{e}");
    let e = thrown(retry(1, 429, 60.0, 0.5).unwrap_err());
    assert!(
        e.starts_with("rate_limited\t") && e.ends_with("\t60"),
        "{e}"
    );
    assert_eq!(lock_timeout(10_000), 40_000);
}

#[wasm_bindgen_test]
fn claims_read_sub_exp_and_the_app_id() {
    assert_eq!(claim(TOKEN, "sub").as_deref(), Some("u1"));
    assert_eq!(claim(TOKEN, "exp").as_deref(), Some("4102444800"));
    assert_eq!(claim(TOKEN, "app").as_deref(), Some("app1"));
    assert_eq!(claim("not a jwt", "sub"), None);
}
