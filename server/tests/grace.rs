//! The rotation grace period (`--reuse-grace`, an app's `reuse_grace`), over
//! real HTTP: a retry of a rotation within it gets the same new refresh
//! token, after it (or for any older token) reuse revokes the session, and
//! with it off the server is strict.

mod common;

use std::sync::Barrier;

use common::{claims, Server, TestDir};
use serde_json::{json, Value};

fn rt(result: &Value) -> String {
    result["refresh_token"].as_str().unwrap().to_owned()
}

fn jwt(result: &Value) -> String {
    result["auth_token"].as_str().unwrap().to_owned()
}

fn refused(server: &Server, app: &str, token: &str) -> String {
    let r = server.refresh(app, token);
    assert_eq!(r.status, 401, "{}", r.text());
    r.error_code()
}

#[test]
fn a_retry_within_the_grace_period_gets_the_same_new_tokens() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let app = server.put_app("g", json!({ "reuse_grace": 30 }));
    assert_eq!(app["reuse_grace"], 30);
    let first = server.login("g", "alice@example.com");
    let rotated = server.refresh_ok("g", &rt(&first));

    // The answer to the rotation was lost: the client sends the old token
    // again, twice, and gets the same refresh token each time, with an auth
    // token for the same session.
    for _ in 0..2 {
        let retried = server.refresh_ok("g", &rt(&first));
        assert_eq!(rt(&retried), rt(&rotated));
        assert_eq!(
            retried["refresh_token_expiration"],
            rotated["refresh_token_expiration"]
        );
        let (a, b) = (claims(&jwt(&retried)), claims(&jwt(&rotated)));
        assert_eq!(
            (&a["sub"], &a["aud"], &a["iss"]),
            (&b["sub"], &b["aud"], &b["iss"])
        );
        assert_eq!(server.current_user("g", &jwt(&retried)).status, 200);
    }

    // The session lives on: the token it was rotated to rotates as usual.
    let next = server.refresh_ok("g", &rt(&rotated));
    assert_ne!(rt(&next), rt(&rotated));
    server.refresh_ok("g", &rt(&next));
    let stats = server.stats("g");
    assert_eq!(stats["refresh"], 5);
    assert_eq!(stats["refresh_ok"], 5);
    assert_eq!(stats["refresh_grace"], 2);

    // The demo app of the same server, without a grace period, is strict.
    assert_eq!(
        server.admin("GET", "/admin/apps/demo", None).json()["app"]["reuse_grace"],
        0
    );
    let first = server.login("demo", "alice@example.com");
    let rotated = server.refresh_ok("demo", &rt(&first));
    assert_eq!(
        refused(&server, "demo", &rt(&first)),
        "refresh_token_reused"
    );
    assert_eq!(
        refused(&server, "demo", &rt(&rotated)),
        "refresh_token_revoked"
    );
    assert_eq!(server.stats("demo")["refresh_grace"], 0);
}

#[test]
fn after_the_grace_period_reuse_revokes_the_session() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    server.put_app("g", json!({ "reuse_grace": 30 }));
    let first = server.login("g", "alice@example.com");
    let rotated = server.refresh_ok("g", &rt(&first));
    // Near the end of the period (the test may take up to 5 s more).
    server.set_clock(Some("g"), 25);
    assert_eq!(rt(&server.refresh_ok("g", &rt(&first))), rt(&rotated));
    // Past it: reuse, and the whole session is revoked.
    server.set_clock(Some("g"), 31);
    assert_eq!(refused(&server, "g", &rt(&first)), "refresh_token_reused");
    assert_eq!(
        refused(&server, "g", &rt(&rotated)),
        "refresh_token_revoked"
    );
    assert_eq!(refused(&server, "g", &rt(&first)), "refresh_token_revoked");
}

#[test]
fn only_the_direct_predecessor_of_the_current_token_is_retried() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    server.put_app("g", json!({ "reuse_grace": 60 }));
    let t0 = server.login("g", "alice@example.com");
    let t1 = server.refresh_ok("g", &rt(&t0));
    let t2 = server.refresh_ok("g", &rt(&t1));
    // T1 is the predecessor of the current token: a retry.
    assert_eq!(rt(&server.refresh_ok("g", &rt(&t1))), rt(&t2));
    // T0, rotated a moment ago too, is two rotations behind: whoever holds
    // it did not get T1's answer nor use it, so it is reuse, as with Auth0.
    assert_eq!(refused(&server, "g", &rt(&t0)), "refresh_token_reused");
    assert_eq!(refused(&server, "g", &rt(&t2)), "refresh_token_revoked");
    assert_eq!(refused(&server, "g", &rt(&t1)), "refresh_token_revoked");
}

#[test]
fn the_flag_sets_every_app_that_sets_none_and_zero_is_strict() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &["--reuse-grace", "20"]);
    server.put_app("strict", json!({ "reuse_grace": 0 }));
    server.put_app("inherits", json!({}));
    for (app, grace) in [("demo", 20), ("inherits", 20), ("strict", 0)] {
        let r = server.admin("GET", &format!("/admin/apps/{app}"), None);
        assert_eq!(r.json()["app"]["reuse_grace"], grace, "{app}");
        let first = server.login(app, "alice@example.com");
        let rotated = server.refresh_ok(app, &rt(&first));
        if grace > 0 {
            assert_eq!(rt(&server.refresh_ok(app, &rt(&first))), rt(&rotated));
            server.refresh_ok(app, &rt(&rotated));
        } else {
            assert_eq!(refused(&server, app, &rt(&first)), "refresh_token_reused");
            assert_eq!(
                refused(&server, app, &rt(&rotated)),
                "refresh_token_revoked"
            );
        }
    }
}

#[test]
fn concurrent_presentations_of_one_token_all_get_the_same_new_tokens() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    server.put_app("g", json!({ "reuse_grace": 30 }));
    const RACES: usize = 20;
    let port = server.port;
    for i in 0..RACES {
        let first = rt(&server.login("g", &format!("race{i}@example.com")));
        let both = Barrier::new(2);
        let (a, b) = std::thread::scope(|s| {
            let go = || {
                both.wait();
                let body = json!({ "refresh_token": first }).to_string();
                let r = common::http(
                    port,
                    "POST",
                    "/v1/apps/g/tokens",
                    &[("Content-Type", "application/json")],
                    Some(body.as_bytes()),
                )
                .unwrap();
                assert_eq!(r.status, 200, "race {i}: {}", r.text());
                rt(&r.json()["auth_result"])
            };
            let a = s.spawn(go);
            let b = s.spawn(go);
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!(a, b, "race {i}");
        // And the token they share is the live one.
        server.refresh_ok("g", &a);
    }
    let stats = server.stats("g");
    // One rotation and one retry per race, then the check.
    assert_eq!(stats["refresh_ok"], 3 * RACES as u64);
    assert_eq!(stats["refresh_grace"], RACES as u64);
}

#[test]
fn a_retry_of_an_ended_session_is_refused_as_any_refresh() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    server.put_app("g", json!({ "reuse_grace": 300, "session_expiration": 60 }));

    // Signed out between the rotation and the retry.
    let first = server.login("g", "alice@example.com");
    let rotated = server.refresh_ok("g", &rt(&first));
    assert_eq!(server.revoke("g", &rt(&rotated)).status, 204);
    assert_eq!(refused(&server, "g", &rt(&first)), "refresh_token_revoked");

    // The user was deactivated.
    let first = server.login("g", "bob@example.com");
    server.refresh_ok("g", &rt(&first));
    let r = server.admin(
        "POST",
        "/admin/apps/g/users/bob@example.com/deactivate",
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(refused(&server, "g", &rt(&first)), "refresh_token_revoked");

    // The session reached its absolute end within the grace period.
    let first = server.login("g", "carol@example.com");
    server.refresh_ok("g", &rt(&first));
    server.set_clock(Some("g"), 61);
    assert_eq!(refused(&server, "g", &rt(&first)), "session_expired");
}

#[test]
fn retries_survive_a_restart_and_the_config_file_sets_the_period() {
    let dir = TestDir::new();
    std::fs::create_dir_all(dir.data()).unwrap();
    std::fs::write(
        dir.data().join("config.json"),
        json!({ "apps": { "cfg": { "reuse_grace": 60 } } }).to_string(),
    )
    .unwrap();
    let mut server = Server::start(&dir, &[]);
    let app = &server.admin("GET", "/admin/apps/cfg", None).json()["app"];
    assert_eq!(app["reuse_grace"], 60);
    let first = server.login("cfg", "alice@example.com");
    let rotated = server.refresh_ok("cfg", &rt(&first));
    assert!(server.stop().success());

    // The new refresh token is derived from the old one, not kept in
    // memory: a retry after a restart gets it too.
    let server = Server::start(&dir, &[]);
    assert_eq!(rt(&server.refresh_ok("cfg", &rt(&first))), rt(&rotated));
    server.refresh_ok("cfg", &rt(&rotated));
}

#[test]
fn bad_grace_periods_are_refused() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    for bad in [
        json!({ "reuse_grace": 301 }),
        json!({ "reuse_grace": -1 }),
        json!({ "reuse_grace": "5" }),
        json!({ "reuse_grace": 1.5 }),
    ] {
        let r = server.admin("PUT", "/admin/apps/g", Some(bad.clone()));
        assert_eq!(r.status, 400, "{bad}");
        r.error_code();
    }
    assert_eq!(server.admin("GET", "/admin/apps/g", None).status, 404);
    assert_eq!(
        server.put_app("g", json!({ "reuse_grace": 300 }))["reuse_grace"],
        300
    );

    let data = dir.path().join("other");
    let data = data.to_str().unwrap();
    let out = std::process::Command::new(common::BIN)
        .args([
            "--addr",
            "127.0.0.1:0",
            "--data",
            data,
            "--reuse-grace",
            "301",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("--reuse-grace"),
        "{stderr}"
    );
}

#[test]
fn retries_leave_no_token_in_the_log() {
    let dir = TestDir::new();
    let mut server = Server::start(&dir, &["--reuse-grace", "30"]);
    let first = server.login("demo", "alice@example.com");
    let rotated = server.refresh_ok("demo", &rt(&first));
    let retried = server.refresh_ok("demo", &rt(&first));
    server.set_clock(None, 31);
    refused(&server, "demo", &rt(&first));
    assert!(server.stop().success());
    let log = server.stderr();
    assert!(log.contains("POST /v1/apps/demo/tokens 200"), "{log}");
    for secret in [rt(&first), rt(&rotated), jwt(&rotated), jwt(&retried)] {
        assert!(!log.contains(&secret), "the log contains a token:\n{log}");
    }
}
