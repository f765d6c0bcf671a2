//! The SQLite database: opening, schema, and access from many threads.
//!
//! All writes of this process go through one connection behind a mutex, so
//! concurrent requests queue in the process instead of racing for SQLite's
//! write lock; `busy_timeout` covers the remaining contention with other
//! processes (the CLI subcommands). Reads use a small pool of connections,
//! which WAL mode lets run beside the writer.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub const DB_FILE: &str = "passage.sqlite3";
const MAX_IDLE_READERS: usize = 4;
/// `PRAGMA auto_vacuum` value for INCREMENTAL.
const AUTO_VACUUM_INCREMENTAL: i64 = 2;
/// Bytes of write-ahead log kept after a checkpoint.
const JOURNAL_SIZE_LIMIT: i64 = 4 * 1024 * 1024;

/// Version 1: the tables.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS apps (
    id TEXT PRIMARY KEY,
    auth_token_lifetime INTEGER NOT NULL,
    session_expiration INTEGER NOT NULL,
    inactivity_timeout INTEGER NOT NULL,
    origin TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    email TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_login_at INTEGER,
    login_count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (app_id, email)
);
-- A session is one login: the family of refresh tokens that rotation
-- derives from it. Revoking the session revokes the whole family.
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoked_reason TEXT
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);
-- Only SHA-256 digests of refresh tokens are stored. A token whose
-- rotated_at is set has been exchanged already: presenting it again is reuse.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash BLOB PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    issued_at INTEGER NOT NULL,
    rotated_at INTEGER
);
CREATE INDEX IF NOT EXISTS refresh_tokens_by_session ON refresh_tokens (session_id);
";

/// Version 3: the signed-in user's account (passage-js's `currentUser`):
/// profile fields, pending email and phone changes, social connections,
/// passkeys and their registration ceremonies, and each app's passkey and
/// metadata settings. It only adds tables, so it applies on top of any
/// earlier version.
const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS app_account_settings (
    app_id TEXT PRIMARY KEY REFERENCES apps (id),
    rp_id TEXT,
    webauthn_origins TEXT NOT NULL DEFAULT '[]',
    user_metadata_schema TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS user_profiles (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    app_id TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    phone_verified INTEGER NOT NULL DEFAULT 0,
    user_metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS user_profiles_phone
    ON user_profiles (app_id, phone) WHERE phone <> '';
-- A pending email or phone change; opening the link applies it.
CREATE TABLE IF NOT EXISTS magic_links (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    new_value TEXT NOT NULL,
    language TEXT,
    magic_link_path TEXT,
    redirect_url TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    opened_at INTEGER,
    superseded_at INTEGER
);
CREATE INDEX IF NOT EXISTS magic_links_by_user ON magic_links (user_id);
CREATE TABLE IF NOT EXISTS social_connections (
    user_id TEXT NOT NULL REFERENCES users (id),
    provider TEXT NOT NULL,
    app_id TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    provider_identifier TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_login_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, provider)
);
-- A started passkey registration: the WebAuthn library's server state,
-- used once by the finish request of the same user and app.
CREATE TABLE IF NOT EXISTS passkey_ceremonies (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    rp_id TEXT NOT NULL,
    attachment TEXT NOT NULL,
    state BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS passkey_ceremonies_by_user ON passkey_ceremonies (user_id);
CREATE TABLE IF NOT EXISTS passkeys (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    cred_id TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    type TEXT NOT NULL,
    transports INTEGER NOT NULL,
    aaguid BLOB NOT NULL,
    rp_id TEXT NOT NULL,
    static_state BLOB NOT NULL,
    dynamic_state BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_login_at INTEGER NOT NULL,
    usage_count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (app_id, cred_id)
);
CREATE INDEX IF NOT EXISTS passkeys_by_user ON passkeys (user_id);
";

/// Version 4: the per-app rotation grace period, and an index for the purge
/// of rotated-away tokens (only rotated tokens are in it). (Numbered after
/// version 3, which databases in use already have: a lower number would be
/// skipped.)
const SCHEMA_V4: &str = "
-- Seconds; NULL: the server's --reuse-grace.
ALTER TABLE apps ADD COLUMN reuse_grace INTEGER;
CREATE INDEX IF NOT EXISTS refresh_tokens_by_rotation
    ON refresh_tokens (rotated_at) WHERE rotated_at IS NOT NULL;
";

/// Each step brings the schema up from the version before it: a database
/// at version N gets every step above N, in order, each in its own
/// transaction that also records its version, so a step runs exactly once
/// (an `ALTER TABLE` could not run twice).
const MIGRATIONS: &[(i64, &str)] = &[(1, SCHEMA), (3, SCHEMA_V3), (4, SCHEMA_V4)];

pub struct Db {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl Db {
    /// Opens (creating it if needed) the database and brings its schema up
    /// to date.
    pub fn open(path: &Path) -> Result<Db, String> {
        let mut writer = open_connection(path, true)
            .map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
        migrate(&mut writer)
            .map_err(|e| format!("cannot set up database {}: {e}", path.display()))?;
        Ok(Db {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Opens an existing database only (for the CLI subcommands, which must
    /// not create an empty one by mistake).
    pub fn open_existing(path: &Path) -> Result<Db, String> {
        if !path.is_file() {
            return Err(format!(
                "no database at {} (start the server once with this --data directory)",
                path.display()
            ));
        }
        Db::open(path)
    }

    /// Runs `f` in an IMMEDIATE transaction (the write lock is taken at the
    /// start, so it never has to be upgraded later, which is what produces
    /// "database is locked" in WAL mode). Commits when `f` returns `Ok`.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&Transaction) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let mut conn = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Copies the write-ahead log into the database file, as far as readers
    /// allow, without waiting for them (a PASSIVE checkpoint). Returns
    /// whether it copied everything (only then does a database file that
    /// shrank get shorter).
    pub fn checkpoint(&self) -> rusqlite::Result<bool> {
        let conn = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            let busy: i64 = row.get(0)?;
            let (log, copied): (i64, i64) = (row.get(1)?, row.get(2)?);
            Ok(busy == 0 && log == copied)
        })
    }

    /// The sizes in bytes of the database file and of its write-ahead log.
    pub fn file_sizes(&self) -> (u64, u64) {
        let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        (size(&self.path), size(Path::new(&wal)))
    }

    /// Runs `f` on a pooled read connection.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let pooled = self
            .readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.path, false)?,
        };
        let result = f(&conn);
        let mut idle = self
            .readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

fn open_connection(path: &Path, create: bool) -> rusqlite::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    if create {
        // Before anything writes the file's first page (switching to WAL
        // does), or a new database is made without it (see `migrate`).
        conn.pragma_update(None, "auto_vacuum", AUTO_VACUUM_INCREMENTAL)?;
    }
    // WAL lets readers run beside the writer; NORMAL sync is durable across
    // process crashes, which is what a restart needs.
    let _mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // After a checkpoint has emptied it, the log is cut back to this size
    // instead of keeping the largest size it ever had.
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    // Incremental auto-vacuum lets the purge give freed pages back to the
    // file system. It must be chosen before the first table is created; a
    // database made by an older version needs one VACUUM to switch.
    let auto_vacuum: i64 = conn.pragma_query_value(None, "auto_vacuum", |row| row.get(0))?;
    if auto_vacuum != AUTO_VACUUM_INCREMENTAL {
        conn.pragma_update(None, "auto_vacuum", AUTO_VACUUM_INCREMENTAL)?;
        if version > 0 {
            conn.execute_batch("VACUUM")?;
        }
    }
    for &(step, sql) in MIGRATIONS {
        if version < step {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Read again under the write lock: another process (a CLI
            // subcommand beside the server) may have just done this step.
            let now: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
            if now < step {
                tx.execute_batch(sql)?;
                tx.pragma_update(None, "user_version", step)?;
            }
            tx.commit()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The version of a database brought up to date.
    const CURRENT: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

    fn temp_path() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pas-db-{}", crate::util::random_id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("t.sqlite3")
    }

    fn tables(db: &Db) -> Vec<String> {
        db.read(|conn| {
            let mut stmt =
                conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?;
            let names = stmt.query_map([], |row| row.get(0))?.collect();
            names
        })
        .unwrap()
    }

    #[test]
    fn upgrades_a_version_1_database_keeping_its_rows() {
        let path = temp_path();
        {
            let conn = open_connection(&path, true).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO users (id, app_id, email, created_at, updated_at)
                 VALUES ('u1', 'demo', 'a@b.c', 1, 1)",
                [],
            )
            .unwrap();
        }
        let db = Db::open(&path).unwrap();
        let names = tables(&db);
        for table in ["users", "passkeys", "magic_links", "user_profiles"] {
            assert!(names.iter().any(|n| n == table), "{table} in {names:?}");
        }
        let (version, users): (i64, i64) = db
            .read(|conn| {
                Ok((
                    conn.pragma_query_value(None, "user_version", |r| r.get(0))?,
                    conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?,
                ))
            })
            .unwrap();
        assert_eq!((version, users), (CURRENT, 1));
        drop(db);
        // Opening it again changes nothing.
        let again = Db::open(&path).unwrap();
        assert_eq!(tables(&again), names);
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[test]
    fn a_version_3_database_is_brought_up_to_date() {
        let path = temp_path();
        {
            // What the server made before version 4.
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute_batch(SCHEMA_V3).unwrap();
            conn.pragma_update(None, "user_version", 3).unwrap();
            conn.execute_batch(
                "INSERT INTO apps VALUES ('demo', 300, 2592000, 604800, NULL, 0, 0);
                 INSERT INTO users (id, app_id, email, created_at, updated_at)
                     VALUES ('u', 'demo', 'a@example.com', 0, 0);
                 INSERT INTO sessions (id, app_id, user_id, created_at, expires_at, last_used_at)
                     VALUES ('s', 'demo', 'u', 0, 100, 0);
                 INSERT INTO refresh_tokens VALUES (x'00', 's', 0, NULL);",
            )
            .unwrap();
            let mode: i64 = conn
                .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
                .unwrap();
            assert_eq!(mode, 0);
        }
        let db = Db::open(&path).unwrap();
        // Twice: the second open finds nothing to do.
        drop(Db::open(&path).unwrap());
        db.read(|conn| {
            let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            let mode: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
            assert_eq!((version, mode), (CURRENT, AUTO_VACUUM_INCREMENTAL));
            let grace: Option<i64> =
                conn.query_row("SELECT reuse_grace FROM apps", [], |r| r.get(0))?;
            assert_eq!(grace, None);
            let tokens: i64 =
                conn.query_row("SELECT COUNT(*) FROM refresh_tokens", [], |r| r.get(0))?;
            assert_eq!(tokens, 1);
            let plan: String = conn.query_row(
                "EXPLAIN QUERY PLAN SELECT rowid FROM refresh_tokens WHERE rotated_at <= 5",
                [],
                |r| r.get(3),
            )?;
            assert!(plan.contains("refresh_tokens_by_rotation"), "{plan}");
            Ok(())
        })
        .unwrap();
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
        // A new database is incremental from the start.
        let path = temp_path();
        let fresh = Db::open(&path).unwrap();
        let mode: i64 = fresh
            .read(|c| c.pragma_query_value(None, "auto_vacuum", |r| r.get(0)))
            .unwrap();
        assert_eq!(mode, AUTO_VACUUM_INCREMENTAL);
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }
}
