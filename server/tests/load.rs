//! A loopback load test: some thousands of sessions refreshed concurrently,
//! then every superseded refresh token presented again. No 5xx, no
//! "database is locked", every rotation distinct, every old token refused
//! and its session revoked, and a token raced by two clients at once wins
//! exactly once. The throughput is printed (`--nocapture` to see it).

mod common;

use std::collections::HashSet;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use common::{Server, TestDir};
use serde_json::json;

const SESSIONS: usize = 2000;
const ROUNDS: usize = 2;
const THREADS: usize = 32;
/// Sessions whose latest token is checked live before their old ones are
/// presented (1 in CONTROL).
const CONTROL: usize = 10;
const RACES: usize = 200;

/// One refresh; (status, error code or new refresh token).
fn refresh(port: u16, token: &str) -> (u16, String) {
    let r = common::refresh_demo(port, token).expect("a response");
    let v = r.json();
    let text = if r.status == 200 {
        v["auth_result"]["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned()
    } else {
        v["code"].as_str().unwrap_or_default().to_owned()
    };
    (r.status, text)
}

fn login(port: u16, email: &str) -> String {
    let body = json!({ "identifier": email }).to_string();
    let r = common::http(
        port,
        "POST",
        "/v1/apps/demo/demo/login",
        &[("Content-Type", "application/json")],
        Some(body.as_bytes()),
    )
    .expect("a response");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["auth_result"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Runs `work(i)` for i in 0..n on THREADS threads released together;
/// returns the results in order and the wall time.
fn parallel<T: Send>(n: usize, work: impl Fn(usize) -> T + Sync) -> (Vec<T>, Duration) {
    let start = Barrier::new(THREADS + 1);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    let elapsed = std::thread::scope(|s| {
        for t in 0..THREADS {
            let (start, results, work) = (&start, &results, &work);
            s.spawn(move || {
                start.wait();
                for i in (t..n).step_by(THREADS) {
                    let r = work(i);
                    results.lock().unwrap()[i] = Some(r);
                }
            });
        }
        start.wait();
        let begun = Instant::now();
        // The scope joins every thread before returning.
        begun
    });
    let elapsed = elapsed.elapsed();
    let results = results.into_inner().unwrap();
    (results.into_iter().map(Option::unwrap).collect(), elapsed)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[test]
fn thousands_of_sessions_refreshed_concurrently() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let port = server.port;

    let (first, login_time) = parallel(SESSIONS, |i| login(port, &format!("load{i}@example.com")));
    eprintln!(
        "{SESSIONS} logins on {THREADS} threads: {:.1} s, {:.0}/s",
        login_time.as_secs_f64(),
        SESSIONS as f64 / login_time.as_secs_f64()
    );

    // Every session refreshed ROUNDS times, all sessions at once.
    let latencies = Mutex::new(Vec::with_capacity(SESSIONS * ROUNDS));
    let (chains, refresh_time) = parallel(SESSIONS, |i| {
        let mut chain = vec![first[i].clone()];
        for _ in 0..ROUNDS {
            let begun = Instant::now();
            let (status, text) = refresh(port, chain.last().unwrap());
            latencies.lock().unwrap().push(begun.elapsed());
            assert_eq!(status, 200, "session {i}: {text}");
            chain.push(text);
        }
        chain
    });
    let mut latencies = latencies.into_inner().unwrap();
    latencies.sort();
    let refreshes = SESSIONS * ROUNDS;
    eprintln!(
        "{refreshes} refreshes of {SESSIONS} sessions on {THREADS} threads: {:.1} s, {:.0}/s, latency p50 {:?} p99 {:?} max {:?}",
        refresh_time.as_secs_f64(),
        refreshes as f64 / refresh_time.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().unwrap()
    );
    let stats = server.stats("demo");
    assert_eq!(stats["refresh_ok"], refreshes);
    assert_eq!(stats["refresh"], refreshes);
    let all: HashSet<&String> = chains.iter().flatten().collect();
    assert_eq!(
        all.len(),
        SESSIONS * (ROUNDS + 1),
        "every rotation is a new token"
    );

    // Reuse detection, all sessions at once: every superseded token is
    // refused, the first one presented as reused, and the session is then
    // revoked (its latest token too). Control sessions first show that
    // their latest token is still live.
    let (outcomes, reuse_time) = parallel(SESSIONS, |i| {
        let chain = &chains[i];
        let mut codes = Vec::new();
        if i % CONTROL == 0 {
            let (status, text) = refresh(port, chain.last().unwrap());
            codes.push((status, if status == 200 { "ok".into() } else { text }));
        }
        for old in &chain[..ROUNDS] {
            codes.push(refresh(port, old));
        }
        codes.push(refresh(port, chain.last().unwrap()));
        codes
    });
    let checks: usize = outcomes.iter().map(Vec::len).sum();
    eprintln!(
        "{checks} reuse checks on {THREADS} threads: {:.1} s, {:.0}/s",
        reuse_time.as_secs_f64(),
        checks as f64 / reuse_time.as_secs_f64()
    );
    for (i, codes) in outcomes.iter().enumerate() {
        let mut codes = codes.iter();
        if i % CONTROL == 0 {
            assert_eq!(
                codes.next().unwrap(),
                &(200, "ok".into()),
                "session {i}: the latest token is live"
            );
        }
        assert_eq!(
            codes.next().unwrap(),
            &(401, "refresh_token_reused".into()),
            "session {i}"
        );
        for (status, code) in codes {
            assert_eq!(*status, 401, "session {i}: an old token was accepted");
            assert!(
                code == "refresh_token_reused" || code == "refresh_token_revoked",
                "session {i}: {code}"
            );
        }
    }

    // Races: two clients present the same token at the same instant;
    // exactly one gets a new token, and (strict reuse detection) that new
    // token is dead too.
    let raced: Vec<String> = (0..RACES)
        .map(|i| login(port, &format!("race{i}@example.com")))
        .collect();
    let (pairs, _) = parallel(RACES, |i| {
        let both = Barrier::new(2);
        std::thread::scope(|s| {
            let a = s.spawn(|| {
                both.wait();
                refresh(port, &raced[i])
            });
            let b = s.spawn(|| {
                both.wait();
                refresh(port, &raced[i])
            });
            (a.join().unwrap(), b.join().unwrap())
        })
    });
    for (i, (a, b)) in pairs.iter().enumerate() {
        let winners: Vec<_> = [a, b].into_iter().filter(|(s, _)| *s == 200).collect();
        assert_eq!(winners.len(), 1, "race {i}: {a:?} {b:?}");
        let loser = if a.0 == 200 { b } else { a };
        assert_eq!(loser, &(401, "refresh_token_reused".into()), "race {i}");
        assert_eq!(
            refresh(port, &winners[0].1),
            (401, "refresh_token_revoked".into()),
            "race {i}: the winner's token outlived the reuse"
        );
    }

    let log = server.stderr();
    assert!(!log.contains("locked"), "database contention in the log");
    assert!(!log.contains("panicked"));
    assert!(!log.contains(" closed "), "a connection dropped under load");
    let server_errors = log
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .any(|w| w.len() == 3 && w.starts_with('5') && w.parse::<u16>().is_ok())
        })
        .count();
    assert_eq!(server_errors, 0, "5xx answers in the log");
}
