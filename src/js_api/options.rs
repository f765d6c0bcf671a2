//! The constructor's options object, read defensively.

use wasm_bindgen::JsValue;

use crate::browser::{js, store::Store};
use crate::core::error::{Code, Error};
use crate::core::policy::Policy;

/// The options of `new PassageUser(options)`, validated.
pub struct Options {
    /// `appId`, when given.
    pub app_id: Option<String>,
    /// `authOrigin` without a trailing slash.
    pub auth_origin: String,
    /// The store the session lives in.
    pub store: Store,
    /// Timing knobs.
    pub policy: Policy,
}

const KNOWN: [&str; 6] = [
    "appId",
    "authOrigin",
    "tokenStore",
    "leeway",
    "timeoutInSeconds",
    "authTokenCookie",
];

const STORE_METHODS: [&str; 4] = [
    "getAuthToken",
    "getRefreshToken",
    "setTokens",
    "clearTokens",
];

fn invalid(message: &'static str) -> Error {
    Error::new(Code::InvalidOptions, message)
}

impl Options {
    /// Reads `value`, which may be `undefined` for all defaults.
    pub fn parse(value: &JsValue) -> Result<Options, Error> {
        if !(value.is_undefined() || value.is_null()) {
            let keys = js::keys(value).ok_or(invalid("options must be an object"))?;
            if keys.iter().any(|k| !KNOWN.contains(&k.as_str())) {
                return Err(invalid(
                    "unknown option: expected appId, authOrigin, tokenStore, leeway, timeoutInSeconds, authTokenCookie",
                ));
            }
        }
        let app_id = js::opt_string(value, "appId")
            .map_err(|_| invalid("appId must be a string"))?
            .map(|id| {
                if id.is_empty() || id.len() > 256 {
                    Err(invalid("appId must be 1 to 256 characters"))
                } else {
                    Ok(id)
                }
            })
            .transpose()?;
        let auth_origin = js::opt_string(value, "authOrigin")
            .map_err(|_| invalid("authOrigin must be a string"))?
            .map_or(Ok(String::from("https://auth.passage.id")), |o| {
                parse_origin(&o).ok_or(invalid(
                    "authOrigin must be an http(s) origin such as https://auth.passage.id",
                ))
            })?;
        let mut policy = Policy::default();
        if let Some(s) = js::opt_number(value, "leeway")
            .map_err(|_| invalid("leeway must be a number of seconds"))?
        {
            if !(0.0..=3600.0).contains(&s) {
                return Err(invalid("leeway must be between 0 and 3600 seconds"));
            }
            policy.leeway_ms = (s * 1000.0) as i64;
        }
        if let Some(s) = js::opt_number(value, "timeoutInSeconds")
            .map_err(|_| invalid("timeoutInSeconds must be a number"))?
        {
            if !(0.1..=300.0).contains(&s) {
                return Err(invalid("timeoutInSeconds must be between 0.1 and 300"));
            }
            policy.timeout_ms = (s * 1000.0) as u32;
        }
        let cookie = js::opt_bool(value, "authTokenCookie")
            .map_err(|_| invalid("authTokenCookie must be a boolean"))?
            .unwrap_or(true);
        let store = js::get(value, "tokenStore");
        let store = if store.is_undefined() || store.is_null() {
            Store::local(cookie).unwrap_or_else(Store::memory)
        } else if let Some(name) = store.as_string() {
            match name.as_str() {
                "localStorage" => Store::local(cookie).unwrap_or_else(Store::memory),
                "memory" => Store::memory(),
                _ => {
                    return Err(invalid(
                        "tokenStore must be \"localStorage\", \"memory\" or a store object",
                    ))
                }
            }
        } else if store.is_object() {
            if STORE_METHODS
                .iter()
                .any(|m| !js::get(&store, m).is_function())
            {
                return Err(invalid(
                    "a tokenStore object needs getAuthToken, getRefreshToken, setTokens and clearTokens methods",
                ));
            }
            Store::custom(store, policy.timeout_ms)
        } else {
            return Err(invalid(
                "tokenStore must be \"localStorage\", \"memory\" or a store object",
            ));
        };
        Ok(Options {
            app_id,
            auth_origin,
            store,
            policy,
        })
    }
}

/// `scheme://host[:port]` with nothing after it but an optional slash.
fn parse_origin(s: &str) -> Option<String> {
    let s = s.strip_suffix('/').unwrap_or(s);
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))?;
    let valid = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    valid.then(|| s.to_owned())
}
