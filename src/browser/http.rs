//! Requests to the auth server, sent by gloo-net, each aborted after its
//! timeout through an `AbortController`. The sign-out's revocation must
//! outlive the page (`keepalive`), which gloo-net's builder cannot ask for:
//! requests are built as web-sys `Request`s and handed to gloo-net through
//! its `From` for them.

use alloc::string::String;

use gloo_net::http::Request as GlooRequest;
use js_sys::Reflect;
use wasm_bindgen::JsValue;
use web_sys::RequestInit;

use super::timers;
use super::JsJson;
use crate::core::policy::parse_retry_after;
use crate::ports::{Method, Reply, Request, SendError};

fn method(m: Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
    }
}

/// The request as gloo-net sends it, carrying `signal`: built as a web-sys
/// `Request` (gloo-net's builder cannot ask for `keepalive`, and parses the
/// URL again to merge query strings we never have).
fn build(request: &Request, signal: &web_sys::AbortSignal) -> Result<GlooRequest, JsValue> {
    let init = RequestInit::new();
    init.set_method(method(request.method));
    init.set_signal(Some(signal));
    if request.keepalive {
        Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE)?;
    }
    if let Some(body) = &request.body {
        init.set_body(&JsValue::from_str(body));
    }
    let raw = web_sys::Request::new_with_str_and_init(&request.url, &init)?;
    let headers = raw.headers();
    if request.body.is_some() {
        headers.set("Content-Type", "application/json")?;
    }
    if let Some(token) = &request.bearer {
        headers.set("Authorization", &bearer(token))?;
    }
    Ok(GlooRequest::from(raw))
}

fn bearer(token: &str) -> String {
    let mut value = String::from("Bearer ");
    value.push_str(token);
    value
}

/// Sends `request`; its reply with the body parsed as JSON when it is JSON.
pub async fn send(request: Request) -> Result<Reply<JsJson>, SendError> {
    let (signal, timer) = timers::abort_after(request.timeout_ms).ok_or(SendError::Network)?;
    let outcome = async {
        let built = build(&request, &signal).map_err(|_| SendError::Network)?;
        let response = built.send().await.map_err(|_| SendError::Network)?;
        // A body cut short is a network failure; one that is not JSON is
        // the client's to judge, as absent.
        let text = response.text().await;
        let body = match text {
            Ok(text) => js_sys::JSON::parse(&text).ok().map(JsJson),
            Err(_) if response.ok() => return Err(SendError::Network),
            Err(_) => None,
        };
        Ok(Reply {
            status: response.status(),
            retry_after: response
                .headers()
                .get("Retry-After")
                .and_then(|v| parse_retry_after(&v)),
            body,
        })
    }
    .await;
    timer.clear();
    outcome.map_err(|e| {
        if signal.aborted() {
            SendError::Timeout
        } else {
            e
        }
    })
}
