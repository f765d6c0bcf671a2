//! The signed-in user's account, as passage-js 4.1.2's `currentUser` reaches
//! it under `/v1/apps/{app}/currentuser`: email and phone changes, user
//! metadata and social connections (`GET /currentuser` is in `api.rs`,
//! passkeys in `passkeys.rs`). Also the local-only stand-ins for what this
//! server cannot reach: an admin endpoint that "opens" a magic link (the
//! mailbox), and seeding of social connections (the OAuth providers).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::{parse_json, ApiError, JsonBody};
use crate::extract::{self, App, SignedIn};
use crate::metadata;
use crate::state::SharedState;
use crate::store::account::{Change, Kind, OpenRefusal, SocialSeed, PROVIDERS};
use crate::store::{self, account};
use crate::util::truncate;

const MAX_OPTION_LEN: usize = 2048;

// ---- email and phone changes ----

#[derive(Deserialize)]
pub struct ChangeEmailBody {
    new_email: String,
    language: Option<String>,
    magic_link_path: Option<String>,
    redirect_url: Option<String>,
}

#[derive(Deserialize)]
pub struct ChangePhoneBody {
    new_phone: String,
    language: Option<String>,
    magic_link_path: Option<String>,
    redirect_url: Option<String>,
}

fn optional_text(name: &str, value: &Option<String>, max: usize) -> Result<(), ApiError> {
    match value {
        Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => Err(
            ApiError::bad_request(format!("{name} must be at most {max} printable characters")),
        ),
        _ => Ok(()),
    }
}

fn check_options(change: &Change) -> Result<(), ApiError> {
    optional_text("language", &change.language, 35)?;
    optional_text("magic_link_path", &change.magic_link_path, MAX_OPTION_LEN)?;
    optional_text("redirect_url", &change.redirect_url, MAX_OPTION_LEN)
}

/// `PATCH /currentuser/email` `{"new_email", "language"?, "magic_link_path"?, "redirect_url"?}`.
pub async fn change_email(
    State(state): State<SharedState>,
    signed_in: SignedIn,
    JsonBody(body): JsonBody<ChangeEmailBody>,
) -> Result<Json<Value>, ApiError> {
    let change = email_change_of(body)?;
    request_change(&state, signed_in, change).await
}

/// The change a `PATCH /currentuser/email` body asks for, checked.
pub(crate) fn email_change_of(body: ChangeEmailBody) -> Result<Change, ApiError> {
    let email = body.new_email.trim().to_lowercase();
    if !metadata::valid_email(&email) {
        return Err(ApiError::bad_request(
            "new_email must be an email address such as alice@example.com",
        ));
    }
    let change = Change {
        kind: Kind::Email,
        value: email,
        language: body.language,
        magic_link_path: body.magic_link_path,
        redirect_url: body.redirect_url,
    };
    check_options(&change)?;
    Ok(change)
}

/// `PATCH /currentuser/phone` `{"new_phone", "language"?, "magic_link_path"?, "redirect_url"?}`.
pub async fn change_phone(
    State(state): State<SharedState>,
    signed_in: SignedIn,
    JsonBody(body): JsonBody<ChangePhoneBody>,
) -> Result<Json<Value>, ApiError> {
    let change = phone_change_of(body)?;
    request_change(&state, signed_in, change).await
}

/// The change a `PATCH /currentuser/phone` body asks for, checked.
pub(crate) fn phone_change_of(body: ChangePhoneBody) -> Result<Change, ApiError> {
    let phone = body.new_phone.trim().to_owned();
    if !metadata::valid_phone(&phone) {
        return Err(ApiError::bad_request(
            "new_phone must be a phone number in E.164 form, such as +15555550123",
        ));
    }
    let change = Change {
        kind: Kind::Phone,
        value: phone,
        language: body.language,
        magic_link_path: body.magic_link_path,
        redirect_url: body.redirect_url,
    };
    check_options(&change)?;
    Ok(change)
}

/// Records the change; answers `{"magic_link": {"id"}}`.
async fn request_change(
    state: &SharedState,
    SignedIn { app, user }: SignedIn,
    change: Change,
) -> Result<Json<Value>, ApiError> {
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let id = state
                .db
                .write(|tx| account::create_magic_link(tx, &user, &change, now))?
                .map_err(|refusal| ApiError::bad_request(refusal.message()))?;
            Ok(Json(json!({ "magic_link": { "id": id } })))
        })
        .await
}

// ---- opening a magic link (the local stand-in for the mailbox) ----

fn open_refusal(refusal: OpenRefusal) -> ApiError {
    let (status, code) = match refusal {
        OpenRefusal::NotFound => (StatusCode::NOT_FOUND, "magic_link_not_found"),
        OpenRefusal::AlreadyOpened => (StatusCode::CONFLICT, "magic_link_already_used"),
        OpenRefusal::NoLongerValid => (StatusCode::GONE, "magic_link_expired"),
        OpenRefusal::UserInactive => (StatusCode::FORBIDDEN, "user_not_active"),
        OpenRefusal::Taken => (StatusCode::CONFLICT, "identifier_already_exists"),
    };
    ApiError::new(status, code, refusal.message())
}

/// `POST /admin/apps/{app}/magic-links/{id}/open`.
pub async fn admin_open_magic_link(
    State(state): State<SharedState>,
    App(app): App,
    Path((_, link_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let opened = state
                .db
                .write(|tx| account::open_magic_link(tx, &app.id, &link_id, now))?
                .map_err(open_refusal)?;
            let user = state
                .db
                .read(|conn| account::user_json(conn, &app, &opened.user))?;
            Ok(Json(json!({ "magic_link": opened.link, "user": user })))
        })
        .await
}

#[derive(Deserialize)]
pub struct LinksQuery {
    pub(crate) user: Option<String>,
}

/// `GET /admin/apps/{app}/magic-links[?user=ID or email]`: the mailbox,
/// newest first.
pub async fn admin_list_magic_links(
    State(state): State<SharedState>,
    App(app): App,
    query: Result<Query<LinksQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let user_key = query
        .map_err(|e| ApiError::bad_request(e.body_text()))?
        .0
        .user;
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let links = state
                .db
                .read(|conn| account::magic_links(conn, &app.id, user_key.as_deref(), now))?
                .ok_or_else(|| user_not_found(&app.id, user_key.as_deref()))?;
            Ok(Json(json!({ "magic_links": links })))
        })
        .await
}

fn user_not_found(app: &str, key: Option<&str>) -> ApiError {
    ApiError::not_found(
        "user_not_found",
        format!(
            "no user {:?} in app {app}",
            truncate(key.unwrap_or_default(), 100)
        ),
    )
}

// ---- user metadata ----

/// `GET /currentuser/user-metadata`: `{"user_metadata": {...}}`.
pub async fn get_metadata(
    State(state): State<SharedState>,
    SignedIn { app, user }: SignedIn,
) -> Result<Json<Value>, ApiError> {
    state
        .blocking(move |state| {
            let shown = state
                .db
                .read(|conn| account::visible_metadata(conn, &app, &user))?;
            Ok(Json(json!({ "user_metadata": shown })))
        })
        .await
}

#[derive(Deserialize)]
pub struct MetadataBody {
    pub(crate) user_metadata: Map<String, Value>,
}

/// `PATCH /currentuser/user-metadata` `{"user_metadata": {...}}`: merges the
/// given fields (`null` removes one); answers `{"user": {...}}`.
pub async fn update_metadata(
    State(state): State<SharedState>,
    SignedIn { app, user }: SignedIn,
    JsonBody(body): JsonBody<MetadataBody>,
) -> Result<Json<Value>, ApiError> {
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let schema = &app.user_metadata_schema;
            state
                .db
                .write(|tx| account::update_metadata(tx, schema, &user, &body.user_metadata, now))?
                .map_err(ApiError::bad_request)?;
            let user = state
                .db
                .read(|conn| store::user_by_id(conn, &app.id, &user.id))?
                .ok_or_else(|| ApiError::unauthorized("invalid_auth_token", "unknown user"))?;
            let user = state
                .db
                .read(|conn| account::user_json(conn, &app, &user))?;
            Ok(Json(json!({ "user": user })))
        })
        .await
}

// ---- social connections ----

/// `GET /currentuser/social-connections`: `{"social_connections": {...}}`.
pub async fn list_social(
    State(state): State<SharedState>,
    SignedIn { user, .. }: SignedIn,
) -> Result<Json<Value>, ApiError> {
    state
        .blocking(move |state| {
            let connections = state.db.read(|conn| account::social_json(conn, &user.id))?;
            Ok(Json(json!({ "social_connections": connections })))
        })
        .await
}

/// `DELETE /currentuser/social-connections/{type}`: 204.
pub async fn delete_social(
    State(state): State<SharedState>,
    SignedIn { user, .. }: SignedIn,
    Path((_, provider)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    if !PROVIDERS.contains(&provider.as_str()) {
        return Err(ApiError::bad_request(
            "the social connection type must be apple, github or google",
        ));
    }
    state
        .blocking(move |state| {
            let deleted = state
                .db
                .write(|tx| account::delete_social(tx, &user.id, &provider))?;
            if deleted == 0 {
                return Err(ApiError::not_found(
                    "social_connection_not_found",
                    "the user has no social connection of this type",
                ));
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        })
        .await
}

/// `POST /admin/apps/{app}/users/{user}/social-connections`
/// `{"type", "provider_id"?, "provider_identifier"?}`.
pub async fn admin_seed_social(
    State(state): State<SharedState>,
    Path((app_id, user_key)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let app = extract::app(&state, &app_id)?;
    let seed: SocialSeed = parse_json(&body)?;
    seed.validate().map_err(ApiError::bad_request)?;
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let (user, created) = state
                .db
                .write(|tx| account::seed_social(tx, &app.id, &user_key, &seed, now))?
                .ok_or_else(|| user_not_found(&app.id, Some(&user_key)))?;
            let connections = state.db.read(|conn| account::social_json(conn, &user.id))?;
            Ok(Json(json!({
                "user_id": user.id,
                "social_connections": connections,
                "created": created,
            })))
        })
        .await
}
