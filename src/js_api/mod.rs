//! The JavaScript edge: the exported class and the one place where core
//! errors become `PassageError`s.
//!
//! The package's entry wraps [`Core`] in the public `PassageUser` class,
//! which answers `getAuthToken()` from a cached token while it is fresh (one
//! comparison, no call into wasm). The client keeps that cache right through
//! the `cache` hook every time the session changes.

mod client;
mod options;

use core::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;

use crate::browser::js;
use crate::core::error::{Code, Error};
use client::Client;
use options::Options;

/// A future run for JavaScript.
type Task<T> = core::pin::Pin<Box<dyn core::future::Future<Output = T>>>;

/// Runs `task` and returns its promise. Boxed here so the executor glue is
/// compiled once, not once per exported method: every kilobyte ships.
fn run(task: impl core::future::Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    wasm_bindgen_futures::future_to_promise(Box::pin(task) as Task<Result<JsValue, JsValue>>)
}

/// Runs `task` in the background (boxed, as for [`run`]).
fn spawn(task: impl core::future::Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(Box::pin(task) as Task<()>)
}

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

/// True for a `PassageError` whose code is `login_required`.
fn is_login_required(error: &JsValue) -> bool {
    js::get(error, "code").as_string().as_deref() == Some(Code::LoginRequired.as_str())
}

/// The session client behind `PassageUser`.
#[wasm_bindgen]
pub struct Core {
    client: Rc<Client>,
}

#[wasm_bindgen]
impl Core {
    /// Reads the options and the stored session. `hooks` is
    /// `{cache(token, freshUntilMs), emit(event, detail)}`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue, hooks: JsValue) -> Result<Core, JsValue> {
        let options = Options::parse(&options).map_err(to_js)?;
        let hook = |name| {
            js::get(&hooks, name)
                .dyn_into::<Function>()
                .map_err(|_| to_js(Error::new(Code::InvalidOptions, "internal hooks missing")))
        };
        let client = Client::start(options, hook("cache")?, hook("emit")?);
        Ok(Core { client })
    }

    /// Stores the AuthResult of a login (either spelling), replacing the
    /// whole session.
    #[wasm_bindgen(js_name = setAuthResult)]
    pub fn set_auth_result(&self, result: JsValue) -> Result<(), JsValue> {
        self.client.set_auth_result(&result).map_err(to_js)
    }

    /// The auth token, refreshed when it is not fresh.
    #[wasm_bindgen(js_name = getAuthToken)]
    pub fn get_auth_token(&self) -> Promise {
        let client = self.client.clone();
        run(async move { client.get_auth_token().await })
    }

    /// A new auth token, joining a refresh in flight.
    pub fn refresh(&self) -> Promise {
        let client = self.client.clone();
        run(async move { client.shared_refresh(true).await })
    }

    /// Ends the session here, in storage and in other tabs, then revokes the
    /// refresh token. Resolves `true` when the server confirmed (or had
    /// nothing to revoke).
    #[wasm_bindgen(js_name = signOut)]
    pub fn sign_out(&self) -> Promise {
        let client = self.client.clone();
        run(async move { Ok(client.sign_out().await.into()) })
    }

    /// The `user` of `GET /currentuser`, or `undefined` when signed out.
    #[wasm_bindgen(js_name = userInfo)]
    pub fn user_info(&self) -> Promise {
        let client = self.client.clone();
        run(async move { client.user_info().await })
    }

    /// True when a well-formed, unexpired auth token is stored.
    #[wasm_bindgen(js_name = authGuard)]
    pub fn auth_guard(&self) -> Promise {
        let client = self.client.clone();
        run(async move { client.auth_guard().await.map(JsValue::from).map_err(to_js) })
    }
}
