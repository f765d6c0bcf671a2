//! `localStorage` under passage-js's keys (gloo-storage's raw access), and
//! the `psg_auth_token` cookie mirror of the auth token.

use alloc::string::String;
use alloc::vec::Vec;

use gloo_storage::{LocalStorage, Storage};
use wasm_bindgen::JsCast;
use web_sys::HtmlDocument;

use crate::core::error::Error;
use crate::core::session::{valid_refresh_token, Session};
use crate::core::storage::{
    self, AUTH_TOKEN, MAX_PENDING, PENDING_REVOCATION, REFRESH_EXPIRATION, REFRESH_TOKEN,
};
use crate::ports::Field;
use crate::ports::{Io, Store};

/// The session in `localStorage`, optionally mirrored into a cookie.
pub struct LocalStore {
    cookie: bool,
}

impl LocalStore {
    /// `localStorage`, where there is one and the page may use it (not in
    /// Safari's private mode, a sandboxed frame, a worker or Node).
    pub fn open(cookie: bool) -> Option<LocalStore> {
        // gloo-storage throws when there is no window or storage: ask first.
        let storage = web_sys::window()?.local_storage().ok()??;
        drop(storage);
        Some(LocalStore { cookie })
    }

    fn remove(&self, mirror: bool) {
        storage::clear(|key| LocalStorage::delete(key));
        if mirror {
            set_cookie(None);
        }
    }
}

impl Store for LocalStore {
    fn is_sync(&self) -> bool {
        true
    }

    fn load(&self) -> Io<Result<Session, Error>> {
        let storage = LocalStorage::raw();
        let read = |key| storage.get_item(key);
        Io::Now(
            match (
                read(AUTH_TOKEN),
                read(REFRESH_TOKEN),
                read(REFRESH_EXPIRATION),
            ) {
                (Ok(a), Ok(r), Ok(e)) => Ok(Session::from_stored(a, r, e.as_deref())),
                _ => Err(Error::storage("localStorage refused a read")),
            },
        )
    }

    fn save(&self, s: &Session) -> Io<Result<(), Error>> {
        if s.is_empty() {
            return self.clear();
        }
        let raw = LocalStorage::raw();
        let written = storage::write(
            s,
            |key, value| raw.set_item(key, value),
            |key| LocalStorage::delete(key),
        );
        if self.cookie {
            set_cookie(written.then(|| s.auth_token()).flatten());
        }
        Io::Now(if written {
            Ok(())
        } else {
            Err(Error::storage(
                "localStorage refused a write (full or disabled)",
            ))
        })
    }

    fn clear(&self) -> Io<Result<(), Error>> {
        self.remove(self.cookie);
        Io::Now(Ok(()))
    }

    fn pending(&self) -> Vec<String> {
        let Ok(Some(text)) = LocalStorage::raw().get_item(PENDING_REVOCATION) else {
            return Vec::new();
        };
        let Ok(value) = js_sys::JSON::parse(&text) else {
            return Vec::new();
        };
        let tokens: Vec<Field<String>> = serde_wasm_bindgen::from_value(value).unwrap_or_default();
        tokens
            .into_iter()
            .filter_map(|t| match t {
                Field::Value(t) if valid_refresh_token(&t) => Some(t),
                _ => None,
            })
            .take(MAX_PENDING)
            .collect()
    }

    fn set_pending(&self, tokens: &[String]) {
        if tokens.is_empty() {
            LocalStorage::delete(PENDING_REVOCATION);
            return;
        }
        let text = serde_wasm_bindgen::to_value(tokens)
            .ok()
            .and_then(|v| js_sys::JSON::stringify(&v).ok())
            .and_then(|s| s.as_string());
        if let Some(text) = text {
            // Not kept when full: the revocation is still tried now.
            let _ = LocalStorage::raw().set_item(PENDING_REVOCATION, &text);
        }
    }
}

/// Mirrors the auth token into the `psg_auth_token` cookie (`Path=/`,
/// `SameSite=Lax`, and `Secure` on https), or deletes it. On a plain-http
/// page a `Secure` cookie would be refused outright, and the page's own
/// requests travel in clear anyway: the mirror is set without it there
/// (docs/guide.md, "The cookie").
fn set_cookie(token: Option<&str>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Some(document) = window
        .document()
        .and_then(|d| d.dyn_into::<HtmlDocument>().ok())
    else {
        return;
    };
    let mut cookie = String::from("psg_auth_token=");
    cookie.push_str(token.unwrap_or("; Max-Age=0"));
    cookie.push_str("; Path=/; SameSite=Lax");
    if window.location().protocol().is_ok_and(|p| p == "https:") {
        cookie.push_str("; Secure");
    }
    // A sandboxed document without cookies refuses: nothing to mirror.
    let _ = document.set_cookie(&cookie);
}
