//! The access log: one line per request on stderr.

use std::time::Instant;

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::long_uri::TooLong;
use crate::util::{rfc3339, system_now, truncate};

/// Middleware: writes one line per request to stderr: time, method, path
/// (never the query string, which may hold a refresh token), status and
/// duration.
pub async fn log_requests(req: Request, next: Next) -> Response {
    let path = match req.extensions().get::<TooLong>() {
        Some(too_long) => format!("{}… ({} bytes)", too_long.path, too_long.len),
        None => truncate(req.uri().path(), 200),
    };
    let mut entry = LogEntry {
        method: req.method().clone(),
        path,
        start: Instant::now(),
        status: None,
    };
    let response = next.run(req).await;
    entry.status = Some(response.status().as_u16());
    response
}

struct LogEntry {
    method: Method,
    path: String,
    start: Instant,
    status: Option<u16>,
}

/// Logged on drop, so that a request whose connection was closed under it
/// (a `drop` fault, a client that gave up) is logged too.
impl Drop for LogEntry {
    fn drop(&mut self) {
        let status = match self.status {
            Some(status) => status.to_string(),
            None => "closed".to_owned(),
        };
        eprintln!(
            "{} {} {} {} {}ms",
            rfc3339(system_now()),
            self.method,
            self.path,
            status,
            self.start.elapsed().as_millis()
        );
    }
}
