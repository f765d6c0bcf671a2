//! Keeps the database bounded: deletes, in the background, the rows that can
//! no longer matter.
//!
//! A refresh token is "dead" once it has been rotated away, or once its
//! session has ended (revoked, past its absolute end, or inactive). A dead
//! token still gets its precise refusal (`refresh_token_reused`,
//! `refresh_token_revoked`, `session_expired`, ...) for the retention window
//! after it died; after that its row is deleted and the token is simply
//! unknown (`invalid_refresh_token`, also a 401). A rotated token is kept at
//! least as long as its app's grace period, so a retry is never answered
//! "unknown" inside it.
//!
//! The purge works in small batches, each its own short write transaction
//! on the shared writer connection, so requests queue behind one batch at
//! most, never behind the whole purge.
//!
//! The state runs it (`AppState::purge_now`, and in the background).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};
use serde::Serialize;

use crate::clock::Clock;
use crate::config::AppSettings;
use crate::db::Db;

/// Sessions deleted per transaction (each with all its tokens).
const SESSION_BATCH: usize = 100;
/// Rotated tokens deleted per transaction.
const TOKEN_BATCH: usize = 500;
/// Free pages given back to the file system per transaction.
const VACUUM_PAGES: i64 = 256;
/// A pause between batches, so that requests waiting for the writer get it.
const BATCH_PAUSE: Duration = Duration::from_millis(1);
/// Tries of the checkpoint that shrinks the file, and the pause between.
const CHECKPOINT_TRIES: usize = 50;
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(20);

/// Rows deleted.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Deleted {
    /// Ended sessions.
    pub sessions: u64,
    /// Tokens of those sessions.
    pub session_tokens: u64,
    /// Rotated-away tokens of live sessions.
    pub rotated_tokens: u64,
}

impl Deleted {
    pub fn any(&self) -> bool {
        *self != Deleted::default()
    }

    fn add(&mut self, other: Deleted) {
        self.sessions += other.sessions;
        self.session_tokens += other.session_tokens;
        self.rotated_tokens += other.rotated_tokens;
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    /// Completed purges since the start.
    pub runs: u64,
    /// When the last one finished (server clock, Unix seconds).
    pub last_run_at: Option<i64>,
    pub last_duration_ms: u64,
    pub last_deleted: Deleted,
    pub total_deleted: Deleted,
    /// The longest purge since the start, milliseconds.
    pub longest_run_ms: u64,
    /// The longest time one purge transaction (or checkpoint) took on the
    /// writer connection since the start: the most a request waited for
    /// the purge, microseconds.
    pub longest_batch_us: u64,
}

/// The purge's settings and its record.
pub struct Purger {
    /// Seconds a dead refresh token is remembered.
    pub retention: u64,
    /// Seconds between background purges; 0: none.
    pub interval: u64,
    report: Mutex<Report>,
    /// One purge at a time (the background one and `POST /admin/purge`).
    running: Mutex<()>,
    stopping: AtomicBool,
}

impl Purger {
    pub fn new(retention: u64, interval: u64) -> Purger {
        Purger {
            retention,
            interval,
            report: Mutex::default(),
            running: Mutex::new(()),
            stopping: AtomicBool::new(false),
        }
    }

    pub fn report(&self) -> Report {
        self.report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Makes a purge in progress stop after its current batch.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

impl Purger {
    /// One purge of the `apps` (read once this purge has its turn), each by
    /// its own (possibly shifted) clock; `default_grace` is the grace period
    /// of the apps that set none.
    pub fn run(
        &self,
        db: &Db,
        clock: &Clock,
        apps: impl FnOnce() -> Vec<AppSettings>,
        default_grace: u64,
    ) -> rusqlite::Result<(Deleted, Duration)> {
        let _one_at_a_time = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let started = Instant::now();
        let mut deleted = Deleted::default();
        let mut longest = Duration::ZERO;
        for app in apps() {
            let now = clock.now(&app.id);
            let grace = app.reuse_grace_or(default_grace);
            deleted.add(purge_app(self, db, &app, now, grace, &mut longest)?);
        }
        if deleted.any() && !self.stopping() {
            give_back_free_pages(self, db, &mut longest)?;
        }
        let elapsed = started.elapsed();
        let mut report = self.report.lock().unwrap_or_else(|p| p.into_inner());
        report.runs += 1;
        report.last_run_at = Some(clock.now_global());
        report.last_duration_ms = elapsed.as_millis() as u64;
        report.longest_run_ms = report.longest_run_ms.max(report.last_duration_ms);
        report.longest_batch_us = report.longest_batch_us.max(longest.as_micros() as u64);
        report.last_deleted = deleted;
        report.total_deleted.add(deleted);
        Ok((deleted, elapsed))
    }
}

/// Runs one batch in a write transaction, keeping the longest time a batch
/// held the writer.
fn batch<T>(
    db: &Db,
    longest: &mut Duration,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    db.write(|tx| {
        let started = Instant::now();
        let value = f(tx);
        *longest = (*longest).max(started.elapsed());
        value
    })
}

fn purge_app(
    purger: &Purger,
    db: &Db,
    app: &AppSettings,
    now: i64,
    grace: u64,
    longest: &mut Duration,
) -> rusqlite::Result<Deleted> {
    let retention = purger.retention as i64;
    let ended_before = now.saturating_sub(retention);
    let rotated_before = now.saturating_sub(retention.max(grace as i64));
    let mut deleted = Deleted::default();
    loop {
        if purger.stopping() {
            return Ok(deleted);
        }
        let (sessions, tokens) = batch(db, longest, |tx| {
            delete_ended_sessions(tx, app, ended_before, SESSION_BATCH)
        })?;
        deleted.sessions += sessions as u64;
        deleted.session_tokens += tokens as u64;
        if sessions < SESSION_BATCH {
            break;
        }
        std::thread::sleep(BATCH_PAUSE);
    }
    loop {
        if purger.stopping() {
            return Ok(deleted);
        }
        let tokens = batch(db, longest, |tx| {
            delete_rotated_tokens(tx, &app.id, rotated_before, TOKEN_BATCH)
        })?;
        deleted.rotated_tokens += tokens as u64;
        if tokens < TOKEN_BATCH {
            break;
        }
        std::thread::sleep(BATCH_PAUSE);
    }
    Ok(deleted)
}

/// Deletes up to `limit` sessions of `app` that ended at or before `before`
/// (revoked, past their absolute end, or inactive), with their tokens.
/// Returns the sessions and tokens deleted.
pub fn delete_ended_sessions(
    conn: &Connection,
    app: &AppSettings,
    before: i64,
    limit: usize,
) -> rusqlite::Result<(usize, usize)> {
    // Inactivity counts from the session's latest rotation (`last_used_at`,
    // when its current token was issued), with the app's setting of now, as
    // the refresh endpoint does.
    let idle_before = before.saturating_sub(app.inactivity_timeout as i64);
    let ids = conn
        .prepare_cached(
            "SELECT id FROM sessions
             WHERE app_id = ?1
               AND (revoked_at <= ?2 OR expires_at <= ?2 OR last_used_at <= ?3)
             LIMIT ?4",
        )?
        .query_map(params![app.id, before, idle_before, limit as i64], |row| {
            row.get::<_, String>(0)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut tokens = 0;
    for id in &ids {
        tokens += conn
            .prepare_cached("DELETE FROM refresh_tokens WHERE session_id = ?1")?
            .execute(params![id])?;
        conn.prepare_cached("DELETE FROM sessions WHERE id = ?1")?
            .execute(params![id])?;
    }
    Ok((ids.len(), tokens))
}

/// Deletes up to `limit` tokens of `app_id` rotated at or before `before`.
pub fn delete_rotated_tokens(
    conn: &Connection,
    app_id: &str,
    before: i64,
    limit: usize,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM refresh_tokens WHERE rowid IN (
             SELECT t.rowid FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
             WHERE t.rotated_at <= ?2 AND s.app_id = ?1
             LIMIT ?3)",
    )?
    .execute(params![app_id, before, limit as i64])
}

/// Returns the pages the deletions freed to the file system (incremental
/// auto-vacuum), a batch at a time, then checkpoints the write-ahead log
/// without waiting for anyone, so the file shrinks now rather than at the
/// next automatic checkpoint. A reader in the middle of a query holds a
/// checkpoint back: it is tried again a few times, the writer free between
/// tries.
fn give_back_free_pages(purger: &Purger, db: &Db, longest: &mut Duration) -> rusqlite::Result<()> {
    // Bounded: other writers may free pages meanwhile.
    for _ in 0..100_000 {
        let left: i64 = batch(db, longest, |tx| {
            tx.execute_batch(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))?;
            tx.pragma_query_value(None, "freelist_count", |row| row.get(0))
        })?;
        if left == 0 || purger.stopping() {
            break;
        }
        std::thread::sleep(BATCH_PAUSE);
    }
    for _ in 0..CHECKPOINT_TRIES {
        let started = Instant::now();
        let complete = db.checkpoint()?;
        *longest = (*longest).max(started.elapsed());
        if complete || purger.stopping() {
            break;
        }
        std::thread::sleep(CHECKPOINT_PAUSE);
    }
    Ok(())
}

/// Row counts, for `GET /admin/db`; with `app`, that app's rows only.
#[derive(Debug, Serialize)]
pub struct Counts {
    pub sessions: i64,
    pub refresh_tokens: i64,
    /// Of `refresh_tokens`, those already rotated away.
    pub rotated_tokens: i64,
}

pub fn counts(conn: &Connection, app: Option<&str>) -> rusqlite::Result<Counts> {
    match app {
        Some(app) => conn.query_row(
            "SELECT (SELECT COUNT(*) FROM sessions WHERE app_id = ?1),
                    COUNT(*), COUNT(t.rotated_at)
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
             WHERE s.app_id = ?1",
            params![app],
            |row| {
                Ok(Counts {
                    sessions: row.get(0)?,
                    refresh_tokens: row.get(1)?,
                    rotated_tokens: row.get(2)?,
                })
            },
        ),
        None => conn.query_row(
            "SELECT (SELECT COUNT(*) FROM sessions), COUNT(*), COUNT(rotated_at)
             FROM refresh_tokens",
            [],
            |row| {
                Ok(Counts {
                    sessions: row.get(0)?,
                    refresh_tokens: row.get(1)?,
                    rotated_tokens: row.get(2)?,
                })
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::store;

    fn temp_db() -> (Db, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("pas-purge-{}", crate::util::random_id()));
        std::fs::create_dir_all(&dir).unwrap();
        (Db::open(&dir.join("t.sqlite3")).unwrap(), dir)
    }

    const KEY: [u8; 32] = [7; 32];

    fn rotate(db: &Db, app: &AppSettings, token: &str, now: i64) -> String {
        let rotation = store::Rotation {
            key: &KEY,
            grace: 0,
        };
        db.write(|tx| store::refresh(tx, app, token, now, rotation))
            .unwrap()
            .unwrap()
            .refresh_token
    }

    #[test]
    fn deletes_only_what_ended_or_rotated_before_the_cutoff() {
        let (db, dir) = temp_db();
        let app = AppSettings {
            session_expiration: 1000,
            inactivity_timeout: 100,
            ..AppSettings::with_defaults("demo")
        };
        let other = AppSettings::with_defaults("other");
        let login = |app: &AppSettings, email: &str, now: i64| {
            db.write(|tx| store::login(tx, app, email, now))
                .unwrap()
                .unwrap()
                .refresh_token
        };
        // Live, rotated twice (at 10 and 20).
        let live = login(&app, "live@example.com", 0);
        let live = rotate(&db, &app, &live, 10);
        rotate(&db, &app, &live, 20);
        // Revoked at 30.
        let revoked = login(&app, "revoked@example.com", 0);
        db.write(|tx| store::revoke(tx, "demo", &revoked, 30))
            .unwrap();
        // Idle since 5: inactive from 105.
        login(&app, "idle@example.com", 5);
        // Another app's rotated token, at 10.
        let foreign = login(&other, "x@example.com", 0);
        rotate(&db, &other, &foreign, 10);
        let count = |app: &str| db.read(|c| counts(c, Some(app))).unwrap();
        assert_eq!(
            (count("demo").sessions, count("demo").refresh_tokens),
            (3, 5)
        );

        // Nothing ended or was rotated at or before 9.
        let (s, t) = db
            .write(|tx| delete_ended_sessions(tx, &app, 9, 100))
            .unwrap();
        assert_eq!((s, t), (0, 0));
        assert_eq!(
            db.write(|tx| delete_rotated_tokens(tx, "demo", 9, 100))
                .unwrap(),
            0
        );
        // The first rotation (at 10), and only this app's.
        assert_eq!(
            db.write(|tx| delete_rotated_tokens(tx, "demo", 10, 100))
                .unwrap(),
            1
        );
        assert_eq!(count("other").refresh_tokens, 2);
        // The revoked session (at 30), with its token.
        let (s, t) = db
            .write(|tx| delete_ended_sessions(tx, &app, 30, 100))
            .unwrap();
        assert_eq!((s, t), (1, 1));
        // The idle one once its inactivity timeout has passed (105).
        let (s, _) = db
            .write(|tx| delete_ended_sessions(tx, &app, 104, 100))
            .unwrap();
        assert_eq!(s, 0);
        let (s, t) = db
            .write(|tx| delete_ended_sessions(tx, &app, 105, 100))
            .unwrap();
        assert_eq!((s, t), (1, 1));
        // Batches: at most `limit` rows at a time.
        assert_eq!(
            db.write(|tx| delete_rotated_tokens(tx, "demo", 20, 0))
                .unwrap(),
            0
        );
        assert_eq!(
            db.write(|tx| delete_rotated_tokens(tx, "demo", 20, 5))
                .unwrap(),
            1
        );
        let left = count("demo");
        assert_eq!(
            (left.sessions, left.refresh_tokens, left.rotated_tokens),
            (1, 1, 0)
        );
        // The live session ends with its absolute end (1000).
        let (s, t) = db
            .write(|tx| delete_ended_sessions(tx, &app, 1000, 100))
            .unwrap();
        assert_eq!((s, t), (1, 1));
        std::fs::remove_dir_all(dir).ok();
    }
}
