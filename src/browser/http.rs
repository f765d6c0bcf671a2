//! Requests to the auth server on gloo-net, each aborted after its timeout
//! through an `AbortController`. The sign-out's revocation must outlive the
//! page (`keepalive`), which gloo-net's builder cannot ask for: it is built
//! as a web-sys `Request` and sent through gloo-net's `From` for it.

use alloc::string::String;

use gloo_net::http::{Method as HttpMethod, Request as GlooRequest, RequestBuilder};
use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortController, RequestInit};

use super::timers;
use super::JsJson;
use crate::core::policy::parse_retry_after;
use crate::ports::{Method, Reply, Request, SendError};

fn method(m: Method) -> HttpMethod {
    match m {
        Method::Get => HttpMethod::GET,
        Method::Post => HttpMethod::POST,
        Method::Patch => HttpMethod::PATCH,
        Method::Put => HttpMethod::PUT,
        Method::Delete => HttpMethod::DELETE,
    }
}

/// The request as gloo-net sends it, carrying `signal`.
fn build(request: &Request, signal: &web_sys::AbortSignal) -> Result<GlooRequest, JsValue> {
    if request.keepalive {
        let init = RequestInit::new();
        init.set_method(method(request.method).as_str());
        init.set_signal(Some(signal));
        Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE)?;
        let raw = web_sys::Request::new_with_str_and_init(&request.url, &init)?;
        if let Some(token) = &request.bearer {
            raw.headers().set("Authorization", &bearer(token))?;
        }
        return Ok(GlooRequest::from(raw));
    }
    let mut builder = RequestBuilder::new(&request.url)
        .method(method(request.method))
        .abort_signal(Some(signal));
    if let Some(token) = &request.bearer {
        builder = builder.header("Authorization", &bearer(token));
    }
    let built = match &request.body {
        Some(body) => builder
            .header("Content-Type", "application/json")
            .body(body.as_str()),
        None => builder.build(),
    };
    built.map_err(|_| JsValue::NULL)
}

fn bearer(token: &str) -> String {
    let mut value = String::from("Bearer ");
    value.push_str(token);
    value
}

/// Sends `request`; its reply with the body parsed as JSON when it is JSON.
pub async fn send(request: Request) -> Result<Reply<JsJson>, SendError> {
    let controller = AbortController::new().map_err(|_| SendError::Network)?;
    let signal = controller.signal();
    let abort = Reflect::get(&controller, &"abort".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .map(|f| f.bind0(&controller));
    let timer = abort.map(|abort| timers::after(request.timeout_ms, &abort));
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
    if let Some(timer) = timer {
        timer.clear();
    }
    outcome.map_err(|e| {
        if signal.aborted() {
            SendError::Timeout
        } else {
            e
        }
    })
}
