//! The domain operations on the database: apps, users, sessions and the
//! rotation of refresh tokens. Every function takes the connection or
//! transaction to work in and the current time, so callers decide about
//! locking and the (possibly shifted) clock. The store knows nothing of
//! HTTP: refusals are values of its own, and the handlers choose the answer.
//!
//! The account (profiles, magic links, metadata, social connections) and the
//! passkeys are in the submodules.

pub mod account;
pub mod passkeys;

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{json, Value};

use crate::config::AppSettings;
use crate::util::{hash_token, new_refresh_token, random_id, rfc3339, successor_token};

pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_INACTIVE: &str = "inactive";

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub app_id: String,
    pub email: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
    pub login_count: i64,
}

impl User {
    fn from_row(row: &Row) -> rusqlite::Result<User> {
        Ok(User {
            id: row.get("id")?,
            app_id: row.get("app_id")?,
            email: row.get("email")?,
            status: row.get("status")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
            last_login_at: row.get("last_login_at")?,
            login_count: row.get("login_count")?,
        })
    }

    pub fn is_active(&self) -> bool {
        self.status == STATUS_ACTIVE
    }

    /// The user object of `GET /currentuser`, with the fields Passage's
    /// answer has (those this server has no notion of are empty).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "email": self.email,
            "email_verified": true,
            "phone": "",
            "phone_verified": false,
            "status": self.status,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "last_login_at": self.last_login_at.map(rfc3339),
            "login_count": self.login_count,
            "user_metadata": {},
            "webauthn": false,
            "webauthn_devices": [],
            "webauthn_types": [],
            "social_connections": {},
        })
    }
}

const USER_COLUMNS: &str =
    "id, app_id, email, status, created_at, updated_at, last_login_at, login_count";

/// A session's new tokens, before the auth token is signed.
#[derive(Debug)]
pub struct Issued {
    pub user: User,
    pub refresh_token: String,
    /// Absolute end of the session, Unix seconds.
    pub expires_at: i64,
    /// A retry within the grace period: `refresh_token` is the one the
    /// presented token was already rotated to.
    pub retried: bool,
}

/// How a refresh rotates: the key that derives each successor token from
/// the token it replaces, and the app's grace period in force.
#[derive(Clone, Copy)]
pub struct Rotation<'a> {
    pub key: &'a [u8; 32],
    /// Seconds; 0 is strict reuse detection.
    pub grace: u64,
}

/// Why a refresh token is refused. Each is answered with 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown, or issued for another app.
    Unknown,
    /// Already exchanged: the whole session has now been revoked.
    Reused,
    Revoked,
    Expired,
    Inactive,
    UserDeactivated,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Unknown => "invalid_refresh_token",
            Refusal::Reused => "refresh_token_reused",
            Refusal::Revoked => "refresh_token_revoked",
            Refusal::Expired => "session_expired",
            Refusal::Inactive => "session_inactive",
            Refusal::UserDeactivated => "user_deactivated",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::Unknown => "refresh token is not valid",
            Refusal::Reused => "refresh token was already used; the session has been revoked",
            Refusal::Revoked => "refresh token has been revoked",
            Refusal::Expired => "session has expired",
            Refusal::Inactive => "session expired after inactivity",
            Refusal::UserDeactivated => "user is deactivated",
        }
    }
}

pub enum RevokeOutcome {
    Revoked,
    AlreadyRevoked,
    NotFound,
}

// ---- apps ----

pub fn upsert_app(conn: &Connection, app: &AppSettings, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO apps (id, auth_token_lifetime, session_expiration, inactivity_timeout,
                           origin, created_at, updated_at, reuse_grace)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET
             auth_token_lifetime = excluded.auth_token_lifetime,
             session_expiration = excluded.session_expiration,
             inactivity_timeout = excluded.inactivity_timeout,
             origin = excluded.origin,
             updated_at = excluded.updated_at,
             reuse_grace = excluded.reuse_grace",
        params![
            app.id,
            app.auth_token_lifetime as i64,
            app.session_expiration as i64,
            app.inactivity_timeout as i64,
            app.origin,
            now,
            app.reuse_grace.map(|v| v as i64),
        ],
    )?;
    account::save_app_settings(conn, app)
}

pub fn load_apps(conn: &Connection) -> rusqlite::Result<Vec<AppSettings>> {
    let mut stmt = conn.prepare(
        "SELECT id, auth_token_lifetime, session_expiration, inactivity_timeout, origin,
                reuse_grace
         FROM apps ORDER BY id",
    )?;
    let apps = stmt
        .query_map([], |row| {
            Ok(AppSettings {
                id: row.get(0)?,
                auth_token_lifetime: row.get::<_, i64>(1)?.max(1) as u64,
                session_expiration: row.get::<_, i64>(2)?.max(1) as u64,
                inactivity_timeout: row.get::<_, i64>(3)?.max(1) as u64,
                origin: row.get(4)?,
                rp_id: None,
                webauthn_origins: Vec::new(),
                user_metadata_schema: Vec::new(),
                reuse_grace: row.get::<_, Option<i64>>(5)?.map(|v| v.max(0) as u64),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut apps = apps;
    for app in &mut apps {
        account::load_app_settings(conn, app)?;
    }
    Ok(apps)
}

// ---- users ----

/// Finds a user of `app_id` by id, or by email (case-insensitively).
pub fn find_user(conn: &Connection, app_id: &str, key: &str) -> rusqlite::Result<Option<User>> {
    let by_id = conn
        .query_row(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE app_id = ?1 AND id = ?2"),
            params![app_id, key],
            User::from_row,
        )
        .optional()?;
    if by_id.is_some() {
        return Ok(by_id);
    }
    conn.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE app_id = ?1 AND email = ?2"),
        params![app_id, key.to_lowercase()],
        User::from_row,
    )
    .optional()
}

/// Sets a user's status; deactivation also revokes every session, as in
/// Passage. Returns the updated user and the number of sessions revoked.
pub fn set_user_status(
    conn: &Connection,
    user: &User,
    status: &str,
    now: i64,
) -> rusqlite::Result<(User, usize)> {
    conn.execute(
        "UPDATE users SET status = ?1, updated_at = ?2 WHERE id = ?3",
        params![status, now, user.id],
    )?;
    let revoked = if status == STATUS_INACTIVE {
        revoke_user_sessions(conn, &user.id, now, "user_deactivated")?
    } else {
        0
    };
    let user =
        find_user(conn, &user.app_id, &user.id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    Ok((user, revoked))
}

/// Revokes every live session of a user (the backend SDKs' `signOut`).
pub fn revoke_user_sessions(
    conn: &Connection,
    user_id: &str,
    now: i64,
    reason: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2
         WHERE user_id = ?3 AND revoked_at IS NULL",
        params![now, reason, user_id],
    )
}

/// What the backend SDKs can do to a user; also the CLI subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAction {
    SignOut,
    Deactivate,
    Activate,
}

impl UserAction {
    pub fn parse(name: &str) -> Option<UserAction> {
        match name {
            "signout" => Some(UserAction::SignOut),
            "deactivate" => Some(UserAction::Deactivate),
            "activate" => Some(UserAction::Activate),
            _ => None,
        }
    }

    pub fn past_tense(self) -> &'static str {
        match self {
            UserAction::SignOut => "signed out",
            UserAction::Deactivate => "deactivated",
            UserAction::Activate => "activated",
        }
    }
}

/// Carries out a user action in one transaction; returns the user after it
/// and the number of sessions revoked. `Ok(None)`: no such user.
pub fn run_user_action(
    conn: &Connection,
    app_id: &str,
    user_key: &str,
    action: UserAction,
    now: i64,
) -> rusqlite::Result<Option<(User, usize)>> {
    let Some(user) = find_user(conn, app_id, user_key)? else {
        return Ok(None);
    };
    let result = match action {
        UserAction::SignOut => {
            let revoked = revoke_user_sessions(conn, &user.id, now, "signed_out_by_admin")?;
            (user, revoked)
        }
        UserAction::Deactivate => set_user_status(conn, &user, STATUS_INACTIVE, now)?,
        UserAction::Activate => set_user_status(conn, &user, STATUS_ACTIVE, now)?,
    };
    Ok(Some(result))
}

/// Sessions of a user that are neither revoked nor past their absolute end.
pub fn count_live_sessions(conn: &Connection, user_id: &str, now: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM sessions
         WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
        params![user_id, now],
        |row| row.get(0),
    )
}

// ---- sessions and refresh tokens ----

/// The demo login: finds or creates the user and opens a new session.
/// `Ok(None)` means the user is deactivated.
pub fn login(
    conn: &Connection,
    app: &AppSettings,
    email: &str,
    now: i64,
) -> rusqlite::Result<Option<Issued>> {
    let email = email.to_lowercase();
    conn.execute(
        "INSERT INTO users (id, app_id, email, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (app_id, email) DO NOTHING",
        params![random_id(), app.id, email, STATUS_ACTIVE, now],
    )?;
    let user = conn.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE app_id = ?1 AND email = ?2"),
        params![app.id, email],
        User::from_row,
    )?;
    if !user.is_active() {
        return Ok(None);
    }
    conn.execute(
        "UPDATE users SET last_login_at = ?1, login_count = login_count + 1 WHERE id = ?2",
        params![now, user.id],
    )?;
    let session_id = random_id();
    let expires_at = now.saturating_add(app.session_expiration as i64);
    conn.execute(
        "INSERT INTO sessions (id, app_id, user_id, created_at, expires_at, last_used_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?4)",
        params![session_id, app.id, user.id, now, expires_at],
    )?;
    let refresh_token = insert_refresh_token(conn, &session_id, now)?;
    let user = User {
        last_login_at: Some(now),
        login_count: user.login_count + 1,
        ..user
    };
    Ok(Some(Issued {
        user,
        refresh_token,
        expires_at,
        retried: false,
    }))
}

fn insert_refresh_token(conn: &Connection, session_id: &str, now: i64) -> rusqlite::Result<String> {
    let token = new_refresh_token();
    insert_token(conn, &token, session_id, now)?;
    Ok(token)
}

fn insert_token(
    conn: &Connection,
    token: &str,
    session_id: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES (?1, ?2, ?3)",
        params![hash_token(token), session_id, now],
    )?;
    Ok(())
}

struct TokenRow {
    session_id: String,
    issued_at: i64,
    rotated_at: Option<i64>,
    app_id: String,
    user_id: String,
    expires_at: i64,
    revoked_at: Option<i64>,
}

fn find_token(conn: &Connection, token: &str) -> rusqlite::Result<Option<TokenRow>> {
    conn.query_row(
        "SELECT t.session_id, t.issued_at, t.rotated_at, s.app_id, s.user_id,
                s.expires_at, s.revoked_at
         FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
         WHERE t.token_hash = ?1",
        params![hash_token(token)],
        |row| {
            Ok(TokenRow {
                session_id: row.get(0)?,
                issued_at: row.get(1)?,
                rotated_at: row.get(2)?,
                app_id: row.get(3)?,
                user_id: row.get(4)?,
                expires_at: row.get(5)?,
                revoked_at: row.get(6)?,
            })
        },
    )
    .optional()
}

fn revoke_session(
    conn: &Connection,
    session_id: &str,
    now: i64,
    reason: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2
         WHERE id = ?3 AND revoked_at IS NULL",
        params![now, reason, session_id],
    )?;
    Ok(())
}

/// Exchanges a refresh token for a new one (rotation). The outcome is
/// committed either way: a refusal may have revoked the session.
///
/// The new token is derived from the one it replaces (an HMAC under
/// `rotation.key`), so it never has to be stored in clear: within the grace
/// period, the direct predecessor of the session's current token is answered
/// with that same current token again. Any other reuse revokes the session.
pub fn refresh(
    conn: &Connection,
    app: &AppSettings,
    token: &str,
    now: i64,
    rotation: Rotation,
) -> rusqlite::Result<Result<Issued, Refusal>> {
    let row = match find_token(conn, token)? {
        Some(row) if row.app_id == app.id => row,
        // Another app's token is treated as unknown, and left alone.
        _ => return Ok(Err(Refusal::Unknown)),
    };
    if row.revoked_at.is_some() {
        return Ok(Err(Refusal::Revoked));
    }
    if let Some(rotated_at) = row.rotated_at {
        let successor = successor_token(rotation.key, token);
        if within_grace(rotation.grace, rotated_at, now)
            && is_current_token_of(conn, &successor, &row.session_id)?
        {
            // An idempotent retry: the client never got (or lost) the answer
            // to its rotation. It gets the same new token again.
            let user = match check_live(conn, app, &row, rotated_at, now)? {
                Ok(user) => user,
                Err(refusal) => return Ok(Err(refusal)),
            };
            return Ok(Ok(Issued {
                user,
                refresh_token: successor,
                expires_at: row.expires_at,
                retried: true,
            }));
        }
        // Either the token was stolen, or a client lost track of its newest
        // token: both end the session, as an OAuth 2.0 rotation server does.
        revoke_session(conn, &row.session_id, now, "refresh_token_reused")?;
        return Ok(Err(Refusal::Reused));
    }
    let user = match check_live(conn, app, &row, row.issued_at, now)? {
        Ok(user) => user,
        Err(refusal) => return Ok(Err(refusal)),
    };
    conn.execute(
        "UPDATE refresh_tokens SET rotated_at = ?1 WHERE token_hash = ?2",
        params![now, hash_token(token)],
    )?;
    conn.execute(
        "UPDATE sessions SET last_used_at = ?1 WHERE id = ?2",
        params![now, row.session_id],
    )?;
    let refresh_token = successor_token(rotation.key, token);
    insert_token(conn, &refresh_token, &row.session_id, now)?;
    Ok(Ok(Issued {
        user,
        refresh_token,
        expires_at: row.expires_at,
        retried: false,
    }))
}

/// Whether a token rotated at `rotated_at` is still within a grace period of
/// `grace` seconds. Times are whole seconds, so the period lasts at least
/// `grace` seconds and less than one more.
fn within_grace(grace: u64, rotated_at: i64, now: i64) -> bool {
    grace > 0 && now.saturating_sub(rotated_at) <= grace as i64
}

/// Whether `token` is the session's current token: known, of that session,
/// and not rotated yet.
fn is_current_token_of(conn: &Connection, token: &str, session_id: &str) -> rusqlite::Result<bool> {
    let found: Option<(String, Option<i64>)> = conn
        .query_row(
            "SELECT session_id, rotated_at FROM refresh_tokens WHERE token_hash = ?1",
            params![hash_token(token)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    Ok(matches!(found, Some((id, None)) if id == session_id))
}

/// The session limits and the user's status, for a token of a session that
/// is not revoked; `issued_at` is when the session's current token was issued
/// (what inactivity counts from). An inactive session is revoked.
fn check_live(
    conn: &Connection,
    app: &AppSettings,
    row: &TokenRow,
    issued_at: i64,
    now: i64,
) -> rusqlite::Result<Result<User, Refusal>> {
    if now >= row.expires_at {
        return Ok(Err(Refusal::Expired));
    }
    if now >= issued_at.saturating_add(app.inactivity_timeout as i64) {
        revoke_session(conn, &row.session_id, now, "inactive")?;
        return Ok(Err(Refusal::Inactive));
    }
    let user = conn.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
        params![row.user_id],
        User::from_row,
    )?;
    if !user.is_active() {
        return Ok(Err(Refusal::UserDeactivated));
    }
    Ok(Ok(user))
}

/// Revokes the session a refresh token belongs to (sign-out). Any token of
/// the family, current or already rotated, ends the session.
pub fn revoke(
    conn: &Connection,
    app_id: &str,
    token: &str,
    now: i64,
) -> rusqlite::Result<RevokeOutcome> {
    match find_token(conn, token)? {
        Some(row) if row.app_id == app_id => {
            if row.revoked_at.is_some() {
                Ok(RevokeOutcome::AlreadyRevoked)
            } else {
                revoke_session(conn, &row.session_id, now, "signed_out")?;
                Ok(RevokeOutcome::Revoked)
            }
        }
        _ => Ok(RevokeOutcome::NotFound),
    }
}

/// Reads a user by id for a verified auth token.
pub fn user_by_id(conn: &Connection, app_id: &str, id: &str) -> rusqlite::Result<Option<User>> {
    conn.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE app_id = ?1 AND id = ?2"),
        params![app_id, id],
        User::from_row,
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    const KEY: [u8; 32] = [3; 32];
    const STRICT: Rotation = Rotation {
        key: &KEY,
        grace: 0,
    };

    fn temp_db() -> (Db, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("pas-store-{}", random_id()));
        std::fs::create_dir_all(&dir).unwrap();
        (Db::open(&dir.join("t.sqlite3")).unwrap(), dir)
    }

    #[test]
    fn rotation_and_reuse() {
        let (db, dir) = temp_db();
        let app = AppSettings::with_defaults("demo");
        let first = db
            .write(|tx| login(tx, &app, "Alice@Example.com", 1000))
            .unwrap()
            .unwrap();
        assert_eq!(first.user.email, "alice@example.com");
        assert_eq!(first.expires_at, 1000 + app.session_expiration as i64);
        let second = db
            .write(|tx| refresh(tx, &app, &first.refresh_token, 1010, STRICT))
            .unwrap()
            .unwrap();
        assert_eq!(second.expires_at, first.expires_at);
        assert_eq!(
            db.write(|tx| refresh(tx, &app, &first.refresh_token, 1020, STRICT))
                .unwrap()
                .unwrap_err(),
            Refusal::Reused
        );
        assert_eq!(
            db.write(|tx| refresh(tx, &app, &second.refresh_token, 1030, STRICT))
                .unwrap()
                .unwrap_err(),
            Refusal::Revoked
        );
        let other = AppSettings::with_defaults("other");
        let third = db
            .write(|tx| login(tx, &app, "alice@example.com", 1040))
            .unwrap()
            .unwrap();
        assert_eq!(third.user.id, first.user.id);
        assert_eq!(third.user.login_count, 2);
        assert_eq!(
            db.write(|tx| refresh(tx, &other, &third.refresh_token, 1050, STRICT))
                .unwrap()
                .unwrap_err(),
            Refusal::Unknown
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn grace_answers_the_direct_predecessor_with_the_same_successor() {
        let (db, dir) = temp_db();
        let app = AppSettings::with_defaults("demo");
        let grace = Rotation {
            key: &KEY,
            grace: 10,
        };
        let refresh_at = |token: &str, now: i64, rotation: Rotation| {
            db.write(|tx| refresh(tx, &app, token, now, rotation))
                .unwrap()
        };
        let t0 = db
            .write(|tx| login(tx, &app, "alice@example.com", 1000))
            .unwrap()
            .unwrap()
            .refresh_token;
        let t1 = refresh_at(&t0, 1000, grace).unwrap();
        assert!(!t1.retried);
        assert_eq!(t1.refresh_token, successor_token(&KEY, &t0));
        // Retries within the period (inclusive) get the same successor.
        for now in [1000, 1005, 1010] {
            let again = refresh_at(&t0, now, grace).unwrap();
            assert!(again.retried);
            assert_eq!(again.refresh_token, t1.refresh_token);
            assert_eq!(again.expires_at, t1.expires_at);
        }
        // The successor still rotates normally.
        let t2 = refresh_at(&t1.refresh_token, 1011, grace).unwrap();
        assert!(!t2.retried);
        // Its predecessor is now the one retried...
        let again = refresh_at(&t1.refresh_token, 1012, grace).unwrap();
        assert_eq!(again.refresh_token, t2.refresh_token);
        // ...and the grandparent, though rotated 2 s ago only, is reuse.
        assert_eq!(refresh_at(&t0, 1002, grace).unwrap_err(), Refusal::Reused);
        assert_eq!(
            refresh_at(&t2.refresh_token, 1012, grace).unwrap_err(),
            Refusal::Revoked
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn grace_ends_and_strict_mode_has_none() {
        let (db, dir) = temp_db();
        let app = AppSettings::with_defaults("demo");
        let grace = Rotation {
            key: &KEY,
            grace: 10,
        };
        for (rotation, retry_at) in [(grace, 1011), (STRICT, 1000)] {
            let t0 = db
                .write(|tx| login(tx, &app, "alice@example.com", 1000))
                .unwrap()
                .unwrap()
                .refresh_token;
            let t1 = db
                .write(|tx| refresh(tx, &app, &t0, 1000, rotation))
                .unwrap()
                .unwrap();
            assert_eq!(
                db.write(|tx| refresh(tx, &app, &t0, retry_at, rotation))
                    .unwrap()
                    .unwrap_err(),
                Refusal::Reused
            );
            assert_eq!(
                db.write(|tx| refresh(tx, &app, &t1.refresh_token, retry_at, rotation))
                    .unwrap()
                    .unwrap_err(),
                Refusal::Revoked
            );
        }
        std::fs::remove_dir_all(dir).ok();
    }
}
