//! Fault injection and the other test instruments (counters), over real
//! HTTP.

mod common;

use std::time::{Duration, Instant};

use common::{Server, TestDir};
use serde_json::json;

fn rt(result: &serde_json::Value) -> String {
    result["refresh_token"].as_str().unwrap().to_owned()
}

#[test]
fn status_faults_answer_the_next_n_refreshes() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let session = server.login("demo", "alice@example.com");
    server.add_fault(json!({ "app": "demo", "endpoint": "refresh", "count": 2, "status": 500 }));
    for _ in 0..2 {
        let r = server.refresh("demo", &rt(&session));
        assert_eq!(r.status, 500);
        assert_eq!(r.error_code(), "fault_injected");
    }
    // The faulted requests did not consume the token.
    server.refresh_ok("demo", &rt(&session));
    let stats = server.stats("demo");
    assert_eq!(stats["refresh"], 3);
    assert_eq!(stats["refresh_ok"], 1);

    let r = server.admin("POST", "/admin/stats/reset?app=demo", None);
    assert_eq!(r.status, 200);
    assert_eq!(server.stats("demo")["refresh"], 0);
}

#[test]
fn rate_limit_fault_sends_retry_after_through_cors() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let session = server.login("demo", "alice@example.com");
    server.add_fault(json!({ "status": 429, "retry_after": 2 }));
    let body = json!({ "refresh_token": rt(&session) }).to_string();
    let r = server.request(
        "POST",
        "/v1/apps/demo/tokens",
        &[
            ("Origin", "http://localhost:5173"),
            ("Content-Type", "application/json"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("2"));
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("http://localhost:5173")
    );
    assert!(r
        .header("Access-Control-Expose-Headers")
        .unwrap()
        .contains("Retry-After"));
    assert_eq!(r.error_code(), "fault_injected");
}

#[test]
fn malformed_faults_send_a_200_that_breaks_the_contract() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let session = server.login("demo", "alice@example.com");
    server.add_fault(json!({ "mode": "malformed" }));
    let r = server.refresh("demo", &rt(&session));
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());

    server.add_fault(
        json!({ "mode": "malformed", "body": "{\"auth_result\": {\"auth_token\": 42}}" }),
    );
    let r = server.refresh("demo", &rt(&session));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["auth_result"]["auth_token"], 42);
    server.refresh_ok("demo", &rt(&session));
}

#[test]
fn drop_faults_close_the_connection_without_a_response() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let session = server.login("demo", "alice@example.com");
    server.add_fault(json!({ "mode": "drop", "count": 2 }));
    for _ in 0..2 {
        let started = Instant::now();
        let err = common::refresh_demo(server.port, &rt(&session)).expect_err("no response");
        assert!(
            matches!(
                err.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
            ),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(server.stats("demo")["refresh"], 2);
    server.refresh_ok("demo", &rt(&session));
    assert!(server.stderr().contains("POST /v1/apps/demo/tokens closed"));
}

#[test]
fn delay_faults_hold_the_request_then_handle_it() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let session = server.login("demo", "alice@example.com");
    server.add_fault(json!({ "delay_ms": 700 }));
    let started = Instant::now();
    let fresh = server.refresh_ok("demo", &rt(&session));
    assert!(started.elapsed() >= Duration::from_millis(700));
    // A delay with a status: the status, late.
    server.add_fault(json!({ "delay_ms": 300, "status": 503 }));
    let started = Instant::now();
    assert_eq!(server.refresh("demo", &rt(&fresh)).status, 503);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn late_faults_handle_the_request_then_hold_the_answer() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let session = server.login("demo", "alice@example.com");
    server.add_fault(json!({ "mode": "late", "delay_ms": 700 }));
    let started = Instant::now();
    let fresh = server.refresh_ok("demo", &rt(&session));
    assert!(started.elapsed() >= Duration::from_millis(700));
    server.refresh_ok("demo", &rt(&fresh));
    let r = server.admin("POST", "/admin/faults", Some(json!({ "mode": "late" })));
    assert_eq!(r.status, 400);
}

/// Sends a refresh, waits until the server has rotated (its counter says
/// so), and hangs up before the held answer arrives.
fn refresh_and_hang_up(server: &Server, app: &str, token: &str) {
    use std::io::Write;
    let body = json!({ "refresh_token": token }).to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        stream,
        "POST /v1/apps/{app}/tokens HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.stats(app)["refresh_ok"] == 0 {
        assert!(Instant::now() < deadline, "the refresh was not handled");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stream);
}

#[test]
fn a_late_answer_lost_with_its_client_ends_the_session_unless_there_is_a_grace_period() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    server.put_app("strict", json!({}));
    server.put_app("grace", json!({ "reuse_grace": 60 }));
    for app in ["strict", "grace"] {
        let session = server.login(app, "alice@example.com");
        server.add_fault(json!({ "app": app, "mode": "late", "delay_ms": 60_000 }));
        refresh_and_hang_up(&server, app, &rt(&session));
        // The client never saw the new token and tries again with its own.
        let r = server.refresh(app, &rt(&session));
        if app == "strict" {
            assert_eq!(r.status, 401, "{}", r.text());
            assert_eq!(r.error_code(), "refresh_token_reused");
        } else {
            assert_eq!(r.status, 200, "{}", r.text());
            let recovered = rt(&r.json()["auth_result"]);
            server.refresh_ok(app, &recovered);
            assert_eq!(server.stats(app)["refresh_grace"], 1);
        }
    }
}

#[test]
fn delayed_refresh_lets_a_test_stage_a_race() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let session = server.login("demo", "alice@example.com");
    server.add_fault(json!({ "delay_ms": 500 }));
    let port = server.port;
    let token = rt(&session);
    let slow = std::thread::spawn(move || {
        let body = json!({ "refresh_token": token }).to_string();
        common::http(
            port,
            "POST",
            "/v1/apps/demo/tokens",
            &[],
            Some(body.as_bytes()),
        )
        .unwrap()
    });
    std::thread::sleep(Duration::from_millis(100));
    // The second request overtakes the delayed one and rotates first...
    let fast = server.refresh("demo", &rt(&session));
    assert_eq!(fast.status, 200);
    // ...so the delayed one is a reuse, and ends the session.
    let slow = slow.join().unwrap();
    assert_eq!(slow.status, 401);
    assert_eq!(slow.error_code(), "refresh_token_reused");
}

#[test]
fn faults_target_an_endpoint_and_an_app() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    server.put_app("other", json!({}));
    let demo = server.login("demo", "alice@example.com");
    let other = server.login("other", "alice@example.com");
    server.add_fault(json!({ "app": "other", "status": 502 }));
    server.add_fault(json!({ "endpoint": "currentuser", "status": 500 }));
    server.add_fault(json!({ "endpoint": "revoke", "status": 503, "app": "demo" }));
    let faults = server.admin("GET", "/admin/faults", None).json();
    assert_eq!(faults["faults"].as_array().unwrap().len(), 3);

    let demo = server.refresh_ok("demo", &rt(&demo));
    assert_eq!(server.refresh("other", &rt(&other)).status, 502);
    let jwt = demo["auth_token"].as_str().unwrap();
    assert_eq!(server.current_user("demo", jwt).status, 500);
    assert_eq!(server.current_user("demo", jwt).status, 200);
    assert_eq!(server.revoke("demo", &rt(&demo)).status, 503);
    assert_eq!(server.revoke("demo", &rt(&demo)).status, 204);

    server.add_fault(json!({ "count": 5 }));
    let r = server.admin("DELETE", "/admin/faults", None);
    assert_eq!(r.json()["cleared"], 1);
    server.refresh_ok("other", &rt(&other));

    let stats = server.stats("demo");
    assert_eq!(stats["currentuser"], 2);
    assert_eq!(stats["revoke"], 2);
    assert_eq!(server.stats("other")["refresh"], 2);
}

#[test]
fn login_and_hello_faults() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    server.add_fault(json!({ "endpoint": "login", "status": 500 }));
    let r = server.post_json(
        "/v1/apps/demo/demo/login",
        &json!({ "identifier": "alice@example.com" }),
    );
    assert_eq!(r.status, 500);
    let session = server.login("demo", "alice@example.com");
    server.add_fault(json!({ "endpoint": "hello", "status": 401 }));
    let jwt = session["auth_token"].as_str().unwrap();
    assert_eq!(
        server.get_auth("/v1/apps/demo/demo/api/hello", jwt).status,
        401
    );
    assert_eq!(
        server.get_auth("/v1/apps/demo/demo/api/hello", jwt).status,
        200
    );
}

#[test]
fn instruments_need_the_admin_key_and_valid_input() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    for (method, path) in [
        ("POST", "/admin/faults"),
        ("DELETE", "/admin/faults"),
        ("GET", "/admin/stats"),
        ("POST", "/admin/stats/reset"),
        ("GET", "/admin/clock"),
        ("POST", "/admin/clock"),
        ("PUT", "/admin/apps/x"),
        ("GET", "/admin/apps"),
    ] {
        let r = server.request(method, path, &[], Some(b"{}"));
        assert_eq!(r.status, 401, "{method} {path}");
        assert_eq!(r.error_code(), "invalid_admin_key");
    }
    for bad in [
        json!({ "mode": "explode" }),
        json!({ "status": 200 }),
        json!({ "status": "500" }),
        json!({ "count": 0 }),
        json!({ "count": -1 }),
        json!({ "endpoint": "nowhere" }),
        json!({ "delay_ms": 10_000_000 }),
        json!({ "unknown": true }),
    ] {
        let r = server.admin("POST", "/admin/faults", Some(bad.clone()));
        assert_eq!(r.status, 400, "{bad}");
        r.error_code();
    }
    for bad in [
        json!({}),
        json!({ "offset_secs": "10" }),
        json!({ "offset_secs": 10, "app": "nope" }),
        json!({ "offset_secs": 1_000_000_000_000i64 }),
    ] {
        let r = server.admin("POST", "/admin/clock", Some(bad.clone()));
        assert!(r.status == 400 || r.status == 404, "{bad}: {}", r.status);
        r.error_code();
    }
    assert!(server.admin("GET", "/admin/faults", None).json()["faults"]
        .as_array()
        .unwrap()
        .is_empty());
}
