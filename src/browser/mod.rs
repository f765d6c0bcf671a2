//! The ports in a browser, one small adapter each: gloo-storage for
//! `localStorage`, gloo-net for requests, web-sys for Web Locks, the
//! `BroadcastChannel`, events and cookies, js-sys for the clock, timers and
//! promises. Adapters hold no decisions; those are the client's and the
//! core's.

pub mod custom_store;
pub mod http;
pub mod local_store;
pub mod locks;
pub mod passkeys;
pub mod signals;
pub mod timers;

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::Future;

use js_sys::{Function, Promise, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;

use crate::core::error::Error;
use crate::ports::NewCredential;
use crate::ports::{
    Authenticator, Clock, Detail, Edge, Event, Http, Json, Locked, Locks, Random, Reply, Request,
    SendError, Signal, Signals, Tasks,
};
use signals::Member;

/// A JavaScript value: a reply parsed by the browser, or the app's own
/// (metadata). serde-wasm-bindgen carries it through the client's types
/// unchanged.
#[derive(Clone, Debug, Default)]
pub struct JsJson(pub JsValue);

impl Serialize for JsJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_wasm_bindgen::preserve::serialize(&self.0, s)
    }
}

impl<'de> serde::Deserialize<'de> for JsJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_wasm_bindgen::preserve::deserialize(d).map(JsJson)
    }
}

impl Json for JsJson {
    fn decode<T: DeserializeOwned>(self) -> Option<T> {
        serde_wasm_bindgen::from_value(self.0).ok()
    }

    fn is_nullish(&self) -> bool {
        self.0.is_null() || self.0.is_undefined()
    }

    fn date(&self) -> Self {
        JsJson(js_sys::Date::new(&self.0).into())
    }

    fn encode<T: Serialize + ?Sized>(value: &T) -> Option<Self> {
        let writer = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
        value.serialize(&writer).ok().map(JsJson)
    }
}

/// What the API edge hands out without calling in: the fresh token as an
/// already-resolved promise, made once per token, and until when.
#[derive(Default)]
pub struct Published {
    token: RefCell<Option<String>>,
    promise: RefCell<Option<Promise>>,
    until: Cell<f64>,
}

impl Published {
    /// The promise of the fresh token, while local time `now` is before its
    /// end.
    pub fn fresh(&self, now: f64) -> Option<Promise> {
        if now < self.until.get() {
            self.promise.borrow().clone()
        } else {
            None
        }
    }

    fn set(&self, token: Option<&str>, until: f64) {
        if self.token.borrow().as_deref() != token {
            *self.token.borrow_mut() = token.map(String::from);
            *self.promise.borrow_mut() = token.map(|t| Promise::resolve(&JsValue::from_str(t)));
        }
        self.until.set(until);
    }
}

/// The app's auth-state listeners.
#[derive(Default)]
pub struct Listeners {
    list: RefCell<Vec<(u32, Function)>>,
    next: Cell<u32>,
    /// Disposed: no listener is kept any more.
    closed: Cell<bool>,
}

impl Listeners {
    /// Adds `listener`, unless disposed; answers its id.
    pub fn add(&self, listener: Function) -> u32 {
        let id = self.next.get();
        self.next.set(id.wrapping_add(1));
        if !self.closed.get() {
            self.list.borrow_mut().push((id, listener));
        }
        id
    }

    /// Removes listener `id`.
    pub fn remove(&self, id: u32) {
        self.list.borrow_mut().retain(|(i, _)| *i != id);
    }

    /// Removes every listener, and keeps none added later.
    pub fn close(&self) {
        self.closed.set(true);
        self.list.borrow_mut().clear();
    }

    /// Calls every listener, as DOM events do: one removed meanwhile (by an
    /// earlier listener) is not called. A listener that throws is reported
    /// as an uncaught error would be, and the others still run.
    fn emit(&self, event: Event, detail: &Detail) {
        let detail = serde_wasm_bindgen::to_value(detail).unwrap_or(JsValue::UNDEFINED);
        let event = JsValue::from_str(event.as_str());
        let ids: Vec<u32> = self.list.borrow().iter().map(|(id, _)| *id).collect();
        for id in ids {
            let listener = self
                .list
                .borrow()
                .iter()
                .find(|(i, _)| *i == id)
                .map(|(_, f)| f.clone());
            if let Some(listener) = listener {
                if let Err(error) = listener.call2(&JsValue::UNDEFINED, &event, &detail) {
                    report(error);
                }
            }
        }
    }
}

/// Reports `error` the way an uncaught one would be (`reportError`), else
/// as an unhandled rejection.
fn report(error: JsValue) {
    let global = js_sys::global();
    match Reflect::get(&global, &"reportError".into())
        .map(wasm_bindgen::JsCast::dyn_into::<Function>)
    {
        Ok(Ok(report_error)) => {
            let _ = report_error.call1(&global, &error);
        }
        _ => {
            let _ = Promise::reject(&error);
        }
    }
}

/// The ports in this browser.
pub struct Browser {
    /// What the API edge hands out.
    pub published: Rc<Published>,
    /// The app's listeners.
    pub listeners: Rc<Listeners>,
    member: RefCell<Option<Member>>,
}

impl Browser {
    /// The ports.
    pub fn new() -> Browser {
        Browser {
            published: Rc::default(),
            listeners: Rc::default(),
            member: RefCell::new(None),
        }
    }

    /// Starts telling `hear` what other tabs, the page's other instances
    /// and the browser say (where there is a window: not in workers or
    /// Node).
    pub fn listen(&self, hear: impl Fn(Signal) + 'static) {
        *self.member.borrow_mut() = signals::join(Rc::new(hear));
    }

    /// Stops hearing the page and the other tabs, and removes the app's
    /// listeners.
    pub fn stop(&self) {
        if let Some(member) = self.member.borrow_mut().take() {
            member.leave();
        }
        self.listeners.close();
    }
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

impl Clock for Browser {
    fn now(&self) -> f64 {
        js_sys::Date::now()
    }

    fn sleep(&self, ms: u32) -> impl Future<Output = ()> + 'static {
        timers::sleep(ms)
    }
}

impl Random for Browser {
    fn random(&self) -> f64 {
        js_sys::Math::random()
    }
}

impl Http for Browser {
    type Json = JsJson;

    fn online(&self) -> bool {
        // `navigator.onLine`, in windows and workers alike.
        Reflect::get(&js_sys::global(), &"navigator".into())
            .and_then(|n| Reflect::get(&n, &"onLine".into()))
            .map_or(true, |online| online.as_bool() != Some(false))
    }

    fn send(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Reply<JsJson>, SendError>> + 'static {
        http::send(request)
    }

    fn to_json<T: Serialize + ?Sized>(&self, value: &T) -> Option<String> {
        let value = serde_wasm_bindgen::to_value(value).ok()?;
        js_sys::JSON::stringify(&value).ok()?.as_string()
    }
}

impl Locks for Browser {
    type Guard = locks::WebLock;

    fn lock(
        &self,
        name: &str,
        timeout_ms: u32,
    ) -> impl Future<Output = Locked<locks::WebLock>> + 'static {
        let name = String::from(name);
        async move {
            match locks::lock(&name, timeout_ms).await {
                Locked::NoLocks if !signals::reach_other_tabs() => Locked::Alone,
                got => got,
            }
        }
    }
}

impl Signals for Browser {
    fn post(&self, signal: Signal) {
        // After dispose, nothing to tell.
        if let Some(member) = &*self.member.borrow() {
            member.post(signal);
        }
    }
}

impl Tasks for Browser {
    fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        // One type for every task: the executor's spawn is built once, not
        // once per future type.
        let task: crate::ports::Task<()> = alloc::boxed::Box::pin(task);
        wasm_bindgen_futures::spawn_local(task);
    }
}

impl Edge for Browser {
    fn publish(&self, token: Option<&str>, fresh_until: f64) {
        self.published.set(token, fresh_until);
    }

    fn emit(&self, event: Event, detail: &Detail) {
        self.listeners.emit(event, detail);
    }
}

impl Authenticator for Browser {
    fn create_credential(
        &self,
        options: &JsJson,
    ) -> impl Future<Output = Result<NewCredential, Error>> + 'static {
        passkeys::create(options)
    }

    fn remember_credential(&self, user_id: &str, credential_id: &str) {
        passkeys::remember(user_id, credential_id);
    }

    fn forget_credential(&self, credential_id: &str) {
        passkeys::forget(credential_id);
    }
}
