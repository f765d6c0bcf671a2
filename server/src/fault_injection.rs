//! Fault injection, as middleware on the public API: each request to an
//! endpoint that faults know about is counted, then gets the oldest
//! pending fault of its app and endpoint (`POST /admin/faults`), if any,
//! before its handler runs (or instead of it).

use std::time::Duration;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::conn::ConnHandle;
use crate::error::BODY_LIMIT;
use crate::extract::App;
use crate::faults::{Endpoint, Fault, Mode, DEFAULT_MALFORMED_BODY};
use crate::state::SharedState;

/// Middleware: counts the request, then carries out a pending fault for
/// it. An unknown app is answered 404 here, as its handler would.
pub async fn inject(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let Some(endpoint) = route.and_then(|route| endpoint(req.method(), route)) else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let App(app) = match App::from_request_parts(&mut parts, &state).await {
        Ok(app) => app,
        Err(rejection) => return rejection,
    };
    state.stats.received(&app.id, endpoint);
    let Some(fault) = state.faults.take(&app.id, endpoint) else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let conn = parts.extensions.get::<ConnHandle>();
    if matches!(fault.mode, Mode::Delay | Mode::Late) {
        apply(&fault, conn).await;
        return next.run(Request::from_parts(parts, body)).await;
    }
    // The fault answers instead of the handler: the body is received first,
    // as the handler would have, so the answer never races the request.
    let _ = axum::body::to_bytes(body, BODY_LIMIT).await;
    match apply(&fault, conn).await {
        Some(response) => response,
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The endpoint a request to a route of the public API is, for faults and
/// counters; `None` for the JWKS, which neither counts nor fails.
fn endpoint(method: &Method, route: &str) -> Option<Endpoint> {
    let route = route.strip_prefix("/v1/apps/{app}")?;
    // HEAD is answered by the GET handler.
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    Some(match (method.as_str(), route) {
        ("POST", "/tokens" | "/tokens/") => Endpoint::Refresh,
        ("DELETE", "/tokens" | "/tokens/") => Endpoint::Revoke,
        ("GET", "/currentuser") => Endpoint::Currentuser,
        ("POST", "/demo/login") => Endpoint::Login,
        ("GET", "/demo/api/hello") => Endpoint::Hello,
        (_, route) if route.starts_with("/currentuser/") => Endpoint::Account,
        _ => return None,
    })
}

/// Carries out a fault. `None`: go on and handle the request normally (after
/// the delay); `Some`: the response to send instead. For `drop` this never
/// returns: the connection is closed under the pending request.
pub async fn apply(fault: &Fault, conn: Option<&ConnHandle>) -> Option<Response> {
    if fault.delay_ms > 0 && fault.mode != Mode::Late {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    match fault.mode {
        Mode::Delay => None,
        Mode::Late => {
            if let Some(conn) = conn {
                conn.hold_reply(Duration::from_millis(fault.delay_ms));
            }
            None
        }
        Mode::Status => {
            let status =
                StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (
                status,
                axum::Json(json!({
                    "error": format!("injected fault: {}", status.canonical_reason().unwrap_or("error")),
                    "code": "fault_injected",
                })),
            )
                .into_response();
            if let Some(secs) = fault.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            Some(response)
        }
        Mode::Malformed => {
            let body = fault
                .body
                .clone()
                .unwrap_or_else(|| DEFAULT_MALFORMED_BODY.to_owned());
            Some(([(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        Mode::Drop => match conn {
            Some(conn) => {
                conn.close();
                std::future::pending().await
            }
            None => Some(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_endpoint_of_each_route() {
        let v1 = |route: &str| format!("/v1/apps/{{app}}{route}");
        for (method, route, expected) in [
            (Method::POST, "/tokens", Some(Endpoint::Refresh)),
            (Method::POST, "/tokens/", Some(Endpoint::Refresh)),
            (Method::DELETE, "/tokens", Some(Endpoint::Revoke)),
            (Method::DELETE, "/tokens/", Some(Endpoint::Revoke)),
            (Method::GET, "/currentuser", Some(Endpoint::Currentuser)),
            (Method::HEAD, "/currentuser", Some(Endpoint::Currentuser)),
            (Method::POST, "/demo/login", Some(Endpoint::Login)),
            (Method::GET, "/demo/api/hello", Some(Endpoint::Hello)),
            (Method::PATCH, "/currentuser/email", Some(Endpoint::Account)),
            (
                Method::DELETE,
                "/currentuser/devices/{device}",
                Some(Endpoint::Account),
            ),
            (Method::GET, "/.well-known/jwks.json", None),
        ] {
            assert_eq!(endpoint(&method, &v1(route)), expected, "{method} {route}");
        }
        assert_eq!(endpoint(&Method::GET, "/admin/apps/{app}"), None);
    }
}
