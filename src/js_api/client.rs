//! The session client: sequences the core's decisions with the browser
//! adapters (store, fetch, Web Locks, other tabs' signals). It holds the
//! only mutable state of a `PassageUser`, behind a `RefCell` that is never
//! borrowed across an `.await`.

use core::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::{is_login_required, options::Options, run, spawn, to_js};
use crate::browser::lock::{self, Acquired};
use crate::browser::signals::{Signal, Signals};
use crate::browser::{http, js, store::Store, time};
use crate::core::error::{Code, Error};
use crate::core::policy::{skew_from_iat, Failure, Next, Policy, LINGER_MS, SETTLE_MS};
use crate::core::refresh::{
    after_lock, after_refusal, classify, AfterLock, Change, Gate, Refusal, Ticket,
};
use crate::core::session::{RawAuthResult, Session, Status};

fn login_required(message: &'static str) -> Error {
    Error::new(Code::LoginRequired, message)
}

/// Why the session ended, as `detail.reason` of SIGNED_OUT.
#[derive(Clone, Copy)]
enum EndReason {
    /// `signOut()` was called.
    SignOut,
    /// The server refused the refresh token.
    Refused,
    /// The session's absolute end, or a stale token with nothing to refresh it.
    Expired,
    /// Another tab signed out.
    OtherTab,
}

impl EndReason {
    fn as_str(self) -> &'static str {
        match self {
            EndReason::SignOut => "sign_out",
            EndReason::Refused => "refresh_refused",
            EndReason::Expired => "expired",
            EndReason::OtherTab => "other_tab",
        }
    }
}

/// The client behind one `PassageUser`.
pub struct Client {
    store: Store,
    policy: Policy,
    auth_origin: String,
    app_id: Option<String>,
    cache_hook: Function,
    emit_hook: Function,
    signals: RefCell<Option<Signals>>,
    /// Counts the signals that tell a waiting tab another tab's refresh is
    /// settled (a storage write it can now read, or "unchanged").
    settled: Cell<u64>,
    /// Resolvers of tabs waiting for the next settled signal.
    wakers: RefCell<Vec<Function>>,
    /// The refresh lock, kept for a moment after this tab wrote new tokens,
    /// with the id of the write it is kept for and the lock's name.
    lingering: RefCell<Option<(u64, String, lock::Held)>>,
    linger_id: Cell<u64>,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// The session as last read or written.
    session: Session,
    /// Server clock minus local clock, ms.
    skew_ms: f64,
    gate: Gate,
    /// The promise of the refresh in flight, shared by every caller.
    flight: Option<Promise>,
    /// Bumped whenever the session is replaced from outside a refresh
    /// (sign-in, sign-out), so a refresh that started before cannot write
    /// over the new session.
    epoch: u64,
    /// The store refused the last write; memory holds the truth until a
    /// write succeeds.
    unsaved: bool,
    /// Held locks: events wait in `events` until none is held, so no
    /// listener runs under a lock.
    locked: u32,
    events: Vec<(&'static str, Option<EndReason>)>,
}

impl Client {
    /// A client over the stored session, listening to other tabs and
    /// retrying revocations a previous page could not confirm.
    pub fn start(options: Options, cache_hook: Function, emit_hook: Function) -> Rc<Client> {
        let Options {
            app_id,
            auth_origin,
            store,
            policy,
        } = options;
        let client = Rc::new(Client {
            store,
            policy,
            auth_origin,
            app_id,
            cache_hook,
            emit_hook,
            signals: RefCell::new(None),
            settled: Cell::new(0),
            wakers: RefCell::default(),
            lingering: RefCell::new(None),
            linger_id: Cell::new(0),
            state: RefCell::default(),
        });
        if let Some(Ok(session)) = client.store.load_now() {
            client.state.borrow_mut().session = session;
            client.publish();
        }
        let weak = Rc::downgrade(&client);
        let signals = Signals::listen(move |signal| {
            if let Some(client) = weak.upgrade() {
                client.on_signal(signal);
            }
        });
        *client.signals.borrow_mut() = Some(signals);
        client.watch_online();
        let retry = client.clone();
        spawn(async move { retry.retry_pending().await });
        client
    }

    fn app_url(&self, session: &Session) -> Result<String, Error> {
        let app_id = self
            .app_id
            .as_deref()
            .or_else(|| session.claims().and_then(|c| c.app_id.as_deref()))
            .ok_or(Error::new(
                Code::InvalidOptions,
                "appId is unknown: pass it in the options",
            ))?;
        let mut url = self.auth_origin.clone();
        url.push_str("/v1/apps/");
        url.push_str(&String::from(js_sys::encode_uri_component(app_id)));
        Ok(url)
    }

    /// Tells the entry what it may hand out without calling in.
    fn publish(&self) {
        let (token, until) = {
            let st = self.state.borrow();
            match st.session.status(time::now_ms(), st.skew_ms, &self.policy) {
                Status::Fresh { until_ms } => (
                    st.session
                        .auth_token()
                        .map_or(JsValue::UNDEFINED, JsValue::from_str),
                    until_ms,
                ),
                _ => (JsValue::UNDEFINED, 0.0),
            }
        };
        let _ = self
            .cache_hook
            .call2(&JsValue::NULL, &token, &JsValue::from_f64(until));
    }

    /// Queues an auth event, and delivers the queue unless a lock is held.
    fn emit(&self, event: &'static str, reason: Option<EndReason>) {
        let locked = {
            let mut st = self.state.borrow_mut();
            st.events.push((event, reason));
            st.locked > 0
        };
        if !locked {
            self.flush_events();
        }
    }

    /// Delivers queued events, with no borrow held, so a listener may call
    /// back in.
    fn flush_events(&self) {
        loop {
            let next = {
                let mut st = self.state.borrow_mut();
                if st.events.is_empty() {
                    return;
                }
                let (event, reason) = st.events.remove(0);
                (event, reason, st.session.claims().map(|c| c.exp))
            };
            let (event, reason, exp) = next;
            let detail = Object::new();
            if let Some(r) = reason {
                let _ = Reflect::set(&detail, &"reason".into(), &r.as_str().into());
            }
            if let Some(exp) = exp {
                let _ = Reflect::set(&detail, &"expiresAt".into(), &JsValue::from_f64(exp as f64));
            }
            let _ = self.emit_hook.call2(&JsValue::NULL, &event.into(), &detail);
        }
    }

    /// Makes `stored` (read from the store) the session, and fires the event
    /// its difference from memory means: another tab did it.
    fn adopt(&self, stored: &Session) {
        let change = {
            let mut st = self.state.borrow_mut();
            if st.session == *stored {
                return;
            }
            let change = classify(&st.session, stored);
            st.session = stored.clone();
            change
        };
        self.publish();
        match change {
            Change::SignedIn => self.emit("SIGNED_IN", None),
            Change::Refreshed => self.emit("TOKEN_REFRESHED", None),
            Change::SignedOut => self.emit("SIGNED_OUT", Some(EndReason::OtherTab)),
            Change::None => {}
        }
    }

    /// Reads the store into memory, unless memory holds a session the store
    /// refused, in which case writing it again comes first.
    async fn reload(&self) -> Result<Session, Error> {
        let unsaved = self.state.borrow().unsaved;
        if unsaved {
            let session = self.state.borrow().session.clone();
            if self.store.save(&session).await.is_err() {
                return Ok(session);
            }
            self.state.borrow_mut().unsaved = false;
        }
        let stored = self.store.load().await?;
        self.adopt(&stored);
        Ok(stored)
    }

    /// Another tab wrote the session or finished a refresh.
    fn on_signal(self: &Rc<Self>, signal: Signal) {
        if matches!(signal, Signal::Stored | Signal::Unchanged) {
            self.settled.set(self.settled.get() + 1);
            for wake in self.wakers.borrow_mut().drain(..) {
                let _ = wake.call0(&JsValue::NULL);
            }
        }
        if signal == Signal::Unchanged || self.state.borrow().unsaved {
            return;
        }
        // localStorage reads synchronously: the cache is right before this
        // handler returns, so no stale token is handed out meanwhile.
        match self.store.load_now() {
            Some(Ok(stored)) => self.adopt(&stored),
            Some(Err(_)) => {}
            None => {
                let client = self.clone();
                spawn(async move {
                    let _ = client.reload().await;
                });
            }
        }
    }

    /// Waits for the next settled signal, at most `ms`.
    async fn next_settled(&self, ms: u32) {
        let woken = Promise::new(&mut |resolve, _| self.wakers.borrow_mut().push(resolve));
        let race = Promise::race(&js_sys::Array::of2(&woken, &time::timer(ms, false)));
        let _ = JsFuture::from(race).await;
    }

    /// Makes `next` the session: memory first, then the store. A store
    /// that refuses keeps memory authoritative and reports `storage`.
    async fn commit(&self, next: Session) -> Result<(), Error> {
        self.state.borrow_mut().session = next.clone();
        self.publish();
        let saved = self.store.save(&next).await;
        self.state.borrow_mut().unsaved = saved.is_err();
        saved
    }

    pub fn set_auth_result(self: &Rc<Self>, result: &JsValue) -> Result<(), Error> {
        let raw = http::read_auth_result(result).ok_or(Error::new(
            Code::InvalidAuthResult,
            "expected an AuthResult object with string auth_token (or authToken)",
        ))?;
        let next = Session::from_auth_result(raw)?;
        let now = time::now_ms();
        let previous = {
            let mut st = self.state.borrow_mut();
            st.epoch += 1;
            // A login's token may have been issued a while ago, so only a
            // server clock ahead of ours is trusted from it (that correction
            // can only make tokens stale sooner); a refresh reply, surely
            // new, corrects both ways.
            if let Some(iat) = next.claims().and_then(|c| c.iat) {
                st.skew_ms = skew_from_iat(iat, now).max(0.0);
            }
            let previous = core::mem::replace(&mut st.session, next.clone());
            st.unsaved = !matches!(self.store.save_now(&next), Some(Ok(())));
            previous
        };
        self.publish();
        if self.state.borrow().unsaved {
            let client = self.clone();
            spawn(async move {
                // `reload` writes an unsaved session first, and keeps it in
                // memory while the store refuses it.
                let _ = client.reload().await;
            });
        }
        if let Some(old) = previous.refresh_token() {
            if next.refresh_token() != Some(old) {
                self.revoke_in_background(&previous, old.to_owned());
            }
        }
        self.post(Signal::Changed);
        self.emit("SIGNED_IN", None);
        Ok(())
    }

    fn post(&self, signal: Signal) {
        if let Some(signals) = self.signals.borrow().as_ref() {
            signals.post(signal);
        }
    }

    fn revoke_in_background(&self, session: &Session, token: String) {
        if let Ok(url) = self.app_url(session) {
            let timeout = self.policy.timeout_ms;
            spawn(async move {
                let _ = http::revoke(&url, &token, timeout).await;
            });
        }
    }

    pub async fn auth_guard(&self) -> Result<bool, Error> {
        let session = self.reload().await?;
        let skew = self.state.borrow().skew_ms;
        Ok(session.is_authenticated(time::now_ms(), skew))
    }

    pub async fn get_auth_token(self: Rc<Self>) -> Result<JsValue, JsValue> {
        let session = self.reload().await.map_err(to_js)?;
        match self.settle(&session).await.map_err(to_js)? {
            Some(token) => Ok(token.into()),
            None => self.shared_refresh(false).await,
        }
    }

    /// The outcome of a session that needs no request: its fresh token,
    /// `None` when it needs a refresh, or the error that ends it.
    async fn settle(&self, session: &Session) -> Result<Option<String>, Error> {
        let skew = self.state.borrow().skew_ms;
        match session.status(time::now_ms(), skew, &self.policy) {
            Status::Fresh { .. } => Ok(session.auth_token().map(str::to_owned)),
            Status::NeedsRefresh => Ok(None),
            Status::Ended => {
                self.end_session(EndReason::Expired).await;
                Err(login_required("the session has expired: sign in again"))
            }
            Status::SignedOut => {
                if !session.is_empty() {
                    self.end_session(EndReason::Expired).await;
                }
                Err(Error::no_session())
            }
        }
    }

    /// Runs one refresh for this tab, or joins the one in flight.
    pub async fn shared_refresh(self: &Rc<Self>, force: bool) -> Result<JsValue, JsValue> {
        let ticket = self.state.borrow_mut().gate.enter();
        let promise = match ticket {
            Ticket::Join(_) => self.state.borrow().flight.clone(),
            Ticket::Lead(_) => None,
        };
        let promise = match (ticket, promise) {
            (Ticket::Join(_), Some(p)) => p,
            (Ticket::Lead(id), _) | (Ticket::Join(id), None) => {
                let client = self.clone();
                let p = run(async move {
                    let result = client.locked_refresh(force).await;
                    {
                        let mut st = client.state.borrow_mut();
                        st.gate.leave(id);
                        st.flight = None;
                    }
                    result.map(JsValue::from).map_err(to_js)
                });
                self.state.borrow_mut().flight = Some(p.clone());
                p
            }
        };
        JsFuture::from(promise).await
    }

    /// The lock name: one refresh at a time per auth server and app, across
    /// the tabs of the origin.
    fn lock_name(&self, session: &Session) -> String {
        let mut name = String::from("psg_refresh ");
        name.push_str(
            &self
                .app_url(session)
                .unwrap_or_else(|_| self.auth_origin.clone()),
        );
        name
    }

    /// The leader's refresh under the cross-tab lock. The callers get their
    /// token at once; the lock is kept a little longer when this tab wrote
    /// new tokens, so that the next holder reads them, and events are
    /// delivered once it is released.
    async fn locked_refresh(self: &Rc<Self>, force: bool) -> Result<String, Error> {
        // What storage holds before waiting: under the lock, a difference
        // means another tab acted meanwhile. (A custom store has not been
        // read at all before the first call.)
        let started = self.reload().await?;
        let settled_before = self.settled.get();
        // This tab's own lock, still kept after its last write: take it over
        // rather than wait for it (and for a signal only another tab sends).
        let name = self.lock_name(&started);
        let kept = {
            let mut lingering = self.lingering.borrow_mut();
            match lingering.take() {
                Some((_, held, guard)) if held == name => Some(guard),
                other => {
                    *lingering = other;
                    None
                }
            }
        };
        let (guard, waited) = match kept {
            Some(guard) => (Some(guard), false),
            None => {
                let acquired = lock::acquire(&name, self.policy.lock_timeout_ms()).await;
                self.state.borrow_mut().locked += 1;
                match acquired {
                    Acquired::Held { guard, waited } => (Some(guard), waited),
                    Acquired::Unsupported => (None, false),
                    // A frozen or hung holder: go on, as a browser without
                    // locks would.
                    Acquired::TimedOut => (None, true),
                }
            }
        };
        let (result, wrote) = self
            .refresh_holding_lock(&started, force, waited, settled_before)
            .await;
        self.post(if wrote {
            Signal::Changed
        } else {
            Signal::Unchanged
        });
        let client = self.clone();
        match guard {
            Some(guard) if wrote => {
                // Another tab's copy of localStorage lags our write by a few
                // ms; a tab granted the lock before it lands would refresh
                // with the rotated token. Keep the lock a little longer.
                let id = self.linger_id.get() + 1;
                self.linger_id.set(id);
                *self.lingering.borrow_mut() = Some((id, name, guard));
                spawn(async move {
                    time::sleep(LINGER_MS).await;
                    let mine = {
                        let mut lingering = client.lingering.borrow_mut();
                        match lingering.take() {
                            Some((kept, _, guard)) if kept == id => Some(guard),
                            other => {
                                // Taken over by a later refresh of this tab.
                                *lingering = other;
                                None
                            }
                        }
                    };
                    if let Some(guard) = mine {
                        client.release(Some(guard)).await;
                    }
                });
            }
            guard => spawn(async move { client.release(guard).await }),
        }
        result
    }

    /// Lets the refresh lock go; then, with no lock held, the listeners run.
    async fn release(&self, guard: Option<lock::Held>) {
        if let Some(guard) = guard {
            guard.release().await;
        }
        self.state.borrow_mut().locked -= 1;
        self.flush_events();
    }

    /// Refreshes unless storage, read under the lock, makes it needless.
    /// Also tells whether this tab wrote new tokens.
    async fn refresh_holding_lock(
        &self,
        started: &Session,
        force: bool,
        waited: bool,
        settled_before: u64,
    ) -> (Result<String, Error>, bool) {
        let mut session = match self.reload().await {
            Ok(s) => s,
            Err(e) => return (Err(e), false),
        };
        // Another tab held the lock, and what it wrote may reach this tab's
        // storage a few ms after the grant: refreshing now with the old
        // token would be the reuse the server punishes. Wait briefly for
        // its write (or its word that it wrote nothing).
        if waited
            && after_lock(started, &session) == AfterLock::Refresh
            && self.settled.get() == settled_before
        {
            self.next_settled(SETTLE_MS).await;
            session = match self.reload().await {
                Ok(s) => s,
                Err(e) => return (Err(e), false),
            };
        }
        let adopted = after_lock(started, &session) == AfterLock::Adopt;
        let under_lock = session.refresh_token().map(str::to_owned);
        let result = self.run_refresh(session, force && !adopted).await;
        let wrote = self.state.borrow().session.refresh_token() != under_lock.as_deref();
        (result, wrote)
    }

    /// Decide from `session`, send, retry transient failures, store the
    /// result.
    async fn run_refresh(&self, mut session: Session, force: bool) -> Result<String, Error> {
        let mut adopted = 0;
        loop {
            let epoch = self.state.borrow().epoch;
            let must_send = force && adopted == 0;
            let skew = self.state.borrow().skew_ms;
            if !must_send || session.status(time::now_ms(), skew, &self.policy) == Status::Ended {
                if let Some(token) = self.settle(&session).await? {
                    return Ok(token);
                }
            }
            let Some(used) = session.refresh_token().map(str::to_owned) else {
                return Err(Error::no_session());
            };
            let url = self.app_url(&session)?;
            match self.send_refresh(&url, &used).await {
                Ok(raw) => {
                    let next = session.after_refresh(raw)?;
                    if self.state.borrow().epoch != epoch {
                        // Signed in or out meanwhile: that session wins.
                        session = self.reload().await?;
                        adopted += 1;
                        continue;
                    }
                    if let Some(iat) = next.claims().and_then(|c| c.iat) {
                        self.state.borrow_mut().skew_ms = skew_from_iat(iat, time::now_ms());
                    }
                    let token = next.auth_token().map(str::to_owned).unwrap_or_default();
                    self.commit(next).await?;
                    self.emit("TOKEN_REFRESHED", None);
                    return Ok(token);
                }
                Err(None) => {
                    let stored = self.reload().await?;
                    if adopted < 2 && after_refusal(&used, &stored) == Refusal::LostRace {
                        session = stored;
                        adopted += 1;
                        continue;
                    }
                    self.end_session(EndReason::Refused).await;
                    return Err(login_required(
                        "the refresh token was refused: sign in again",
                    ));
                }
                Err(Some(e)) => return Err(e),
            }
        }
    }

    /// `POST /tokens` with retries. `Err(None)` means the server refused the
    /// token.
    async fn send_refresh(
        &self,
        url: &str,
        refresh_token: &str,
    ) -> Result<RawAuthResult, Option<Error>> {
        let mut attempt = 1;
        loop {
            let failure = match http::refresh(url, refresh_token, self.policy.timeout_ms).await {
                Ok(raw) => return Ok(raw),
                Err(f) => f,
            };
            match self.policy.after_failure(attempt, failure, time::random()) {
                Next::RetryIn(ms) => time::sleep(ms).await,
                Next::Refused => return Err(None),
                Next::Fail(e) => return Err(Some(e)),
            }
            attempt += 1;
        }
    }

    pub async fn sign_out(self: Rc<Self>) -> bool {
        // The latest stored session: another tab may have rotated the token.
        let session = match self.reload().await {
            Ok(s) => s,
            Err(_) => self.state.borrow().session.clone(),
        };
        let url = self.app_url(&session).ok();
        let token = session.refresh_token().map(str::to_owned);
        if let Some(t) = &token {
            // Kept apart from the session, never used to refresh, until the
            // server confirms; so a closed tab or a network blip loses no
            // revocation.
            self.store.add_pending(t);
        }
        if session.is_empty() {
            self.publish();
        } else {
            self.end_session(EndReason::SignOut).await;
        }
        match (token, url) {
            (Some(token), Some(url)) => self.revoke(&url, &token).await,
            _ => true,
        }
    }

    /// `DELETE /tokens`; true once the token is known dead on the server.
    async fn revoke(&self, url: &str, token: &str) -> bool {
        let confirmed = match http::revoke(url, token, self.policy.timeout_ms).await {
            Ok(status) => {
                (200..300).contains(&status) || ((400..500).contains(&status) && status != 429)
            }
            Err(_) => false,
        };
        if confirmed {
            self.store.remove_pending(token);
        }
        confirmed
    }

    /// Retries the revocations a sign-out could not confirm, in one tab at
    /// a time: a tab that finds the lock taken leaves the work to its holder.
    async fn retry_pending(&self) {
        if self.store.pending().is_empty() {
            return;
        }
        let session = self.state.borrow().session.clone();
        let Ok(url) = self.app_url(&session) else {
            return;
        };
        let mut name = String::from("psg_revoke ");
        name.push_str(&url);
        let _guard = match lock::try_acquire(&name).await {
            Acquired::Held { guard, .. } => Some(guard),
            Acquired::Unsupported => None,
            Acquired::TimedOut => return,
        };
        // Read again under the lock: the last holder may have done it all.
        for token in self.store.pending() {
            self.revoke(&url, &token).await;
        }
    }

    /// Retries pending revocations when the browser comes back online.
    fn watch_online(self: &Rc<Self>) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let weak = Rc::downgrade(self);
        let listener = Closure::<dyn FnMut()>::new(move || {
            if let Some(client) = weak.upgrade() {
                spawn(async move { client.retry_pending().await });
            }
        });
        let _ =
            window.add_event_listener_with_callback("online", listener.as_ref().unchecked_ref());
        // The listener lives as long as the page; it holds only a weak
        // reference, so a dropped client costs a no-op closure.
        listener.forget();
    }

    pub async fn user_info(self: Rc<Self>) -> Result<JsValue, JsValue> {
        let mut token = self.clone().get_auth_token().await;
        for retried in [false, true] {
            let t = match token {
                Ok(t) => t.as_string().unwrap_or_default(),
                Err(e) if is_login_required(&e) => return Ok(JsValue::UNDEFINED),
                Err(e) => return Err(e),
            };
            let session = self.state.borrow().session.clone();
            let url = self.app_url(&session).map_err(to_js)?;
            let reply = http::current_user(&url, &t, self.policy.timeout_ms).await;
            let error = match reply {
                Ok(r) if (200..300).contains(&r.status) => {
                    let user = js::get(&r.body, "user");
                    return if user.is_object() {
                        Ok(user)
                    } else {
                        Err(to_js(Error::new(
                            Code::InvalidResponse,
                            "the currentuser reply has no user object",
                        )))
                    };
                }
                Ok(r) if r.status == 401 && !retried => {
                    token = self.shared_refresh(true).await;
                    continue;
                }
                Ok(r) => match self.policy.after_failure(
                    self.policy.max_attempts,
                    Failure::Status(r.status, r.retry_after),
                    0.0,
                ) {
                    Next::Fail(e) => e,
                    _ => Error::new(
                        Code::InvalidResponse,
                        "the auth server refused a freshly refreshed token",
                    ),
                },
                Err(f) => match self.policy.after_failure(self.policy.max_attempts, f, 0.0) {
                    Next::Fail(e) => e,
                    _ => Error::new(Code::Network, "the auth server could not be reached"),
                },
            };
            return Err(to_js(error));
        }
        Ok(JsValue::UNDEFINED)
    }

    /// Forgets the session everywhere it is kept and tells the listeners
    /// and the other tabs.
    async fn end_session(&self, reason: EndReason) {
        {
            let mut st = self.state.borrow_mut();
            st.session = Session::default();
            st.unsaved = false;
            st.epoch += 1;
        }
        self.publish();
        // A store that fails to clear must not bring the session back on
        // the next read: memory (empty) stays the truth until it clears.
        let cleared = self.store.clear().await;
        self.state.borrow_mut().unsaved = cleared.is_err();
        self.post(Signal::Changed);
        self.emit("SIGNED_OUT", Some(reason));
    }
}
