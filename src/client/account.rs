//! The signed-in user's account, as passage-js 4.1.2's `PassageCurrentUser`
//! sees it: the server's replies (snake_case) read with serde and written
//! back out (camelCase) with passage-js's field mapping to the detail.
//!
//! The mapping is a table per shape, after passage-js's `...FromJSON`
//! functions: each member's server name, passage-js's name, and what
//! passage-js does with it (copies it as the server sent it, makes a
//! `Date` of it, or maps the object or list it holds). Objects cross as
//! serde maps of JSON values, one instantiation for every shape: the
//! account costs the package little more than its tables.

use alloc::string::String;
use alloc::vec::Vec;
use core::marker::PhantomData;

use serde::Serialize;

use crate::ports::{Json, NewCredential};

/// What passage-js does with one member.
#[derive(Clone, Copy, Debug)]
pub enum Member {
    /// Copies it as the server sent it (`null` and missing included).
    Copy,
    /// Copies it, but `null` becomes `undefined` (`r.x == null ? void 0 : r.x`).
    Present,
    /// `new Date(value)`.
    Date,
    /// Maps the object it holds (`null` kept as `null`).
    Object(&'static Shape),
    /// Maps the object it holds; `null` becomes `undefined`.
    ObjectOrUndefined(&'static Shape),
    /// Maps each element of the list it holds; the list must be there
    /// (passage-js calls `.map` on it).
    List(&'static Shape),
    /// Copies the list it holds, which must be there.
    ListCopy,
    /// Maps each element of the list it holds, when there is one.
    OptionalList(&'static Shape),
}

/// A shape: its members as (the server's name, passage-js's name, what is
/// done with it).
#[derive(Debug)]
pub struct Shape(pub &'static [(&'static str, &'static str, Member)]);

/// `UserSocialConnection`.
pub static SOCIAL_CONNECTION: Shape = Shape(&[
    ("provider_id", "providerId", Member::Copy),
    ("created_at", "createdAt", Member::Date),
    ("last_login_at", "lastLoginAt", Member::Date),
    ("provider_identifier", "providerIdentifier", Member::Copy),
]);

/// `UserSocialConnections`: a provider that is `null` is left undefined.
pub static SOCIAL_CONNECTIONS: Shape = Shape(&[
    (
        "apple",
        "apple",
        Member::ObjectOrUndefined(&SOCIAL_CONNECTION),
    ),
    (
        "github",
        "github",
        Member::ObjectOrUndefined(&SOCIAL_CONNECTION),
    ),
    (
        "google",
        "google",
        Member::ObjectOrUndefined(&SOCIAL_CONNECTION),
    ),
]);

/// A passkey's icons.
pub static ICONS: Shape = Shape(&[
    ("light", "light", Member::Copy),
    ("dark", "dark", Member::Copy),
]);

/// `Passkey` (passage-js's `Credential`; the server's WebAuthn device).
pub static PASSKEY: Shape = Shape(&[
    ("created_at", "createdAt", Member::Copy),
    ("cred_id", "credId", Member::Copy),
    ("friendly_name", "friendlyName", Member::Copy),
    ("id", "id", Member::Copy),
    ("last_login_at", "lastLoginAt", Member::Copy),
    ("type", "type", Member::Copy),
    ("updated_at", "updatedAt", Member::Copy),
    ("usage_count", "usageCount", Member::Copy),
    ("user_id", "userId", Member::Copy),
    ("icons", "icons", Member::Object(&ICONS)),
]);

/// `CurrentUser`: the server's times stay strings.
pub static CURRENT_USER: Shape = Shape(&[
    ("created_at", "createdAt", Member::Copy),
    ("email", "email", Member::Copy),
    ("email_verified", "emailVerified", Member::Copy),
    ("id", "id", Member::Copy),
    ("last_login_at", "lastLoginAt", Member::Copy),
    ("login_count", "loginCount", Member::Copy),
    ("phone", "phone", Member::Copy),
    ("phone_verified", "phoneVerified", Member::Copy),
    (
        "social_connections",
        "socialConnections",
        Member::Object(&SOCIAL_CONNECTIONS),
    ),
    ("status", "status", Member::Copy),
    ("updated_at", "updatedAt", Member::Copy),
    ("user_metadata", "userMetadata", Member::Copy),
    ("webauthn", "webauthn", Member::Copy),
    (
        "webauthn_devices",
        "webauthnDevices",
        Member::List(&PASSKEY),
    ),
    ("webauthn_types", "webauthnTypes", Member::ListCopy),
]);

/// `MagicLink`.
pub static MAGIC_LINK: Shape = Shape(&[("id", "id", Member::Copy)]);

// The creation options passage-js hands to `navigator.credentials.create`:
// only the members it copies, with its names (already camelCase).

static RELYING_PARTY: Shape = Shape(&[
    ("icon", "icon", Member::Present),
    ("id", "id", Member::Present),
    ("name", "name", Member::Present),
]);
static CREDENTIAL_USER: Shape = Shape(&[
    ("displayName", "displayName", Member::Present),
    ("icon", "icon", Member::Present),
    ("id", "id", Member::Present),
    ("name", "name", Member::Present),
]);
static DESCRIPTOR: Shape = Shape(&[
    ("id", "id", Member::Present),
    ("transports", "transports", Member::Present),
    ("type", "type", Member::Present),
]);
static KEY_PARAM: Shape = Shape(&[
    ("alg", "alg", Member::Present),
    ("type", "type", Member::Present),
]);
static SELECTION: Shape = Shape(&[
    (
        "authenticatorAttachment",
        "authenticatorAttachment",
        Member::Present,
    ),
    ("requireResidentKey", "requireResidentKey", Member::Present),
    ("residentKey", "residentKey", Member::Present),
    ("userVerification", "userVerification", Member::Present),
]);
/// `PublicKeyCredentialCreationOptions`, its binary members still base64url
/// text (the browser adapter decodes them).
pub static CREATION_OPTIONS: Shape = Shape(&[
    ("attestation", "attestation", Member::Present),
    (
        "authenticatorSelection",
        "authenticatorSelection",
        Member::ObjectOrUndefined(&SELECTION),
    ),
    ("challenge", "challenge", Member::Copy),
    (
        "excludeCredentials",
        "excludeCredentials",
        Member::OptionalList(&DESCRIPTOR),
    ),
    ("extensions", "extensions", Member::Present),
    (
        "pubKeyCredParams",
        "pubKeyCredParams",
        Member::OptionalList(&KEY_PARAM),
    ),
    ("rp", "rp", Member::ObjectOrUndefined(&RELYING_PARTY)),
    ("timeout", "timeout", Member::Present),
    ("user", "user", Member::ObjectOrUndefined(&CREDENTIAL_USER)),
]);

/// An object's members, in order: a serde map without a tree (a few
/// members each; a `BTreeMap` would cost the package 3 KB of gzip).
pub struct Members<K, J>(Vec<(K, J)>);

impl<J> Members<String, J> {
    /// Takes member `key` out, when there is one.
    fn take(&mut self, key: &str) -> Option<J> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.swap_remove(i).1)
    }
}

impl<'de, J: serde::Deserialize<'de>> serde::Deserialize<'de> for Members<String, J> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<J>(PhantomData<J>);
        impl<'de, J: serde::Deserialize<'de>> serde::de::Visitor<'de> for Visit<J> {
            type Value = Members<String, J>;
            fn expecting(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Visit(PhantomData))
    }
}

impl<J: Serialize> Serialize for Members<&'static str, J> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// Maps `value` as passage-js's `...FromJSON` for `shape` does: `null` or
/// undefined as it is (`r == null ? r : {...}`), else an object with the
/// shape's members, renamed and mapped; a member the server left out is
/// `undefined`, and members not in the shape are dropped. `None` when the
/// value is not of that shape.
pub fn map<J: Json>(value: J, shape: &Shape) -> Option<J> {
    if value.is_nullish() {
        return Some(value);
    }
    let mut members: Members<String, J> = value.decode()?;
    let mut out = Vec::with_capacity(shape.0.len());
    for &(from, to, member) in shape.0 {
        let v = members.take(from).unwrap_or_default();
        out.push((to, apply(v, member)?));
    }
    J::encode(&Members(out))
}

/// What passage-js does with one member's value.
pub fn apply<J: Json>(v: J, member: Member) -> Option<J> {
    Some(match member {
        Member::Copy => v,
        Member::Present | Member::ObjectOrUndefined(_) | Member::OptionalList(_)
            if v.is_nullish() =>
        {
            J::default()
        }
        Member::Present => v,
        Member::Date => v.date(),
        Member::Object(inner) | Member::ObjectOrUndefined(inner) => map(v, inner)?,
        Member::List(inner) | Member::OptionalList(inner) => list(v, Some(inner))?,
        Member::ListCopy => list(v, None)?,
    })
}

/// A list, each element mapped with `shape` (or copied).
fn list<J: Json>(value: J, shape: Option<&Shape>) -> Option<J> {
    let items: Vec<J> = value.decode()?;
    let items = match shape {
        Some(shape) => items
            .into_iter()
            .map(|item| map(item, shape))
            .collect::<Option<Vec<J>>>()?,
        None => items,
    };
    J::encode(&items)
}

/// Member `key` of an object (undefined when it has none); `None` when
/// `value` is not an object.
pub fn get<J: Json>(value: &J, key: &str) -> Option<J> {
    let mut members: Members<String, J> = value.clone().decode()?;
    Some(members.take(key).unwrap_or_default())
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
