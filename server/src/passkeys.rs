//! Passkeys (Passage's "webauthn devices") of the signed-in user: list,
//! rename, delete, and the add-device ceremony under
//! `/v1/apps/{app}/currentuser/devices`.
//!
//! The ceremony is verified by `webauthn_rp`, a relying-party library on
//! the RustCrypto curves this server already builds for `jsonwebtoken`: the
//! challenge (single use, bound to the user and app that started it,
//! expiring), the origin, the RP ID hash, the user-present and user-verified
//! flags, the COSE public key and its algorithm, and a packed
//! self-attestation's signature when there is one.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Deserialize;
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

use crate::account::{self, signed_in};
use crate::config::AppSettings;
use crate::error::{parse_json, ApiError, JsonBody};
use crate::server::ConnHandle;
use crate::state::{AppState, SharedState};
use crate::store::User;
use crate::util::{random_id, rfc3339};

/// The WebAuthn user handle is the user id's bytes (ids are 24 characters).
const USER_HANDLE_LEN: usize = 24;
/// How long a started ceremony can be finished: the timeout the options
/// give the browser (webauthn_rp's default, 300 000 ms).
const CEREMONY_SECS: i64 = 300;
const MAX_FRIENDLY_NAME: usize = 255;

// ---- settings ----

/// Checks an RP ID setting: an ASCII domain such as `localhost` or
/// `example.com`.
pub fn validate_rp_id(rp_id: &str) -> Result<(), String> {
    if rp_id.len() > 253 || rp_id.contains(['/', ':']) {
        return Err(format!(
            "invalid rp_id {:?}: expected a domain such as example.com",
            crate::util::truncate(rp_id, 100)
        ));
    }
    AsciiDomain::try_from(rp_id.to_owned())
        .map(|_| ())
        .map_err(|e| format!("invalid rp_id {rp_id:?}: {e}"))
}

/// The host of `scheme://host[:port]`, brackets kept for IPv6.
fn origin_host(origin: &str) -> Option<&str> {
    let rest = origin.split_once("://")?.1;
    if rest.starts_with('[') {
        return rest.find(']').map(|end| &rest[..=end]);
    }
    Some(rest.split(':').next().unwrap_or(rest))
}

fn is_loopback_ip(host: &str) -> bool {
    host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The app's RP ID: its `rp_id` setting, else the host of its origin, where
/// a loopback IP becomes `localhost` (browsers refuse WebAuthn on IPs).
pub fn rp_id(state: &AppState, app: &AppSettings) -> String {
    if let Some(rp_id) = &app.rp_id {
        return rp_id.clone();
    }
    let origin = state.app_origin(app);
    match origin_host(&origin) {
        Some(host) if is_loopback_ip(host) => "localhost".to_owned(),
        Some(host) => host.to_owned(),
        None => "localhost".to_owned(),
    }
}

/// The origins a ceremony may come from: the app's `webauthn_origins`
/// setting, else its origin, plus that origin with `localhost` for its host
/// when it is a loopback IP and the RP ID is `localhost`.
pub fn allowed_origins(state: &AppState, app: &AppSettings) -> Vec<String> {
    if !app.webauthn_origins.is_empty() {
        return app.webauthn_origins.clone();
    }
    let origin = state.app_origin(app);
    let mut origins = vec![origin.clone()];
    if let Some(host) = origin_host(&origin) {
        if is_loopback_ip(host) && rp_id(state, app) == "localhost" {
            origins.push(origin.replacen(host, "localhost", 1));
        }
    }
    origins
}

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

fn device_not_found() -> ApiError {
    ApiError::not_found("device_not_found", "the user has no device with this id")
}

/// `GET /currentuser/devices`: `{"devices": [...]}`.
pub async fn list_devices(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    conn: Option<Extension<ConnHandle>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (app, user) = signed_in!(state, app_id, conn, headers);
    state
        .blocking(move |state| {
            let devices = state
                .db
                .read(|conn| devices_json(conn, &app.id, &user.id))?;
            Ok(Json(json!({ "devices": devices })).into_response())
        })
        .await
}

#[derive(Deserialize)]
pub struct UpdateDeviceBody {
    friendly_name: String,
}

/// The name a `PATCH /currentuser/devices/{id}` body gives, checked.
pub(crate) fn device_name_of(body: UpdateDeviceBody) -> Result<String, ApiError> {
    let name = body.friendly_name.trim().to_owned();
    if name.is_empty()
        || name.chars().count() > MAX_FRIENDLY_NAME
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::bad_request(format!(
            "friendly_name must be 1 to {MAX_FRIENDLY_NAME} printable characters"
        )));
    }
    Ok(name)
}

/// `PATCH /currentuser/devices/{id}` `{"friendly_name"}`: `{"device": {...}}`.
pub async fn update_device(
    State(state): State<SharedState>,
    Path((app_id, device_id)): Path<(String, String)>,
    conn: Option<Extension<ConnHandle>>,
    headers: HeaderMap,
    body: Result<JsonBody<UpdateDeviceBody>, ApiError>,
) -> Result<Response, ApiError> {
    let (app, user) = signed_in!(state, app_id, conn, headers);
    let JsonBody(body) = body?;
    let name = device_name_of(body)?;
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let device = state.db.write(|tx| {
                let changed = tx.execute(
                    "UPDATE passkeys SET friendly_name = ?1, updated_at = ?2
                     WHERE id = ?3 AND app_id = ?4 AND user_id = ?5",
                    params![name, now, device_id, app.id, user.id],
                )?;
                if changed == 0 {
                    return Ok(None);
                }
                device_by_id(tx, &app.id, &user.id, &device_id)
            })?;
            let device = device.ok_or_else(device_not_found)?;
            Ok(Json(json!({ "device": device })).into_response())
        })
        .await
}

/// `DELETE /currentuser/devices/{id}`: 204.
pub async fn delete_device(
    State(state): State<SharedState>,
    Path((app_id, device_id)): Path<(String, String)>,
    conn: Option<Extension<ConnHandle>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (app, user) = signed_in!(state, app_id, conn, headers);
    state
        .blocking(move |state| {
            let deleted = state.db.write(|tx| {
                tx.execute(
                    "DELETE FROM passkeys WHERE id = ?1 AND app_id = ?2 AND user_id = ?3",
                    params![device_id, app.id, user.id],
                )
            })?;
            if deleted == 0 {
                return Err(device_not_found());
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        })
        .await
}

// ---- the add-device ceremony ----

#[derive(Deserialize, Default)]
pub struct StartBody {
    authenticator_attachment: Option<String>,
}

fn user_handle(user: &User) -> Result<UserHandle<USER_HANDLE_LEN>, ApiError> {
    let bytes: [u8; USER_HANDLE_LEN] =
        user.id.as_bytes().try_into().map_err(|_| {
            ApiError::internal(format!("user id of unexpected length: {}", user.id))
        })?;
    let Ok(handle) = UserHandle::decode(bytes);
    Ok(handle)
}

fn rp(rp_id: &str) -> Result<RpId, ApiError> {
    AsciiDomain::try_from(rp_id.to_owned())
        .map(RpId::Domain)
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "invalid_rp_id",
                format!(
                    "the app's passkey RP ID {rp_id:?} is not a domain: set rp_id for this app"
                ),
            )
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

struct Started {
    id: String,
    public_key: Value,
}

fn start_ceremony(
    conn: &Connection,
    rp_id: &str,
    app: &AppSettings,
    user: &User,
    attachment: &str,
    now: i64,
) -> rusqlite::Result<Result<Started, ApiError>> {
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
        Err(e) => return Ok(Err(ApiError::internal(format!("user name: {e}")))),
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
        Err(e) => return Ok(Err(ApiError::internal(format!("passkey options: {e}")))),
    };
    let client_state = match serde_json::to_value(&client_state) {
        Ok(value) => value,
        Err(e) => return Ok(Err(ApiError::internal(format!("passkey options: {e}")))),
    };
    let encoded = match server_state.encode() {
        Ok(bytes) => bytes,
        Err(e) => return Ok(Err(ApiError::internal(format!("passkey state: {e}")))),
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

/// The authenticator attachment a `POST /currentuser/devices/start` body
/// asks for (an empty body: any), checked.
pub(crate) fn attachment_of(body: &[u8]) -> Result<String, ApiError> {
    let body: StartBody = if body.iter().all(u8::is_ascii_whitespace) {
        StartBody::default()
    } else {
        parse_json(body)?
    };
    let attachment = body
        .authenticator_attachment
        .unwrap_or_else(|| "any".into());
    if !["platform", "cross-platform", "any"].contains(&attachment.as_str()) {
        return Err(ApiError::bad_request(
            "authenticator_attachment must be platform, cross-platform or any",
        ));
    }
    Ok(attachment)
}

/// `POST /currentuser/devices/start` `{"authenticator_attachment"?:
/// "platform" | "cross-platform" | "any"}` (an empty body means "any"):
/// `{"handshake": {"challenge": {"publicKey": {...}}, "id"}, "user": {...}}`.
pub async fn start(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    conn: Option<Extension<ConnHandle>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (app, user) = signed_in!(state, app_id, conn, headers);
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        ApiError::new(
            status,
            crate::error::code_for_status(status),
            rejection.body_text(),
        )
    })?;
    let attachment = attachment_of(&body)?;
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let rp_id = rp_id(state, &app);
            let started = state
                .db
                .write(|tx| start_ceremony(tx, &rp_id, &app, &user, &attachment, now))??;
            let summary = state
                .db
                .read(|conn| account::user_summary_json(conn, &app, &user))?;
            Ok(Json(json!({
                "handshake": {
                    "challenge": { "publicKey": started.public_key },
                    "id": started.id,
                },
                "user": summary,
            }))
            .into_response())
        })
        .await
}

#[derive(Deserialize)]
pub struct FinishBody {
    handshake_id: String,
    handshake_response: Value,
    pub(crate) user_id: Option<String>,
}

/// The credential in a `POST /currentuser/devices/finish` body, parsed
/// (verified later, against the stored ceremony).
pub(crate) fn registration_of(body: &FinishBody) -> Result<Registration, ApiError> {
    let raw = serde_json::to_vec(&body.handshake_response).map_err(ApiError::internal)?;
    Registration::from_json_relaxed(&raw).map_err(|e| {
        ApiError::bad_request(crate::util::truncate(
            &format!("handshake_response is not a WebAuthn registration response: {e}"),
            300,
        ))
    })
}

struct Ceremony {
    rp_id: String,
    attachment: String,
    state: Vec<u8>,
    expires_at: i64,
}

/// Takes a started ceremony of this user and app: whatever the outcome, it
/// cannot be used again.
fn take_ceremony(
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

fn ceremony_error(e: RegCeremonyErr) -> ApiError {
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
    ApiError::new(
        StatusCode::BAD_REQUEST,
        code,
        crate::util::truncate(&format!("passkey registration refused: {e}"), 300),
    )
}

/// The verified credential, ready to store.
struct NewDevice {
    cred_id: String,
    device_type: &'static str,
    transports: u8,
    aaguid: Vec<u8>,
    static_state: Vec<u8>,
    dynamic_state: Vec<u8>,
}

fn verify(
    state: &AppState,
    app: &AppSettings,
    ceremony: &Ceremony,
    registration: &Registration,
) -> Result<NewDevice, ApiError> {
    let server_state =
        RegistrationServerState::<USER_HANDLE_LEN>::decode(ceremony.state.as_slice())
            .map_err(ApiError::internal)?;
    let rp = rp(&ceremony.rp_id)?;
    let origins = allowed_origins(state, app);
    let options = RegistrationVerificationOptions::<String, String> {
        allowed_origins: &origins,
        // Browsers and authenticators add extensions on their own (credProps,
        // credProtect); Passage accepts them, and so does this server.
        error_on_unsolicited_extensions: false,
        ..RegistrationVerificationOptions::default()
    };
    let credential = server_state
        .verify(&rp, registration, &options)
        .map_err(ceremony_error)?;
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

fn insert_device(
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

/// `POST /currentuser/devices/finish` `{"handshake_id", "handshake_response":
/// <the credential as JSON>, "user_id"}`: `{"device": {...}}`.
pub async fn finish(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    conn: Option<Extension<ConnHandle>>,
    headers: HeaderMap,
    body: Result<JsonBody<FinishBody>, ApiError>,
) -> Result<Response, ApiError> {
    let (app, user) = signed_in!(state, app_id, conn, headers);
    let JsonBody(body) = body?;
    if body.user_id.as_ref().is_some_and(|id| id != &user.id) {
        return Err(ApiError::bad_request(
            "user_id is not the signed-in user's id",
        ));
    }
    let registration = registration_of(&body)?;
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let ceremony = state
                .db
                .write(|tx| take_ceremony(tx, &body.handshake_id, &app.id, &user.id))?
                .ok_or_else(|| {
                    ApiError::not_found(
                        "handshake_not_found",
                        "no passkey registration with this handshake_id is waiting for this user",
                    )
                })?;
            if now >= ceremony.expires_at {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "handshake_expired",
                    "the passkey registration has expired",
                ));
            }
            let device = verify(state, &app, &ceremony, &registration)?;
            let stored = state
                .db
                .write(|tx| insert_device(tx, &app.id, &user.id, &ceremony.rp_id, &device, now))?
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "webauthn_credential_exists",
                        "this credential is already registered",
                    )
                })?;
            Ok(Json(json!({ "device": stored })).into_response())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_origin_hosts() {
        assert_eq!(origin_host("http://127.0.0.1:8787"), Some("127.0.0.1"));
        assert_eq!(
            origin_host("https://app.example.com"),
            Some("app.example.com")
        );
        assert_eq!(origin_host("http://[::1]:3000"), Some("[::1]"));
        assert_eq!(origin_host("nonsense"), None);
        assert!(is_loopback_ip("127.0.0.1") && is_loopback_ip("[::1]"));
        assert!(!is_loopback_ip("localhost") && !is_loopback_ip("10.0.0.1"));
    }

    #[test]
    fn checks_rp_ids() {
        assert!(validate_rp_id("localhost").is_ok());
        assert!(validate_rp_id("app.example.com").is_ok());
        assert!(validate_rp_id("http://example.com").is_err());
        assert!(validate_rp_id("example.com:8080").is_err());
        assert!(validate_rp_id("").is_err());
    }

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
