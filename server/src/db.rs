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
const SCHEMA_VERSION: i64 = 1;

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

pub struct Db {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl Db {
    /// Opens (creating it if needed) the database and brings its schema up
    /// to date.
    pub fn open(path: &Path) -> Result<Db, String> {
        let writer = open_connection(path, true)
            .map_err(|e| format!("cannot open database {}: {e}", path.display()))?;
        migrate(&writer).map_err(|e| format!("cannot set up database {}: {e}", path.display()))?;
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
    // WAL lets readers run beside the writer; NORMAL sync is durable across
    // process crashes, which is what a restart needs.
    let _mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version < SCHEMA_VERSION {
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    Ok(())
}
