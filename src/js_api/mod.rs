//! The JavaScript edge: the exported class and the one place where core
//! errors become `PassageError`s.
//!
//! The package's entry wraps [`Core`] in the public `PassageUser` class,
//! which answers `getAuthToken()` from a cached token while it is fresh (one
//! comparison, no call into wasm). `Core` keeps that cache right through the
//! `cache` hook every time the session changes.

mod options;

use core::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, spawn_local, JsFuture};

use crate::browser::{http, js, store::Store, time};
use crate::core::error::{Code, Error};
use crate::core::policy::{skew_from_iat, Failure, Next, Policy};
use crate::core::refresh::{after_refusal, Gate, Refusal, Ticket};
use crate::core::session::{Session, Status};
use options::Options;

thread_local! {
    static ERROR_CLASS: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Registers the `PassageError` class the entry defines, so errors thrown
/// from Rust are instances of it.
#[wasm_bindgen(js_name = setErrorClass)]
pub fn set_error_class(class: Function) {
    ERROR_CLASS.with(|c| *c.borrow_mut() = Some(class));
}

/// A core error as a `PassageError`.
fn to_js(e: Error) -> JsValue {
    let retry = e.retry_after.map_or(JsValue::UNDEFINED, JsValue::from);
    let args = js_sys::Array::of3(&e.code.as_str().into(), &e.message.into(), &retry);
    ERROR_CLASS
        .with(|c| c.borrow().clone())
        .and_then(|class| Reflect::construct(&class, &args).ok())
        .unwrap_or_else(|| {
            let error = js_sys::Error::new(e.message);
            let _ = Reflect::set(&error, &"code".into(), &e.code.as_str().into());
            error.into()
        })
}

fn is_login_required(error: &JsValue) -> bool {
    js::get(error, "code").as_string().as_deref() == Some(Code::LoginRequired.as_str())
}

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
}

impl EndReason {
    fn as_str(self) -> &'static str {
        match self {
            EndReason::SignOut => "sign_out",
            EndReason::Refused => "refresh_refused",
            EndReason::Expired => "expired",
        }
    }
}

/// The session client behind `PassageUser`.
#[wasm_bindgen]
pub struct Core {
    inner: Rc<Inner>,
}

struct Inner {
    store: Store,
    policy: Policy,
    auth_origin: String,
    app_id: Option<String>,
    cache_hook: Function,
    emit_hook: Function,
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
}

#[wasm_bindgen]
impl Core {
    /// Reads the options and the stored session. `hooks` is
    /// `{cache(token, freshUntilMs), emit(event, detail)}`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue, hooks: JsValue) -> Result<Core, JsValue> {
        let Options {
            app_id,
            auth_origin,
            store,
            policy,
        } = Options::parse(&options).map_err(to_js)?;
        let hook = |name| {
            js::get(&hooks, name)
                .dyn_into::<Function>()
                .map_err(|_| to_js(Error::new(Code::InvalidOptions, "internal hooks missing")))
        };
        let inner = Rc::new(Inner {
            cache_hook: hook("cache")?,
            emit_hook: hook("emit")?,
            store,
            policy,
            auth_origin,
            app_id,
            state: RefCell::default(),
        });
        if let Some(Ok(session)) = inner.store.load_now() {
            inner.state.borrow_mut().session = session;
            inner.publish();
        }
        inner.watch_online();
        let retry = inner.clone();
        spawn_local(async move { retry.retry_pending().await });
        Ok(Core { inner })
    }

    /// Stores the AuthResult of a login (either spelling), replacing the
    /// whole session.
    #[wasm_bindgen(js_name = setAuthResult)]
    pub fn set_auth_result(&self, result: JsValue) -> Result<(), JsValue> {
        self.inner.set_auth_result(&result).map_err(to_js)
    }

    /// The auth token, refreshed when it is not fresh.
    #[wasm_bindgen(js_name = getAuthToken)]
    pub fn get_auth_token(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move { inner.get_auth_token().await })
    }

    /// A new auth token, joining a refresh in flight.
    pub fn refresh(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move { inner.shared_refresh(true).await })
    }

    /// Ends the session here and in storage, then revokes the refresh token.
    /// Resolves `true` when the server confirmed (or had nothing to revoke).
    #[wasm_bindgen(js_name = signOut)]
    pub fn sign_out(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move { Ok(inner.sign_out().await.into()) })
    }

    /// The `user` of `GET /currentuser`, or `undefined` when signed out.
    #[wasm_bindgen(js_name = userInfo)]
    pub fn user_info(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move { inner.user_info().await })
    }

    /// True when a well-formed, unexpired auth token is stored.
    #[wasm_bindgen(js_name = authGuard)]
    pub fn auth_guard(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let session = inner.reload().await.map_err(to_js)?;
            let skew = inner.state.borrow().skew_ms;
            Ok(session.is_authenticated(time::now_ms(), skew).into())
        })
    }
}

impl Inner {
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

    /// Fires an auth event. Never called with a borrow held, so a listener
    /// may call back in.
    fn emit(&self, event: &str, reason: Option<EndReason>) {
        let detail = Object::new();
        if let Some(r) = reason {
            let _ = Reflect::set(&detail, &"reason".into(), &r.as_str().into());
        }
        if let Some(exp) = self.state.borrow().session.claims().map(|c| c.exp) {
            let _ = Reflect::set(&detail, &"expiresAt".into(), &JsValue::from_f64(exp as f64));
        }
        let _ = self.emit_hook.call2(&JsValue::NULL, &event.into(), &detail);
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
        let changed = {
            let mut st = self.state.borrow_mut();
            let changed = st.session != stored;
            st.session = stored.clone();
            changed
        };
        if changed {
            self.publish();
        }
        Ok(stored)
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

    fn set_auth_result(self: &Rc<Self>, result: &JsValue) -> Result<(), Error> {
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
            let inner = self.clone();
            spawn_local(async move {
                // `reload` writes an unsaved session first, and keeps it in
                // memory while the store refuses it.
                let _ = inner.reload().await;
            });
        }
        if let Some(old) = previous.refresh_token() {
            if next.refresh_token() != Some(old) {
                self.revoke_in_background(&previous, old.to_owned());
            }
        }
        self.emit("SIGNED_IN", None);
        Ok(())
    }

    fn revoke_in_background(&self, session: &Session, token: String) {
        if let Ok(url) = self.app_url(session) {
            let timeout = self.policy.timeout_ms;
            spawn_local(async move {
                let _ = http::revoke(&url, &token, timeout).await;
            });
        }
    }

    async fn get_auth_token(self: Rc<Self>) -> Result<JsValue, JsValue> {
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
    async fn shared_refresh(self: &Rc<Self>, force: bool) -> Result<JsValue, JsValue> {
        let ticket = self.state.borrow_mut().gate.enter();
        let promise = match ticket {
            Ticket::Join(_) => self.state.borrow().flight.clone(),
            Ticket::Lead(_) => None,
        };
        let promise = match (ticket, promise) {
            (Ticket::Join(_), Some(p)) => p,
            (Ticket::Lead(id), _) | (Ticket::Join(id), None) => {
                let inner = self.clone();
                let p = future_to_promise(async move {
                    let result = inner.run_refresh(force).await;
                    let mut st = inner.state.borrow_mut();
                    st.gate.leave(id);
                    st.flight = None;
                    drop(st);
                    result.map(JsValue::from).map_err(to_js)
                });
                self.state.borrow_mut().flight = Some(p.clone());
                p
            }
        };
        JsFuture::from(promise).await
    }

    /// The leader's refresh: decide from the latest stored session, send,
    /// retry transient failures, store the result.
    async fn run_refresh(&self, force: bool) -> Result<String, Error> {
        let mut session = self.reload().await?;
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
    ) -> Result<crate::core::session::RawAuthResult, Option<Error>> {
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

    async fn sign_out(self: Rc<Self>) -> bool {
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

    /// Retries the revocations a sign-out could not confirm.
    async fn retry_pending(&self) {
        let tokens = self.store.pending();
        if tokens.is_empty() {
            return;
        }
        let session = self.state.borrow().session.clone();
        let Ok(url) = self.app_url(&session) else {
            return;
        };
        for token in tokens {
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
            if let Some(inner) = weak.upgrade() {
                spawn_local(async move { inner.retry_pending().await });
            }
        });
        let _ =
            window.add_event_listener_with_callback("online", listener.as_ref().unchecked_ref());
        // The listener lives as long as the page; it holds only a weak
        // reference, so a dropped client costs a no-op closure.
        listener.forget();
    }

    async fn user_info(self: Rc<Self>) -> Result<JsValue, JsValue> {
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

    /// Forgets the session everywhere it is kept and tells the listeners.
    async fn end_session(&self, reason: EndReason) {
        {
            let mut st = self.state.borrow_mut();
            st.session = Session::default();
            st.unsaved = false;
            st.epoch += 1;
        }
        self.publish();
        let _ = self.store.clear().await;
        self.emit("SIGNED_OUT", Some(reason));
    }
}
