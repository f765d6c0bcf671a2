//! Passkeys (Passage's "webauthn devices") of the signed-in user: list,
//! rename, delete, and the add-device ceremony under
//! `/v1/apps/{app}/currentuser/devices`. The ceremony itself and its
//! checks are in `passkeys::passkeys`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use webauthn_rp::Registration;

use crate::error::{code_for_status, parse_json, ApiError, JsonBody};
use crate::extract::SignedIn;
use crate::state::SharedState;
use crate::store::account::user_summary_json;
use crate::store::passkeys::{self, CeremonyError};
use crate::util::truncate;

const MAX_FRIENDLY_NAME: usize = 255;

fn device_not_found() -> ApiError {
    ApiError::not_found("device_not_found", "the user has no device with this id")
}

fn ceremony_error(e: CeremonyError) -> ApiError {
    match e {
        CeremonyError::Refused { code, message } => {
            ApiError::new(StatusCode::BAD_REQUEST, code, message)
        }
        CeremonyError::BadRpId(message) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "invalid_rp_id", message)
        }
        CeremonyError::Internal(detail) => ApiError::internal(detail),
    }
}

/// `GET /currentuser/devices`: `{"devices": [...]}`.
pub async fn list_devices(
    State(state): State<SharedState>,
    SignedIn { app, user }: SignedIn,
) -> Result<Json<Value>, ApiError> {
    state
        .blocking(move |state| {
            let devices = state
                .db
                .read(|conn| passkeys::devices_json(conn, &app.id, &user.id))?;
            Ok(Json(json!({ "devices": devices })))
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
    SignedIn { app, user }: SignedIn,
    Path((_, device_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateDeviceBody>,
) -> Result<Json<Value>, ApiError> {
    let name = device_name_of(body)?;
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let device = state
                .db
                .write(|tx| passkeys::rename_device(tx, &app.id, &user.id, &device_id, &name, now))?
                .ok_or_else(device_not_found)?;
            Ok(Json(json!({ "device": device })))
        })
        .await
}

/// `DELETE /currentuser/devices/{id}`: 204.
pub async fn delete_device(
    State(state): State<SharedState>,
    SignedIn { app, user }: SignedIn,
    Path((_, device_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    state
        .blocking(move |state| {
            let deleted = state
                .db
                .write(|tx| passkeys::delete_device(tx, &app.id, &user.id, &device_id))?;
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
    SignedIn { app, user }: SignedIn,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        ApiError::new(status, code_for_status(status), rejection.body_text())
    })?;
    let attachment = attachment_of(&body)?;
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let rp_id = state.rp_id(&app);
            let started = state
                .db
                .write(|tx| passkeys::start_ceremony(tx, &rp_id, &app, &user, &attachment, now))?
                .map_err(ceremony_error)?;
            let summary = state.db.read(|conn| user_summary_json(conn, &app, &user))?;
            Ok(Json(json!({
                "handshake": {
                    "challenge": { "publicKey": started.public_key },
                    "id": started.id,
                },
                "user": summary,
            })))
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
        ApiError::bad_request(truncate(
            &format!("handshake_response is not a WebAuthn registration response: {e}"),
            300,
        ))
    })
}

/// `POST /currentuser/devices/finish` `{"handshake_id", "handshake_response":
/// <the credential as JSON>, "user_id"}`: `{"device": {...}}`.
pub async fn finish(
    State(state): State<SharedState>,
    SignedIn { app, user }: SignedIn,
    JsonBody(body): JsonBody<FinishBody>,
) -> Result<Json<Value>, ApiError> {
    if body.user_id.as_ref().is_some_and(|id| id != &user.id) {
        return Err(ApiError::bad_request(
            "user_id is not the signed-in user's id",
        ));
    }
    let registration = registration_of(&body)?;
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            // Taken (and so used up) whatever comes next.
            let ceremony = state
                .db
                .write(|tx| passkeys::take_ceremony(tx, &body.handshake_id, &app.id, &user.id))?
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
            let origins = state.webauthn_origins(&app);
            let device =
                passkeys::verify(&ceremony, &origins, &registration).map_err(ceremony_error)?;
            let stored = state
                .db
                .write(|tx| {
                    passkeys::insert_device(tx, &app.id, &user.id, &ceremony.rp_id, &device, now)
                })?
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "webauthn_credential_exists",
                        "this credential is already registered",
                    )
                })?;
            Ok(Json(json!({ "device": stored })))
        })
        .await
}
