//! The WebAuthn ceremony on web-sys (`navigator.credentials.create`), and
//! passage-js's `psg_cred_obj`: which credential each user registered on
//! this browser.

use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;

use gloo_storage::{LocalStorage, Storage};
use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AuthenticatorAttestationResponse, CredentialCreationOptions, PublicKeyCredential};

use super::JsJson;
use crate::core::error::{Code, Error};
use crate::core::jwt::{base64url_decode, base64url_encode};
use crate::ports::NewCredential;

const CREDENTIALS: &str = "psg_cred_obj";

fn failed(message: &'static str) -> Error {
    Error::new(Code::PasskeyFailed, message)
}

/// Replaces the base64url text of `object[key]` with its bytes.
fn decode_member(object: &JsValue, key: &str) -> Result<(), Error> {
    let unusable = || {
        Error::new(
            Code::InvalidResponse,
            "the passkey options are not base64url where WebAuthn needs bytes",
        )
    };
    let text = Reflect::get(object, &key.into())
        .ok()
        .and_then(|v| v.as_string())
        .ok_or_else(unusable)?;
    let decoded = base64url_decode(text).ok_or_else(unusable)?;
    let bytes = Uint8Array::from(decoded.as_slice());
    Reflect::set(object, &key.into(), &bytes)
        .map(drop)
        .map_err(|_| unusable())
}

/// The options as `navigator.credentials.create` takes them: passage-js's
/// (as the client mapped them), with the challenge, the user id and the
/// excluded credential ids decoded.
fn prepare(options: &JsJson) -> Result<CredentialCreationOptions, Error> {
    let public_key = &options.0;
    decode_member(public_key, "challenge")?;
    let user = Reflect::get(public_key, &"user".into()).unwrap_or_default();
    decode_member(&user, "id")?;
    let excluded = Reflect::get(public_key, &"excludeCredentials".into()).unwrap_or_default();
    if Array::is_array(&excluded) {
        for descriptor in Array::from(&excluded).iter() {
            decode_member(&descriptor, "id")?;
        }
    }
    let wrapper = Object::new();
    let _ = Reflect::set(&wrapper, &"publicKey".into(), public_key);
    Ok(wrapper.unchecked_into())
}

fn encoded(buffer: &ArrayBuffer) -> String {
    base64url_encode(&Uint8Array::new(buffer).to_vec())
}

/// Runs the ceremony; answers what the authenticator created.
pub fn create(options: &JsJson) -> impl Future<Output = Result<NewCredential, Error>> {
    let prepared = prepare(options);
    async move {
        let options = prepared?;
        let navigator = web_sys::window()
            .map(|w| w.navigator())
            .filter(|n| Reflect::has(n, &"credentials".into()).unwrap_or(false))
            .ok_or(failed("this page cannot use WebAuthn"))?;
        let created = navigator
            .credentials()
            .create_with_options(&options)
            .map_err(|_| failed("the browser refused to create a passkey"))?;
        // The user cancelled, the authenticator timed out or refused.
        let credential = JsFuture::from(created)
            .await
            .map_err(|_| failed("no passkey was created"))?
            .dyn_into::<PublicKeyCredential>()
            .map_err(|_| failed("no passkey was created"))?;
        let response = credential
            .response()
            .dyn_into::<AuthenticatorAttestationResponse>()
            .map_err(|_| failed("the authenticator gave no attestation"))?;
        // getTransports() is missing from some browsers.
        let has_transports =
            Reflect::get(&response, &"getTransports".into()).is_ok_and(|f| f.is_function());
        let transports: Vec<String> = if has_transports {
            response
                .get_transports()
                .iter()
                .filter_map(|t| t.as_string())
                .collect()
        } else {
            Vec::new()
        };
        Ok(NewCredential {
            id: credential.id(),
            raw_id: encoded(&credential.raw_id()),
            kind: credential.type_(),
            attestation_object: encoded(&response.attestation_object()),
            client_data_json: encoded(&response.client_data_json()),
            transports,
        })
    }
}

/// `localStorage`, where the page may use it.
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()??;
    Some(LocalStorage::raw())
}

/// `psg_cred_obj` as an object (empty when missing or not JSON).
fn read(storage: &web_sys::Storage) -> Option<Object> {
    let text = storage.get_item(CREDENTIALS).ok()??;
    js_sys::JSON::parse(&text)
        .ok()
        .filter(|v| v.is_object() && !Array::is_array(v))
        .map(JsCast::unchecked_into)
}

fn write(storage: &web_sys::Storage, object: &Object) {
    if let Some(text) = js_sys::JSON::stringify(object)
        .ok()
        .and_then(|s| s.as_string())
    {
        // Full or refused: passage-js would not have it either.
        let _ = storage.set_item(CREDENTIALS, &text);
    }
}

/// Records that `user_id` registered `credential_id` on this browser.
pub fn remember(user_id: &str, credential_id: &str) {
    let Some(storage) = storage() else { return };
    let object = read(&storage).unwrap_or_default();
    let _ = Reflect::set(&object, &user_id.into(), &credential_id.into());
    write(&storage, &object);
}

/// Forgets every entry for `credential_id`.
pub fn forget(credential_id: &str) {
    let Some(storage) = storage() else { return };
    let Some(object) = read(&storage) else { return };
    for key in Object::keys(&object).iter() {
        if Reflect::get(&object, &key)
            .ok()
            .and_then(|v| v.as_string())
            .as_deref()
            == Some(credential_id)
        {
            let _ = Reflect::delete_property(&object, &key);
        }
    }
    write(&storage, &object);
}
