//! The only `#[wasm_bindgen]` exports: `PassageUser`, with the JavaScript
//! names of `index.d.ts`. Values from JavaScript are read with serde here,
//! errors become `PassageError`s here, and every async method returns a
//! promise from wasm-bindgen-futures.

mod options;

use alloc::rc::Rc;
use core::future::Future;
use core::pin::Pin;

use alloc::boxed::Box;

use js_sys::{Function, Object, Promise, Reflect};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::AbortSignal;

use crate::browser::custom_store::CustomStore;
use crate::browser::local_store::LocalStore;
use crate::browser::{Browser, JsJson};
use crate::client::user::AccountOp;
use crate::client::values::{AuthResultFields, Field, AUTH_RESULT_KEYS};
use crate::client::{Client, MemoryStore};
use crate::core::error::{Code, Error};
use crate::core::future::first;
use crate::ports::Store;
use options::StoreChoice;

#[wasm_bindgen(module = "/pkg-template/errors.js")]
extern "C" {
    /// The package's `Error` subclass (a JavaScript class: Rust cannot
    /// define one).
    #[wasm_bindgen(js_name = PassageError)]
    type JsPassageError;

    #[wasm_bindgen(constructor, js_class = "PassageError")]
    fn new(
        code: &str,
        message: &str,
        retry_after: Option<u32>,
        status: Option<u16>,
        server_code: Option<String>,
    ) -> JsPassageError;
}

/// `e` as the `PassageError` JavaScript sees.
pub fn to_js(e: Error) -> JsValue {
    JsPassageError::new(
        e.code.as_str(),
        &e.text(),
        e.retry_after(),
        e.status(),
        e.server_code().map(String::from),
    )
    .into()
}

/// The promise of `work`'s result. Every method's future goes through one
/// boxed type, so the executor's wrapper is built once, not per method.
fn promise<T: Into<JsValue>>(work: impl Future<Output = Result<T, Error>> + 'static) -> Promise {
    let work: Pin<Box<dyn Future<Output = Result<JsValue, Error>>>> =
        Box::pin(async move { work.await.map(Into::into) });
    future_to_promise(async move { work.await.map_err(to_js) })
}

/// A string argument.
fn text(value: JsValue, message: &'static str) -> Result<String, Error> {
    match serde_wasm_bindgen::from_value(value) {
        Ok(Field::Value(text)) => Ok(text),
        _ => Err(Error::invalid_options(message)),
    }
}

/// `changeEmail`'s or `changePhone`'s arguments.
fn change(phone: bool, identifier: JsValue, language: JsValue) -> Result<AccountOp<JsJson>, Error> {
    let message = if phone {
        "newPhone must be a string"
    } else {
        "newEmail must be a string"
    };
    Ok(AccountOp::Change {
        phone,
        identifier: text(identifier, message)?,
        language: optional_text(language, "language must be a string")?,
    })
}

/// An optional string argument.
fn optional_text(value: JsValue, message: &'static str) -> Result<Option<String>, Error> {
    match serde_wasm_bindgen::from_value(value) {
        Ok(Field::Value(text)) => Ok(Some(text)),
        Ok(Field::Absent) => Ok(None),
        _ => Err(Error::invalid_options(message)),
    }
}

/// `T` read from a copy of `object`'s `keys` (a getter that throws reads as
/// absent); undefined and null read as every field absent.
fn read_object<T: DeserializeOwned + Default>(
    object: &JsValue,
    keys: &[&str],
    message: &'static str,
) -> Result<T, Error> {
    if object.is_undefined() || object.is_null() {
        return Ok(T::default());
    }
    if !object.is_object() {
        return Err(Error::invalid_options(message));
    }
    let copy = Object::new();
    for key in keys {
        if let Ok(value) = Reflect::get(object, &(*key).into()) {
            let _ = Reflect::set(&copy, &(*key).into(), &value);
        }
    }
    serde_wasm_bindgen::from_value(copy.into()).map_err(|_| Error::invalid_options(message))
}

/// The `signal` of `getAuthToken`'s options, if any.
fn abort_signal(options: &JsValue) -> Result<Option<AbortSignal>, Error> {
    if options.is_undefined() || options.is_null() {
        return Ok(None);
    }
    let message = "getAuthToken's options must be an object with an AbortSignal as signal";
    if !options.is_object() {
        return Err(Error::invalid_options(message));
    }
    let signal = Reflect::get(options, &"signal".into()).unwrap_or(JsValue::UNDEFINED);
    if signal.is_undefined() {
        return Ok(None);
    }
    signal
        .dyn_into()
        .map(Some)
        .map_err(|_| Error::invalid_options(message))
}

/// Waits for an `AbortSignal`'s `abort` event; stops listening when
/// dropped, so a long-lived signal gathers no listeners.
struct Aborted {
    signal: AbortSignal,
    listener: Closure<dyn FnMut()>,
    fired: Promise,
}

impl Aborted {
    fn listen(signal: &AbortSignal) -> Aborted {
        let mut fire = None;
        let fired = Promise::new(&mut |resolve, _| fire = Some(resolve));
        let listener = Closure::<dyn FnMut()>::new(move || {
            if let Some(fire) = &fire {
                let _ = fire.call0(&JsValue::UNDEFINED);
            }
        });
        let _ = signal.add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
        Aborted {
            signal: signal.clone(),
            listener,
            fired,
        }
    }

    /// Resolves once the signal aborts.
    async fn wait(&self) {
        let _ = JsFuture::from(self.fired.clone()).await;
    }
}

impl Drop for Aborted {
    fn drop(&mut self) {
        let _ = self
            .signal
            .remove_event_listener_with_callback("abort", self.listener.as_ref().unchecked_ref());
    }
}

/// `addPasskey`'s options.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PasskeyOptions {
    authenticator_attachment: Field<String>,
}

/// What `deletePasskey` reads of a passkey.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PasskeyArg {
    id: Field<String>,
    cred_id: Field<String>,
}

/// The signed-in user's session.
#[wasm_bindgen]
pub struct PassageUser {
    client: Rc<Client<Browser>>,
}

#[wasm_bindgen]
impl PassageUser {
    /// A session client; see `index.d.ts` for the options.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<PassageUser, JsValue> {
        let options = options::read(&options).map_err(to_js)?;
        let timeout = options.client.timeout_ms;
        let store: alloc::boxed::Box<dyn Store> = match options.store {
            StoreChoice::Custom(object) => {
                alloc::boxed::Box::new(CustomStore::new(object, timeout))
            }
            StoreChoice::Memory => alloc::boxed::Box::new(MemoryStore::default()),
            StoreChoice::Local => match LocalStore::open(options.cookie) {
                Some(local) => alloc::boxed::Box::new(local),
                None => alloc::boxed::Box::new(MemoryStore::default()),
            },
        };
        let client = Client::new(options.client, Browser::new(), store);
        let heard = Rc::downgrade(&client);
        client.ports().listen(move |signal| {
            if let Some(client) = heard.upgrade() {
                client.signal(signal);
            }
        });
        client.start();
        Ok(PassageUser { client })
    }

    /// The auth token; refreshed first when it is stale. With `{ signal }`,
    /// the call rejects with the signal's reason once it aborts (a refresh
    /// that other callers share goes on for them).
    #[wasm_bindgen(js_name = getAuthToken)]
    pub fn get_auth_token(&self, options: JsValue) -> Promise {
        let signal = match abort_signal(&options) {
            Ok(signal) => signal,
            Err(e) => return Promise::reject(&to_js(e)),
        };
        if let Some(signal) = &signal {
            if signal.aborted() {
                return Promise::reject(&signal.reason());
            }
        }
        // The hot path: one comparison against what the client published.
        if let Some(fresh) = self.client.ports().published.fresh(js_sys::Date::now()) {
            return fresh;
        }
        let client = self.client.clone();
        let Some(signal) = signal else {
            return promise(async move { client.get_auth_token().await });
        };
        // Listening from now: the app may abort before the future runs.
        let aborted = Aborted::listen(&signal);
        future_to_promise(async move {
            let token = async { Some(client.get_auth_token().await) };
            match first(token, async {
                aborted.wait().await;
                None
            })
            .await
            {
                Some(Ok(token)) => Ok(token.into()),
                Some(Err(e)) => Err(to_js(e)),
                None => Err(signal.reason()),
            }
        })
    }

    /// Forces a refresh (joining one in flight) and returns the new token.
    pub fn refresh(&self) -> Promise {
        promise(self.client.refresh(true))
    }

    /// Hands over the AuthResult of a login (its `onSuccess`).
    #[wasm_bindgen(js_name = setAuthResult)]
    pub fn set_auth_result(&self, auth_result: JsValue) -> Result<(), JsValue> {
        if !auth_result.is_object() {
            return Err(to_js(Error::new(
                Code::InvalidAuthResult,
                "expected an AuthResult object with string auth_token (or authToken)",
            )));
        }
        // A copy of the known keys: a getter that throws reads as absent.
        let copy = Object::new();
        for key in AUTH_RESULT_KEYS {
            if let Ok(value) = Reflect::get(&auth_result, &key.into()) {
                let _ = Reflect::set(&copy, &key.into(), &value);
            }
        }
        let fields: AuthResultFields =
            serde_wasm_bindgen::from_value(copy.into()).unwrap_or_default();
        let raw = fields.read().map_err(to_js)?;
        self.client.set_auth_result(raw).map_err(to_js)
    }

    /// True when a well-formed, unexpired auth token is stored.
    #[wasm_bindgen(js_name = authGuard)]
    pub fn auth_guard(&self) -> Promise {
        let client = self.client.clone();
        promise(async move { client.auth_guard().await })
    }

    /// The current user (passage-js's `CurrentUser`), or undefined when
    /// signed out.
    #[wasm_bindgen(js_name = userInfo)]
    pub fn user_info(&self) -> Promise {
        self.account(Ok(AccountOp::UserInfo))
    }

    /// Starts an email change; resolves the magic link that applies it.
    #[wasm_bindgen(js_name = changeEmail)]
    pub fn change_email(&self, new_email: JsValue, language: JsValue) -> Promise {
        self.account(change(false, new_email, language))
    }

    /// Starts a phone number change; resolves the magic link that applies it.
    #[wasm_bindgen(js_name = changePhone)]
    pub fn change_phone(&self, new_phone: JsValue, language: JsValue) -> Promise {
        self.account(change(true, new_phone, language))
    }

    /// The user's passkeys.
    pub fn passkeys(&self) -> Promise {
        self.account(Ok(AccountOp::Passkeys))
    }

    /// Renames a passkey; resolves it.
    #[wasm_bindgen(js_name = editPasskey)]
    pub fn edit_passkey(&self, passkey_id: JsValue, friendly_name: JsValue) -> Promise {
        let message = "passkeyId must be a non-empty string";
        let op = text(passkey_id, message).and_then(|id| {
            if id.is_empty() {
                return Err(Error::invalid_options(message));
            }
            let name = text(friendly_name, "friendlyName must be a string")?;
            Ok(AccountOp::EditPasskey { id, name })
        });
        self.account(op)
    }

    /// Registers a new passkey (the WebAuthn ceremony); resolves it.
    #[wasm_bindgen(js_name = addPasskey)]
    pub fn add_passkey(&self, options: JsValue) -> Promise {
        let op = read_object::<PasskeyOptions>(
            &options,
            &["authenticatorAttachment"],
            "addPasskey's options must be an object",
        )
        .and_then(|options| match options.authenticator_attachment {
            Field::Absent => Ok(AccountOp::AddPasskey { attachment: None }),
            Field::Value(a) => Ok(AccountOp::AddPasskey {
                attachment: Some(a),
            }),
            Field::Wrong => Err(Error::invalid_options(
                "authenticatorAttachment must be a string",
            )),
        });
        self.account(op)
    }

    /// Deletes a passkey (one of `passkeys()`); resolves true.
    #[wasm_bindgen(js_name = deletePasskey)]
    pub fn delete_passkey(&self, passkey: JsValue) -> Promise {
        let message = "deletePasskey needs a passkey with a string id";
        let op = if passkey.is_object() {
            read_object::<PasskeyArg>(&passkey, &["id", "credId"], message).and_then(|passkey| {
                let Field::Value(id) = passkey.id else {
                    return Err(Error::invalid_options(message));
                };
                Ok(AccountOp::DeletePasskey {
                    id,
                    credential: passkey.cred_id.value(),
                })
            })
        } else {
            Err(Error::invalid_options(message))
        };
        self.account(op)
    }

    /// The user's social connections.
    #[wasm_bindgen(js_name = listSocialConnections)]
    pub fn list_social_connections(&self) -> Promise {
        self.account(Ok(AccountOp::SocialConnections))
    }

    /// Deletes a social connection (`"apple"`, `"github"`, `"google"`);
    /// resolves true.
    #[wasm_bindgen(js_name = deleteSocialConnection)]
    pub fn delete_social_connection(&self, kind: JsValue) -> Promise {
        let op = text(kind, "the social connection type must be a string")
            .map(AccountOp::DeleteSocialConnection);
        self.account(op)
    }

    /// The user's metadata.
    pub fn metadata(&self) -> Promise {
        self.account(Ok(AccountOp::Metadata))
    }

    /// Updates the user's metadata (only the app's declared fields);
    /// resolves the user.
    #[wasm_bindgen(js_name = updateMetadata)]
    pub fn update_metadata(&self, metadata: JsValue) -> Promise {
        self.account(Ok(AccountOp::UpdateMetadata(JsJson(metadata))))
    }

    /// One account request, its arguments read (or the error reading them
    /// gave): every account method shares this one future type.
    fn account(&self, op: Result<AccountOp<JsJson>, Error>) -> Promise {
        let client = self.client.clone();
        promise(async move { Ok(client.account(op?).await?.0) })
    }

    /// Signs out everywhere; true once the server confirmed the revocation.
    #[wasm_bindgen(js_name = signOut)]
    pub fn sign_out(&self) -> Promise {
        let signing_out = self.client.sign_out();
        promise(async move { Ok(signing_out.await) })
    }

    /// Calls `listener(event, detail)` on SIGNED_IN, TOKEN_REFRESHED and
    /// SIGNED_OUT; returns a function that unsubscribes it.
    #[wasm_bindgen(js_name = onAuthStateChange)]
    pub fn on_auth_state_change(&self, listener: JsValue) -> Result<JsValue, JsValue> {
        let Ok(listener) = listener.dyn_into::<Function>() else {
            return Err(to_js(Error::invalid_options(
                "onAuthStateChange needs a function",
            )));
        };
        let listeners = Rc::downgrade(&self.client.ports().listeners);
        let id = self.client.ports().listeners.add(listener);
        let off = Closure::<dyn FnMut()>::new(move || {
            if let Some(listeners) = listeners.upgrade() {
                listeners.remove(id);
            }
        });
        Ok(off.into_js_value())
    }

    /// Removes every listener, channel and timer this instance holds; it
    /// then reads storage on every call instead of handing out a cached
    /// token.
    pub fn dispose(&self) {
        self.client.ports().stop();
        self.client.dispose();
    }
}

impl Drop for PassageUser {
    fn drop(&mut self) {
        self.dispose();
    }
}
