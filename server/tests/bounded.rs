//! The database stays bounded under load: many refreshes over 100 sessions
//! with the background purge running, and the refresh-token table checked
//! exactly against "the live sessions plus the rotations inside the
//! retention window". The admin clock moves time; nothing here waits for
//! real time to pass but for the next background purge.
//!
//! `LOAD_REFRESHES` sets the refreshes per phase (default 2,000; the
//! README's figures are from `LOAD_REFRESHES=100000`). Run with
//! `--nocapture` to see the rows, file sizes and latencies.

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Server, TestDir};
use serde_json::{json, Value};

const SESSIONS: usize = 100;
const THREADS: usize = 8;
/// Seconds a rotated token is remembered.
const RETENTION: i64 = 600;
/// Phase 3's steps: each first moves the clock past the window, so that the
/// purge deletes the previous step's rotations while this step refreshes.
const STEPS: usize = 5;
const PURGE_WAIT: Duration = Duration::from_secs(120);

fn refreshes() -> usize {
    std::env::var("LOAD_REFRESHES")
        .ok()
        .map(|v| v.parse().expect("LOAD_REFRESHES is a number"))
        .unwrap_or(2_000)
}

fn refresh(port: u16, token: &str) -> String {
    let r = common::refresh_demo(port, token).expect("a response");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["auth_result"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Refreshes every session `total / SESSIONS` times (each session's chain
/// in order, THREADS threads at once); returns the sorted latencies.
fn run(port: u16, tokens: &Mutex<Vec<String>>, total: usize) -> Vec<Duration> {
    let latencies = Mutex::new(Vec::with_capacity(total));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let latencies = &latencies;
            s.spawn(move || {
                let mut mine = Vec::new();
                for _ in 0..total / SESSIONS {
                    for session in (t..SESSIONS).step_by(THREADS) {
                        let token = tokens.lock().unwrap()[session].clone();
                        let begun = Instant::now();
                        let next = refresh(port, &token);
                        mine.push(begun.elapsed());
                        tokens.lock().unwrap()[session] = next;
                    }
                }
                latencies.lock().unwrap().extend(mine);
            });
        }
    });
    let mut latencies = latencies.into_inner().unwrap();
    latencies.sort();
    latencies
}

fn describe(latencies: &[Duration], elapsed: Duration) -> String {
    let at = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    format!(
        "{} refreshes in {:.1} s ({:.0}/s), latency p50 {:?} p99 {:?} max {:?}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.5),
        at(0.99),
        latencies.last().unwrap()
    )
}

fn figures(db: &Value) -> String {
    let purge = &db["purge"];
    format!(
        "{} sessions, {} refresh tokens ({} rotated), file {} bytes + log {} bytes; \
         longest purge so far {} ms, its longest transaction {} µs",
        db["sessions"],
        db["refresh_tokens"],
        db["rotated_tokens"],
        db["file_bytes"],
        db["wal_bytes"],
        purge["longest_run_ms"],
        purge["longest_batch_us"]
    )
}

fn count(db: &Value, field: &str) -> usize {
    db[field].as_u64().unwrap() as usize
}

#[test]
fn refresh_tokens_stay_within_live_sessions_plus_the_window() {
    let n = refreshes();
    assert!(
        n >= SESSIONS * STEPS && n.is_multiple_of(SESSIONS * STEPS),
        "LOAD_REFRESHES: a multiple of {}",
        SESSIONS * STEPS
    );
    let dir = TestDir::new();
    let retention = RETENTION.to_string();
    let server = Server::start(&dir, &["--purge-interval", "1", "--retention", &retention]);
    let port = server.port;
    let tokens: Vec<String> = (0..SESSIONS)
        .map(|i| {
            server.login("demo", &format!("load{i}@example.com"))["refresh_token"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let tokens = Mutex::new(tokens);

    // Phase 1: every rotation is inside the window, so the purge (running
    // every second meanwhile) must keep them all.
    let begun = Instant::now();
    let latencies = run(port, &tokens, n);
    eprintln!("phase 1: {}", describe(&latencies, begun.elapsed()));
    server.wait_for_purges(PURGE_WAIT);
    let before = server.db(None);
    eprintln!("before purge: {}", figures(&before));
    assert_eq!(count(&before, "sessions"), SESSIONS);
    assert_eq!(count(&before, "refresh_tokens"), SESSIONS + n);
    assert_eq!(count(&before, "rotated_tokens"), n);

    // Phase 2: past the window, only the live tokens remain.
    server.set_clock(Some("demo"), RETENTION + 1);
    server.wait_for_purges(PURGE_WAIT);
    let after = server.db(None);
    eprintln!("after purge: {}", figures(&after));
    assert_eq!(count(&after, "sessions"), SESSIONS);
    assert_eq!(count(&after, "refresh_tokens"), SESSIONS);
    assert_eq!(count(&after, "rotated_tokens"), 0);
    assert_eq!(after["purge"]["total_deleted"]["rotated_tokens"], n);
    assert!(
        after["file_bytes"].as_u64() < before["file_bytes"].as_u64(),
        "the file did not shrink"
    );

    // Phase 3: each fifth of the refreshes starts with the clock moved past
    // the window, so that the background purge deletes the previous fifth's
    // rotations while this fifth runs; after it, the table holds exactly the
    // live tokens and this fifth's rotations.
    let step = n / STEPS;
    let mut offset = RETENTION + 1;
    let mut largest = 0;
    let begun = Instant::now();
    let mut latencies = Vec::new();
    for k in 0..STEPS {
        offset += RETENTION + 1;
        server.set_clock(Some("demo"), offset);
        latencies.extend(run(port, &tokens, step));
        largest = largest.max(count(&server.db(None), "refresh_tokens"));
        server.wait_for_purges(PURGE_WAIT);
        let db = server.db(None);
        assert_eq!(count(&db, "refresh_tokens"), SESSIONS + step, "step {k}");
        assert_eq!(count(&db, "rotated_tokens"), step, "step {k}");
        assert_eq!(count(&db, "sessions"), SESSIONS, "step {k}");
        if k == STEPS - 1 {
            eprintln!("phase 3, after the last step: {}", figures(&db));
        }
    }
    latencies.sort();
    eprintln!(
        "phase 3: {}; at most {largest} refresh tokens at the end of a step",
        describe(&latencies, begun.elapsed())
    );
    assert!(largest <= SESSIONS + 2 * step);

    // Every session is alive and at its latest token.
    for (i, token) in tokens.lock().unwrap().iter().enumerate() {
        let r = common::refresh_demo(port, token).unwrap();
        assert_eq!(r.status, 200, "session {i}: {}", r.text());
    }
    let stats = server.stats("demo");
    assert_eq!(stats["refresh_ok"], json!(2 * n + SESSIONS));
    let log = server.stderr();
    assert!(!log.contains("locked"), "database contention in the log");
    assert!(!log.contains("purge failed"), "{log}");
    assert!(!log.contains("panicked"));
}
