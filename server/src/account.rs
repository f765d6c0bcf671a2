//! The signed-in user's account, as passage-js 4.1.2's `currentUser` reaches
//! it under `/v1/apps/{app}/currentuser`: the full user, email and phone
//! changes, user metadata and social connections (passkeys are in
//! `passkeys.rs`). Also the local-only stand-ins for what this server cannot
//! reach: an admin endpoint and a subcommand that "open" a magic link (the
//! mailbox), and seeding of social connections (the OAuth providers).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::config::AppSettings;
use crate::error::{ApiError, JsonBody};
use crate::faults::Endpoint;
use crate::metadata::{self, MetadataField};
use crate::server::ConnHandle;
use crate::state::{AppState, SharedState};
use crate::store::{self, User};
use crate::util::{random_id, rfc3339, truncate};

/// How long a magic link stays valid: Passage's default magic-link TTL.
pub const MAGIC_LINK_TTL: i64 = 300;
/// The social connection types passage-js knows.
pub const PROVIDERS: [&str; 3] = ["apple", "github", "google"];
const MAX_OPTION_LEN: usize = 2048;

// ---- app settings kept beside the `apps` table ----

/// Writes the account settings of `app` (called by `store::upsert_app`).
pub fn save_app_settings(conn: &Connection, app: &AppSettings) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO app_account_settings (app_id, rp_id, webauthn_origins, user_metadata_schema)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (app_id) DO UPDATE SET
             rp_id = excluded.rp_id,
             webauthn_origins = excluded.webauthn_origins,
             user_metadata_schema = excluded.user_metadata_schema",
        params![
            app.id,
            app.rp_id,
            json!(app.webauthn_origins).to_string(),
            json!(app.user_metadata_schema).to_string()
        ],
    )?;
    Ok(())
}

/// Reads the account settings of `app` (called by `store::load_apps`).
pub fn load_app_settings(conn: &Connection, app: &mut AppSettings) -> rusqlite::Result<()> {
    let row = conn
        .query_row(
            "SELECT rp_id, webauthn_origins, user_metadata_schema
             FROM app_account_settings WHERE app_id = ?1",
            params![app.id],
            |row| {
                Ok((
                    row.get::<_, Option<String>>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            },
        )
        .optional()?;
    if let Some((rp_id, origins, schema)) = row {
        app.rp_id = rp_id;
        app.webauthn_origins = serde_json::from_str(&origins).unwrap_or_default();
        app.user_metadata_schema = serde_json::from_str(&schema).unwrap_or_default();
    }
    Ok(())
}

// ---- the user as Passage shows it ----

struct Profile {
    phone: String,
    phone_verified: bool,
    metadata: Map<String, Value>,
}

fn profile(conn: &Connection, user_id: &str) -> rusqlite::Result<Profile> {
    let row = conn
        .query_row(
            "SELECT phone, phone_verified, user_metadata FROM user_profiles WHERE user_id = ?1",
            params![user_id],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, bool>(1)?,
                    row.get::<_, String>(2)?,
                ))
            },
        )
        .optional()?;
    Ok(match row {
        Some((phone, phone_verified, metadata)) => Profile {
            phone,
            phone_verified,
            metadata: serde_json::from_str(&metadata).unwrap_or_default(),
        },
        None => Profile {
            phone: String::new(),
            phone_verified: false,
            metadata: Map::new(),
        },
    })
}

fn ensure_profile(conn: &Connection, user: &User) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO user_profiles (user_id, app_id) VALUES (?1, ?2)
         ON CONFLICT (user_id) DO NOTHING",
        params![user.id, user.app_id],
    )?;
    Ok(())
}

/// The user object of `GET /currentuser`, with every field passage-js's
/// `CurrentUserFromJSON` reads.
pub fn user_json(conn: &Connection, app: &AppSettings, user: &User) -> rusqlite::Result<Value> {
    let profile = profile(conn, &user.id)?;
    let devices = crate::passkeys::devices_json(conn, &user.app_id, &user.id)?;
    let types = crate::passkeys::device_types(&devices);
    Ok(json!({
        "id": user.id,
        "email": user.email,
        "email_verified": true,
        "phone": profile.phone,
        "phone_verified": profile.phone_verified,
        "status": user.status,
        "created_at": rfc3339(user.created_at),
        "updated_at": rfc3339(user.updated_at),
        "last_login_at": user.last_login_at.map(rfc3339),
        "login_count": user.login_count,
        "user_metadata": metadata::visible(&app.user_metadata_schema, &profile.metadata),
        "webauthn": !devices.is_empty(),
        "webauthn_devices": devices,
        "webauthn_types": types,
        "social_connections": social_json(conn, &user.id)?,
    }))
}

/// The shorter user object Passage puts beside a WebAuthn handshake
/// (passage-js's `User`).
pub fn user_summary_json(
    conn: &Connection,
    app: &AppSettings,
    user: &User,
) -> rusqlite::Result<Value> {
    let full = user_json(conn, app, user)?;
    Ok(json!({
        "id": full["id"],
        "email": full["email"],
        "email_verified": full["email_verified"],
        "phone": full["phone"],
        "phone_verified": full["phone_verified"],
        "status": full["status"],
        "user_metadata": full["user_metadata"],
        "webauthn": full["webauthn"],
        "webauthn_types": full["webauthn_types"],
    }))
}

/// [`user_json`] off the async threads.
pub async fn full_user(
    state: &SharedState,
    app: &AppSettings,
    user: User,
) -> Result<Value, ApiError> {
    let app = app.clone();
    state
        .blocking(move |state| Ok(state.db.read(|conn| user_json(conn, &app, &user))?))
        .await
}

// ---- the gate every account endpoint goes through ----

pub(crate) enum Gate {
    /// A fault injected for this request: answer it as is.
    Fault(Response),
    User(AppSettings, User),
}

/// The app (404 if unknown), the `account` fault and counter, then the user
/// of the bearer token (401 otherwise).
pub(crate) async fn gate(
    state: &SharedState,
    app_id: &str,
    conn: Option<&Extension<ConnHandle>>,
    headers: &HeaderMap,
) -> Result<Gate, ApiError> {
    let app = state.app(app_id)?;
    if let Some(response) = crate::api::before(state, &app.id, Endpoint::Account, conn).await {
        return Ok(Gate::Fault(response));
    }
    let user = crate::api::authenticated_user(state, &app, headers).await?;
    Ok(Gate::User(app, user))
}

macro_rules! signed_in {
    ($state:expr, $app_id:expr, $conn:expr, $headers:expr) => {
        match crate::account::gate(&$state, &$app_id, $conn.as_ref(), &$headers).await? {
            crate::account::Gate::Fault(response) => return Ok(response),
            crate::account::Gate::User(app, user) => (app, user),
        }
    };
}
pub(crate) use signed_in;

fn optional_text(name: &str, value: &Option<String>, max: usize) -> Result<(), ApiError> {
    match value {
        Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => Err(
            ApiError::bad_request(format!("{name} must be at most {max} printable characters")),
        ),
        _ => Ok(()),
    }
}

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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Email,
    Phone,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
        }
    }
}

pub(crate) struct ChangeRequest {
    kind: Kind,
    pub(crate) value: String,
    pub(crate) language: Option<String>,
    pub(crate) magic_link_path: Option<String>,
    pub(crate) redirect_url: Option<String>,
}

impl ChangeRequest {
    fn validate(&self) -> Result<(), ApiError> {
        optional_text("language", &self.language, 35)?;
        optional_text("magic_link_path", &self.magic_link_path, MAX_OPTION_LEN)?;
        optional_text("redirect_url", &self.redirect_url, MAX_OPTION_LEN)
    }
}

/// Whether another user of the app already has this email or phone.
fn identifier_taken(
    conn: &Connection,
    kind: Kind,
    app_id: &str,
    value: &str,
    user_id: &str,
) -> rusqlite::Result<bool> {
    let sql = match kind {
        Kind::Email => "SELECT 1 FROM users WHERE app_id = ?1 AND email = ?2 AND id <> ?3",
        Kind::Phone => {
            "SELECT 1 FROM user_profiles WHERE app_id = ?1 AND phone = ?2 AND user_id <> ?3"
        }
    };
    conn.query_row(sql, params![app_id, value, user_id], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}

/// Records a pending change: any earlier pending link of the same kind is
/// superseded, so only the newest one can be opened.
fn create_magic_link(
    conn: &Connection,
    user: &User,
    change: &ChangeRequest,
    now: i64,
) -> rusqlite::Result<Result<String, ApiError>> {
    let current = match change.kind {
        Kind::Email => user.email.clone(),
        Kind::Phone => profile(conn, &user.id)?.phone,
    };
    if current == change.value {
        return Ok(Err(ApiError::bad_request(format!(
            "new_{} is already the user's {}",
            change.kind.name(),
            change.kind.name()
        ))));
    }
    if identifier_taken(conn, change.kind, &user.app_id, &change.value, &user.id)? {
        return Ok(Err(ApiError::bad_request(format!(
            "this {} is already used by another user",
            change.kind.name()
        ))));
    }
    conn.execute(
        "UPDATE magic_links SET superseded_at = ?1
         WHERE user_id = ?2 AND kind = ?3 AND opened_at IS NULL AND superseded_at IS NULL",
        params![now, user.id, change.kind.name()],
    )?;
    let id = random_id();
    conn.execute(
        "INSERT INTO magic_links (id, app_id, user_id, kind, new_value, language,
                                  magic_link_path, redirect_url, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            id,
            user.app_id,
            user.id,
            change.kind.name(),
            change.value,
            change.language,
            change.magic_link_path,
            change.redirect_url,
            now,
            now + MAGIC_LINK_TTL
        ],
    )?;
    Ok(Ok(id))
}

async fn request_change(
    state: &SharedState,
    app: AppSettings,
    user: User,
    change: ChangeRequest,
) -> Result<Response, ApiError> {
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let id = state
                .db
                .write(|tx| create_magic_link(tx, &user, &change, now))??;
            Ok(Json(json!({ "magic_link": { "id": id } })).into_response())
        })
        .await
}

/// `PATCH /currentuser/email` `{"new_email", "language"?, "magic_link_path"?, "redirect_url"?}`.
pub async fn change_email(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    conn: Option<Extension<ConnHandle>>,
    headers: HeaderMap,
    body: Result<JsonBody<ChangeEmailBody>, ApiError>,
) -> Result<Response, ApiError> {
    let (app, user) = signed_in!(state, app_id, conn, headers);
    let JsonBody(body) = body?;
    let change = email_change_of(body)?;
    request_change(&state, app, user, change).await
}

/// The change a `PATCH /currentuser/email` body asks for, checked.
pub(crate) fn email_change_of(body: ChangeEmailBody) -> Result<ChangeRequest, ApiError> {
    let email = body.new_email.trim().to_lowercase();
    if !metadata::valid_email(&email) {
        return Err(ApiError::bad_request(
            "new_email must be an email address such as alice@example.com",
        ));
    }
    let change = ChangeRequest {
        kind: Kind::Email,
        value: email,
        language: body.language,
        magic_link_path: body.magic_link_path,
        redirect_url: body.redirect_url,
    };
    change.validate()?;
    Ok(change)
}

/// `PATCH /currentuser/phone` `{"new_phone", "language"?, "magic_link_path"?, "redirect_url"?}`.
pub async fn change_phone(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    conn: Option<Extension<ConnHandle>>,
    headers: HeaderMap,
    body: Result<JsonBody<ChangePhoneBody>, ApiError>,
) -> Result<Response, ApiError> {
    let (app, user) = signed_in!(state, app_id, conn, headers);
    let JsonBody(body) = body?;
    let change = phone_change_of(body)?;
    request_change(&state, app, user, change).await
}

/// The change a `PATCH /currentuser/phone` body asks for, checked.
pub(crate) fn phone_change_of(body: ChangePhoneBody) -> Result<ChangeRequest, ApiError> {
    let phone = body.new_phone.trim().to_owned();
    if !metadata::valid_phone(&phone) {
        return Err(ApiError::bad_request(
            "new_phone must be a phone number in E.164 form, such as +15555550123",
        ));
    }
    let change = ChangeRequest {
        kind: Kind::Phone,
        value: phone,
        language: body.language,
        magic_link_path: body.magic_link_path,
        redirect_url: body.redirect_url,
    };
    change.validate()?;
    Ok(change)
}

// ---- opening a magic link (the local stand-in for the mailbox) ----

struct LinkRow {
    id: String,
    user_id: String,
    kind: String,
    new_value: String,
    language: Option<String>,
    magic_link_path: Option<String>,
    redirect_url: Option<String>,
    created_at: i64,
    expires_at: i64,
    opened_at: Option<i64>,
    superseded_at: Option<i64>,
}

const LINK_COLUMNS: &str = "id, user_id, kind, new_value, language, magic_link_path,
    redirect_url, created_at, expires_at, opened_at, superseded_at";

fn link_from_row(row: &rusqlite::Row) -> rusqlite::Result<LinkRow> {
    Ok(LinkRow {
        id: row.get(0)?,
        user_id: row.get(1)?,
        kind: row.get(2)?,
        new_value: row.get(3)?,
        language: row.get(4)?,
        magic_link_path: row.get(5)?,
        redirect_url: row.get(6)?,
        created_at: row.get(7)?,
        expires_at: row.get(8)?,
        opened_at: row.get(9)?,
        superseded_at: row.get(10)?,
    })
}

impl LinkRow {
    fn status(&self, now: i64) -> &'static str {
        if self.opened_at.is_some() {
            "opened"
        } else if self.superseded_at.is_some() {
            "superseded"
        } else if now >= self.expires_at {
            "expired"
        } else {
            "pending"
        }
    }

    fn to_json(&self, now: i64) -> Value {
        json!({
            "id": self.id,
            "user_id": self.user_id,
            "type": self.kind,
            "new_value": self.new_value,
            "language": self.language,
            "magic_link_path": self.magic_link_path,
            "redirect_url": self.redirect_url,
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.expires_at),
            "opened_at": self.opened_at.map(rfc3339),
            "status": self.status(now),
        })
    }
}

/// Why a magic link cannot be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenRefusal {
    NotFound,
    AlreadyOpened,
    /// Past its TTL, or replaced by a newer change of the same kind.
    NoLongerValid,
    UserInactive,
    /// The new email or phone now belongs to another user.
    Taken,
}

impl OpenRefusal {
    pub fn error(self) -> ApiError {
        match self {
            OpenRefusal::NotFound => {
                ApiError::not_found("magic_link_not_found", "magic link not found")
            }
            OpenRefusal::AlreadyOpened => ApiError::new(
                StatusCode::CONFLICT,
                "magic_link_already_used",
                "this magic link was already opened",
            ),
            OpenRefusal::NoLongerValid => ApiError::new(
                StatusCode::GONE,
                "magic_link_expired",
                "this magic link has expired or was replaced by a newer one",
            ),
            OpenRefusal::UserInactive => ApiError::new(
                StatusCode::FORBIDDEN,
                "user_not_active",
                "the user is deactivated",
            ),
            OpenRefusal::Taken => ApiError::new(
                StatusCode::CONFLICT,
                "identifier_already_exists",
                "the new identifier is now used by another user",
            ),
        }
    }
}

pub struct Opened {
    pub link: Value,
    pub user: User,
    pub kind: String,
    pub new_value: String,
}

/// Opens a magic link of `app_id`: applies the email or phone change it
/// carries, once.
pub fn open_magic_link(
    conn: &Connection,
    app_id: &str,
    link_id: &str,
    now: i64,
) -> rusqlite::Result<Result<Opened, OpenRefusal>> {
    let Some(link) = conn
        .query_row(
            &format!("SELECT {LINK_COLUMNS} FROM magic_links WHERE id = ?1 AND app_id = ?2"),
            params![link_id, app_id],
            link_from_row,
        )
        .optional()?
    else {
        return Ok(Err(OpenRefusal::NotFound));
    };
    match link.status(now) {
        "opened" => return Ok(Err(OpenRefusal::AlreadyOpened)),
        "pending" => {}
        _ => return Ok(Err(OpenRefusal::NoLongerValid)),
    }
    let Some(user) = store::user_by_id(conn, app_id, &link.user_id)? else {
        return Ok(Err(OpenRefusal::NotFound));
    };
    if !user.is_active() {
        return Ok(Err(OpenRefusal::UserInactive));
    }
    let kind = if link.kind == "phone" {
        Kind::Phone
    } else {
        Kind::Email
    };
    if identifier_taken(conn, kind, app_id, &link.new_value, &user.id)? {
        return Ok(Err(OpenRefusal::Taken));
    }
    match kind {
        Kind::Email => {
            conn.execute(
                "UPDATE users SET email = ?1, updated_at = ?2 WHERE id = ?3",
                params![link.new_value, now, user.id],
            )?;
        }
        Kind::Phone => {
            ensure_profile(conn, &user)?;
            conn.execute(
                "UPDATE user_profiles SET phone = ?1, phone_verified = 1 WHERE user_id = ?2",
                params![link.new_value, user.id],
            )?;
            conn.execute(
                "UPDATE users SET updated_at = ?1 WHERE id = ?2",
                params![now, user.id],
            )?;
        }
    }
    conn.execute(
        "UPDATE magic_links SET opened_at = ?1 WHERE id = ?2",
        params![now, link.id],
    )?;
    let user =
        store::user_by_id(conn, app_id, &user.id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    let link = LinkRow {
        opened_at: Some(now),
        ..link
    };
    Ok(Ok(Opened {
        link: link.to_json(now),
        user,
        kind: link.kind,
        new_value: link.new_value,
    }))
}

/// `POST /admin/apps/{app}/magic-links/{id}/open`.
pub async fn admin_open_magic_link(
    State(state): State<SharedState>,
    Path((app_id, link_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let app = state.app(&app_id)?;
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let opened = state
                .db
                .write(|tx| open_magic_link(tx, &app.id, &link_id, now))?
                .map_err(OpenRefusal::error)?;
            let user = state.db.read(|conn| user_json(conn, &app, &opened.user))?;
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
    Path(app_id): Path<String>,
    query: Result<Query<LinksQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let app = state.app(&app_id)?;
    let user_key = query
        .map_err(|e| ApiError::bad_request(e.body_text()))?
        .0
        .user;
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let links = state.db.read(|conn| {
                let user_id = match &user_key {
                    Some(key) => match store::find_user(conn, &app.id, key)? {
                        Some(user) => Some(user.id),
                        None => return Ok(None),
                    },
                    None => None,
                };
                let mut stmt = conn.prepare(&format!(
                    "SELECT {LINK_COLUMNS} FROM magic_links
                     WHERE app_id = ?1 AND (?2 IS NULL OR user_id = ?2)
                     ORDER BY created_at DESC, rowid DESC"
                ))?;
                let rows = stmt
                    .query_map(params![app.id, user_id], link_from_row)?
                    .map(|r| r.map(|link| link.to_json(now)))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(Some(rows))
            })?;
            let links = links.ok_or_else(|| user_not_found(&app.id, user_key.as_deref()))?;
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
    Path(app_id): Path<String>,
    conn: Option<Extension<ConnHandle>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (app, user) = signed_in!(state, app_id, conn, headers);
    state
        .blocking(move |state| {
            let profile = state.db.read(|conn| profile(conn, &user.id))?;
            let shown = metadata::visible(&app.user_metadata_schema, &profile.metadata);
            Ok(Json(json!({ "user_metadata": shown })).into_response())
        })
        .await
}

#[derive(Deserialize)]
pub struct MetadataBody {
    pub(crate) user_metadata: Map<String, Value>,
}

fn update_metadata_tx(
    conn: &Connection,
    schema: &[MetadataField],
    user: &User,
    update: &Map<String, Value>,
    now: i64,
) -> rusqlite::Result<Result<(), String>> {
    ensure_profile(conn, user)?;
    let current = profile(conn, &user.id)?.metadata;
    let merged = match metadata::apply_update(schema, &current, update) {
        Ok(merged) => merged,
        Err(e) => return Ok(Err(e)),
    };
    conn.execute(
        "UPDATE user_profiles SET user_metadata = ?1 WHERE user_id = ?2",
        params![Value::Object(merged).to_string(), user.id],
    )?;
    conn.execute(
        "UPDATE users SET updated_at = ?1 WHERE id = ?2",
        params![now, user.id],
    )?;
    Ok(Ok(()))
}

/// `PATCH /currentuser/user-metadata` `{"user_metadata": {...}}`: merges the
/// given fields (`null` removes one); answers `{"user": {...}}`.
pub async fn update_metadata(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    conn: Option<Extension<ConnHandle>>,
    headers: HeaderMap,
    body: Result<JsonBody<MetadataBody>, ApiError>,
) -> Result<Response, ApiError> {
    let (app, user) = signed_in!(state, app_id, conn, headers);
    let JsonBody(body) = body?;
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            state
                .db
                .write(|tx| {
                    update_metadata_tx(
                        tx,
                        &app.user_metadata_schema,
                        &user,
                        &body.user_metadata,
                        now,
                    )
                })?
                .map_err(ApiError::bad_request)?;
            let user = state
                .db
                .read(|conn| store::user_by_id(conn, &app.id, &user.id))?
                .ok_or_else(|| ApiError::unauthorized("invalid_auth_token", "unknown user"))?;
            let user = state.db.read(|conn| user_json(conn, &app, &user))?;
            Ok(Json(json!({ "user": user })).into_response())
        })
        .await
}

// ---- social connections ----

fn social_json(conn: &Connection, user_id: &str) -> rusqlite::Result<Value> {
    let mut stmt = conn.prepare(
        "SELECT provider, provider_id, provider_identifier, created_at, last_login_at
         FROM social_connections WHERE user_id = ?1 ORDER BY provider",
    )?;
    let rows = stmt.query_map(params![user_id], |row| {
        Ok((
            row.get::<_, String>(0)?,
            json!({
                "provider_id": row.get::<_, String>(1)?,
                "provider_identifier": row.get::<_, String>(2)?,
                "created_at": rfc3339(row.get(3)?),
                "last_login_at": rfc3339(row.get(4)?),
            }),
        ))
    })?;
    let mut connections = Map::new();
    for row in rows {
        let (provider, value) = row?;
        connections.insert(provider, value);
    }
    Ok(Value::Object(connections))
}

/// `GET /currentuser/social-connections`: `{"social_connections": {...}}`.
pub async fn list_social(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    conn: Option<Extension<ConnHandle>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_app, user) = signed_in!(state, app_id, conn, headers);
    state
        .blocking(move |state| {
            let connections = state.db.read(|conn| social_json(conn, &user.id))?;
            Ok(Json(json!({ "social_connections": connections })).into_response())
        })
        .await
}

fn check_provider(provider: &str) -> Result<(), ApiError> {
    if PROVIDERS.contains(&provider) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "the social connection type must be apple, github or google",
        ))
    }
}

/// `DELETE /currentuser/social-connections/{type}`: 204.
pub async fn delete_social(
    State(state): State<SharedState>,
    Path((app_id, provider)): Path<(String, String)>,
    conn: Option<Extension<ConnHandle>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_app, user) = signed_in!(state, app_id, conn, headers);
    check_provider(&provider)?;
    state
        .blocking(move |state| {
            let deleted = state.db.write(|tx| {
                tx.execute(
                    "DELETE FROM social_connections WHERE user_id = ?1 AND provider = ?2",
                    params![user.id, provider],
                )
            })?;
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

/// A social connection to seed (`POST /admin/.../social-connections`, and
/// the `social` subcommand).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocialSeed {
    #[serde(rename = "type")]
    pub provider: String,
    /// The user's id at the provider; default: a random number.
    pub provider_id: Option<String>,
    /// The user's email at the provider; default: the user's email.
    pub provider_identifier: Option<String>,
}

impl SocialSeed {
    pub fn validate(&self) -> Result<(), String> {
        if !PROVIDERS.contains(&self.provider.as_str()) {
            return Err("type must be apple, github or google".into());
        }
        for (name, value) in [
            ("provider_id", &self.provider_id),
            ("provider_identifier", &self.provider_identifier),
        ] {
            if matches!(value, Some(v) if v.is_empty() || v.chars().count() > 254) {
                return Err(format!("{name} must be 1 to 254 characters"));
            }
        }
        Ok(())
    }
}

/// Adds (or replaces) a social connection of a user of `app_id`.
/// `Ok(None)`: no such user. Returns the user and whether it was new.
pub fn seed_social(
    conn: &Connection,
    app_id: &str,
    user_key: &str,
    seed: &SocialSeed,
    now: i64,
) -> rusqlite::Result<Option<(User, bool)>> {
    let Some(user) = store::find_user(conn, app_id, user_key)? else {
        return Ok(None);
    };
    let provider_id = seed.provider_id.clone().unwrap_or_else(|| {
        use rand::Rng;
        rand::rngs::OsRng
            .gen_range(10_000_000u64..100_000_000)
            .to_string()
    });
    let identifier = seed
        .provider_identifier
        .clone()
        .unwrap_or_else(|| user.email.clone());
    let replaced = conn.execute(
        "DELETE FROM social_connections WHERE user_id = ?1 AND provider = ?2",
        params![user.id, seed.provider],
    )?;
    conn.execute(
        "INSERT INTO social_connections (user_id, provider, app_id, provider_id,
                                         provider_identifier, created_at, last_login_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![user.id, seed.provider, app_id, provider_id, identifier, now],
    )?;
    Ok(Some((user, replaced == 0)))
}

/// `POST /admin/apps/{app}/users/{user}/social-connections`
/// `{"type", "provider_id"?, "provider_identifier"?}`.
pub async fn admin_seed_social(
    State(state): State<SharedState>,
    Path((app_id, user_key)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let app = state.app(&app_id)?;
    let seed: SocialSeed = crate::error::parse_json(&body)?;
    seed.validate().map_err(ApiError::bad_request)?;
    state
        .blocking(move |state: &AppState| {
            let now = state.clock.now(&app.id);
            let (user, created) = state
                .db
                .write(|tx| seed_social(tx, &app.id, &user_key, &seed, now))?
                .ok_or_else(|| user_not_found(&app.id, Some(&user_key)))?;
            let connections = state.db.read(|conn| social_json(conn, &user.id))?;
            Ok(Json(json!({
                "user_id": user.id,
                "social_connections": connections,
                "created": created,
            })))
        })
        .await
}
