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
use crate::client::account::{CreationOptions, NewCredential};
use crate::core::error::{Code, Error};
use crate::core::jwt::{base64url_decode, base64url_encode};

const CREDENTIALS: &str = "psg_cred_obj";

fn failed(message: &'static str) -> Error {
    Error::new(Code::PasskeyFailed, message)
}

/// `base64url` as the bytes WebAuthn wants.
fn bytes(text: &str) -> Result<JsValue, Error> {
    let decoded = base64url_decode(text).ok_or(Error::new(
        Code::InvalidResponse,
        "the passkey options are not base64url where WebAuthn needs bytes",
    ))?;
    Ok(Uint8Array::from(decoded.as_slice()).into())
}

/// The options as `navigator.credentials.create` takes them: the server's,
/// with the challenge, the user id and the excluded credential ids decoded.
fn prepare(options: &CreationOptions<JsJson>) -> Result<CredentialCreationOptions, Error> {
    let unusable = || Error::new(Code::InvalidResponse, "the passkey options are unusable");
    let public_key = serde_wasm_bindgen::to_value(options).map_err(|_| unusable())?;
    let set = |object: &JsValue, key: &str, value: &JsValue| {
        Reflect::set(object, &key.into(), value)
            .map(drop)
            .map_err(|_| unusable())
    };
    set(&public_key, "challenge", &bytes(&options.challenge)?)?;
    let user = Reflect::get(&public_key, &"user".into()).map_err(|_| unusable())?;
    set(&user, "id", &bytes(&options.user.id)?)?;
    if let Some(excluded) = &options.exclude_credentials {
        let list =
            Reflect::get(&public_key, &"excludeCredentials".into()).map_err(|_| unusable())?;
        for (i, descriptor) in excluded.iter().enumerate() {
            let entry = Reflect::get(&list, &JsValue::from(i as u32)).map_err(|_| unusable())?;
            set(&entry, "id", &bytes(&descriptor.id)?)?;
        }
    }
    let wrapper = Object::new();
    set(&wrapper, "publicKey", &public_key)?;
    Ok(wrapper.unchecked_into())
}

fn encoded(buffer: &ArrayBuffer) -> String {
    base64url_encode(&Uint8Array::new(buffer).to_vec())
}

/// Runs the ceremony; answers what the authenticator created.
pub fn create(
    options: &CreationOptions<JsJson>,
) -> impl Future<Output = Result<NewCredential, Error>> {
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
