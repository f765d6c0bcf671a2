//! Passkeys (Passage's "webauthn devices") in the database, and the
//! add-device ceremony behind them.
//!
//! The ceremony is verified by `webauthn_rp`, a relying-party library on
//! the RustCrypto curves this server already builds for `jsonwebtoken`: the
//! challenge (single use, bound to the user and app that started it,
//! expiring), the origin, the RP ID hash, the user-present and user-verified
//! flags, the COSE public key and its algorithm, and a packed
//! self-attestation's signature when there is one. A refusal is a
//! [`CeremonyError`]; the handlers choose its answer.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{json, Value};
use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::register::{
    AuthenticatorAttachmentReq, CredProtect, CrossPlatformHint, Nickname, PlatformHint,
    PublicKeyCredentialUserEntity, RegistrationVerificationOptions, UserHandle, Username,
};
use webauthn_rp::request::{AsciiDomain, Hint, PublicKeyCredentialDescriptor, RpId};
use webauthn_rp::response::register::error::RegCeremonyErr;
use webauthn_rp::response::{AuthTransports, Backup, CredentialId};
use webauthn_rp::{PublicKeyCredentialCreationOptions, Registration, RegistrationServerState};

use super::User;
use crate::config::AppSettings;
use crate::util::{random_id, rfc3339, truncate};

/// The WebAuthn user handle is the user id's bytes (ids are 24 characters).
const USER_HANDLE_LEN: usize = 24;
/// How long a started ceremony can be finished: the timeout the options
/// give the browser (webauthn_rp's default, 300 000 ms).
const CEREMONY_SECS: i64 = 300;

// ---- stored devices ----

const DEVICE_COLUMNS: &str =
    "id, user_id, cred_id, friendly_name, type, created_at, updated_at, last_login_at, usage_count";

/// A device as passage-js's `Credential` (`WebAuthnDevices`) reads it.
fn device_from_row(row: &Row) -> rusqlite::Result<Value> {
    Ok(json!({
        "id": row.get::<_, String>(0)?,
        "user_id": row.get::<_, String>(1)?,
        "cred_id": row.get::<_, String>(2)?,
        "friendly_name": row.get::<_, String>(3)?,
        "type": row.get::<_, String>(4)?,
        "created_at": rfc3339(row.get(5)?),
        "updated_at": rfc3339(row.get(6)?),
        "last_login_at": rfc3339(row.get(7)?),
        "usage_count": row.get::<_, i64>(8)?,
        "icons": { "light": null, "dark": null },
    }))
}

/// The user's devices, oldest first.
pub fn devices_json(
    conn: &Connection,
    app_id: &str,
    user_id: &str,
) -> rusqlite::Result<Vec<Value>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {DEVICE_COLUMNS} FROM passkeys WHERE app_id = ?1 AND user_id = ?2
         ORDER BY created_at, rowid"
    ))?;
    let devices = stmt
        .query_map(params![app_id, user_id], device_from_row)?
        .collect();
    devices
}

/// `webauthn_types`: each device type once, in the order of the devices.
pub fn device_types(devices: &[Value]) -> Vec<String> {
    let mut types: Vec<String> = Vec::new();
    for device in devices {
        if let Some(t) = device["type"].as_str() {
            if !types.iter().any(|seen| seen == t) {
                types.push(t.to_owned());
            }
        }
    }
    types
}

fn device_by_id(
    conn: &Connection,
    app_id: &str,
    user_id: &str,
    id: &str,
) -> rusqlite::Result<Option<Value>> {
    conn.query_row(
        &format!(
            "SELECT {DEVICE_COLUMNS} FROM passkeys WHERE id = ?1 AND app_id = ?2 AND user_id = ?3"
        ),
        params![id, app_id, user_id],
        device_from_row,
    )
    .optional()
}

/// Renames one of the user's devices; `Ok(None)`: the user has no such
/// device.
pub fn rename_device(
    conn: &Connection,
    app_id: &str,
    user_id: &str,
    device_id: &str,
    name: &str,
    now: i64,
) -> rusqlite::Result<Option<Value>> {
    let changed = conn.execute(
        "UPDATE passkeys SET friendly_name = ?1, updated_at = ?2
         WHERE id = ?3 AND app_id = ?4 AND user_id = ?5",
        params![name, now, device_id, app_id, user_id],
    )?;
    if changed == 0 {
        return Ok(None);
    }
    device_by_id(conn, app_id, user_id, device_id)
}

/// Deletes one of the user's devices; returns the rows deleted.
pub fn delete_device(
    conn: &Connection,
    app_id: &str,
    user_id: &str,
    device_id: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM passkeys WHERE id = ?1 AND app_id = ?2 AND user_id = ?3",
        params![device_id, app_id, user_id],
    )
}

// ---- the add-device ceremony ----

/// Why a ceremony cannot start or finish.
#[derive(Debug)]
pub enum CeremonyError {
    /// The registration does not check out: `code` says which check.
    Refused { code: &'static str, message: String },
    /// The app's RP ID is not a domain (a setting to fix).
    BadRpId(String),
    /// A failure on this side; the detail is for the log.
    Internal(String),
}

fn internal(detail: impl std::fmt::Display) -> CeremonyError {
    CeremonyError::Internal(detail.to_string())
}

fn user_handle(user: &User) -> Result<UserHandle<USER_HANDLE_LEN>, CeremonyError> {
    let bytes: [u8; USER_HANDLE_LEN] = user
        .id
        .as_bytes()
        .try_into()
        .map_err(|_| internal(format!("user id of unexpected length: {}", user.id)))?;
    let Ok(handle) = UserHandle::decode(bytes);
    Ok(handle)
}

fn rp(rp_id: &str) -> Result<RpId, CeremonyError> {
    AsciiDomain::try_from(rp_id.to_owned())
        .map(RpId::Domain)
        .map_err(|_| {
            CeremonyError::BadRpId(format!(
                "the app's passkey RP ID {rp_id:?} is not a domain: set rp_id for this app"
            ))
        })
}

/// The Passage-shaped `publicKey` of the options webauthn_rp produced (the
/// WebAuthn JSON form, less the Level 3 `hints` and `attestationFormats`
/// that Passage does not send), with the app id as the RP name.
fn passage_public_key(client_state: Value, app_id: &str) -> Value {
    let mut public_key = serde_json::Map::new();
    for key in [
        "rp",
        "user",
        "challenge",
        "pubKeyCredParams",
        "timeout",
        "excludeCredentials",
        "authenticatorSelection",
        "attestation",
        "extensions",
    ] {
        if let Some(value) = client_state.get(key) {
            public_key.insert(key.to_owned(), value.clone());
        }
    }
    if let Some(rp) = public_key.get_mut("rp") {
        rp["name"] = json!(app_id);
    }
    Value::Object(public_key)
}

/// A started ceremony: its id (the `handshake_id`) and the options for the
/// browser.
pub struct Started {
    pub id: String,
    pub public_key: Value,
}

/// Starts adding a device: the creation options (excluding the user's
/// devices) for `attachment` (`platform`, `cross-platform` or `any`), and
/// the ceremony stored until it is finished or expires.
pub fn start_ceremony(
    conn: &Connection,
    rp_id: &str,
    app: &AppSettings,
    user: &User,
    attachment: &str,
    now: i64,
) -> rusqlite::Result<Result<Started, CeremonyError>> {
    let rp = match rp(rp_id) {
        Ok(rp) => rp,
        Err(e) => return Ok(Err(e)),
    };
    let handle = match user_handle(user) {
        Ok(handle) => handle,
        Err(e) => return Ok(Err(e)),
    };
    let mut exclude = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT cred_id, transports FROM passkeys WHERE app_id = ?1 AND user_id = ?2",
        )?;
        let rows = stmt.query_map(params![app.id, user.id], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, u8>(1)?))
        })?;
        for row in rows {
            let (cred_id, transports) = row?;
            let id = URL_SAFE_NO_PAD
                .decode(&cred_id)
                .ok()
                .and_then(|bytes| CredentialId::decode(bytes).ok());
            let transports = AuthTransports::decode(transports)
                .or_else(|_| AuthTransports::decode(0))
                .ok();
            if let (Some(id), Some(transports)) = (id, transports) {
                exclude.push(PublicKeyCredentialDescriptor { id, transports });
            }
        }
    }
    let name =
        Username::try_from(user.email.as_str()).or_else(|_| Username::try_from(user.id.as_str()));
    let name = match name {
        Ok(name) => name,
        Err(e) => return Ok(Err(internal(format!("user name: {e}")))),
    };
    let entity = PublicKeyCredentialUserEntity {
        name,
        id: &handle,
        display_name: Nickname::try_from(user.email.as_str()).ok(),
    };
    let mut options = PublicKeyCredentialCreationOptions::passkey(&rp, entity, exclude);
    options.authenticator_selection.authenticator_attachment = match attachment {
        "platform" => AuthenticatorAttachmentReq::Platform(PlatformHint::None),
        "cross-platform" => AuthenticatorAttachmentReq::CrossPlatform(CrossPlatformHint::None),
        _ => AuthenticatorAttachmentReq::None(Hint::None),
    };
    // No credProtect request: an enforced one makes browsers refuse
    // authenticators without the extension, and Passage asks for none.
    options.extensions.cred_protect = CredProtect::None;
    let (server_state, client_state) = match options.start_ceremony() {
        Ok(pair) => pair,
        Err(e) => return Ok(Err(internal(format!("passkey options: {e}")))),
    };
    let client_state = match serde_json::to_value(&client_state) {
        Ok(value) => value,
        Err(e) => return Ok(Err(internal(format!("passkey options: {e}")))),
    };
    let encoded = match server_state.encode() {
        Ok(bytes) => bytes,
        Err(e) => return Ok(Err(internal(format!("passkey state: {e}")))),
    };
    // Ceremonies nobody finished are dropped when the same user starts anew.
    conn.execute(
        "DELETE FROM passkey_ceremonies WHERE user_id = ?1 AND expires_at <= ?2",
        params![user.id, now],
    )?;
    let id = random_id();
    conn.execute(
        "INSERT INTO passkey_ceremonies (id, app_id, user_id, rp_id, attachment, state,
                                         created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            id,
            app.id,
            user.id,
            rp_id,
            attachment,
            encoded,
            now,
            now + CEREMONY_SECS
        ],
    )?;
    Ok(Ok(Started {
        id,
        public_key: passage_public_key(client_state, &app.id),
    }))
}

/// A started ceremony, as stored.
pub struct Ceremony {
    pub rp_id: String,
    attachment: String,
    state: Vec<u8>,
    pub expires_at: i64,
}

/// Takes a started ceremony of this user and app: whatever the outcome, it
/// cannot be used again.
pub fn take_ceremony(
    conn: &Connection,
    id: &str,
    app_id: &str,
    user_id: &str,
) -> rusqlite::Result<Option<Ceremony>> {
    conn.query_row(
        "DELETE FROM passkey_ceremonies WHERE id = ?1 AND app_id = ?2 AND user_id = ?3
         RETURNING rp_id, attachment, state, expires_at",
        params![id, app_id, user_id],
        |row| {
            Ok(Ceremony {
                rp_id: row.get(0)?,
                attachment: row.get(1)?,
                state: row.get(2)?,
                expires_at: row.get(3)?,
            })
        },
    )
    .optional()
}

fn refusal(e: RegCeremonyErr) -> CeremonyError {
    let code = match e {
        RegCeremonyErr::Timeout => "handshake_expired",
        RegCeremonyErr::CollectedClientData(_) | RegCeremonyErr::CollectedClientDataRelaxed(_) => {
            "webauthn_invalid_client_data"
        }
        RegCeremonyErr::AttestationObject(_) => "webauthn_invalid_attestation",
        RegCeremonyErr::PubKey(_) | RegCeremonyErr::PublicKeyAlgorithmMismatch => {
            "webauthn_invalid_public_key"
        }
        RegCeremonyErr::AttestationSignature => "webauthn_invalid_signature",
        RegCeremonyErr::OriginMismatch
        | RegCeremonyErr::CrossOrigin
        | RegCeremonyErr::TopOriginMismatch => "webauthn_origin_mismatch",
        RegCeremonyErr::ChallengeMismatch => "webauthn_challenge_mismatch",
        RegCeremonyErr::RpIdHashMismatch => "webauthn_rp_id_mismatch",
        RegCeremonyErr::UserNotPresent => "webauthn_user_not_present",
        RegCeremonyErr::UserNotVerified => "webauthn_user_not_verified",
        RegCeremonyErr::MissingAuthenticatorAttachment
        | RegCeremonyErr::AuthenticatorAttachmentMismatch => "webauthn_attachment_mismatch",
        RegCeremonyErr::BackupEligible
        | RegCeremonyErr::BackupNotEligible
        | RegCeremonyErr::BackupDoesNotExist
        | RegCeremonyErr::Extension(_)
        | RegCeremonyErr::Credential(_) => "webauthn_registration_failed",
    };
    CeremonyError::Refused {
        code,
        message: truncate(&format!("passkey registration refused: {e}"), 300),
    }
}

/// The verified credential, ready to store.
pub struct NewDevice {
    cred_id: String,
    device_type: &'static str,
    transports: u8,
    aaguid: Vec<u8>,
    static_state: Vec<u8>,
    dynamic_state: Vec<u8>,
}

/// Verifies `registration` against a taken ceremony, with the origins the
/// app accepts.
pub fn verify(
    ceremony: &Ceremony,
    origins: &[String],
    registration: &Registration,
) -> Result<NewDevice, CeremonyError> {
    let server_state =
        RegistrationServerState::<USER_HANDLE_LEN>::decode(ceremony.state.as_slice())
            .map_err(internal)?;
    let rp = rp(&ceremony.rp_id)?;
    let options = RegistrationVerificationOptions::<String, String> {
        allowed_origins: origins,
        // Browsers and authenticators add extensions on their own (credProps,
        // credProtect); Passage accepts them, and so does this server.
        error_on_unsolicited_extensions: false,
        ..RegistrationVerificationOptions::default()
    };
    let credential = server_state
        .verify(&rp, registration, &options)
        .map_err(refusal)?;
    let dynamic = credential.dynamic_state();
    let device_type = match dynamic.backup {
        Backup::Eligible | Backup::Exists => "passkey",
        Backup::NotEligible if ceremony.attachment == "platform" => "platform",
        Backup::NotEligible => "security_key",
    };
    // These encodings cannot fail (their error type is `Infallible`).
    let id = credential.id();
    let Ok(id_bytes) = id.encode();
    let Ok(transports) = credential.transports().encode();
    let Ok(static_state) = credential.static_state().encode();
    let Ok(dynamic_state) = dynamic.encode();
    Ok(NewDevice {
        cred_id: URL_SAFE_NO_PAD.encode(id_bytes),
        device_type,
        transports,
        aaguid: credential.metadata().aaguid.data().to_vec(),
        static_state,
        dynamic_state: dynamic_state.to_vec(),
    })
}

fn friendly_name(device_type: &str) -> &'static str {
    match device_type {
        "passkey" => "Passkey",
        "platform" => "Platform authenticator",
        _ => "Security key",
    }
}

/// Stores a verified device; `Ok(None)`: its credential is already
/// registered in the app.
pub fn insert_device(
    conn: &Connection,
    app_id: &str,
    user_id: &str,
    rp_id: &str,
    device: &NewDevice,
    now: i64,
) -> rusqlite::Result<Option<Value>> {
    let taken = conn
        .query_row(
            "SELECT 1 FROM passkeys WHERE app_id = ?1 AND cred_id = ?2",
            params![app_id, device.cred_id],
            |_| Ok(()),
        )
        .optional()?;
    if taken.is_some() {
        return Ok(None);
    }
    let id = random_id();
    conn.execute(
        "INSERT INTO passkeys (id, app_id, user_id, cred_id, friendly_name, type, transports,
                               aaguid, rp_id, static_state, dynamic_state,
                               created_at, updated_at, last_login_at, usage_count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?12, 0)",
        params![
            id,
            app_id,
            user_id,
            device.cred_id,
            friendly_name(device.device_type),
            device.device_type,
            device.transports,
            device.aaguid,
            rp_id,
            device.static_state,
            device.dynamic_state,
            now
        ],
    )?;
    device_by_id(conn, app_id, user_id, &id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_types_once() {
        let devices = vec![
            json!({"type": "passkey"}),
            json!({"type": "security_key"}),
            json!({"type": "passkey"}),
        ];
        assert_eq!(device_types(&devices), ["passkey", "security_key"]);
    }
}
