//! The signed-in user's account, as passage-js 4.1.2's `PassageCurrentUser`
//! sees it: the server's replies (snake_case) read with serde and written
//! back out (camelCase) with passage-js's field mapping to the detail.
//!
//! Values passage-js copies as the server sent them stay the server's JSON
//! values (`J`), `null` or missing included; where passage-js makes a
//! `Date`, [`DateOf`] makes one; where it maps a nested object only when it
//! is not `null` (`r == null ? r : {...}`), [`OrNull`] does the same.

use alloc::string::String;
use alloc::vec::Vec;
use core::marker::PhantomData;

use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::ports::Json;

/// `null` or missing, as given; else a mapped `T`.
#[derive(Clone, Debug, PartialEq)]
pub enum OrNull<T, J> {
    /// `null` or `undefined`, kept as it was.
    Nullish(J),
    /// Mapped.
    Value(T),
}

impl<T, J: Default> Default for OrNull<T, J> {
    fn default() -> Self {
        OrNull::Nullish(J::default())
    }
}

impl<'de, T: DeserializeOwned, J: Json> Deserialize<'de> for OrNull<T, J> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = J::deserialize(d)?;
        if value.is_nullish() {
            return Ok(OrNull::Nullish(value));
        }
        value
            .decode()
            .map(OrNull::Value)
            .ok_or_else(|| D::Error::custom("unexpected shape"))
    }
}

impl<T: Serialize, J: Serialize> Serialize for OrNull<T, J> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OrNull::Nullish(value) => value.serialize(s),
            OrNull::Value(value) => value.serialize(s),
        }
    }
}

impl<T, J> OrNull<T, J> {
    /// The mapped value, when there is one.
    pub fn value(&self) -> Option<&T> {
        match self {
            OrNull::Value(value) => Some(value),
            OrNull::Nullish(_) => None,
        }
    }
}

/// A time passage-js turns into a `Date` (`new Date(value)`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DateOf<J>(pub J);

impl<'de, J: Json> Deserialize<'de> for DateOf<J> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        J::deserialize(d).map(DateOf)
    }
}

impl<J: Json> Serialize for DateOf<J> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.date().serialize(s)
    }
}

/// One social connection (`UserSocialConnection`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(
    default,
    rename_all(deserialize = "snake_case", serialize = "camelCase"),
    bound(deserialize = "J: Json", serialize = "J: Json")
)]
pub struct SocialConnection<J> {
    provider_id: J,
    created_at: DateOf<J>,
    last_login_at: DateOf<J>,
    provider_identifier: J,
}

/// A user's social connections (`UserSocialConnections`): a provider that
/// is `null` is left out.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, bound(deserialize = "J: Json", serialize = "J: Json"))]
pub struct SocialConnections<J> {
    apple: Option<SocialConnection<J>>,
    github: Option<SocialConnection<J>>,
    google: Option<SocialConnection<J>>,
}

/// A passkey's icons.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, bound(deserialize = "J: Json", serialize = "J: Json"))]
pub struct Icons<J> {
    light: J,
    dark: J,
}

/// A passkey (passage-js's `Passkey`, Passage's WebAuthn device).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(
    default,
    rename_all(deserialize = "snake_case", serialize = "camelCase"),
    bound(deserialize = "J: Json", serialize = "J: Json")
)]
pub struct Passkey<J> {
    created_at: J,
    cred_id: J,
    friendly_name: J,
    id: J,
    last_login_at: J,
    r#type: J,
    updated_at: J,
    usage_count: J,
    user_id: J,
    icons: OrNull<Icons<J>, J>,
}

/// The signed-in user (passage-js's `CurrentUser`). `webauthn_devices` and
/// `webauthn_types` are required: passage-js maps over them.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(
    rename_all(deserialize = "snake_case", serialize = "camelCase"),
    bound(deserialize = "J: Json", serialize = "J: Json")
)]
pub struct CurrentUser<J> {
    #[serde(default)]
    created_at: J,
    #[serde(default)]
    email: J,
    #[serde(default)]
    email_verified: J,
    #[serde(default)]
    id: J,
    #[serde(default)]
    last_login_at: J,
    #[serde(default)]
    login_count: J,
    #[serde(default)]
    phone: J,
    #[serde(default)]
    phone_verified: J,
    #[serde(default)]
    social_connections: OrNull<SocialConnections<J>, J>,
    #[serde(default)]
    status: J,
    #[serde(default)]
    updated_at: J,
    #[serde(default)]
    user_metadata: J,
    #[serde(default)]
    webauthn: J,
    webauthn_devices: Vec<OrNull<Passkey<J>, J>>,
    webauthn_types: Vec<J>,
}

/// A magic link (`MagicLink`): its id.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, bound(deserialize = "J: Json", serialize = "J: Json"))]
pub struct MagicLink<J> {
    id: J,
}

/// The replies, each unwrapped as passage-js's `responseDataKey` does.
#[derive(Deserialize)]
#[serde(bound(deserialize = "J: Json"))]
pub(crate) struct UserReply<J> {
    pub user: OrNull<CurrentUser<J>, J>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "J: Json"))]
pub(crate) struct MagicLinkReply<J> {
    #[serde(default)]
    pub magic_link: OrNull<MagicLink<J>, J>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "J: Json"))]
pub(crate) struct PasskeysReply<J> {
    pub devices: Vec<OrNull<Passkey<J>, J>>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "J: Json"))]
pub(crate) struct PasskeyReply<J> {
    #[serde(default)]
    pub device: OrNull<Passkey<J>, J>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "J: Json"))]
pub(crate) struct SocialReply<J> {
    #[serde(default)]
    pub social_connections: OrNull<SocialConnections<J>, J>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "J: Json"))]
pub(crate) struct MetadataReply<J> {
    #[serde(default)]
    pub user_metadata: J,
}

// ---------------------------------------------------------------------------
// Adding a passkey: the start reply, the options the authenticator gets, and
// the finish request.

/// The relying party (`rp`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, bound(deserialize = "J: Json", serialize = "J: Json"))]
pub struct RelyingParty<J> {
    icon: J,
    id: J,
    name: J,
}

/// The user of the creation options; `id` is base64url text here.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(
    default,
    rename_all = "camelCase",
    bound(deserialize = "J: Json", serialize = "J: Json")
)]
pub struct CredentialUser<J> {
    /// Shown by the authenticator.
    pub display_name: J,
    /// An icon, rarely sent.
    pub icon: J,
    /// The user handle, base64url.
    pub id: String,
    /// The account name.
    pub name: J,
}

/// A credential the authenticator must not register again.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, bound(deserialize = "J: Json", serialize = "J: Json"))]
pub struct Descriptor<J> {
    /// The credential id, base64url.
    pub id: String,
    /// Its transports.
    pub transports: J,
    /// "public-key".
    pub r#type: J,
}

/// An algorithm the server accepts.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, bound(deserialize = "J: Json", serialize = "J: Json"))]
pub struct KeyParam<J> {
    alg: J,
    r#type: J,
}

/// `authenticatorSelection`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(
    default,
    rename_all = "camelCase",
    bound(deserialize = "J: Json", serialize = "J: Json")
)]
pub struct Selection<J> {
    authenticator_attachment: J,
    require_resident_key: J,
    resident_key: J,
    user_verification: J,
}

/// The `publicKey` creation options as passage-js passes them on: the keys
/// it copies (others are dropped), with the challenge, the user id and the
/// excluded ids still base64url text; the browser adapter decodes them.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(
    rename_all = "camelCase",
    bound(deserialize = "J: Json", serialize = "J: Json")
)]
pub struct CreationOptions<J> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attestation: Option<J>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authenticator_selection: Option<Selection<J>>,
    /// The challenge, base64url.
    pub challenge: String,
    /// Credentials not to register again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_credentials: Option<Vec<Descriptor<J>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    extensions: Option<J>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub_key_cred_params: Option<Vec<KeyParam<J>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rp: Option<RelyingParty<J>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout: Option<J>,
    /// The user.
    pub user: CredentialUser<J>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "J: Json"))]
pub(crate) struct Challenge<J> {
    #[serde(rename = "publicKey")]
    pub public_key: CreationOptions<J>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "J: Json"))]
pub(crate) struct Handshake<J> {
    pub challenge: Challenge<J>,
    #[serde(default)]
    pub id: J,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "J: Json"))]
pub(crate) struct StartUser<J> {
    #[serde(default)]
    pub id: J,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "J: Json"))]
pub(crate) struct StartReply<J> {
    pub handshake: Handshake<J>,
    #[serde(default)]
    pub user: Option<StartUser<J>>,
}

/// What the authenticator created, its binary parts as base64url.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewCredential {
    /// The credential id (base64url of `raw_id`).
    pub id: String,
    /// base64url of the raw id.
    pub raw_id: String,
    /// "public-key".
    pub kind: String,
    /// base64url of the attestation object.
    pub attestation_object: String,
    /// base64url of the client data JSON.
    pub client_data_json: String,
    /// `response.getTransports()`, where the browser has it.
    pub transports: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FinishResponse<'a> {
    attestation_object: &'a str,
    #[serde(rename = "clientDataJSON")]
    client_data_json: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FinishCredential<'a> {
    id: &'a str,
    raw_id: &'a str,
    response: FinishResponse<'a>,
    transports: &'a [String],
    r#type: &'a str,
}

/// The body of `POST /currentuser/devices/finish`, as passage-js writes it
/// (its `undefined` members left out, as `JSON.stringify` does).
#[derive(Serialize)]
#[serde(bound(serialize = "J: Json"))]
pub(crate) struct FinishRequest<'a, J> {
    handshake_id: &'a J,
    handshake_response: FinishCredential<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a J>,
    #[serde(skip)]
    _json: PhantomData<J>,
}

impl<'a, J: Json> FinishRequest<'a, J> {
    pub(crate) fn new(handshake_id: &'a J, user_id: Option<&'a J>, c: &'a NewCredential) -> Self {
        FinishRequest {
            handshake_id,
            handshake_response: FinishCredential {
                id: &c.id,
                raw_id: &c.raw_id,
                response: FinishResponse {
                    attestation_object: &c.attestation_object,
                    client_data_json: &c.client_data_json,
                },
                transports: &c.transports,
                r#type: &c.kind,
            },
            user_id: user_id.filter(|id| !id.is_nullish()),
            _json: PhantomData,
        }
    }
}

/// `PATCH /currentuser/email` and `/phone`: the new address and, when
/// given, the language of the message.
#[derive(Serialize)]
pub(crate) struct ChangeRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_phone: Option<&'a str>,
}

/// `PATCH /currentuser/devices/{id}`.
#[derive(Serialize)]
pub(crate) struct RenameRequest<'a> {
    pub friendly_name: &'a str,
}

/// `PATCH /currentuser/user-metadata`.
#[derive(Serialize)]
#[serde(bound(serialize = "J: Json"))]
pub(crate) struct MetadataRequest<'a, J> {
    pub user_metadata: &'a J,
}

/// `POST /currentuser/devices/start`.
#[derive(Serialize)]
pub(crate) struct StartRequest<'a> {
    pub authenticator_attachment: &'a str,
}
