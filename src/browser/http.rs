//! The three requests of the Passage API, over `fetch`.
//!
//! `web_sys`'s fetch directly rather than gloo-net: we need `keepalive` for
//! the sign-out request (neither gloo-net's builder nor web-sys has a setter
//! for it), a timeout
//! through `AbortController`, and nothing of the `http` crate or `format!`
//! machinery that gloo-net's request builder brings into the wasm.

use js_sys::{Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};

use super::{js, time::Deadline};
use crate::core::policy::Failure;
use crate::core::session::RawAuthResult;

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with_init(url: &str, init: &RequestInit) -> js_sys::Promise;
}

/// A request to send.
pub struct Call<'a> {
    /// `GET`, `POST` or `DELETE`.
    pub method: &'a str,
    /// Absolute URL.
    pub url: &'a str,
    /// A JSON body.
    pub json: Option<&'a JsValue>,
    /// A bearer token for `Authorization`.
    pub bearer: Option<&'a str>,
    /// Let the request outlive the page (sign-out during unload).
    pub keepalive: bool,
    /// Abort after this long.
    pub timeout_ms: u32,
}

/// A response's status and, for a success, its parsed JSON body (or
/// `undefined` when the body is empty or not JSON).
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// `Retry-After` in whole seconds, when present and numeric.
    pub retry_after: Option<u32>,
    /// The body parsed as JSON, for 2xx answers.
    pub body: JsValue,
}

/// Sends `call` and reads the whole reply within the timeout.
pub async fn send(call: Call<'_>) -> Result<Reply, Failure> {
    let init = RequestInit::new();
    init.set_method(call.method);
    if call.keepalive {
        // web-sys has no setter for it; RequestInit is a plain dictionary.
        let _ = Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE);
    }
    let headers = Headers::new().map_err(|_| Failure::Network)?;
    if let Some(body) = call.json {
        let text = JSON::stringify(body).map_err(|_| Failure::Network)?;
        init.set_body(&text);
        let _ = headers.set("Content-Type", "application/json");
    }
    if let Some(token) = call.bearer {
        let mut value = String::from("Bearer ");
        value.push_str(token);
        let _ = headers.set("Authorization", &value);
    }
    init.set_headers(&headers);
    let deadline = Deadline::after(call.timeout_ms);
    if let Some(d) = &deadline {
        init.set_signal(Some(&d.signal()));
    }
    let result = exchange(call.url, &init).await;
    let timed_out = deadline.is_some_and(|d| d.passed());
    result.map_err(|f| if timed_out { Failure::Timeout } else { f })
}

async fn exchange(url: &str, init: &RequestInit) -> Result<Reply, Failure> {
    let response: Response = JsFuture::from(fetch_with_init(url, init))
        .await
        .map_err(|_| Failure::Network)?
        .unchecked_into();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("Retry-After")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse().ok());
    let body = if (200..300).contains(&status) {
        match response.text() {
            // A body that fails mid-way is a network failure; one that is
            // not JSON is the caller's to judge, as `undefined`.
            Ok(p) => JsFuture::from(p)
                .await
                .map_err(|_| Failure::Network)?
                .as_string()
                .and_then(|t| JSON::parse(&t).ok())
                .unwrap_or(JsValue::UNDEFINED),
            Err(_) => return Err(Failure::Network),
        }
    } else {
        JsValue::UNDEFINED
    };
    Ok(Reply {
        status,
        retry_after,
        body,
    })
}

/// `POST {app}/tokens` with the refresh token; the reply's `auth_result`.
pub async fn refresh(
    app_url: &str,
    refresh_token: &str,
    timeout_ms: u32,
) -> Result<RawAuthResult, Failure> {
    let mut url = String::from(app_url);
    url.push_str("/tokens");
    let body = Object::new();
    let _ = Reflect::set(&body, &"refresh_token".into(), &refresh_token.into());
    let reply = send(Call {
        method: "POST",
        url: &url,
        json: Some(&body),
        bearer: None,
        keepalive: false,
        timeout_ms,
    })
    .await?;
    if !matches!(reply.status, 200 | 201) {
        return Err(Failure::Status(reply.status, reply.retry_after));
    }
    read_auth_result(&js::get(&reply.body, "auth_result")).ok_or(Failure::Malformed)
}

/// The fields of an AuthResult object in either spelling; `None` when a
/// field has the wrong type or both spellings disagree.
pub fn read_auth_result(obj: &JsValue) -> Option<RawAuthResult> {
    if !obj.is_object() {
        return None;
    }
    let string = |k: &str| js::opt_string(obj, k);
    let number = |k: &str| js::opt_number(obj, k);
    Some(RawAuthResult {
        auth_token: js::either(string, "auth_token", "authToken").ok()?,
        refresh_token: js::either(string, "refresh_token", "refreshToken").ok()?,
        refresh_expiration: js::either(
            number,
            "refresh_token_expiration",
            "refreshTokenExpiration",
        )
        .ok()?,
    })
}

/// `DELETE {app}/tokens?refresh_token=…` with `keepalive`; the status.
pub async fn revoke(app_url: &str, refresh_token: &str, timeout_ms: u32) -> Result<u16, Failure> {
    let mut url = String::from(app_url);
    url.push_str("/tokens?refresh_token=");
    url.push_str(&String::from(js_sys::encode_uri_component(refresh_token)));
    send(Call {
        method: "DELETE",
        url: &url,
        json: None,
        bearer: None,
        keepalive: true,
        timeout_ms,
    })
    .await
    .map(|r| r.status)
}

/// `GET {app}/currentuser` with the auth token: the status and body.
pub async fn current_user(
    app_url: &str,
    auth_token: &str,
    timeout_ms: u32,
) -> Result<Reply, Failure> {
    let mut url = String::from(app_url);
    url.push_str("/currentuser");
    send(Call {
        method: "GET",
        url: &url,
        json: None,
        bearer: Some(auth_token),
        keepalive: false,
        timeout_ms,
    })
    .await
}
