//! The signed-in user's account in the database: the apps' account
//! settings, profiles (phone, metadata), the user object as Passage shows
//! it, pending email and phone changes (magic links) and social
//! connections. Like the rest of the store, it knows nothing of HTTP: a
//! refusal is a value of this module, and the handlers choose its answer.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{find_user, passkeys, user_by_id, User};
use crate::config::AppSettings;
use crate::metadata::{self, MetadataField};
use crate::util::{random_id, rfc3339};

/// How long a magic link stays valid: Passage's default magic-link TTL.
pub const MAGIC_LINK_TTL: i64 = 300;
/// The social connection types passage-js knows.
pub const PROVIDERS: [&str; 3] = ["apple", "github", "google"];

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
    let devices = passkeys::devices_json(conn, &user.app_id, &user.id)?;
    let types = passkeys::device_types(&devices);
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

// ---- email and phone changes ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Email,
    Phone,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
        }
    }
}

/// A change of email or phone a user asked for, checked by its endpoint.
pub struct Change {
    pub kind: Kind,
    /// The new email (lower-cased) or phone.
    pub value: String,
    pub language: Option<String>,
    pub magic_link_path: Option<String>,
    pub redirect_url: Option<String>,
}

/// Why a change cannot be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeRefusal {
    /// The new value is the user's current one.
    Unchanged(Kind),
    /// Another user of the app has it.
    Taken(Kind),
}

impl ChangeRefusal {
    pub fn message(self) -> String {
        match self {
            ChangeRefusal::Unchanged(kind) => {
                format!("new_{} is already the user's {}", kind.name(), kind.name())
            }
            ChangeRefusal::Taken(kind) => {
                format!("this {} is already used by another user", kind.name())
            }
        }
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

/// Records a pending change and returns its magic link's id: any earlier
/// pending link of the same kind is superseded, so only the newest one can
/// be opened.
pub fn create_magic_link(
    conn: &Connection,
    user: &User,
    change: &Change,
    now: i64,
) -> rusqlite::Result<Result<String, ChangeRefusal>> {
    let current = match change.kind {
        Kind::Email => user.email.clone(),
        Kind::Phone => profile(conn, &user.id)?.phone,
    };
    if current == change.value {
        return Ok(Err(ChangeRefusal::Unchanged(change.kind)));
    }
    if identifier_taken(conn, change.kind, &user.app_id, &change.value, &user.id)? {
        return Ok(Err(ChangeRefusal::Taken(change.kind)));
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

/// The magic links of `app_id` (of one user, by id or email, with
/// `user_key`), newest first. `Ok(None)`: no such user.
pub fn magic_links(
    conn: &Connection,
    app_id: &str,
    user_key: Option<&str>,
    now: i64,
) -> rusqlite::Result<Option<Vec<Value>>> {
    let user_id = match user_key {
        Some(key) => match find_user(conn, app_id, key)? {
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
        .query_map(params![app_id, user_id], link_from_row)?
        .map(|r| r.map(|link| link.to_json(now)))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(rows))
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
    pub fn message(self) -> &'static str {
        match self {
            OpenRefusal::NotFound => "magic link not found",
            OpenRefusal::AlreadyOpened => "this magic link was already opened",
            OpenRefusal::NoLongerValid => {
                "this magic link has expired or was replaced by a newer one"
            }
            OpenRefusal::UserInactive => "the user is deactivated",
            OpenRefusal::Taken => "the new identifier is now used by another user",
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
    let Some(user) = user_by_id(conn, app_id, &link.user_id)? else {
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
    let user = user_by_id(conn, app_id, &user.id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
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

// ---- user metadata ----

/// The user's metadata values that the app's schema declares.
pub fn visible_metadata(
    conn: &Connection,
    app: &AppSettings,
    user: &User,
) -> rusqlite::Result<Map<String, Value>> {
    let profile = profile(conn, &user.id)?;
    Ok(metadata::visible(
        &app.user_metadata_schema,
        &profile.metadata,
    ))
}

/// Merges `update` into the user's metadata (`null` removes a field), or
/// refuses the whole update with the reason (nothing is applied).
pub fn update_metadata(
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

// ---- social connections ----

/// The user's social connections, by provider.
pub fn social_json(conn: &Connection, user_id: &str) -> rusqlite::Result<Value> {
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

/// Deletes the user's connection of one provider; returns the rows deleted.
pub fn delete_social(conn: &Connection, user_id: &str, provider: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM social_connections WHERE user_id = ?1 AND provider = ?2",
        params![user_id, provider],
    )
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
    let Some(user) = find_user(conn, app_id, user_key)? else {
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
    let replaced = delete_social(conn, &user.id, &seed.provider)?;
    conn.execute(
        "INSERT INTO social_connections (user_id, provider, app_id, provider_id,
                                         provider_identifier, created_at, last_login_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![user.id, seed.provider, app_id, provider_id, identifier, now],
    )?;
    Ok(Some((user, replaced == 0)))
}
