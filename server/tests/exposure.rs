//! Off loopback: the server refuses to start with the default or a short
//! admin key unless told so explicitly, and says what such an address
//! exposes when it does start. On loopback it starts silently with the
//! default key, as the demo and the other tests rely on.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, TestDir, ADMIN_KEY, BIN};
use serde_json::json;

const LONG_KEY: &str = "a-long-admin-key-of-32-characters";

/// Runs the binary with `args`, expecting it to exit on its own; returns
/// its exit code, stdout and stderr (a server that starts instead is killed
/// and fails the test).
fn run_to_exit(args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server started with {args:?} instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child.stdout.unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.unwrap().read_to_string(&mut stderr).unwrap();
    (status.code(), stdout, stderr)
}

fn assert_refused(args: &[&str], reason: &str) {
    let (code, stdout, stderr) = run_to_exit(args);
    assert!(code.is_some_and(|c| c != 0), "{code:?} {stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for needle in [
        "not a loopback address",
        reason,
        "--admin-key",
        "--allow-insecure-admin-key",
    ] {
        assert!(stderr.contains(needle), "no {needle:?} in {stderr}");
    }
}

#[test]
fn off_loopback_without_an_admin_key_it_refuses_to_start() {
    let dir = TestDir::new();
    let data = dir.data();
    let data = data.to_str().unwrap();
    // No key, a short one, the default one given by hand.
    for (key, reason) in [
        (None, "the default admin key"),
        (Some("short"), "shorter than 24 characters"),
        (Some(ADMIN_KEY), "the default admin key"),
    ] {
        let mut args = vec!["--addr", "0.0.0.0:0", "--data", data];
        args.extend(key.map(|key| ["--admin-key", key]).into_iter().flatten());
        assert_refused(&args, reason);
    }
    // A short key from the config file counts the same.
    std::fs::write(
        dir.data().join("config.json"),
        json!({ "admin_key": "from-the-file" }).to_string(),
    )
    .unwrap();
    assert_refused(
        &["--addr", "0.0.0.0:0", "--data", data],
        "shorter than 24 characters",
    );
}

#[test]
fn off_loopback_with_a_long_admin_key_it_starts_and_warns() {
    let dir = TestDir::new();
    let mut server = Server::start_at(&dir, "0.0.0.0:0", &["--admin-key", LONG_KEY]);
    assert!(
        server.base.starts_with("http://0.0.0.0:"),
        "{}",
        server.base
    );
    assert_eq!(server.get("/healthz").status, 200);
    let auth = format!("Bearer {LONG_KEY}");
    let r = server.request("GET", "/admin/apps", &[("Authorization", &auth)], None);
    assert_eq!(r.status, 200);
    assert_eq!(server.admin("GET", "/admin/apps", None).status, 401);
    assert!(server.stop().success());
    let log = server.stderr();
    let port = server.port;
    for needle in [
        format!("warning: 0.0.0.0:{port} is not a loopback address"),
        "sign in as any user by email alone".into(),
        "demo login".into(),
        "admin API".into(),
        "inject faults".into(),
    ] {
        assert!(log.contains(&needle), "no {needle:?} in\n{log}");
    }
    assert!(!log.contains("is in use"), "{log}");
    assert!(
        !log.contains(LONG_KEY),
        "the log shows the admin key:\n{log}"
    );
}

#[test]
fn off_loopback_the_explicit_flag_starts_with_the_default_key() {
    let dir = TestDir::new();
    let mut server = Server::start_at(&dir, "0.0.0.0:0", &["--allow-insecure-admin-key"]);
    assert_eq!(server.admin("GET", "/admin/apps", None).status, 200);
    assert!(server.stop().success());
    let log = server.stderr();
    assert!(log.contains("is not a loopback address"), "{log}");
    assert!(
        log.contains("warning: the default admin key is in use"),
        "{log}"
    );
    drop(server);

    // The same from the config file.
    std::fs::write(
        dir.data().join("config.json"),
        json!({ "allow_insecure_admin_key": true }).to_string(),
    )
    .unwrap();
    let mut server = Server::start_at(&dir, "0.0.0.0:0", &[]);
    assert_eq!(server.admin("GET", "/admin/apps", None).status, 200);
    assert!(server.stop().success());
    assert!(server
        .stderr()
        .contains("warning: the default admin key is in use"));
}

#[test]
fn on_loopback_the_default_key_starts_silently() {
    let dir = TestDir::new();
    let mut server = Server::start(&dir, &[]);
    assert_eq!(server.admin("GET", "/admin/apps", None).status, 200);
    assert!(server.stop().success());
    let log = server.stderr();
    assert!(!log.contains("warning"), "{log}");
    assert!(!log.contains("loopback"), "{log}");
}
