//! Where the session lives: `localStorage` (with the keys passage-js uses),
//! memory, or a store object supplied by the app.

use core::cell::RefCell;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Storage;

use super::{js, time};
use crate::core::error::{Code, Error};
use crate::core::session::Session;

/// `localStorage` key of the auth token (passage-js's).
pub const AUTH_TOKEN: &str = "psg_auth_token";
/// `localStorage` key of the refresh token (passage-js's).
pub const REFRESH_TOKEN: &str = "psg_refresh_token";
/// `localStorage` key of the session's end, unix seconds.
pub const REFRESH_EXPIRATION: &str = "psg_refresh_token_expiration";
/// `localStorage` key of the refresh tokens still to revoke (a JSON array).
pub const PENDING_REVOCATION: &str = "psg_pending_revocation";

/// The session store.
pub enum Store {
    /// `localStorage`, optionally mirroring the auth token into a cookie.
    Local {
        /// The storage area.
        storage: Storage,
        /// Mirror the auth token into the `psg_auth_token` cookie.
        cookie: bool,
    },
    /// No persistence.
    Memory {
        /// The session.
        session: RefCell<Session>,
        /// Refresh tokens still to revoke.
        pending: RefCell<Vec<String>>,
    },
    /// An app's object with passage-js's `TokenStore` methods.
    Custom {
        /// The object.
        object: JsValue,
        /// The refresh expiration, for stores without
        /// `getRefreshTokenExpiration`.
        expiration: RefCell<Option<i64>>,
        /// The longest a method may take.
        timeout_ms: u32,
        /// Refresh tokens still to revoke (the store shape has no place for
        /// them).
        pending: RefCell<Vec<String>>,
    },
}

/// Pending revocations kept at most: each is retried on every page load.
const MAX_PENDING: usize = 16;

fn storage_error(message: &'static str) -> Error {
    Error::new(Code::Storage, message)
}

impl Store {
    /// `localStorage`, or `None` where it is missing or refuses access
    /// (Safari private mode, sandboxed frames, SSR).
    pub fn local(cookie: bool) -> Option<Store> {
        let storage = web_sys::window()?.local_storage().ok()??;
        Some(Store::Local { storage, cookie })
    }

    /// A store kept in memory.
    pub fn memory() -> Store {
        Store::Memory {
            session: RefCell::default(),
            pending: RefCell::default(),
        }
    }

    /// A store object supplied from JavaScript.
    pub fn custom(object: JsValue, timeout_ms: u32) -> Store {
        Store::Custom {
            object,
            expiration: RefCell::new(None),
            timeout_ms,
            pending: RefCell::default(),
        }
    }

    /// Reads the session without awaiting, for the stores that can.
    pub fn load_now(&self) -> Option<Result<Session, Error>> {
        match self {
            Store::Local { storage, .. } => Some(load_local(storage)),
            Store::Memory { session, .. } => Some(Ok(session.borrow().clone())),
            Store::Custom { .. } => None,
        }
    }

    /// Reads the session.
    pub async fn load(&self) -> Result<Session, Error> {
        let Store::Custom {
            object,
            expiration,
            timeout_ms,
            ..
        } = self
        else {
            return self.load_now().unwrap_or_else(|| Ok(Session::default()));
        };
        let auth = call(object, "getAuthToken", None, *timeout_ms).await?;
        let refresh = call(object, "getRefreshToken", None, *timeout_ms).await?;
        let stored_expiration = if has_method(object, "getRefreshTokenExpiration") {
            let v = call(object, "getRefreshTokenExpiration", None, *timeout_ms).await?;
            v.as_f64()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .map(|n| n as i64)
                .or_else(|| {
                    v.as_string()
                        .and_then(|s| crate::core::session::parse_unix_seconds(&s))
                })
        } else {
            *expiration.borrow()
        };
        let expiration_text = stored_expiration.map(i64_to_string);
        Ok(Session::from_stored(
            auth.as_string(),
            refresh.as_string(),
            expiration_text.as_deref(),
        ))
    }

    /// Writes the session without awaiting, for the stores that can.
    pub fn save_now(&self, session: &Session) -> Option<Result<(), Error>> {
        match self {
            Store::Local { storage, cookie } => Some(if session.is_empty() {
                clear_local(storage, *cookie)
            } else {
                let written = write_local(storage, session).or_else(|_| {
                    // Full: our own keys may be what fills it. Never leave a
                    // refresh token that this session has rotated away where
                    // another tab could reuse it: clear, and try once more.
                    let _ = clear_local(storage, false);
                    write_local(storage, session).inspect_err(|_| {
                        let _ = clear_local(storage, false);
                    })
                });
                if *cookie {
                    set_cookie(written.as_ref().ok().and(session.auth_token()));
                }
                written
            }),
            Store::Memory {
                session: stored, ..
            } => {
                *stored.borrow_mut() = session.clone();
                Some(Ok(()))
            }
            Store::Custom { .. } => None,
        }
    }

    /// Writes the whole session, or clears the store for an empty one.
    pub async fn save(&self, session: &Session) -> Result<(), Error> {
        if let Some(saved) = self.save_now(session) {
            return saved;
        }
        if session.is_empty() {
            return self.clear().await;
        }
        let Store::Custom {
            object,
            expiration,
            timeout_ms,
            ..
        } = self
        else {
            return Ok(());
        };
        {
            {
                let result = Object::new();
                let set = |k: &str, v: JsValue| {
                    let _ = Reflect::set(&result, &JsValue::from_str(k), &v);
                };
                let opt_str = |v: Option<&str>| v.map_or(JsValue::UNDEFINED, JsValue::from_str);
                set("authToken", opt_str(session.auth_token()));
                set("redirectUrl", JsValue::from_str("/"));
                set("refreshToken", opt_str(session.refresh_token()));
                set(
                    "refreshTokenExpiration",
                    session
                        .refresh_expiration()
                        .map_or(JsValue::UNDEFINED, |s| JsValue::from_f64(s as f64)),
                );
                call(object, "setTokens", Some(&result), *timeout_ms).await?;
                *expiration.borrow_mut() = session.refresh_expiration();
                Ok(())
            }
        }
    }

    /// Removes the session (never the pending revocations).
    pub async fn clear(&self) -> Result<(), Error> {
        match self {
            Store::Local { .. } | Store::Memory { .. } => {
                self.save_now(&Session::default()).unwrap_or(Ok(()))
            }
            Store::Custom {
                object,
                expiration,
                timeout_ms,
                ..
            } => {
                *expiration.borrow_mut() = None;
                call(object, "clearTokens", None, *timeout_ms)
                    .await
                    .map(drop)
            }
        }
    }
}

impl Store {
    /// The refresh tokens whose revocation is not confirmed yet. A stored
    /// value that is not a JSON array of strings counts as none.
    pub fn pending(&self) -> Vec<String> {
        match self {
            Store::Local { storage, .. } => storage
                .get_item(PENDING_REVOCATION)
                .ok()
                .flatten()
                .and_then(|text| js_sys::JSON::parse(&text).ok())
                .filter(js_sys::Array::is_array)
                .map(|v| {
                    js_sys::Array::from(&v)
                        .iter()
                        .filter_map(|t| t.as_string())
                        .filter(|t| !t.is_empty() && t.len() <= 4096)
                        .take(MAX_PENDING)
                        .collect()
                })
                .unwrap_or_default(),
            Store::Memory { pending, .. } | Store::Custom { pending, .. } => {
                pending.borrow().clone()
            }
        }
    }

    fn set_pending(&self, tokens: Vec<String>) {
        match self {
            Store::Local { storage, .. } => {
                if tokens.is_empty() {
                    let _ = storage.remove_item(PENDING_REVOCATION);
                } else {
                    let array: js_sys::Array =
                        tokens.iter().map(|t| JsValue::from_str(t)).collect();
                    if let Some(text) = js_sys::JSON::stringify(&array)
                        .ok()
                        .and_then(|t| t.as_string())
                    {
                        let _ = storage.set_item(PENDING_REVOCATION, &text);
                    }
                }
            }
            Store::Memory { pending, .. } | Store::Custom { pending, .. } => {
                *pending.borrow_mut() = tokens;
            }
        }
    }

    /// Remembers `token` as still to revoke.
    pub fn add_pending(&self, token: &str) {
        let mut tokens = self.pending();
        if !tokens.iter().any(|t| t == token) {
            if tokens.len() >= MAX_PENDING {
                tokens.remove(0);
            }
            tokens.push(token.to_owned());
            self.set_pending(tokens);
        }
    }

    /// Forgets `token`: its revocation is confirmed.
    pub fn remove_pending(&self, token: &str) {
        let mut tokens = self.pending();
        let before = tokens.len();
        tokens.retain(|t| t != token);
        if tokens.len() != before {
            self.set_pending(tokens);
        }
    }
}

fn i64_to_string(n: i64) -> String {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    let mut s = String::with_capacity(21);
    if n < 0 {
        s.push('-');
    }
    s.push_str(core::str::from_utf8(&digits[i..]).unwrap_or("0"));
    s
}

fn load_local(storage: &Storage) -> Result<Session, Error> {
    let read = |key| {
        storage
            .get_item(key)
            .map_err(|_| storage_error("localStorage refused a read"))
    };
    let auth = read(AUTH_TOKEN)?;
    let refresh = read(REFRESH_TOKEN)?;
    let expiration = read(REFRESH_EXPIRATION)?;
    Ok(Session::from_stored(auth, refresh, expiration.as_deref()))
}

fn clear_local(storage: &Storage, cookie: bool) -> Result<(), Error> {
    let mut ok = true;
    for key in [AUTH_TOKEN, REFRESH_TOKEN, REFRESH_EXPIRATION] {
        ok &= storage.remove_item(key).is_ok();
    }
    if cookie {
        set_cookie(None);
    }
    if ok {
        Ok(())
    } else {
        Err(storage_error("localStorage refused to clear the session"))
    }
}

fn write_local(storage: &Storage, session: &Session) -> Result<(), Error> {
    let put = |key, value: Option<&str>| {
        match value {
            Some(v) => storage.set_item(key, v),
            None => storage.remove_item(key),
        }
        .map_err(|_| storage_error("localStorage refused a write (full or disabled)"))
    };
    let expiration = session.refresh_expiration().map(i64_to_string);
    // The refresh token first: a reader that sees the new auth token must
    // never pair it with the refresh token it replaced.
    put(REFRESH_TOKEN, session.refresh_token())?;
    put(REFRESH_EXPIRATION, expiration.as_deref())?;
    put(AUTH_TOKEN, session.auth_token())
}

/// Mirrors the auth token into the `psg_auth_token` cookie, or deletes it.
fn set_cookie(token: Option<&str>) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Ok(document) = document.dyn_into::<web_sys::HtmlDocument>() else {
        return;
    };
    let location = document.location();
    let protocol = location.as_ref().and_then(|l| l.protocol().ok());
    let host = location.as_ref().and_then(|l| l.hostname().ok());
    let plain_localhost = protocol.as_deref() == Some("http:")
        && matches!(host.as_deref(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let mut cookie = String::from("psg_auth_token=");
    match token {
        Some(t) => cookie.push_str(t),
        None => cookie.push_str("; Max-Age=0"),
    }
    cookie.push_str("; Path=/; SameSite=Lax");
    if !plain_localhost {
        cookie.push_str("; Secure");
    }
    let _ = document.set_cookie(&cookie);
}

fn has_method(object: &JsValue, name: &str) -> bool {
    js::get(object, name).is_function()
}

/// Calls a store method, sync or async, within `timeout_ms`.
async fn call(
    object: &JsValue,
    name: &str,
    arg: Option<&JsValue>,
    timeout_ms: u32,
) -> Result<JsValue, Error> {
    let Some(method) = js::get(object, name).dyn_ref::<Function>().cloned() else {
        return Err(storage_error("the token store lacks a method"));
    };
    let returned = match arg {
        Some(a) => method.call1(object, a),
        None => method.call0(object),
    }
    .map_err(|_| storage_error("the token store threw"))?;
    if !js::get(&returned, "then").is_function() {
        return Ok(returned);
    }
    let race = Promise::race(&Array::of2(
        &Promise::resolve(&returned),
        &time::timer(timeout_ms, true),
    ));
    JsFuture::from(race)
        .await
        .map_err(|_| storage_error("the token store failed or did not answer in time"))
}
