//! Bad input, CORS, static files, configuration, logs and start-up
//! failures, over real HTTP and real processes.

mod common;

use std::process::Command;

use common::{claims, Server, TestDir, BIN};
use serde_json::json;

fn rt(result: &serde_json::Value) -> String {
    result["refresh_token"].as_str().unwrap().to_owned()
}

/// Asserts a 4xx with the JSON error body; returns the code.
fn client_error(r: &common::Response, status: u16) -> String {
    assert_eq!(r.status, status, "{}", r.text());
    assert!(
        r.header("Content-Type")
            .unwrap()
            .starts_with("application/json"),
        "{:?}",
        r.headers
    );
    r.error_code()
}

#[test]
fn bad_refresh_requests_get_json_client_errors() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let session = server.login("demo", "alice@example.com");
    let post = |body: &[u8]| {
        server.request(
            "POST",
            "/v1/apps/demo/tokens",
            &[("Content-Type", "application/json")],
            Some(body),
        )
    };
    assert_eq!(client_error(&post(b""), 400), "invalid_json");
    assert_eq!(
        client_error(&post(b"{\"refresh_token\": "), 400),
        "invalid_json"
    );
    assert_eq!(client_error(&post(b"not json"), 400), "invalid_json");
    assert_eq!(client_error(&post(b"\xff\xfe"), 400), "invalid_json");
    assert_eq!(client_error(&post(b"{}"), 400), "invalid_request");
    assert_eq!(client_error(&post(b"[]"), 400), "invalid_request");
    assert_eq!(client_error(&post(b"null"), 400), "invalid_request");
    assert_eq!(
        client_error(&post(b"{\"refresh_token\": 5}"), 400),
        "invalid_request"
    );
    assert_eq!(
        client_error(&post(b"{\"refresh_token\": null}"), 400),
        "invalid_request"
    );
    assert_eq!(
        client_error(&post(b"{\"refresh_token\": \"\"}"), 401),
        "invalid_refresh_token"
    );
    assert_eq!(
        client_error(&post(b"{\"refresh_token\": \"nope\"}"), 401),
        "invalid_refresh_token"
    );
    // No Content-Type at all is still read as JSON.
    let body = json!({ "refresh_token": "nope" }).to_string();
    let r = server.request("POST", "/v1/apps/demo/tokens", &[], Some(body.as_bytes()));
    assert_eq!(client_error(&r, 401), "invalid_refresh_token");
    // A megabyte-long value.
    let huge = "a".repeat(1024 * 1024);
    let r = post(json!({ "refresh_token": huge }).to_string().as_bytes());
    assert_eq!(client_error(&r, 401), "invalid_refresh_token");
    assert!(r.body.len() < 1000);
    // Bigger than any request this API takes.
    // (The server answers before reading it all; if its close overtakes the
    // answer, the client sees a reset instead, which is fine too.)
    match common::http(
        server.port,
        "POST",
        "/v1/apps/demo/tokens",
        &[],
        Some(&vec![b' '; 3 * 1024 * 1024]),
    ) {
        Ok(r) => assert_eq!(client_error(&r, 413), "payload_too_large"),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "{e:?}"
        ),
    }
    // After all that, the session is still fine.
    server.refresh_ok("demo", &rt(&session));
}

#[test]
fn tokens_of_another_app_are_refused_and_left_alone() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    server.put_app("other", json!({}));
    let session = server.login("demo", "alice@example.com");
    let r = server.refresh("other", &rt(&session));
    assert_eq!(client_error(&r, 401), "invalid_refresh_token");
    // An auth token of another app is refused by currentuser.
    let jwt = session["auth_token"].as_str().unwrap();
    let r = server.current_user("other", jwt);
    assert_eq!(client_error(&r, 401), "invalid_auth_token");
    // And the token still works where it belongs.
    server.refresh_ok("demo", &rt(&session));
}

#[test]
fn bad_auth_headers_and_absurd_values_get_json_client_errors() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (vec![], "missing_auth_token"),
        (
            vec![("Authorization", "Bearer".into())],
            "missing_auth_token",
        ),
        (
            vec![("Authorization", "Basic abc".into())],
            "missing_auth_token",
        ),
        (
            vec![("Authorization", "Bearer abc".into())],
            "invalid_auth_token",
        ),
        (
            vec![("Authorization", "Bearer a.b.c".into())],
            "invalid_auth_token",
        ),
        (
            vec![(
                "Authorization",
                format!("Bearer {}", "x".repeat(1024 * 1024)),
            )],
            "invalid_auth_token",
        ),
    ];
    for (headers, code) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let r = server.request("GET", "/v1/apps/demo/currentuser", &headers, None);
        assert_eq!(client_error(&r, 401), code);
    }
    // A token signed by another server's key.
    let other_dir = TestDir::new();
    let other = Server::start(&other_dir, &[]);
    let foreign = other.login("demo", "alice@example.com");
    let r = server.current_user("demo", foreign["auth_token"].as_str().unwrap());
    assert_eq!(client_error(&r, 401), "invalid_auth_token");

    // A long refresh token in the query string.
    let r = server.request(
        "DELETE",
        &format!(
            "/v1/apps/demo/tokens?refresh_token={}",
            "a".repeat(60 * 1024)
        ),
        &[],
        None,
    );
    assert_eq!(client_error(&r, 404), "refresh_token_not_found");
    // URLs over the HTTP layer's limit get 414 with the JSON error body.
    let r = server.request(
        "DELETE",
        &format!(
            "/v1/apps/demo/tokens?refresh_token={}",
            "a".repeat(1024 * 1024)
        ),
        &[],
        None,
    );
    assert_eq!(client_error(&r, 414), "uri_too_long");
    assert_eq!(server.get("/healthz").status, 200);
    let r = server.request(
        "DELETE",
        "/v1/apps/demo/tokens?refresh_token=%zz",
        &[],
        None,
    );
    assert!(r.status == 400 || r.status == 404, "{}", r.status);
    r.error_code();

    // Login with unusable identifiers.
    for body in [
        json!({}),
        json!({ "identifier": 5 }),
        json!({ "identifier": "" }),
        json!({ "identifier": "not-an-email" }),
        json!({ "identifier": format!("{}@example.com", "a".repeat(1024 * 1024)) }),
    ] {
        let r = server.post_json("/v1/apps/demo/demo/login", &body);
        let code = client_error(&r, 400);
        assert!(code == "invalid_request" || code == "invalid_json");
        assert!(r.body.len() < 1000);
    }
}

#[test]
fn urls_over_the_limit_get_the_json_error_with_cors() {
    let dir = TestDir::new();
    let mut server = Server::start(&dir, &[]);
    let origin = [("Origin", "http://localhost:5173")];
    let prefix = "/v1/apps/demo/tokens?refresh_token=";
    // The limit is hyper's: 65,534 bytes of target.
    let at_limit = format!("{prefix}{}", "a".repeat(65_534 - prefix.len()));
    let r = server.request("DELETE", &at_limit, &origin, None);
    assert_eq!(client_error(&r, 404), "refresh_token_not_found");
    for len in [65_535, 1024 * 1024, 5 * 1024 * 1024] {
        let url = format!("{prefix}{}", "a".repeat(len - prefix.len()));
        for method in ["DELETE", "POST", "GET"] {
            let r = server.request(method, &url, &origin, Some(b"{}"));
            assert_eq!(client_error(&r, 414), "uri_too_long", "{method} {len}");
            assert_eq!(
                r.header("access-control-allow-origin"),
                Some("http://localhost:5173")
            );
            assert_eq!(
                r.header("access-control-expose-headers"),
                Some("Retry-After")
            );
            assert!(
                r.json()["error"]
                    .as_str()
                    .unwrap()
                    .contains(&len.to_string()),
                "{}",
                r.text()
            );
        }
    }
    // A request line with no end before the limit, whatever it is.
    let r = server.request(&"X".repeat(70_000), "/", &origin, None);
    assert_eq!(client_error(&r, 414), "uri_too_long");
    assert_eq!(server.get("/healthz").status, 200);
    assert!(server.stop().success());
    let log = server.stderr();
    assert!(
        log.contains("DELETE /v1/apps/demo/tokens… (65535 bytes) 414"),
        "{log}"
    );
    assert!(!log.contains("refresh_token"), "{log}");
    assert!(!log.contains("aaaa"), "{log}");
}

#[test]
fn wrong_methods_unknown_apps_and_paths_get_json_errors() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    for (method, path) in [
        ("GET", "/v1/apps/demo/tokens"),
        ("PUT", "/v1/apps/demo/tokens"),
        ("PATCH", "/v1/apps/demo/tokens/"),
        ("POST", "/v1/apps/demo/currentuser"),
        ("DELETE", "/v1/apps/demo/currentuser"),
        ("GET", "/v1/apps/demo/demo/login"),
        ("POST", "/v1/apps/demo/.well-known/jwks.json"),
        ("DELETE", "/admin/apps/demo"),
    ] {
        let auth = ("Authorization", "Bearer local-admin-key");
        let r = server.request(method, path, &[auth], None);
        assert_eq!(
            client_error(&r, 405),
            "method_not_allowed",
            "{method} {path}"
        );
    }
    for (method, path) in [
        ("POST", "/v1/apps/nope/tokens"),
        ("DELETE", "/v1/apps/nope/tokens?refresh_token=x"),
        ("GET", "/v1/apps/nope/currentuser"),
        ("POST", "/v1/apps/nope/demo/login"),
    ] {
        let r = server.request(method, path, &[], Some(b"{}"));
        assert_eq!(client_error(&r, 404), "app_not_found", "{method} {path}");
    }
    for path in [
        "/nope",
        "/v1/apps/demo/nope",
        "/admin/nope",
        "/",
        "/pkg/x.js",
    ] {
        assert_eq!(client_error(&server.get(path), 404), "not_found", "{path}");
    }
    let r = server.request("POST", "/nope", &[], Some(b"x"));
    assert_eq!(r.status, 404);
    r.error_code();
    assert_eq!(server.get("/healthz").json()["ok"], true);
}

#[test]
fn bad_app_settings_are_refused() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    for bad in [
        json!({ "auth_token_lifetime": 0 }),
        json!({ "auth_token_lifetime": -5 }),
        json!({ "auth_token_lifetime": "60" }),
        json!({ "session_expiration": 1e12 }),
        json!({ "inactivity_timeout": 1_000_000_000_000u64 }),
        json!({ "origin": "not an origin" }),
        json!({ "lifetime": 5 }),
        json!([1, 2]),
    ] {
        let r = server.admin("PUT", "/admin/apps/x", Some(bad.clone()));
        assert_eq!(r.status, 400, "{bad}");
        r.error_code();
    }
    let r = server.admin("PUT", "/admin/apps/bad%20id", Some(json!({})));
    assert_eq!(client_error(&r, 400), "invalid_request");
    assert_eq!(server.admin("GET", "/admin/apps/x", None).status, 404);
    // An empty body creates an app with the defaults; origin is settable.
    let r = server.admin("PUT", "/admin/apps/x", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["created"], true);
    let app = server.put_app("x", json!({ "origin": "https://app.example.com/" }));
    assert_eq!(app["origin"], "https://app.example.com");
    assert_eq!(app["auth_token_lifetime"], 300);
    let session = server.login("x", "alice@example.com");
    assert_eq!(
        claims(session["auth_token"].as_str().unwrap())["aud"],
        json!(["https://app.example.com", "x"])
    );
    let apps = server.admin("GET", "/admin/apps", None).json();
    assert_eq!(apps["apps"].as_array().unwrap().len(), 2);
}

#[test]
fn cors_preflights_and_headers_on_every_answer() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &["--origin", "https://app.example.com"]);
    for origin in [
        "http://localhost:5173",
        "http://127.0.0.1:3000",
        "http://localhost",
        "https://app.example.com",
    ] {
        let r = server.request(
            "OPTIONS",
            "/v1/apps/demo/tokens",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                (
                    "Access-Control-Request-Headers",
                    "content-type,passage-version",
                ),
            ],
            None,
        );
        assert_eq!(r.status, 204, "{origin}");
        assert_eq!(r.header("Access-Control-Allow-Origin"), Some(origin));
        let methods = r.header("Access-Control-Allow-Methods").unwrap();
        for m in ["GET", "POST", "PUT", "DELETE", "OPTIONS"] {
            assert!(methods.contains(m), "{methods}");
        }
        let headers = r.header("Access-Control-Allow-Headers").unwrap();
        for h in ["Authorization", "Content-Type", "Passage-Version"] {
            assert!(headers.contains(h), "{headers}");
        }
    }
    // Preflights of every endpoint, with Chrome's private network question.
    let r = server.request(
        "OPTIONS",
        "/v1/apps/demo/currentuser",
        &[
            ("Origin", "http://localhost:8000"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "authorization"),
            ("Access-Control-Request-Private-Network", "true"),
        ],
        None,
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("Access-Control-Allow-Private-Network"),
        Some("true")
    );

    // Origins not allowed get no CORS grant.
    for origin in [
        "https://evil.example",
        "http://localhost.evil.example",
        "null",
    ] {
        let r = server.request(
            "OPTIONS",
            "/v1/apps/demo/tokens",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
            ],
            None,
        );
        assert_eq!(r.status, 403, "{origin}");
        assert!(r.header("Access-Control-Allow-Origin").is_none());
        let r = server.request(
            "GET",
            "/v1/apps/demo/.well-known/jwks.json",
            &[("Origin", origin)],
            None,
        );
        assert_eq!(r.status, 200);
        assert!(r.header("Access-Control-Allow-Origin").is_none());
    }

    // Errors carry the CORS headers too.
    let origin = [("Origin", "http://localhost:5173")];
    let body = json!({ "refresh_token": "nope" }).to_string();
    for r in [
        server.request(
            "POST",
            "/v1/apps/demo/tokens",
            &origin,
            Some(body.as_bytes()),
        ),
        server.request(
            "POST",
            "/v1/apps/nope/tokens",
            &origin,
            Some(body.as_bytes()),
        ),
        server.request("GET", "/v1/apps/demo/tokens", &origin, None),
        server.request("POST", "/v1/apps/demo/tokens", &origin, Some(b"{")),
        server.request("GET", "/v1/apps/demo/currentuser", &origin, None),
    ] {
        assert!(r.status >= 400);
        assert_eq!(
            r.header("Access-Control-Allow-Origin"),
            Some("http://localhost:5173")
        );
        assert_eq!(
            r.header("Access-Control-Expose-Headers"),
            Some("Retry-After")
        );
        assert!(r.header("Vary").unwrap().contains("Origin"));
    }
    // An app's own origin is allowed.
    server.put_app("site", json!({ "origin": "https://site.example" }));
    let r = server.request(
        "GET",
        "/v1/apps/site/.well-known/jwks.json",
        &[("Origin", "https://site.example")],
        None,
    );
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("https://site.example")
    );
}

#[test]
fn serves_the_demo_and_the_package() {
    let dir = TestDir::new();
    let www = dir.path().join("www");
    let pkg = dir.path().join("pkg");
    std::fs::create_dir_all(www.join("sub")).unwrap();
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(www.join("index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(www.join("app.js"), "export {}").unwrap();
    std::fs::write(www.join("sub/index.html"), "sub").unwrap();
    std::fs::write(pkg.join("lib.js"), "export {}").unwrap();
    std::fs::write(pkg.join("lib_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();

    // Found in the current directory, without flags.
    let server = Server::start(&dir, &[]);
    let r = server.get("/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "<h1>demo</h1>");
    assert!(r.header("Content-Type").unwrap().starts_with("text/html"));
    let r = server.get("/app.js");
    assert!(r
        .header("Content-Type")
        .unwrap()
        .starts_with("text/javascript"));
    let r = server.get("/pkg/lib.js");
    assert_eq!(r.status, 200);
    assert!(r
        .header("Content-Type")
        .unwrap()
        .starts_with("text/javascript"));
    let r = server.get("/pkg/lib_bg.wasm");
    assert_eq!(r.header("Content-Type"), Some("application/wasm"));
    assert_eq!(r.body, b"\0asm\x01\0\0\0");
    assert_eq!(server.get("/sub/").text(), "sub");
    assert_eq!(server.get("/sub").status, 301);
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/pkg/../../secret.txt",
        "/missing.js",
    ] {
        let r = server.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.text().contains("secret\""));
    }
    // The API still wins over files.
    assert_eq!(
        server.get("/v1/apps/demo/.well-known/jwks.json").status,
        200
    );
    drop(server);

    // Explicit flags.
    let other = TestDir::new();
    let (w, p) = (www.to_str().unwrap(), pkg.to_str().unwrap());
    let server = Server::start(&other, &["--www", w, "--pkg", p]);
    assert_eq!(server.get("/").text(), "<h1>demo</h1>");
    assert_eq!(server.get("/pkg/lib_bg.wasm").status, 200);
}

#[test]
fn config_file_and_flags_set_apps_and_keys() {
    let dir = TestDir::new();
    std::fs::create_dir_all(dir.data()).unwrap();
    std::fs::write(
        dir.data().join("config.json"),
        json!({
            "admin_key": "from-file",
            "origins": ["https://file.example"],
            "apps": {
                "demo": { "auth_token_lifetime": 60, "session_expiration": 1000 },
                "cfg": { "inactivity_timeout": 77, "origin": "https://cfg.example" }
            }
        })
        .to_string(),
    )
    .unwrap();
    let server = Server::start(
        &dir,
        &["--auth-token-lifetime", "7", "--inactivity-timeout", "99"],
    );
    let auth = [("Authorization", "Bearer from-file")];
    let r = server.request("GET", "/admin/apps/demo", &auth, None);
    assert_eq!(r.status, 200, "{}", r.text());
    let demo = &r.json()["app"];
    assert_eq!(demo["auth_token_lifetime"], 7);
    assert_eq!(demo["session_expiration"], 1000);
    assert_eq!(demo["inactivity_timeout"], 99);
    let cfg = &server.request("GET", "/admin/apps/cfg", &auth, None).json()["app"];
    assert_eq!(cfg["inactivity_timeout"], 77);
    assert_eq!(cfg["origin"], "https://cfg.example");
    assert_eq!(server.admin("GET", "/admin/apps", None).status, 401);
    let session = server.login("demo", "alice@example.com");
    let c = claims(session["auth_token"].as_str().unwrap());
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 7);
    let r = server.request(
        "OPTIONS",
        "/v1/apps/demo/tokens",
        &[
            ("Origin", "https://file.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        None,
    );
    assert_eq!(r.status, 204);
    drop(server);

    // The flag beats the file for the admin key.
    let server = Server::start(&dir, &["--admin-key", "from-flag"]);
    let r = server.request(
        "GET",
        "/admin/apps",
        &[("Authorization", "Bearer from-flag")],
        None,
    );
    assert_eq!(r.status, 200);
}

#[test]
fn logs_never_contain_tokens() {
    let dir = TestDir::new();
    let mut server = Server::start(&dir, &[]);
    let first = server.login("demo", "alice@example.com");
    let second = server.refresh_ok("demo", &rt(&first));
    let jwt = second["auth_token"].as_str().unwrap().to_owned();
    server.current_user("demo", &jwt);
    server.refresh("demo", &rt(&first));
    server.revoke("demo", &rt(&second));
    server.admin(
        "POST",
        "/admin/apps/demo/users/alice@example.com/signout",
        None,
    );
    assert!(server.stop().success());
    let log = server.stderr();
    assert!(log.contains("DELETE /v1/apps/demo/tokens 204"), "{log}");
    assert!(log.contains("POST /v1/apps/demo/tokens 401"), "{log}");
    for secret in [rt(&first), rt(&second), jwt, "local-admin-key".into()] {
        assert!(!log.contains(&secret), "the log contains a secret:\n{log}");
    }
    assert!(!log.contains("refresh_token="));
}

fn run_to_failure(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), stderr)
}

fn assert_clear_error(stderr: &str, needle: &str) {
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("backtrace"), "{stderr}");
}

#[test]
fn start_up_failures_are_clear_and_non_zero() {
    let dir = TestDir::new();
    let data = dir.data();
    let data = data.to_str().unwrap();

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, stderr) = run_to_failure(&["--addr", &addr, "--data", data]);
    assert_ne!(code, 0);
    assert_clear_error(&stderr, &format!("cannot listen on {addr}"));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // A data directory that cannot be created (its parent is a file).
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let bad = file.join("data");
    let (code, stderr) =
        run_to_failure(&["--addr", "127.0.0.1:0", "--data", bad.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert_clear_error(&stderr, "data directory");

    // A broken config file.
    std::fs::create_dir_all(dir.data()).unwrap();
    std::fs::write(dir.data().join("config.json"), "{ nope").unwrap();
    let (code, stderr) = run_to_failure(&["--addr", "127.0.0.1:0", "--data", data]);
    assert_ne!(code, 0);
    assert_clear_error(&stderr, "config.json");
    std::fs::remove_file(dir.data().join("config.json")).unwrap();

    // Bad flags.
    let (code, stderr) = run_to_failure(&["--bogus"]);
    assert_eq!(code, 2);
    assert_clear_error(&stderr, "--bogus");
    let (code, stderr) = run_to_failure(&[
        "--addr",
        "127.0.0.1:0",
        "--data",
        data,
        "--auth-token-lifetime",
        "0",
    ]);
    assert_ne!(code, 0);
    assert_clear_error(&stderr, "auth_token_lifetime");
    let (code, stderr) = run_to_failure(&[
        "--addr",
        "127.0.0.1:0",
        "--data",
        data,
        "--www",
        "/no/such/dir",
    ]);
    assert_ne!(code, 0);
    assert_clear_error(&stderr, "--www");

    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--auth-token-lifetime"));
}

#[test]
fn every_connection_serves_one_request() {
    use std::io::{Read, Write};
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    // The server closes the connection after the answer.
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
}
