//! The background purge, over real HTTP: dead refresh tokens keep their
//! precise refusal for the retention window (reuse detection included),
//! then their rows are deleted and they are simply unknown; live sessions
//! are never touched. The admin clock moves each test's app past the
//! limits; the purge runs every second.

mod common;

use std::time::Duration;

use common::{Server, TestDir};
use serde_json::{json, Value};

const PURGE_WAIT: Duration = Duration::from_secs(30);

fn rt(result: &Value) -> String {
    result["refresh_token"].as_str().unwrap().to_owned()
}

fn refused(server: &Server, app: &str, token: &str) -> String {
    let r = server.refresh(app, token);
    assert_eq!(r.status, 401, "{}", r.text());
    r.error_code()
}

/// (sessions, refresh tokens, of which rotated) of one app.
fn rows(server: &Server, app: &str) -> (u64, u64, u64) {
    let db = server.db(Some(app));
    (
        db["sessions"].as_u64().unwrap(),
        db["refresh_tokens"].as_u64().unwrap(),
        db["rotated_tokens"].as_u64().unwrap(),
    )
}

/// Moves the app's clock, then waits for a whole purge to have run after it.
fn shift_and_purge(server: &Server, app: &str, offset: i64) {
    server.set_clock(Some(app), offset);
    server.wait_for_purges(PURGE_WAIT);
}

fn start(dir: &TestDir, retention: &str) -> Server {
    Server::start(dir, &["--purge-interval", "1", "--retention", retention])
}

#[test]
fn rotated_tokens_keep_reuse_detection_for_the_window_then_are_unknown() {
    let dir = TestDir::new();
    let server = start(&dir, "1000");
    server.put_app("p", json!({}));
    let a0 = server.login("p", "a@example.com");
    let a1 = server.refresh_ok("p", &rt(&a0));
    let a2 = server.refresh_ok("p", &rt(&a1));
    let b0 = server.login("p", "b@example.com");
    let b1 = server.refresh_ok("p", &rt(&b0));
    let live = server.login("p", "c@example.com");
    assert_eq!(rows(&server, "p"), (3, 6, 3));

    // Inside the window nothing is purged, and reuse is still detected.
    shift_and_purge(&server, "p", 900);
    assert_eq!(rows(&server, "p"), (3, 6, 3));
    assert_eq!(refused(&server, "p", &rt(&b0)), "refresh_token_reused");
    assert_eq!(refused(&server, "p", &rt(&b1)), "refresh_token_revoked");

    // Past it, the rotated tokens are gone: an old token is unknown, and
    // presenting it no longer revokes anything.
    shift_and_purge(&server, "p", 1001);
    assert_eq!(rows(&server, "p"), (3, 3, 0));
    assert_eq!(refused(&server, "p", &rt(&a0)), "invalid_refresh_token");
    assert_eq!(refused(&server, "p", &rt(&a1)), "invalid_refresh_token");
    let a3 = server.refresh_ok("p", &rt(&a2));
    // The family revoked for reuse at 900 is still remembered until 1900.
    assert_eq!(refused(&server, "p", &rt(&b1)), "refresh_token_revoked");

    shift_and_purge(&server, "p", 1901);
    assert_eq!(rows(&server, "p"), (2, 3, 1));
    assert_eq!(refused(&server, "p", &rt(&b1)), "invalid_refresh_token");
    assert_eq!(server.revoke("p", &rt(&b1)).status, 404);
    server.refresh_ok("p", &rt(&a3));
    server.refresh_ok("p", &rt(&live));
}

#[test]
fn expired_and_inactive_sessions_are_purged_after_the_window() {
    let dir = TestDir::new();
    let server = start(&dir, "1000");
    server.put_app("exp", json!({ "session_expiration": 50 }));
    server.put_app("idle", json!({ "inactivity_timeout": 50 }));
    server.put_app("other", json!({}));
    let expired = server.login("exp", "a@example.com");
    let idle = server.login("idle", "a@example.com");
    let idle_probed = server.login("idle", "b@example.com");
    let other = server.login("other", "a@example.com");

    // Ended at 50, remembered until 1050.
    for app in ["exp", "idle"] {
        shift_and_purge(&server, app, 60);
    }
    assert_eq!(rows(&server, "exp"), (1, 1, 0));
    assert_eq!(rows(&server, "idle"), (2, 2, 0));
    assert_eq!(refused(&server, "exp", &rt(&expired)), "session_expired");
    assert_eq!(
        refused(&server, "idle", &rt(&idle_probed)),
        "session_inactive"
    );

    for app in ["exp", "idle"] {
        shift_and_purge(&server, app, 1051);
    }
    assert_eq!(rows(&server, "exp"), (0, 0, 0));
    assert_eq!(rows(&server, "idle"), (0, 0, 0));
    assert_eq!(
        refused(&server, "exp", &rt(&expired)),
        "invalid_refresh_token"
    );
    assert_eq!(
        refused(&server, "idle", &rt(&idle)),
        "invalid_refresh_token"
    );
    assert_eq!(
        refused(&server, "idle", &rt(&idle_probed)),
        "invalid_refresh_token"
    );
    // Another app's clock did not move: its session is untouched.
    assert_eq!(rows(&server, "other"), (1, 1, 0));
    server.refresh_ok("other", &rt(&other));

    let purge = &server.db(None)["purge"];
    assert_eq!(purge["total_deleted"]["sessions"], 3);
    assert_eq!(purge["total_deleted"]["session_tokens"], 3);
}

#[test]
fn signed_out_and_revoked_families_are_purged_after_the_window() {
    let dir = TestDir::new();
    let server = start(&dir, "1000");
    server.put_app("rev", json!({}));
    let signed_out = server.login("rev", "a@example.com");
    let rotated = server.refresh_ok("rev", &rt(&signed_out));
    assert_eq!(server.revoke("rev", &rt(&rotated)).status, 204);
    let by_admin = server.login("rev", "b@example.com");
    let r = server.admin("POST", "/admin/apps/rev/users/b@example.com/signout", None);
    assert_eq!(r.json()["revoked_sessions"], 1);
    let live = server.login("rev", "c@example.com");

    shift_and_purge(&server, "rev", 900);
    assert_eq!(rows(&server, "rev"), (3, 4, 1));
    assert_eq!(
        refused(&server, "rev", &rt(&rotated)),
        "refresh_token_revoked"
    );
    assert_eq!(server.revoke("rev", &rt(&rotated)).status, 204);

    shift_and_purge(&server, "rev", 1001);
    assert_eq!(rows(&server, "rev"), (1, 1, 0));
    for gone in [&signed_out, &rotated, &by_admin] {
        assert_eq!(refused(&server, "rev", &rt(gone)), "invalid_refresh_token");
        assert_eq!(server.revoke("rev", &rt(gone)).status, 404);
    }
    server.refresh_ok("rev", &rt(&live));
}

#[test]
fn a_rotated_token_is_kept_for_its_grace_period_even_with_no_retention() {
    let dir = TestDir::new();
    let server = start(&dir, "0");
    server.put_app("strict", json!({}));
    server.put_app("g", json!({ "reuse_grace": 60 }));

    // Retention 0: reuse detection only lasts until the next purge.
    let first = server.login("strict", "a@example.com");
    let rotated = server.refresh_ok("strict", &rt(&first));
    server.wait_for_purges(PURGE_WAIT);
    assert_eq!(rows(&server, "strict"), (1, 1, 0));
    assert_eq!(
        refused(&server, "strict", &rt(&first)),
        "invalid_refresh_token"
    );
    server.refresh_ok("strict", &rt(&rotated));

    // But a grace period is honoured to its end, then the token goes.
    let first = server.login("g", "a@example.com");
    let rotated = server.refresh_ok("g", &rt(&first));
    server.wait_for_purges(PURGE_WAIT);
    assert_eq!(rows(&server, "g"), (1, 2, 1));
    assert_eq!(rt(&server.refresh_ok("g", &rt(&first))), rt(&rotated));
    shift_and_purge(&server, "g", 61);
    assert_eq!(rows(&server, "g"), (1, 1, 0));
    assert_eq!(refused(&server, "g", &rt(&first)), "invalid_refresh_token");
    server.refresh_ok("g", &rt(&rotated));
}

#[test]
fn the_background_purge_can_be_off_and_a_purge_run_on_demand() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &["--purge-interval", "0", "--retention", "0"]);
    let first = server.login("demo", "a@example.com");
    let rotated = server.refresh_ok("demo", &rt(&first));
    std::thread::sleep(Duration::from_millis(1500));
    let db = server.db(None);
    assert_eq!(db["purge"]["runs"], 0);
    assert_eq!(db["purge_interval"], 0);
    assert_eq!(db["retention"], 0);
    assert_eq!(
        (db["refresh_tokens"].as_u64(), db["rotated_tokens"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(db["file_bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        refused(&server, "demo", &rt(&first)),
        "refresh_token_reused"
    );

    let first = server.login("demo", "b@example.com");
    let rotated_b = server.refresh_ok("demo", &rt(&first));
    let r = server.admin("POST", "/admin/purge", None);
    assert_eq!(r.status, 200, "{}", r.text());
    let purged = r.json();
    // The family revoked for reuse (2 tokens), and b's rotated token.
    assert_eq!(
        purged["deleted"],
        json!({ "sessions": 1, "session_tokens": 2, "rotated_tokens": 1 })
    );
    assert_eq!(purged["db"]["sessions"], 1);
    assert_eq!(purged["db"]["refresh_tokens"], 1);
    assert_eq!(purged["db"]["purge"]["runs"], 1);
    assert_eq!(
        refused(&server, "demo", &rt(&rotated)),
        "invalid_refresh_token"
    );
    server.refresh_ok("demo", &rt(&rotated_b));

    // The admin key guards both; an unknown app is a 404.
    for (method, path) in [("GET", "/admin/db"), ("POST", "/admin/purge")] {
        let r = server.request(method, path, &[], None);
        assert_eq!(r.status, 401);
        assert_eq!(r.error_code(), "invalid_admin_key");
    }
    let r = server.admin("GET", "/admin/db?app=nope", None);
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "app_not_found");
}

#[test]
fn bad_purge_settings_are_refused_at_start() {
    let dir = TestDir::new();
    let data = dir.data();
    let data = data.to_str().unwrap();
    for (flag, value) in [
        ("--purge-interval", "86401"),
        ("--purge-interval", "-1"),
        ("--retention", "1e3"),
        ("--retention", "999999999999"),
    ] {
        let out = std::process::Command::new(common::BIN)
            .args(["--addr", "127.0.0.1:0", "--data", data, flag, value])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("error: ") && stderr.contains(flag),
            "{stderr}"
        );
    }
}
