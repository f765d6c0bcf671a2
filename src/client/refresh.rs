//! A refresh: single flight within the tab, the cross-tab lock, the
//! decision under it, the request with its retries, and storing the result.

use alloc::rc::Rc;
use alloc::string::String;
use core::future::Future;

use super::values::{RefreshReply, RefreshRequest};
use super::{no_session, release, Client, Flight, Lingering, LINGER_MS, SETTLE_MS};
use crate::core::error::{Code, Error};
use crate::core::policy::{Failure, Next};
use crate::core::session::{RawAuthResult, Session, Status};
use crate::ports::{Event, Json, Locked, Method, Ports, Reason, Reply, Request, SendError, Signal};

impl<P: Ports> Client<P> {
    /// Runs one refresh for this tab, or joins the one in flight. With
    /// `force`, refreshes even a fresh token (unless another tab just did).
    pub fn refresh(
        self: &Rc<Self>,
        force: bool,
    ) -> impl Future<Output = Result<String, Error>> + 'static {
        let (flight, lead) = {
            let mut st = self.st();
            match &st.flight {
                Some(flight) => (flight.clone(), false),
                None => {
                    let flight = Flight::new();
                    st.flight = Some(flight.clone());
                    (flight, true)
                }
            }
        };
        if lead {
            let landing = flight.clone();
            self.spawn(|c| async move {
                let result = c.locked_refresh(force).await;
                c.st().flight = None;
                landing.land(result);
            });
        }
        flight.join()
    }

    /// The leader's refresh under the cross-tab lock. The callers get their
    /// token at once; the lock is kept a little longer when this tab wrote
    /// new tokens, so that the next holder reads them, and events are
    /// delivered once it is released.
    async fn locked_refresh(self: &Rc<Self>, force: bool) -> Result<String, Error> {
        // What storage holds before waiting: under the lock, a difference
        // means another tab acted meanwhile.
        let started = self.reload().await?;
        if started.refresh_token().is_none() {
            // Nothing to refresh with: no lock can change that.
            if force && self.status(&started) != Status::Ended {
                return Err(no_session());
            }
            return self.settle(&started).await?.ok_or_else(no_session);
        }
        let settled_before = self.st.borrow().settled;
        let name = self.lock_name(&started);
        let (guard, waited) = match self.take_lingering(&name) {
            Some(guard) => (Some(guard), false),
            None => match self.wait_lock(&name).await {
                Locked::Held { guard, waited } => (Some(guard), waited),
                // A frozen or hung holder: go on, as a browser without locks
                // would.
                Locked::TimedOut => (None, true),
                Locked::Unsupported => (None, false),
            },
        };
        let (result, wrote) = self
            .refresh_holding_lock(&started, force, waited, settled_before)
            .await;
        self.ports.post(if wrote {
            Signal::Changed
        } else {
            Signal::Unchanged
        });
        match guard {
            Some(guard) if wrote => self.linger(name, guard),
            guard => self.release_soon(guard),
        }
        result
    }

    /// This tab's own refresh lock `name`, still kept after its last write:
    /// taken over rather than waited for (and for a signal only another tab
    /// sends).
    pub(super) fn take_lingering(&self, name: &str) -> Option<P::Guard> {
        let mut st = self.st();
        if st.lingering.as_ref().is_some_and(|l| l.name == name) {
            st.lingering.take().map(|l| l.guard)
        } else {
            None
        }
    }

    /// Keeps the lock `LINGER_MS` longer, unless a later call of this tab
    /// takes it over.
    pub(super) fn linger(self: &Rc<Self>, name: String, guard: P::Guard) {
        let id = {
            let mut st = self.st();
            st.linger_id += 1;
            let id = st.linger_id;
            st.lingering = Some(Lingering { id, name, guard });
            id
        };
        self.spawn(|c| async move {
            c.ports.sleep(LINGER_MS).await;
            let guard = {
                let mut st = c.st();
                match &st.lingering {
                    Some(l) if l.id == id => st.lingering.take().map(|l| l.guard),
                    _ => return,
                }
            };
            release(&c, guard).await;
        });
    }

    /// Lets the lock go now: at once when there is nothing to release.
    pub(super) fn release_soon(self: &Rc<Self>, guard: Option<P::Guard>) {
        match guard {
            None => {
                self.st().locked -= 1;
                self.flush();
            }
            guard => self.spawn(|c| async move { release(&c, guard).await }),
        }
    }

    /// Waits for the refresh lock `name`, and counts it held (events wait
    /// until it is released). A wait that timed out while other tabs took
    /// and released the lock (each release is a settled signal) is a
    /// queue, moving, and goes on; one with no release at all answers
    /// `TimedOut`: a frozen or hung holder.
    pub(super) async fn wait_lock(&self, name: &str) -> Locked<P::Guard> {
        let timeout = self.policy.lock_timeout_ms();
        let got = loop {
            let seen = self.st.borrow().settled;
            let got = self.ports.lock(name, timeout).await;
            if !matches!(got, Locked::TimedOut) || self.st.borrow().settled == seen {
                break got;
            }
        };
        self.st().locked += 1;
        got
    }

    /// The refresh lock: one refresh at a time per auth server and app,
    /// across the tabs of the origin.
    pub(super) fn lock_name(&self, s: &Session) -> String {
        let mut name = String::from("psg_refresh ");
        match self.app_url(s) {
            Ok(url) => name.push_str(&url),
            Err(_) => name.push_str(&self.origin),
        }
        name
    }

    /// Refreshes unless storage, read under the lock, makes it needless;
    /// also answers whether this tab wrote new tokens.
    async fn refresh_holding_lock(
        self: &Rc<Self>,
        started: &Session,
        force: bool,
        waited: bool,
        settled_before: u64,
    ) -> (Result<String, Error>, bool) {
        let changed = |s: &Session| {
            s.refresh_token() != started.refresh_token() || s.auth_token() != started.auth_token()
        };
        let mut s = match self.reload().await {
            Ok(s) => s,
            Err(e) => return (Err(e), false),
        };
        // Another tab held the lock, and what it wrote may reach this tab's
        // storage a few ms after the grant: refreshing now with the old
        // token would be the reuse the server punishes. Wait briefly for
        // its write (or its word that it wrote nothing).
        if waited && !changed(&s) && self.st.borrow().settled == settled_before {
            self.next_settled(SETTLE_MS).await;
            s = match self.reload().await {
                Ok(s) => s,
                Err(e) => return (Err(e), false),
            };
        }
        let under_lock = s.refresh_token().map(String::from);
        let force = force && !changed(&s);
        let result = self.run_refresh(s, force).await;
        let wrote = self.st.borrow().s.refresh_token() != under_lock.as_deref();
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
                if let Some(token) = self.settle(&s).await? {
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
            let next = s.after_refresh(raw, at + self.st.borrow().skew)?;
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
