//! An app's store: an object with passage-js's `TokenStore` methods, each
//! synchronous or returning a promise, each given at most the request
//! timeout to answer.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use js_sys::{Function, Object, Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::timers;
use crate::core::decimal;
use crate::core::error::Error;
use crate::core::future::first;
use crate::core::session::Session;
use crate::ports::Field;
use crate::ports::{Io, Store};

/// What `setTokens` receives (passage-js 4's spelling).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StoredTokens<'a> {
    auth_token: Option<&'a str>,
    redirect_url: &'static str,
    refresh_token: Option<&'a str>,
    refresh_token_expiration: Option<f64>,
}

struct Inner {
    object: Object,
    timeout_ms: u32,
    /// The session's end, for a store without `getRefreshTokenExpiration`.
    expiration: Cell<Option<i64>>,
}

/// The app's object.
pub struct CustomStore {
    inner: Rc<Inner>,
    /// The store's shape has no place for them.
    pending: RefCell<Vec<String>>,
}

impl CustomStore {
    /// A store over `object`, whose four methods the caller has checked.
    pub fn new(object: Object, timeout_ms: u32) -> CustomStore {
        CustomStore {
            inner: Rc::new(Inner {
                object,
                timeout_ms,
                expiration: Cell::new(None),
            }),
            pending: RefCell::new(Vec::new()),
        }
    }
}

impl Inner {
    fn has(&self, name: &str) -> bool {
        Reflect::get(&self.object, &name.into()).is_ok_and(|f| f.is_function())
    }

    /// Calls method `name`; awaits what it returns when that is a promise.
    async fn call(&self, name: &str, arg: Option<JsValue>) -> Result<JsValue, Error> {
        let threw = || Error::storage("the token store threw");
        let method = Reflect::get(&self.object, &name.into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .ok_or_else(threw)?;
        let out = match arg {
            Some(arg) => method.call1(&self.object, &arg),
            None => method.call0(&self.object),
        }
        .map_err(|_| threw())?;
        let thenable = out.is_object()
            && Reflect::get(&out, &"then".into()).is_ok_and(|then| then.is_function());
        if !thenable {
            return Ok(out);
        }
        let late = Error::storage("the token store failed or did not answer in time");
        let answer = async {
            JsFuture::from(Promise::resolve(&out))
                .await
                .map_err(|_| late.clone())
        };
        let timeout = async {
            timers::sleep(self.timeout_ms).await;
            Err(late.clone())
        };
        first(answer, timeout).await
    }

    async fn load(&self) -> Result<Session, Error> {
        let text = |v: JsValue| match serde_wasm_bindgen::from_value::<Field<String>>(v) {
            Ok(Field::Value(s)) => Some(s),
            _ => None,
        };
        let auth = text(self.call("getAuthToken", None).await?);
        let refresh = text(self.call("getRefreshToken", None).await?);
        let mut end = self.expiration.get().map(decimal);
        if self.has("getRefreshTokenExpiration") {
            let v = self.call("getRefreshTokenExpiration", None).await?;
            // Numbers and decimal strings both; the core reads what it can.
            end = match v.as_f64() {
                Some(n) if n.is_finite() && (0.0..1e15).contains(&n) => Some(decimal(n as i64)),
                Some(_) => None,
                None => text(v),
            };
        }
        Ok(Session::from_stored(auth, refresh, end.as_deref()))
    }

    async fn save(&self, s: Session) -> Result<(), Error> {
        if s.is_empty() {
            return self.clear().await;
        }
        let tokens = StoredTokens {
            auth_token: s.auth_token(),
            redirect_url: "/",
            refresh_token: s.refresh_token(),
            refresh_token_expiration: s.refresh_expiration().map(|e| e as f64),
        };
        let value = serde_wasm_bindgen::to_value(&tokens)
            .map_err(|_| Error::storage("the token store threw"))?;
        self.call("setTokens", Some(value)).await?;
        self.expiration.set(s.refresh_expiration());
        Ok(())
    }

    async fn clear(&self) -> Result<(), Error> {
        self.expiration.set(None);
        self.call("clearTokens", None).await.map(drop)
    }
}

impl Store for CustomStore {
    fn is_sync(&self) -> bool {
        false
    }

    fn load(&self) -> Io<Result<Session, Error>> {
        let inner = self.inner.clone();
        Io::Later(Box::pin(async move { inner.load().await }))
    }

    fn save(&self, s: &Session) -> Io<Result<(), Error>> {
        let (inner, s) = (self.inner.clone(), s.clone());
        Io::Later(Box::pin(async move { inner.save(s).await }))
    }

    fn clear(&self) -> Io<Result<(), Error>> {
        let inner = self.inner.clone();
        Io::Later(Box::pin(async move { inner.clear().await }))
    }

    fn pending(&self) -> Vec<String> {
        self.pending.borrow().clone()
    }

    fn set_pending(&self, tokens: &[String]) {
        *self.pending.borrow_mut() = tokens.to_vec();
    }
}
