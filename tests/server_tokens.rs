//! The local auth server's real tokens, read back by the client's JWT reader
//! and made into sessions: apps with random settings and clocks, users with
//! unicode addresses, over the server's HTTP API with a small hand-written
//! client. Needs the server binary (`cargo build -p passage-auth-server`,
//! which `cargo test --workspace` does); skipped with a note without it.
//!
//! It runs 24 cases, since each signs two RSA tokens; `PROPTEST_CASES` asks
//! for more (at most 200), e.g. `cargo build --release -p passage-auth-server`
//! then `PROPTEST_CASES=200 cargo test --release -p passage-user --test
//! server_tokens` (the binary is looked up next to the test's own build).
//! Failing cases are kept in `proptest-regressions/server_tokens.txt` and
//! replayed first on every run.
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/core.rs"]
mod support;

use std::fmt::Write as _;

use passage_user::core::jwt;
use passage_user::core::policy::{skew_from_iat, Policy};
use passage_user::core::session::{RawAuthResult, Session, Status};
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use support::{json_string, Escape};

/// `cases` unless `PROPTEST_CASES` asks for more (or fewer); failures are
/// kept in `proptest-regressions/server_tokens.txt`.
fn config(cases: u32) -> Config {
    support::config("proptest-regressions/server_tokens.txt", cases)
}

// ---------------------------------------------------------------------------
// The local auth server's real tokens, read back by the client's decoder.

mod server {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::sync::mpsc;
    use std::time::Duration;

    /// The server binary next to this test's own build
    /// (`target/<profile>/passage-auth-server`), when it has been built.
    pub fn binary() -> Option<PathBuf> {
        let exe = std::env::current_exe().ok()?;
        let path = exe.parent()?.parent()?.join("passage-auth-server");
        path.is_file().then_some(path)
    }

    pub struct Running {
        child: Child,
        pub port: u16,
        dir: PathBuf,
    }

    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    pub fn start(bin: &PathBuf) -> Running {
        let dir = std::env::temp_dir().join(format!(
            "psg-server-tokens-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut child = Command::new(bin)
            .args(["--addr", "127.0.0.1:0", "--data"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the auth server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the auth server prints its address");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Running { child, port, dir }
    }

    impl Running {
        /// One request on its own connection: (status, body).
        pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
            let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            let body = body.unwrap_or("");
            let head = format!(
                "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
                 Authorization: Bearer local-admin-key\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(body.as_bytes()).unwrap();
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).unwrap();
            let raw = String::from_utf8(raw).expect("a UTF-8 reply");
            let (head, body) = raw.split_once("\r\n\r\n").expect("a reply head");
            let status = head.split(' ').nth(1).unwrap().parse().unwrap();
            let chunked = head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked");
            (
                status,
                if chunked {
                    dechunk(body)
                } else {
                    body.to_owned()
                },
            )
        }
    }

    fn dechunk(mut data: &str) -> String {
        let mut out = String::new();
        while let Some((size, rest)) = data.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            if size == 0 {
                break;
            }
            out.push_str(&rest[..size]);
            data = &rest[size + 2..];
        }
        out
    }

    /// The string member `key` of a compact serde_json reply, for values
    /// with no escapes (tokens, ids).
    pub fn str_field(body: &str, key: &str) -> Option<String> {
        let start = body.find(&format!("\"{key}\":\""))? + key.len() + 4;
        let len = body[start..].find('"')?;
        Some(body[start..start + len].to_owned())
    }

    /// The integer member `key` of a compact serde_json reply.
    pub fn int_field(body: &str, key: &str) -> Option<i64> {
        let start = body.find(&format!("\"{key}\":"))? + key.len() + 3;
        let digits: String = body[start..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .collect();
        digits.parse().ok()
    }

    /// Percent-encodes a path segment.
    pub fn encode(s: &str) -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }
}

/// Apps with random lifetimes, origins (quotes and backslashes included,
/// which the server escapes in `aud[0]`) and clocks shifted by up to ten
/// years; users with unicode addresses. Every token the server signs, at
/// login and at refresh, is read back with the right app id, subject and
/// lifetime, and makes a session the client accepts and finds fresh.
///
/// Needs the server binary (`cargo build -p passage-auth-server`, which
/// `cargo test --workspace` does); skipped with a note without it.
#[test]
fn the_local_servers_real_tokens_are_read_back() {
    let Some(bin) = server::binary() else {
        eprintln!("skipped: build the auth server first (cargo build -p passage-auth-server)");
        return;
    };
    let running = server::start(&bin);
    // Each case signs two RSA tokens: keep a long run (PROPTEST_CASES) short here.
    let mut config = config(24);
    config.cases = config.cases.min(200);
    let mut runner = TestRunner::new(config);
    let counter = std::cell::Cell::new(0u32);
    let strategy = (
        "[A-Za-z0-9_-]{1,40}",
        3i64..=315_360_000,
        option::of("https?://[!-~&&[^/?# @]]{1,40}"),
        -315_000_000i64..315_000_000,
        "[a-z0-9\u{e9}\u{4e2d}\u{1F600}.+]{1,20}@[a-z\u{e9}]{1,10}\\.example",
    );
    runner
        .run(&strategy, |(app, lifetime, origin, offset, email)| {
            counter.set(counter.get() + 1);
            let app = format!("p{}{app}", counter.get());
            let app = &app[..app.len().min(64)];
            let mut settings = format!(r#"{{"auth_token_lifetime":{lifetime}"#);
            if let Some(o) = &origin {
                let _ = write!(settings, r#","origin":{}"#, json_string(o, Escape::Serde));
            }
            settings.push('}');
            let (status, body) =
                running.request("PUT", &format!("/admin/apps/{app}"), Some(&settings));
            prop_assert_eq!(status, 200, "{}", body);
            let (status, body) = running.request(
                "POST",
                "/admin/clock",
                Some(&format!(r#"{{"offset_secs":{offset},"app":"{app}"}}"#)),
            );
            prop_assert_eq!(status, 200, "{}", body);
            let (status, body) = running.request(
                "GET",
                &format!("/admin/apps/{app}/users/{}", server::encode(&email)),
                None,
            );
            prop_assert_eq!(status, 404, "{}", body);

            let system_now = || {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64
            };
            let before = system_now();
            let (status, login) = running.request(
                "POST",
                &format!("/v1/apps/{app}/demo/login"),
                Some(&format!(
                    r#"{{"identifier":{}}}"#,
                    json_string(&email, Escape::Serde)
                )),
            );
            prop_assert_eq!(status, 200, "{}", login);
            let (_, user) = running.request(
                "GET",
                &format!("/admin/apps/{app}/users/{}", server::encode(&email)),
                None,
            );
            let user_id = server::str_field(&user, "id").expect("a user id");

            let check = |reply: &str| -> Result<Session, TestCaseError> {
                let token = server::str_field(reply, "auth_token").expect("an auth_token");
                let claims = jwt::decode(&token)
                    .map_err(|e| TestCaseError::fail(format!("{e:?} for a server token")))?;
                prop_assert_eq!(claims.app_id.as_deref(), Some(app));
                prop_assert_eq!(claims.sub.as_deref(), Some(user_id.as_str()));
                let iat = claims.iat.expect("iat");
                prop_assert_eq!(claims.exp - iat, lifetime);
                prop_assert!(
                    (before + offset - 1..=system_now() + offset + 1).contains(&iat),
                    "iat {} for an offset of {}",
                    iat,
                    offset
                );
                let expiration = server::int_field(reply, "refresh_token_expiration");
                let session = Session::from_auth_result(
                    RawAuthResult {
                        auth_token: Some(token),
                        refresh_token: server::str_field(reply, "refresh_token"),
                        refresh_expiration: expiration.map(|e| e as f64),
                    },
                    iat as f64 * 1000.0,
                )
                .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                prop_assert_eq!(session.refresh_expiration(), expiration);
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as f64;
                let skew = skew_from_iat(iat, now_ms);
                let status = session.status(now_ms, skew, &Policy::default());
                prop_assert!(
                    matches!(status, Status::Fresh { .. }),
                    "{:?} for a {} s token",
                    status,
                    lifetime
                );
                Ok(session)
            };
            let first = check(&login)?;
            let rt = first.refresh_token().unwrap().to_owned();
            let (status, refreshed) = running.request(
                "POST",
                &format!("/v1/apps/{app}/tokens"),
                Some(&format!(r#"{{"refresh_token":"{rt}"}}"#)),
            );
            prop_assert_eq!(status, 200, "{}", refreshed);
            let second = check(&refreshed)?;
            prop_assert_ne!(second.refresh_token(), Some(rt.as_str()));
            let raw = RawAuthResult {
                auth_token: second.auth_token().map(str::to_owned),
                refresh_token: second.refresh_token().map(str::to_owned),
                refresh_expiration: None,
            };
            let next = first.after_refresh(raw).unwrap();
            prop_assert_eq!(next.refresh_expiration(), first.refresh_expiration());
            Ok(())
        })
        .unwrap();
}
