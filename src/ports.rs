//! What the session client needs from the world, as small traits.
//!
//! The client ([`crate::client`]) awaits these and never a browser API
//! directly, so the same code runs in the browser (the adapters in
//! `crate::browser`, on gloo, web-sys and js-sys) and on the host, where the
//! simulation in `tests/sim` gives it tabs, a server and a clock of its own.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;

use serde::de::{Deserialize, DeserializeOwned, Deserializer};
use serde::Serialize;

use crate::core::error::Error;
use crate::core::session::Session;

/// A boxed future of the client's single thread.
pub type Task<T> = Pin<Box<dyn Future<Output = T>>>;

/// What a store answers: at once (`localStorage`, memory), or later (an
/// app's store whose methods return promises).
pub enum Io<T> {
    /// The answer, already there.
    Now(T),
    /// The answer, once the future resolves.
    Later(Task<T>),
}

impl<T> Io<T> {
    /// The answer if it is already there (the future of a later one is
    /// dropped: only ask a store that [`Store::is_sync`]).
    pub fn ready(self) -> Option<T> {
        match self {
            Io::Now(value) => Some(value),
            Io::Later(_) => None,
        }
    }

    /// The answer, awaited if need be.
    pub async fn get(self) -> T {
        match self {
            Io::Now(value) => value,
            Io::Later(task) => task.await,
        }
    }
}

/// Where the session is kept (docs/contract.md §3).
pub trait Store {
    /// True when every answer is [`Io::Now`]: the client then reads and
    /// writes before anything else can run.
    fn is_sync(&self) -> bool;
    /// The stored session; unreadable values are absent, never errors.
    fn load(&self) -> Io<Result<Session, Error>>;
    /// Stores `session`, replacing every value (refresh token first, auth
    /// token last, so another tab never pairs a new auth token with the
    /// refresh token it replaced).
    fn save(&self, session: &Session) -> Io<Result<(), Error>>;
    /// Removes the session (auth token first).
    fn clear(&self) -> Io<Result<(), Error>>;
    /// True when other tabs read this store too (they need the cross-tab
    /// lock).
    fn is_shared(&self) -> bool {
        true
    }
    /// Refresh tokens whose revocation the server has not confirmed.
    fn pending(&self) -> Vec<String>;
    /// Replaces the pending revocations.
    fn set_pending(&self, tokens: &[String]);
}

/// A change another tab (or the browser) tells this one about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Another tab's write to the session keys is now readable here.
    Stored,
    /// Another tab says it changed the session; or the page was shown
    /// again and may have missed events.
    Changed,
    /// Another tab released the refresh lock without writing.
    Unchanged,
    /// The browser is back online.
    Online,
    /// The page is going away (`pagehide`).
    Hidden,
    /// A message of the cross-tab lock where there are no Web Locks.
    Lock(LockMessage),
}

/// What a lock message says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    /// "I want the lock": answered by its holder, and by an older claim.
    Claim,
    /// "I hold the lock."
    Held,
    /// "I let the lock go."
    Free,
}

/// A message of the cross-tab lock, between the tabs' clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockMessage {
    /// What it says.
    pub kind: LockKind,
    /// Which lock: its name's hash.
    pub name: u32,
    /// Which tab says it.
    pub tab: u32,
    /// For a claim, when the tab began to ask (its ticket, ms).
    pub since: u64,
}

impl Signal {
    /// The signal as the text other tabs receive, for those that travel.
    pub fn to_text(self) -> Option<String> {
        let m = match self {
            Signal::Changed => return Some(String::from("changed")),
            Signal::Unchanged => return Some(String::from("unchanged")),
            Signal::Lock(m) => m,
            _ => return None,
        };
        let mut text = String::from(match m.kind {
            LockKind::Claim => "lock claim",
            LockKind::Held => "lock held",
            LockKind::Free => "lock free",
        });
        for n in [u64::from(m.name), u64::from(m.tab), m.since] {
            text.push(' ');
            text.push_str(&crate::core::decimal(n as i64));
        }
        Some(text)
    }

    /// The signal another tab sent as `text`; `None` for anything else.
    pub fn from_text(text: &str) -> Option<Signal> {
        // Byte by byte: no `str` search or slicing (their panics format).
        let mut words = text.as_bytes().split(|&b| b == b' ');
        let kind = match (words.next()?, words.next()) {
            (b"changed", None) => return Some(Signal::Changed),
            (b"unchanged", None) => return Some(Signal::Unchanged),
            (b"lock", Some(b"claim")) => LockKind::Claim,
            (b"lock", Some(b"held")) => LockKind::Held,
            (b"lock", Some(b"free")) => LockKind::Free,
            _ => return None,
        };
        let mut number = || -> Option<u64> {
            let w = words.next()?;
            if w.is_empty() || w.len() > 19 {
                return None;
            }
            w.iter().try_fold(0u64, |n, &b| {
                let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
                n.checked_mul(10)?.checked_add(u64::from(digit))
            })
        };
        let name = u32::try_from(number()?).ok()?;
        let tab = u32::try_from(number()?).ok()?;
        let since = number()?;
        if words.next().is_some() {
            return None;
        }
        Some(Signal::Lock(LockMessage {
            kind,
            name,
            tab,
            since,
        }))
    }
}

/// An auth event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A session began (here, or another tab signed in).
    SignedIn,
    /// The auth token was replaced by a refresh.
    TokenRefreshed,
    /// The session ended.
    SignedOut,
}

impl Event {
    /// The name JavaScript listeners receive.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::SignedIn => "SIGNED_IN",
            Event::TokenRefreshed => "TOKEN_REFRESHED",
            Event::SignedOut => "SIGNED_OUT",
        }
    }
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `signOut()` here.
    SignOut,
    /// The server refused the refresh token.
    RefreshRefused,
    /// The session's end passed, or its token expired with no refresh token.
    Expired,
    /// Another tab signed out.
    OtherTab,
}

impl Reason {
    /// The `reason` JavaScript listeners receive.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SignOut => "sign_out",
            Reason::RefreshRefused => "refresh_refused",
            Reason::Expired => "expired",
            Reason::OtherTab => "other_tab",
        }
    }
}

/// An event's detail: never a token.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Detail {
    /// For SIGNED_OUT.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "reason")]
    pub reason: Option<Reason>,
    /// When the current auth token expires (unix seconds), when signed in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<f64>,
}

fn reason<S: serde::Serializer>(r: &Option<Reason>, s: S) -> Result<S::Ok, S::Error> {
    match r {
        Some(r) => s.serialize_str(r.as_str()),
        None => s.serialize_none(),
    }
}

/// An HTTP method the client uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

/// One request to the auth server.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: String,
    /// The body, as JSON text (the port serialized it).
    pub body: Option<String>,
    /// `Authorization: Bearer` this token.
    pub bearer: Option<String>,
    /// Outlive the page (the sign-out's revocation).
    pub keepalive: bool,
    /// Abort after this long.
    pub timeout_ms: u32,
}

/// The server's answer.
pub struct Reply<J> {
    /// The HTTP status.
    pub status: u16,
    /// A numeric `Retry-After`, in seconds.
    pub retry_after: Option<u32>,
    /// The body parsed as JSON, when it is JSON.
    pub body: Option<J>,
}

/// A request that got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// It failed: offline, DNS, connection reset, CORS, a body cut short.
    Network,
    /// No answer within the timeout.
    Timeout,
}

/// A JSON value from a reply or from the app: decoded into the client's
/// types with serde, and carried through them where passage-js keeps the
/// server's value as it is.
pub trait Json: Sized + Clone + Default + Serialize + DeserializeOwned + 'static {
    /// The value as `T`, or `None` when it does not have that shape.
    fn decode<T: DeserializeOwned>(self) -> Option<T>;
    /// True for `null` and `undefined` (the default).
    fn is_nullish(&self) -> bool;
    /// `new Date(value)` where there are JavaScript dates; elsewhere the
    /// value itself.
    fn date(&self) -> Self;
    /// `value` as a JSON value (maps as objects).
    fn encode<T: Serialize + ?Sized>(value: &T) -> Option<Self>;
}

/// What asking for the cross-tab lock gave.
pub enum Locked<G> {
    /// Held until `guard` is released. `waited`: another holder had it first.
    Held {
        /// Releases the lock.
        guard: G,
        /// Another tab held the lock when it was asked for.
        waited: bool,
    },
    /// Not granted in time (or, asked without waiting, taken).
    TimedOut,
    /// There are no Web Locks here, but the tabs can reach each other: the
    /// client keeps the lock with its own messages.
    NoLocks,
    /// Nothing here reaches the other tabs: go on alone.
    Alone,
}

/// A held lock.
pub trait Guard: 'static {
    /// Lets the lock go; resolves once another holder could take it.
    fn release(self) -> impl Future<Output = ()> + 'static;
}

/// The clock and its timers.
pub trait Clock: 'static {
    /// Local time, ms since the epoch.
    fn now(&self) -> f64;
    /// Resolves after `ms`.
    fn sleep(&self, ms: u32) -> impl Future<Output = ()> + 'static;
}

/// Randomness, for backoff jitter and tab ids.
pub trait Random: 'static {
    /// A random number in `[0, 1)`.
    fn random(&self) -> f64;
}

/// Requests to the auth server.
pub trait Http: 'static {
    /// A parsed JSON reply.
    type Json: Json;
    /// False when the browser knows it is offline.
    fn online(&self) -> bool;
    /// Sends `request`; resolves its reply.
    fn send(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Reply<Self::Json>, SendError>> + 'static;
    /// JSON text for a request body.
    fn to_json<T: Serialize + ?Sized>(&self, value: &T) -> Option<String>;
}

/// The browser's cross-tab lock (Web Locks), where it has one.
pub trait Locks: 'static {
    /// A held lock.
    type Guard: Guard;
    /// The cross-tab lock `name`: waits at most `timeout_ms` for another
    /// holder; with 0, takes it only if free. Asks without waiting first, so
    /// `waited` tells whether another tab held it.
    fn lock(
        &self,
        name: &str,
        timeout_ms: u32,
    ) -> impl Future<Output = Locked<Self::Guard>> + 'static;
}

/// What this tab tells the others (and the page's other instances); what
/// they say reaches the client as [`Signal`]s.
pub trait Signals: 'static {
    /// Tells the other tabs.
    fn post(&self, signal: Signal);
}

/// Background work.
pub trait Tasks: 'static {
    /// Runs `task` in the background.
    fn spawn(&self, task: impl Future<Output = ()> + 'static);
}

/// The two hooks to the API edge.
pub trait Edge: 'static {
    /// The token the API edge may hand out without asking, until local time
    /// `fresh_until` (ms); `None` for none.
    fn publish(&self, token: Option<&str>, fresh_until: f64);
    /// Delivers an auth event to the app's listeners.
    fn emit(&self, event: Event, detail: &Detail);
}

/// The WebAuthn authenticator, for `addPasskey`.
pub trait Authenticator: Http {
    /// Has the authenticator create a passkey with these options (the
    /// WebAuthn ceremony); `passkey_failed` when it does not.
    fn create_credential(
        &self,
        options: &Self::Json,
    ) -> impl Future<Output = Result<NewCredential, Error>> + 'static;
    /// Remembers, as passage-js does (`psg_cred_obj`), that `user_id`
    /// registered `credential_id` here.
    fn remember_credential(&self, user_id: &str, credential_id: &str);
    /// Forgets `credential_id` in `psg_cred_obj`.
    fn forget_credential(&self, credential_id: &str);
}

/// Everything the client needs but the store, as one bound: small traits,
/// so that each adapter (and each double in a test) says what it provides.
pub trait Ports: Clock + Random + Http + Locks + Signals + Tasks + Edge + Authenticator {}

impl<T: Clock + Random + Http + Locks + Signals + Tasks + Edge + Authenticator> Ports for T {}

/// A field as read: absent (missing, `undefined` or `null`), a value of the
/// expected type, or something else.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Field<T> {
    /// Missing, `undefined` or `null`.
    #[default]
    Absent,
    /// A value of the expected type.
    Value(T),
    /// A value of another type.
    Wrong,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Never an error: a wrong type is the caller's to name.
        Ok(match Option::<T>::deserialize(d) {
            Ok(Some(value)) => Field::Value(value),
            Ok(None) => Field::Absent,
            Err(_) => Field::Wrong,
        })
    }
}

impl<T> Field<T> {
    /// The value, when it has the expected type.
    pub fn value(self) -> Option<T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// What the authenticator created, its binary parts as base64url.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewCredential {
    /// The credential id (base64url of `raw_id`).
    pub id: String,
    /// base64url of the raw id.
    pub raw_id: String,
    /// "public-key".
    pub kind: String,
    /// base64url of the attestation object.
    pub attestation_object: String,
    /// base64url of the client data JSON.
    pub client_data_json: String,
    /// `response.getTransports()`, where the browser has it.
    pub transports: Vec<String>,
}
