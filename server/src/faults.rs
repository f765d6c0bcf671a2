//! Faults for tests: the next N requests to an endpoint of an app get an
//! error status, a delay, a malformed body, or a dropped connection. This
//! is the list the admin API fills; the middleware that carries them out is
//! `fault_injection`.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The endpoints that faults (and the request counters) know about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    Refresh,
    Revoke,
    Currentuser,
    Login,
    Hello,
    /// Every `/currentuser/...` endpoint below `GET /currentuser`
    /// (email, phone, passkeys, metadata, social connections).
    Account,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Answer with `status` (and `Retry-After` when set).
    Status,
    /// Answer 200 with a body that is not what the API promises.
    Malformed,
    /// Close the connection without any response.
    Drop,
    /// Wait `delay_ms`, then handle the request normally.
    Delay,
    /// Handle the request at once, then hold the answer `delay_ms` before
    /// sending it. The work is done (a rotation committed) even if the
    /// client goes away meanwhile: an answer lost on its way back.
    Late,
}

/// The body of `POST /admin/faults`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    /// The app whose requests are hit; absent: every app.
    pub app: Option<String>,
    pub endpoint: Option<Endpoint>,
    pub count: Option<u32>,
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub delay_ms: Option<u64>,
    pub mode: Option<Mode>,
    /// For `malformed`: the body to send (default: truncated JSON).
    pub body: Option<String>,
}

pub const DEFAULT_MALFORMED_BODY: &str = r#"{"auth_result": {"auth_token": "#;
const MAX_COUNT: u32 = 10_000;
const MAX_DELAY_MS: u64 = 120_000;

#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub id: u64,
    pub app: Option<String>,
    pub endpoint: Endpoint,
    pub remaining: u32,
    pub mode: Mode,
    pub status: u16,
    pub retry_after: Option<u64>,
    pub delay_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl Fault {
    pub fn from_request(id: u64, req: FaultRequest) -> Result<Fault, String> {
        let mode = req.mode.unwrap_or(match (req.status, req.delay_ms) {
            (None, Some(_)) if req.retry_after.is_none() => Mode::Delay,
            _ => Mode::Status,
        });
        let status = req.status.unwrap_or(500);
        if mode == Mode::Status && !(400..=599).contains(&status) {
            return Err("status must be between 400 and 599".into());
        }
        let count = req.count.unwrap_or(1);
        if count == 0 || count > MAX_COUNT {
            return Err(format!("count must be between 1 and {MAX_COUNT}"));
        }
        let delay_ms = req.delay_ms.unwrap_or(0);
        if delay_ms > MAX_DELAY_MS {
            return Err(format!("delay_ms must be at most {MAX_DELAY_MS}"));
        }
        if matches!(req.retry_after, Some(secs) if secs > 86_400) {
            return Err("retry_after must be at most 86400 seconds".into());
        }
        if mode == Mode::Late && delay_ms == 0 {
            return Err("mode \"late\" needs delay_ms".into());
        }
        if req.body.is_some() && mode != Mode::Malformed {
            return Err("body is only used with mode \"malformed\"".into());
        }
        Ok(Fault {
            id,
            app: req.app,
            endpoint: req.endpoint.unwrap_or(Endpoint::Refresh),
            remaining: count,
            mode,
            status,
            retry_after: req.retry_after,
            delay_ms,
            body: req.body,
        })
    }

    fn matches(&self, app: &str, endpoint: Endpoint) -> bool {
        self.endpoint == endpoint && self.app.as_deref().is_none_or(|a| a == app)
    }
}

#[derive(Default)]
pub struct Faults {
    inner: Mutex<FaultList>,
}

#[derive(Default)]
struct FaultList {
    next_id: u64,
    faults: Vec<Fault>,
}

impl Faults {
    pub fn add(&self, req: FaultRequest) -> Result<Fault, String> {
        let mut list = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        list.next_id += 1;
        let fault = Fault::from_request(list.next_id, req)?;
        list.faults.push(fault.clone());
        Ok(fault)
    }

    pub fn clear(&self) -> usize {
        let mut list = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut list.faults).len()
    }

    pub fn list(&self) -> Vec<Fault> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .faults
            .clone()
    }

    /// Takes one use of the oldest fault matching this request, if any.
    pub fn take(&self, app: &str, endpoint: Endpoint) -> Option<Fault> {
        let mut list = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let index = list.faults.iter().position(|f| f.matches(app, endpoint))?;
        let fault = &mut list.faults[index];
        fault.remaining -= 1;
        let taken = fault.clone();
        if fault.remaining == 0 {
            list.faults.remove(index);
        }
        Some(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> FaultRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_and_validation() {
        let f = Fault::from_request(1, request(r#"{}"#)).unwrap();
        assert_eq!((f.mode, f.status, f.remaining), (Mode::Status, 500, 1));
        assert_eq!(f.endpoint, Endpoint::Refresh);
        let f = Fault::from_request(1, request(r#"{"delay_ms": 10}"#)).unwrap();
        assert_eq!(f.mode, Mode::Delay);
        let f = Fault::from_request(1, request(r#"{"status": 429, "retry_after": 2}"#)).unwrap();
        assert_eq!((f.mode, f.retry_after), (Mode::Status, Some(2)));
        assert!(Fault::from_request(1, request(r#"{"status": 200}"#)).is_err());
        assert!(Fault::from_request(1, request(r#"{"count": 0}"#)).is_err());
        assert!(Fault::from_request(1, request(r#"{"body": "x"}"#)).is_err());
        assert!(Fault::from_request(1, request(r#"{"mode": "late"}"#)).is_err());
        let f = Fault::from_request(1, request(r#"{"mode": "late", "delay_ms": 5}"#)).unwrap();
        assert_eq!((f.mode, f.delay_ms), (Mode::Late, 5));
        assert!(serde_json::from_str::<FaultRequest>(r#"{"mode": "boom"}"#).is_err());
    }

    #[test]
    fn takes_in_order_and_counts_down() {
        let faults = Faults::default();
        faults
            .add(request(r#"{"app": "a", "count": 2, "status": 503}"#))
            .unwrap();
        faults
            .add(request(r#"{"endpoint": "revoke", "mode": "drop"}"#))
            .unwrap();
        assert!(faults.take("b", Endpoint::Refresh).is_none());
        assert_eq!(faults.take("a", Endpoint::Refresh).unwrap().status, 503);
        assert_eq!(faults.take("a", Endpoint::Refresh).unwrap().remaining, 0);
        assert!(faults.take("a", Endpoint::Refresh).is_none());
        assert_eq!(faults.take("b", Endpoint::Revoke).unwrap().mode, Mode::Drop);
        assert!(faults.list().is_empty());
    }
}
