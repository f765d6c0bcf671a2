//! The session client: the core's decisions carried out with the ports'
//! input and output. Single flight within the tab, the cross-tab refresh
//! lock and its rules, adopting other tabs' writes, retries, sign-out and
//! pending revocations, auth events.
//!
//! It is generic over [`Ports`] and a [`Store`], so the code that ships is
//! the code the host simulation (`tests/sim`) runs. Its state lives in one
//! `RefCell`, never borrowed across an `.await`; every method takes
//! `self: &Rc<Self>`, since JavaScript calls them concurrently.
//!
//! The rules Chromium taught (see docs/architecture.md): another tab's
//! `localStorage` write arrives a few ms late and key by key, so a tab that
//! wrote keeps the lock [`LINGER_MS`] longer, a tab granted the lock after
//! another holder waits up to [`SETTLE_MS`] for that holder's write, writes
//! go refresh token first and auth token last, and a partway state fires
//! nothing.

pub mod account;
mod future;
mod lock;
mod memory;
mod refresh;
mod sign_out;
pub mod user;
pub mod values;

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{RefCell, RefMut};
use core::future::Future;

use crate::core::future::now;
pub use future::Flight;
pub use lock::{name_hash, CLAIM_MS, HANDOFF_MS, LINGER_MS, PROBE_MS};
pub use memory::MemoryStore;

use crate::core::error::{Code, Error};
use crate::core::policy::{skew_after_refresh, skew_from_iat, Policy, Reading};
use crate::core::session::{RawAuthResult, Session, Status};
use crate::core::url::encode_component;
use crate::ports::{Detail, Event, Io, Ports, Reason, Signal, Store};
use lock::Locks;

/// The client's settings, validated by the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The app id; else read from the stored token.
    pub app_id: Option<String>,
    /// `scheme://host[:port]`, no trailing slash.
    pub auth_origin: String,
    /// The leeway before `exp`, ms (default 10 s).
    pub leeway_ms: Option<i64>,
    /// Timeout of each request, ms.
    pub timeout_ms: u32,
}

/// The error of a call with no session.
pub fn no_session() -> Error {
    Error::new(Code::LoginRequired, "no session: sign in first")
}

/// The user a sign-out in progress signs out.
struct Leaving {
    sub: Option<String>,
}

struct State<G> {
    /// Server clock minus local clock, ms.
    skew: f64,
    /// `skew` comes from a reading of the server's clock (a token it issued
    /// just then), not from the default.
    clock_read: bool,
    /// The session as last read or written.
    session: Session,
    /// The refresh in flight in this tab, shared by every caller.
    flight: Option<Rc<Flight<Result<String, Error>>>>,
    /// Bumped whenever the session is replaced from outside a refresh
    /// (sign-in, sign-out, another tab), so a refresh that started before
    /// cannot write over the new session.
    epoch: u64,
    /// The store refused the last write: memory holds the truth until one
    /// succeeds.
    unsaved: bool,
    /// Refreshes of this tab in progress: their events (and any heard
    /// meanwhile) wait until the refresh ends, and are delivered just before
    /// its callers resume, so a listener sees the new session and may start
    /// another refresh of its own.
    holding_events: u32,
    /// Events not delivered yet, oldest first (a handful at most).
    events: Vec<(Event, Option<Reason>)>,
    /// The cross-tab lock: what this tab holds, and knows of the others.
    locks: Locks<G>,
    /// Set while this tab signs out.
    leaving: Option<Rc<Leaving>>,
    /// The sign-out in progress in this tab, shared by every caller.
    signing_out: Option<Rc<Flight<bool>>>,
    /// No signals reach this client any more: it hands out nothing from
    /// memory.
    disposed: bool,
}

/// The client behind one `PassageUser`.
pub struct Client<P: Ports> {
    ports: P,
    store: Box<dyn Store>,
    app_id: Option<String>,
    origin: String,
    policy: Policy,
    st: RefCell<State<P::Guard>>,
}

impl<P: Ports> Client<P> {
    /// A client over `ports` and `store`. Call [`Client::signal`] with what
    /// the other tabs and the browser say, and [`Client::start`] once.
    pub fn new(options: Options, ports: P, store: Box<dyn Store>) -> Rc<Self> {
        let mut policy = Policy {
            timeout_ms: options.timeout_ms,
            ..Policy::default()
        };
        if let Some(leeway) = options.leeway_ms {
            policy.leeway_ms = leeway;
        }
        // This tab's id in lock messages.
        let me = (ports.random() * 4_294_967_296.0) as u32;
        Rc::new(Client {
            ports,
            store,
            app_id: options.app_id,
            origin: options.auth_origin,
            policy,
            st: RefCell::new(State {
                skew: 0.0,
                clock_read: false,
                session: Session::default(),
                flight: None,
                epoch: 0,
                unsaved: false,
                holding_events: 0,
                events: Vec::new(),
                locks: Locks::new(me),
                leaving: None,
                signing_out: None,
                disposed: false,
            }),
        })
    }

    /// Reads a synchronous store at once, and retries pending revocations.
    pub fn start(self: &Rc<Self>) {
        if self.store.is_sync() {
            if let Some(Ok(stored)) = self.store.load().ready() {
                self.state().session = self.ours(stored);
                self.publish();
            }
        }
        self.retry_pending();
    }

    /// The ports, for the API edge.
    pub fn ports(&self) -> &P {
        &self.ports
    }

    fn state(&self) -> RefMut<'_, State<P::Guard>> {
        self.st.borrow_mut()
    }

    fn spawn<F: Future<Output = ()> + 'static>(self: &Rc<Self>, task: impl FnOnce(Rc<Self>) -> F) {
        self.ports.spawn(task(self.clone()));
    }

    /// The session in memory.
    pub fn session(&self) -> Session {
        self.st.borrow().session.clone()
    }

    /// True while a refresh of this tab is in flight.
    pub fn is_refreshing(&self) -> bool {
        self.st.borrow().flight.is_some()
    }

    /// `{authOrigin}/v1/apps/{appId}` for session `s`.
    fn app_url(&self, s: &Session) -> Result<String, Error> {
        let id = self
            .app_id
            .as_deref()
            .or_else(|| s.claims().and_then(|c| c.app_id.as_deref()))
            .ok_or(Error::invalid_options(
                "appId is unknown: pass it in the options",
            ))?;
        Ok(self.url_of_app(id))
    }

    fn url_of_app(&self, id: &str) -> String {
        let mut url = self.origin.clone();
        url.push_str("/v1/apps/");
        url.push_str(&encode_component(id));
        url
    }

    /// `stored`, unless its token names another app (two apps on one
    /// origin): that session is not this client's, which is signed out.
    fn ours(&self, stored: Session) -> Session {
        if self.foreign(&stored) {
            Session::default()
        } else {
            stored
        }
    }

    fn foreign(&self, s: &Session) -> bool {
        let named = s.claims().and_then(|c| c.app_id.as_deref());
        matches!((self.app_id.as_deref(), named), (Some(ours), Some(theirs)) if ours != theirs)
    }

    fn status(&self, s: &Session) -> Status {
        let (skew, clock_read) = {
            let st = self.st.borrow();
            (st.skew, st.clock_read)
        };
        let now = self.ports.now();
        match s.status(now, skew, &self.policy) {
            // Until the server's clock has been read, an end that only our
            // clock sees is asked of the server (one refresh): a clock far
            // ahead must not end a live session.
            Status::Ended if !clock_read && s.end_needs_server(now) => Status::NeedsRefresh,
            status => status,
        }
    }

    /// Tells the API edge what it may hand out without calling in.
    fn publish(&self) {
        let (s, disposed) = {
            let st = self.st.borrow();
            (st.session.clone(), st.disposed)
        };
        match self.status(&s) {
            Status::Fresh { until_ms } if !disposed => self.ports.publish(s.auth_token(), until_ms),
            _ => self.ports.publish(None, 0.0),
        }
    }

    /// Queues an auth event, and delivers the queue unless a refresh of this
    /// tab is in progress.
    fn emit(&self, event: Event, reason: Option<Reason>) {
        let held = {
            let mut st = self.state();
            st.events.push((event, reason));
            st.holding_events
        };
        if held == 0 {
            self.flush();
        }
    }

    /// Delivers the queued events, one at a time: a listener may call back
    /// in, and queue more.
    fn flush(&self) {
        loop {
            let (event, reason, s) = {
                let mut st = self.state();
                if st.events.is_empty() {
                    return;
                }
                let (event, reason) = st.events.remove(0);
                (event, reason, st.session.clone())
            };
            let detail = Detail {
                reason,
                expires_at: s.claims().map(|c| c.exp as f64),
            };
            self.ports.emit(event, &detail);
        }
    }

    /// Makes `stored` (read from the store) the session, and fires the
    /// event its difference from memory means: another tab did it.
    fn adopt(&self, stored: Session) -> Session {
        let stored = self.ours(stored);
        let old = {
            let mut st = self.state();
            if st.session == stored {
                return stored;
            }
            // While this tab signs out, a write of the same user's session
            // is a refresh in flight elsewhere landing after our clear: not
            // a session to adopt (the sign-out clears it again under the
            // lock), nor any part of it that has arrived.
            if let Some(leaving) = &st.leaving {
                if !stored.is_empty() && stored.may_be_user(leaving.sub.as_deref()) {
                    return st.session.clone();
                }
            }
            // Another tab signed in or out, or wrote new tokens: a refresh
            // in flight here must not write over that.
            if stored.refresh_token() != st.session.refresh_token() {
                st.epoch += 1;
                // A session that appears while this tab's sign-out finishes
                // (past its clean-up) is a new sign-in: a later signOut()
                // is one of its own, not a join of the first.
                if !stored.is_empty() {
                    st.signing_out = None;
                }
            }
            core::mem::replace(&mut st.session, stored.clone())
        };
        self.publish();
        if stored.is_empty() {
            if !old.is_empty() {
                self.emit(Event::SignedOut, Some(Reason::OtherTab));
            }
        } else if stored.auth_token().is_some() && stored.auth_token() != old.auth_token() {
            // Another tab's write reaches this one key by key (refresh
            // token first, auth token last; a clear the other way round):
            // a state without a new auth token is partway, and fires nothing.
            let event = if old.is_empty() || old.sub() != stored.sub() {
                Event::SignedIn
            } else {
                Event::TokenRefreshed
            };
            self.emit(event, None);
        }
        stored
    }

    /// Reads the store into memory, unless memory holds a session the store
    /// refused, in which case writing it again comes first. Needs no
    /// executor for a synchronous store.
    async fn reload(&self) -> Result<Session, Error> {
        let unsaved = {
            let st = self.st.borrow();
            st.unsaved.then(|| st.session.clone())
        };
        if let Some(s) = unsaved {
            if self.store.save(&s).get().await.is_err() {
                return Ok(s);
            }
            self.state().unsaved = false;
        }
        let stored = self.store.load().get().await?;
        Ok(self.adopt(stored))
    }

    /// What another tab or the browser says.
    pub fn signal(self: &Rc<Self>, signal: Signal) {
        match signal {
            Signal::Online => return self.retry_pending(),
            Signal::Hidden => return self.release_all(),
            Signal::Lock(message) => return self.hear_lock(message),
            Signal::Stored | Signal::Unchanged => self.hear_handoff(),
            Signal::Changed => {}
        }
        if signal == Signal::Unchanged || self.st.borrow().unsaved {
            return;
        }
        // A synchronous store is read before this returns: the published
        // token is right before anything else runs.
        if self.store.is_sync() {
            if let Some(Ok(stored)) = self.store.load().ready() {
                self.adopt(stored);
            }
        } else {
            self.spawn(|c| async move {
                let _ = c.reload().await;
            });
        }
    }

    /// Makes `next` the session: memory first, then the store. A store that
    /// refuses keeps memory authoritative and reports `storage`.
    async fn commit(&self, next: Session) -> Result<(), Error> {
        {
            let mut st = self.state();
            st.session = next.clone();
            st.unsaved = true;
        }
        self.publish();
        self.store.save(&next).get().await?;
        self.state().unsaved = false;
        Ok(())
    }

    /// Hands over a login's AuthResult (already read from JavaScript).
    pub fn set_auth_result(self: &Rc<Self>, raw: RawAuthResult) -> Result<(), Error> {
        let at = self.ports.now();
        let iat = raw
            .auth_token
            .as_deref()
            .and_then(|t| crate::core::jwt::decode(t).ok())
            .and_then(|c| c.iat);
        // A login's token may have been issued a while ago: only a server
        // clock ahead of ours is trusted from it (that can only make tokens
        // stale sooner).
        let skew = iat.map(|iat| skew_from_iat(iat, at).max(0.0));
        let next = Session::from_auth_result(raw, at + skew.unwrap_or(0.0))?;
        // A misconfigured app id fails loudly here, before anything is kept.
        if self.foreign(&next) {
            let theirs = next.claims().and_then(|c| c.app_id.as_deref());
            return Err(Error::naming(
                Code::InvalidAuthResult,
                "the auth token is not for this instance's appId: it names app",
                theirs.unwrap_or_default(),
            ));
        }
        // What the store holds now, ours or another app's: it is replaced.
        let previous = if self.store.is_sync() {
            self.store
                .load()
                .ready()
                .and_then(Result::ok)
                .unwrap_or_else(|| self.session())
        } else {
            self.session()
        };
        {
            let mut st = self.state();
            if let Some(skew) = skew {
                st.skew = skew;
                // A login's token read as behind our clock is not trusted
                // (it may have been issued a while ago); ahead, or in step,
                // it is a reading.
                st.clock_read |= iat.is_some_and(|iat| skew_from_iat(iat, at) >= 0.0);
            }
            st.epoch += 1;
            // A sign-in here ends a sign-out in progress: its session stays,
            // and a later signOut() is a sign-out of its own.
            st.leaving = None;
            st.signing_out = None;
            st.session = next.clone();
        }
        let saved = self.store.is_sync() && matches!(self.store.save(&next).ready(), Some(Ok(())));
        self.state().unsaved = !saved;
        self.publish();
        if !saved {
            // `reload` writes an unsaved session first, and keeps it in
            // memory while the store refuses it.
            self.spawn(|c| async move {
                let _ = c.reload().await;
            });
        }
        if let Some(old) = previous
            .refresh_token()
            .filter(|&r| Some(r) != next.refresh_token())
        {
            // Revoked where it was issued: another app's token at that app.
            let app = previous.claims().and_then(|c| c.app_id.as_deref());
            let url = match app {
                Some(app) if self.foreign(&previous) => Ok(self.url_of_app(app)),
                _ => self.app_url(&previous),
            };
            if let Ok(url) = url {
                let token = String::from(old);
                self.spawn(|c| async move {
                    c.revoke(&url, &token, false).await;
                });
            }
        }
        self.ports.post(Signal::Changed);
        self.emit(Event::SignedIn, None);
        Ok(())
    }

    /// True when a well-formed, unexpired auth token is stored.
    pub async fn auth_guard(&self) -> Result<bool, Error> {
        let s = self.reload().await?;
        let skew = self.st.borrow().skew;
        Ok(s.is_authenticated(self.ports.now(), skew))
    }

    /// The auth token, refreshed first when it is stale.
    pub async fn get_auth_token(self: &Rc<Self>) -> Result<String, Error> {
        let s = self.reload().await?;
        match self.without_request(&s).await? {
            Some(token) => Ok(token),
            None => self.refresh(false).await,
        }
    }

    /// The outcome of a session that needs no request: its fresh token,
    /// `None` when it needs a refresh, or the error that ends it.
    async fn without_request(self: &Rc<Self>, s: &Session) -> Result<Option<String>, Error> {
        match self.status(s) {
            Status::Fresh { .. } => Ok(s.auth_token().map(String::from)),
            Status::NeedsRefresh => Ok(None),
            Status::Ended => {
                self.end(Reason::Expired).await;
                Err(Error::new(
                    Code::LoginRequired,
                    "the session has expired: sign in again",
                ))
            }
            Status::SignedOut => {
                if !s.is_empty() {
                    self.end(Reason::Expired).await;
                }
                Err(no_session())
            }
        }
    }

    /// Forgets the session in memory and starts clearing the store; the
    /// returned answer is the store's.
    fn end_begin(self: &Rc<Self>) -> Io<Result<(), Error>> {
        {
            let mut st = self.state();
            st.session = Session::default();
            st.unsaved = false;
            st.epoch += 1;
        }
        self.publish();
        if self.store.is_sync() {
            // Another app's session, written since, is not ours to clear.
            if let Some(Ok(stored)) = self.store.load().ready() {
                if self.foreign(&stored) {
                    return Io::Now(Ok(()));
                }
            }
        }
        let cleared = self.store.clear();
        if let Io::Now(Ok(())) = cleared {
            // The page's other instances hear of it before this returns.
            self.ports.post(Signal::Changed);
        }
        cleared
    }

    /// The rest of ending the session, once the store answered: tell the
    /// listeners and the other tabs.
    async fn end_finish(&self, cleared: Io<Result<(), Error>>, reason: Reason) {
        let told = matches!(cleared, Io::Now(Ok(())));
        // A store that fails to clear must not bring the session back on
        // the next read: memory (empty) stays the truth until it clears.
        if cleared.get().await.is_err() {
            self.state().unsaved = true;
        }
        if !told {
            self.ports.post(Signal::Changed);
        }
        self.emit(Event::SignedOut, Some(reason));
    }

    /// Forgets the session everywhere it is kept and tells the listeners
    /// and the other tabs.
    async fn end(self: &Rc<Self>, reason: Reason) {
        let cleared = self.end_begin();
        self.end_finish(cleared, reason).await
    }

    /// Stops handing out tokens from memory: no signal reaches this client
    /// any more, so every call reads the store.
    pub fn dispose(&self) {
        self.state().disposed = true;
        self.publish();
    }

    /// Keeps the clock correction a refresh reply `s`, received at local
    /// time `at`, gives; or answers the offset that needs a second reading
    /// first (see [`skew_after_refresh`]).
    fn read_skew(&self, s: &Session, at: f64, earlier: Option<f64>) -> Option<f64> {
        let iat = s.claims().and_then(|c| c.iat)?;
        let stale = !matches!(s.status(at, 0.0, &self.policy), Status::Fresh { .. });
        let held = self.st.borrow().skew;
        match skew_after_refresh(iat, at, stale, held, earlier) {
            Reading::Skew(skew) => {
                let mut st = self.state();
                st.skew = skew;
                st.clock_read = true;
                None
            }
            Reading::Confirm(offset) => Some(offset),
        }
    }
}

/// A synchronous answer's value, when there is one and it is `Ok`.
fn now_or<T, F: Future<Output = Result<T, Error>>>(future: F) -> Option<T> {
    now(future).and_then(Result::ok)
}
