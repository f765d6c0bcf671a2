//! A refresh: single flight within the tab, the cross-tab lock, the
//! decision under it, the request with its retries, and storing the result.

use alloc::rc::Rc;
use alloc::string::String;
use core::future::Future;

use super::lock::HANDOFF_MS;
use super::values::{RefreshReply, RefreshRequest};
use super::{no_session, Client, Flight};
use crate::core::error::{Code, Error};
use crate::core::policy::{Failure, Next};
use crate::core::session::{RawAuthResult, Session, Status};
use crate::ports::{Event, Json, Method, Ports, Reason, Reply, Request, SendError, Signal};

impl<P: Ports> Client<P> {
    /// Runs one refresh for this tab, or joins the one in flight. With
    /// `force`, refreshes even a fresh token (unless another tab just did).
    pub fn refresh(
        self: &Rc<Self>,
        force: bool,
    ) -> impl Future<Output = Result<String, Error>> + 'static {
        let (flight, lead) = {
            let mut st = self.state();
            match &st.flight {
                Some(flight) => (flight.clone(), false),
                None => {
                    let flight = Flight::new();
                    st.flight = Some(flight.clone());
                    st.holding_events += 1;
                    (flight, true)
                }
            }
        };
        if lead {
            let landing = flight.clone();
            self.spawn(|c| async move {
                let result = c.locked_refresh(force).await;
                let held = {
                    let mut st = c.state();
                    st.flight = None;
                    st.holding_events -= 1;
                    st.holding_events
                };
                // The listeners hear of it before the callers resume.
                if held == 0 {
                    c.flush();
                }
                landing.land(result);
            });
        }
        flight.join()
    }

    /// The leader's refresh under the cross-tab lock. The callers get their
    /// token at once; the lock is kept a little longer when this tab wrote
    /// new tokens, so that the next holder reads them.
    async fn locked_refresh(self: &Rc<Self>, force: bool) -> Result<String, Error> {
        // What storage holds before waiting: under the lock, a difference
        // means another tab acted meanwhile.
        let started = self.reload().await?;
        if started.refresh_token().is_none() {
            // Nothing to refresh with: no lock can change that.
            if force && self.status(&started) != Status::Ended {
                return Err(no_session());
            }
            return self.without_request(&started).await?.ok_or_else(no_session);
        }
        let handoffs_before = self.st.borrow().locks.handoffs;
        let granted = self.acquire(self.lock_name(&started)).await;
        let (result, wrote) = self
            .refresh_holding_lock(&started, force, granted.after_another, handoffs_before)
            .await;
        self.ports.post(if wrote {
            Signal::Changed
        } else {
            Signal::Unchanged
        });
        if wrote {
            self.linger(granted);
        } else {
            self.release_soon(granted.hold);
        }
        result
    }

    /// Refreshes unless storage, read under the lock, makes it needless;
    /// also answers whether this tab wrote new tokens.
    async fn refresh_holding_lock(
        self: &Rc<Self>,
        started: &Session,
        force: bool,
        after_another: bool,
        handoffs_before: u64,
    ) -> (Result<String, Error>, bool) {
        let changed = |s: &Session| other_tokens(s, started);
        let mut s = match self.reload().await {
            Ok(s) => s,
            Err(e) => return (Err(e), false),
        };
        // Another tab held the lock, and what it wrote may reach this tab's
        // storage a few ms after the grant: refreshing now with the old
        // token would be the reuse the server punishes. Wait briefly for
        // its write (or its word that it wrote nothing).
        if after_another && !changed(&s) && self.st.borrow().locks.handoffs == handoffs_before {
            self.next_handoff(HANDOFF_MS).await;
            s = match self.reload().await {
                Ok(s) => s,
                Err(e) => return (Err(e), false),
            };
        }
        let under_lock = s.clone();
        let force = force && !changed(&s);
        let result = self.run_refresh(s, force).await;
        // A new auth token is a write too (a server that keeps refresh
        // tokens changes that alone): the next holder must read it.
        let wrote = other_tokens(&self.st.borrow().session, &under_lock);
        (result, wrote)
    }

    /// Decides from `s`, sends, retries transient failures, stores the
    /// result.
    async fn run_refresh(
        self: &Rc<Self>,
        mut s: Session,
        mut force: bool,
    ) -> Result<String, Error> {
        let mut adopted = 0;
        // The clock offset read from this refresh's first reply, while a
        // second reading is awaited.
        let mut earlier = None;
        loop {
            let epoch = self.st.borrow().epoch;
            if !(force && adopted == 0) || self.status(&s) == Status::Ended {
                if let Some(token) = self.without_request(&s).await? {
                    return Ok(token);
                }
            }
            let Some(used) = s.refresh_token().map(String::from) else {
                return Err(no_session());
            };
            let url = self.app_url(&s)?;
            let Some(raw) = self.send_refresh(&url, &used).await? else {
                let stored = self.reload().await?;
                // Another tab rotated the token first: storage holds its
                // successor.
                if adopted < 2 && stored.refresh_token().is_some_and(|r| r != used) {
                    s = stored;
                    adopted += 1;
                    continue;
                }
                self.end(Reason::RefreshRefused).await;
                return Err(Error::new(
                    Code::LoginRequired,
                    "the refresh token was refused: sign in again",
                ));
            };
            let at = self.ports.now();
            let next = s.after_refresh(raw)?;
            if self.st.borrow().epoch != epoch {
                // Signed in or out meanwhile: that session wins.
                s = self.reload().await?;
                adopted += 1;
                continue;
            }
            if let Some(offset) = self.read_skew(&next, at, earlier) {
                // The new pair is the live one: stored, then refreshed once
                // more for a reading of the clock from a pair issued now.
                earlier = Some(offset);
                self.commit(next.clone()).await?;
                s = next;
                force = false;
                continue;
            }
            let token = next.auth_token().map(String::from).unwrap_or_default();
            self.commit(next).await?;
            self.emit(Event::TokenRefreshed, None);
            return Ok(token);
        }
    }

    /// One request to the auth server.
    pub(super) async fn call(
        &self,
        method: Method,
        url: String,
        body: Option<String>,
        bearer: Option<String>,
        keepalive: bool,
    ) -> Result<Reply<P::Json>, SendError> {
        if !self.ports.online() {
            return Err(SendError::Network);
        }
        let request = Request {
            method,
            url,
            body,
            bearer,
            keepalive,
            timeout_ms: self.policy.timeout_ms,
        };
        self.ports.send(request).await
    }

    /// `POST /tokens` with retries: the reply's AuthResult fields, or `None`
    /// when the server refused the token.
    async fn send_refresh(&self, url: &str, token: &str) -> Result<Option<RawAuthResult>, Error> {
        let body = self.ports.to_json(&RefreshRequest {
            refresh_token: token,
        });
        let mut target = String::from(url);
        target.push_str("/tokens");
        let mut attempt = 0;
        loop {
            attempt += 1;
            // The browser knows it is offline: no attempt can succeed.
            if !self.ports.online() {
                return Err(Error::new(Code::Network, "the browser is offline"));
            }
            let reply = self
                .call(Method::Post, target.clone(), body.clone(), None, false)
                .await;
            let failure = match reply {
                Ok(reply) if matches!(reply.status, 200 | 201) => {
                    match reply
                        .body
                        .and_then(Json::decode::<RefreshReply>)
                        .and_then(RefreshReply::read)
                    {
                        Some(raw) => return Ok(Some(raw)),
                        None => Failure::Malformed,
                    }
                }
                Ok(reply) => Failure::Status(reply.status, reply.retry_after),
                Err(e) => failure_of(e),
            };
            match self
                .policy
                .after_failure(attempt, failure, self.ports.random())
            {
                Next::RetryIn(ms) => self.ports.sleep(ms).await,
                Next::Refused => return Ok(None),
                Next::Fail(e) => return Err(e),
            }
        }
    }
}

/// A request that got no answer, as the policy's failure.
pub(super) fn failure_of(e: SendError) -> Failure {
    match e {
        SendError::Network => Failure::Network,
        SendError::Timeout => Failure::Timeout,
    }
}

/// Whether `a` holds other tokens than `b`: a refresh, a sign-in or a
/// sign-out happened between them.
fn other_tokens(a: &Session, b: &Session) -> bool {
    a.refresh_token() != b.refresh_token() || a.auth_token() != b.auth_token()
}
