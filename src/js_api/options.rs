//! The constructor's options, each read with serde (a getter that throws,
//! or a proxy, cannot reach the reader: `Reflect` reads the value first).
//! serde-wasm-bindgen ignores `deny_unknown_fields`, so unknown keys are
//! checked here against the object's own keys.

use alloc::string::String;

use js_sys::{Array, Object, Reflect};
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::core::error::Error;
use crate::ports::Field;

/// Every option, in the order the error message names them.
const KNOWN: [&str; 6] = [
    "appId",
    "authOrigin",
    "tokenStore",
    "leeway",
    "requestTimeoutInSeconds",
    "authTokenCookie",
];
const STORE_METHODS: [&str; 4] = [
    "getAuthToken",
    "getRefreshToken",
    "setTokens",
    "clearTokens",
];

#[wasm_bindgen]
extern "C" {
    /// `Object.keys`, which a proxy can make throw.
    #[wasm_bindgen(catch, js_namespace = Object, js_name = keys)]
    fn own_keys(object: &JsValue) -> Result<Array, JsValue>;
}

/// Option `key` of `options` read as a `T` with serde (a getter that
/// throws reads as absent).
fn field<T: DeserializeOwned>(options: &JsValue, key: &str) -> Field<T> {
    serde_wasm_bindgen::from_value(get(options, key)).unwrap_or_default()
}

/// Where the session is kept.
pub enum StoreChoice {
    /// `localStorage` (memory where it is unavailable).
    Local,
    /// Memory only.
    Memory,
    /// The app's object.
    Custom(Object),
}

/// The options, validated.
pub struct Options {
    /// The client's settings.
    pub client: crate::client::Options,
    /// Mirror the auth token into a cookie.
    pub cookie: bool,
    /// The store.
    pub store: StoreChoice,
}

/// `object[key]`, or undefined when reading it throws.
fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// A number option: absent, or finite.
fn number(field: Field<f64>, message: &'static str) -> Result<Option<f64>, Error> {
    match field {
        Field::Absent => Ok(None),
        Field::Value(n) if n.is_finite() => Ok(Some(n)),
        _ => Err(Error::invalid_options(message)),
    }
}

/// `scheme://host[:port]`, with nothing after it but an optional slash.
fn origin(value: &str) -> Option<String> {
    let value = value.strip_suffix('/').unwrap_or(value);
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))?;
    let host_ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:[]-".contains(&b));
    host_ok.then(|| String::from(value))
}

/// Reads and checks the constructor's `options` (undefined or null for
/// every default).
pub fn read(options: &JsValue) -> Result<Options, Error> {
    if !options.is_undefined() && !options.is_null() {
        if !options.is_object() && !options.is_function() {
            return Err(Error::invalid_options("options must be an object"));
        }
        let keys =
            own_keys(options).map_err(|_| Error::invalid_options("options must be an object"))?;
        for key in keys.iter() {
            if let Some(key) = key.as_string() {
                if key == "timeoutInSeconds" {
                    return Err(Error::invalid_options(
                        "timeoutInSeconds is now requestTimeoutInSeconds: it bounds each request to the auth server, not the whole call",
                    ));
                }
                if !KNOWN.contains(&key.as_str()) {
                    return Err(Error::invalid_options(
                        "unknown option: expected appId, authOrigin, tokenStore, leeway, requestTimeoutInSeconds, authTokenCookie",
                    ));
                }
            }
        }
    }
    let token_store = get(options, "tokenStore");
    let app_id = match field::<String>(options, "appId") {
        Field::Absent => None,
        Field::Value(id) if !id.is_empty() && id.chars().count() <= 256 => Some(id),
        Field::Value(_) => return Err(Error::invalid_options("appId must be 1 to 256 characters")),
        Field::Wrong => return Err(Error::invalid_options("appId must be a string")),
    };
    let auth_origin = match field::<String>(options, "authOrigin") {
        Field::Absent => String::from("https://auth.passage.id"),
        Field::Value(o) => origin(&o).ok_or(Error::invalid_options(
            "authOrigin must be an http(s) origin such as https://auth.passage.id",
        ))?,
        Field::Wrong => return Err(Error::invalid_options("authOrigin must be a string")),
    };
    let leeway = number(
        field(options, "leeway"),
        "leeway must be a number of seconds",
    )?;
    if leeway.is_some_and(|l| !(0.0..=3600.0).contains(&l)) {
        return Err(Error::invalid_options(
            "leeway must be between 0 and 3600 seconds",
        ));
    }
    let timeout = number(
        field(options, "requestTimeoutInSeconds"),
        "requestTimeoutInSeconds must be a number",
    )?;
    if timeout.is_some_and(|t| !(0.1..=300.0).contains(&t)) {
        return Err(Error::invalid_options(
            "requestTimeoutInSeconds must be between 0.1 and 300",
        ));
    }
    let cookie = match field(options, "authTokenCookie") {
        Field::Absent => true,
        Field::Value(b) => b,
        Field::Wrong => return Err(Error::invalid_options("authTokenCookie must be a boolean")),
    };
    let store = if token_store.is_undefined() || token_store.is_null() {
        StoreChoice::Local
    } else if token_store.is_object() {
        if STORE_METHODS
            .iter()
            .any(|m| !get(&token_store, m).is_function())
        {
            return Err(Error::invalid_options(
                "a tokenStore object needs the methods getAuthToken, getRefreshToken, setTokens, clearTokens",
            ));
        }
        StoreChoice::Custom(token_store.unchecked_into())
    } else {
        match token_store.as_string().as_deref() {
            Some("localStorage") => StoreChoice::Local,
            Some("memory") => StoreChoice::Memory,
            _ => {
                return Err(Error::invalid_options(
                    "tokenStore must be \"localStorage\", \"memory\" or a store object",
                ))
            }
        }
    };
    Ok(Options {
        client: crate::client::Options {
            app_id,
            auth_origin,
            leeway_ms: leeway.map(|l| (l * 1000.0) as i64),
            timeout_ms: (timeout.unwrap_or(10.0) * 1000.0).round() as u32,
        },
        cookie,
        store,
    })
}
