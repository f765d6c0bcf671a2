//! Sessions over real HTTP: login, rotation, reuse detection, the three
//! session limits, revocation, user management and persistence.

mod common;

use common::{claims, cli, Server, TestDir};
use serde_json::{json, Value};

fn assert_auth_result_shape(result: &Value) {
    let keys: Vec<&str> = result
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "auth_token",
            "redirect_url",
            "refresh_token",
            "refresh_token_expiration"
        ]
    );
    assert_eq!(result["redirect_url"], "/");
    assert!(result["refresh_token"].as_str().unwrap().len() >= 32);
    assert!(result["refresh_token_expiration"].is_i64());
    assert_eq!(result["auth_token"].as_str().unwrap().split('.').count(), 3);
}

fn rt(result: &Value) -> &str {
    result["refresh_token"].as_str().unwrap()
}

fn jwt(result: &Value) -> &str {
    result["auth_token"].as_str().unwrap()
}

#[test]
fn login_issues_a_session_with_passage_claims() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let result = server.login("demo", "Alice@Example.com");
    assert_auth_result_shape(&result);
    let c = claims(jwt(&result));
    assert_eq!(c["iss"], format!("{}/v1/apps/demo", server.base));
    assert_eq!(c["aud"], json!([server.base, "demo"]));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((c["iat"].as_i64().unwrap() - now).abs() <= 2);
    let expiration = result["refresh_token_expiration"].as_i64().unwrap();
    assert!((expiration - now - 30 * 24 * 3600).abs() <= 2);

    let r = server.current_user("demo", jwt(&result));
    assert_eq!(r.status, 200, "{}", r.text());
    let user = &r.json()["user"];
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["status"], "active");
    assert_eq!(user["id"], c["sub"]);
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));

    // The same person logging in again is the same user, in a new session.
    let again = server.login("demo", "alice@example.com");
    assert_eq!(claims(jwt(&again))["sub"], c["sub"]);
    assert_ne!(rt(&again), rt(&result));

    let hello = server.get_auth("/v1/apps/demo/demo/api/hello", jwt(&result));
    assert_eq!(hello.status, 200);
    assert!(hello.json()["message"]
        .as_str()
        .unwrap()
        .contains("alice@example.com"));
    assert_eq!(hello.json()["user"]["id"], c["sub"]);
    assert_eq!(server.get("/v1/apps/demo/demo/api/hello").status, 401);
}

#[test]
fn refresh_rotates_and_a_reused_token_revokes_the_family() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let first = server.login("demo", "alice@example.com");
    let second = server.refresh_ok("demo", rt(&first));
    assert_auth_result_shape(&second);
    assert_ne!(rt(&second), rt(&first));
    assert_ne!(jwt(&second), jwt(&first));
    assert_eq!(
        second["refresh_token_expiration"],
        first["refresh_token_expiration"]
    );
    // The trailing-slash spelling works too.
    let r = server.post_json(
        "/v1/apps/demo/tokens/",
        &json!({ "refresh_token": rt(&second) }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let third = r.json()["auth_result"].clone();
    assert_eq!(server.current_user("demo", jwt(&third)).status, 200);

    // An unrelated session of the same user is not affected by what follows.
    let other = server.login("demo", "alice@example.com");

    // Presenting an already rotated token: refused, and the whole family
    // (including the newest token) is revoked.
    let reused = server.refresh("demo", rt(&first));
    assert_eq!(reused.status, 401);
    assert_eq!(reused.error_code(), "refresh_token_reused");
    let newest = server.refresh("demo", rt(&third));
    assert_eq!(newest.status, 401);
    assert_eq!(newest.error_code(), "refresh_token_revoked");
    // Reusing it again still answers 401.
    assert_eq!(server.refresh("demo", rt(&second)).status, 401);

    server.refresh_ok("demo", rt(&other));
    let stats = server.stats("demo");
    assert_eq!(stats["refresh"], 6);
    assert_eq!(stats["refresh_ok"], 3);
    assert_eq!(stats["login"], 2);
}

#[test]
fn auth_token_lifetime_is_enforced_with_the_admin_clock() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let app = server.put_app("short", json!({ "auth_token_lifetime": 2 }));
    assert_eq!(app["auth_token_lifetime"], 2);
    assert_eq!(app["session_expiration"], 30 * 24 * 3600);
    let result = server.login("short", "bob@example.com");
    let c = claims(jwt(&result));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 2);
    assert_eq!(c["aud"][1], "short");
    assert!(c["iss"].as_str().unwrap().ends_with("/v1/apps/short"));
    assert_eq!(server.current_user("short", jwt(&result)).status, 200);

    // Only this app's clock moves.
    server.set_clock(Some("short"), 3);
    let r = server.current_user("short", jwt(&result));
    assert_eq!(r.status, 401);
    assert_eq!(r.error_code(), "invalid_auth_token");
    let demo = server.login("demo", "bob@example.com");
    assert_eq!(server.current_user("demo", jwt(&demo)).status, 200);

    // A refresh issues a token on the shifted clock (for skew correction).
    let fresh = server.refresh_ok("short", rt(&result));
    let fc = claims(jwt(&fresh));
    assert!(fc["iat"].as_i64().unwrap() >= c["iat"].as_i64().unwrap() + 3);
    assert_eq!(server.current_user("short", jwt(&fresh)).status, 200);

    let clock = server.admin("GET", "/admin/clock?app=short", None).json();
    assert_eq!(clock["app_offset_secs"], 3);
    assert_eq!(clock["offset_secs"], 0);

    // The global shift moves every app.
    server.set_clock(None, 3600);
    assert_eq!(server.current_user("demo", jwt(&demo)).status, 401);
}

#[test]
fn absolute_session_expiration_is_enforced() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    server.put_app(
        "abs",
        json!({ "session_expiration": 100, "inactivity_timeout": 1000 }),
    );
    let first = server.login("abs", "carol@example.com");
    let end = first["refresh_token_expiration"].as_i64().unwrap();
    server.set_clock(Some("abs"), 60);
    let second = server.refresh_ok("abs", rt(&first));
    assert_eq!(second["refresh_token_expiration"].as_i64().unwrap(), end);
    server.set_clock(Some("abs"), 101);
    let r = server.refresh("abs", rt(&second));
    assert_eq!(r.status, 401);
    assert_eq!(r.error_code(), "session_expired");
}

#[test]
fn inactivity_timeout_is_enforced() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    server.put_app(
        "idle",
        json!({ "session_expiration": 3600, "inactivity_timeout": 60 }),
    );
    let first = server.login("idle", "dave@example.com");
    // Each refresh counts as activity: 50 s steps never reach the timeout.
    server.set_clock(Some("idle"), 50);
    let second = server.refresh_ok("idle", rt(&first));
    server.set_clock(Some("idle"), 100);
    let third = server.refresh_ok("idle", rt(&second));
    // 70 s without use.
    server.set_clock(Some("idle"), 170);
    let r = server.refresh("idle", rt(&third));
    assert_eq!(r.status, 401);
    assert_eq!(r.error_code(), "session_inactive");
    // The session is over for good, even if the clock goes back.
    server.set_clock(Some("idle"), 100);
    assert_eq!(server.refresh("idle", rt(&third)).status, 401);
}

#[test]
fn revoke_ends_the_session() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let first = server.login("demo", "erin@example.com");
    let second = server.refresh_ok("demo", rt(&first));
    let r = server.revoke("demo", rt(&second));
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    let refused = server.refresh("demo", rt(&second));
    assert_eq!(refused.status, 401);
    assert_eq!(refused.error_code(), "refresh_token_revoked");
    // Revoking twice is fine.
    assert_eq!(server.revoke("demo", rt(&second)).status, 204);
    // Unknown and other-app tokens: 404 with a JSON body.
    let unknown = server.revoke("demo", "no-such-token");
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.error_code(), "refresh_token_not_found");
    let other = server.login("demo", "erin@example.com");
    server.put_app("other", json!({}));
    assert_eq!(server.revoke("other", rt(&other)).status, 404);
    assert_eq!(server.refresh("demo", rt(&other)).status, 200);
    // The trailing-slash spelling, and a token with URL-special characters.
    let third = server.login("demo", "erin@example.com");
    let r = server.request(
        "DELETE",
        &format!("/v1/apps/demo/tokens/?refresh_token={}", rt(&third)),
        &[],
        None,
    );
    assert_eq!(r.status, 204);
    assert_eq!(server.revoke("demo", "a+b/c=d&e").status, 404);
    // A missing parameter is a client error.
    let missing = server.request("DELETE", "/v1/apps/demo/tokens", &[], None);
    assert_eq!(missing.status, 400);
    assert_eq!(missing.error_code(), "invalid_request");
    let stats = server.stats("demo");
    assert_eq!(stats["revoke"], 6);
    assert_eq!(stats["revoke_ok"], 3);
}

#[test]
fn admin_signout_revokes_every_session_of_a_user() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let a1 = server.login("demo", "alice@example.com");
    let a2 = server.login("demo", "alice@example.com");
    let b1 = server.login("demo", "bob@example.com");
    let alice_id = claims(jwt(&a1))["sub"].as_str().unwrap().to_owned();

    let unauth = server.request(
        "POST",
        "/admin/apps/demo/users/alice@example.com/signout",
        &[],
        None,
    );
    assert_eq!(unauth.status, 401);
    assert_eq!(unauth.error_code(), "invalid_admin_key");
    let wrong = server.request(
        "POST",
        "/admin/apps/demo/users/alice@example.com/signout",
        &[("Authorization", "Bearer nope")],
        None,
    );
    assert_eq!(wrong.status, 401);

    let info = server.admin("GET", "/admin/apps/demo/users/alice@example.com", None);
    assert_eq!(info.json()["live_sessions"], 2);

    let r = server.admin(
        "POST",
        "/admin/apps/demo/users/alice@example.com/signout",
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["revoked_sessions"], 2);
    assert_eq!(r.json()["user"]["id"], alice_id.as_str());
    assert_eq!(server.refresh("demo", rt(&a1)).status, 401);
    assert_eq!(server.refresh("demo", rt(&a2)).status, 401);
    server.refresh_ok("demo", rt(&b1));
    // Signing out is not deactivating: a new login works.
    let a3 = server.login("demo", "alice@example.com");
    // By user id.
    let r = server.admin(
        "POST",
        &format!("/admin/apps/demo/users/{alice_id}/signout"),
        None,
    );
    assert_eq!(r.json()["revoked_sessions"], 1);
    assert_eq!(server.refresh("demo", rt(&a3)).status, 401);

    let unknown = server.admin(
        "POST",
        "/admin/apps/demo/users/zed@example.com/signout",
        None,
    );
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.error_code(), "user_not_found");
    let bad_action = server.admin(
        "POST",
        "/admin/apps/demo/users/alice@example.com/explode",
        None,
    );
    assert_eq!(bad_action.status, 404);
    let no_app = server.admin(
        "POST",
        "/admin/apps/nope/users/alice@example.com/signout",
        None,
    );
    assert_eq!(no_app.status, 404);
    assert_eq!(no_app.error_code(), "app_not_found");
}

#[test]
fn cli_signout_works_beside_the_running_server() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let a = server.login("demo", "alice@example.com");
    let b = server.login("demo", "bob@example.com");
    let data = dir.data();
    let data = data.to_str().unwrap();
    let out = cli(&[
        "signout",
        "--data",
        data,
        "--app",
        "demo",
        "alice@example.com",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 session(s) revoked"), "{stdout}");
    assert_eq!(server.refresh("demo", rt(&a)).status, 401);
    server.refresh_ok("demo", rt(&b));

    let out = cli(&["signout", "--data", data, "nobody@example.com"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: no user"));
    let out = cli(&["signout", "--data", "/nonexistent/dir", "alice@example.com"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: no database"));
    let out = cli(&["signout"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn deactivation_revokes_sessions_and_refuses_logins_until_reactivated() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let a = server.login("demo", "alice@example.com");
    let r = server.admin(
        "POST",
        "/admin/apps/demo/users/alice@example.com/deactivate",
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["revoked_sessions"], 1);
    assert_eq!(r.json()["user"]["status"], "inactive");
    assert_eq!(server.refresh("demo", rt(&a)).status, 401);
    // The still unexpired auth token is refused too.
    let me = server.current_user("demo", jwt(&a));
    assert_eq!(me.status, 401);
    assert_eq!(me.error_code(), "user_deactivated");
    let login = server.post_json(
        "/v1/apps/demo/demo/login",
        &json!({ "identifier": "alice@example.com" }),
    );
    assert_eq!(login.status, 403);
    assert_eq!(login.error_code(), "user_deactivated");

    let r = server.admin(
        "POST",
        "/admin/apps/demo/users/alice@example.com/activate",
        None,
    );
    assert_eq!(r.json()["user"]["status"], "active");
    let again = server.login("demo", "alice@example.com");
    assert_eq!(server.current_user("demo", jwt(&again)).status, 200);

    // The same through the CLI.
    let data = dir.data();
    let data = data.to_str().unwrap();
    let out = cli(&["deactivate", "--data", data, "alice@example.com"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.refresh("demo", rt(&again)).status, 401);
    assert_eq!(
        server
            .post_json(
                "/v1/apps/demo/demo/login",
                &json!({ "identifier": "alice@example.com" })
            )
            .status,
        403
    );
    let out = cli(&["activate", "--data", data, "alice@example.com"]);
    assert!(out.status.success());
    server.login("demo", "alice@example.com");
}

#[test]
fn state_and_signing_key_survive_a_restart() {
    let dir = TestDir::new();
    let mut server = Server::start(&dir, &[]);
    server.put_app("kept", json!({ "auth_token_lifetime": 42 }));
    let first = server.login("demo", "alice@example.com");
    let second = server.refresh_ok("demo", rt(&first));
    let kept = server.login("kept", "bob@example.com");
    let jwks = server.get("/v1/apps/demo/.well-known/jwks.json").json();
    let port = server.port;
    let status = server.stop();
    assert!(status.success(), "exit status {status:?}");
    assert!(server.stderr().contains("shutting down"));

    let server = Server::start_at(&dir, &format!("127.0.0.1:{port}"), &[]);
    assert_eq!(
        server.get("/v1/apps/demo/.well-known/jwks.json").json(),
        jwks
    );
    // The auth token issued before the restart still verifies.
    assert_eq!(server.current_user("demo", jwt(&second)).status, 200);
    let third = server.refresh_ok("demo", rt(&second));
    assert_eq!(
        third["refresh_token_expiration"],
        first["refresh_token_expiration"]
    );
    // Reuse detection survives too.
    assert_eq!(server.refresh("demo", rt(&first)).status, 401);
    assert_eq!(server.refresh("demo", rt(&third)).status, 401);
    // So do apps created at run time.
    let app = server.admin("GET", "/admin/apps/kept", None).json();
    assert_eq!(app["app"]["auth_token_lifetime"], 42);
    server.refresh_ok("kept", rt(&kept));
}

/// SIGINT stops the server as its README says: it answers the request in
/// flight, says it is shutting down, exits with status 0, and leaves its
/// state (the in-flight request's rotation included) to a restart on the
/// same directory and port.
#[test]
fn sigint_stops_cleanly() {
    use std::time::{Duration, Instant};

    let dir = TestDir::new();
    let mut server = Server::start(&dir, &[]);
    let first = server.login("demo", "alice@example.com");
    // A refresh held for 2 s, in flight when the signal comes.
    server.add_fault(
        json!({ "app": "demo", "endpoint": "refresh", "mode": "delay", "delay_ms": 2000 }),
    );
    let port = server.port;
    let token = rt(&first).to_owned();
    let in_flight = std::thread::spawn(move || common::refresh_demo(port, &token));
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.stats("demo")["refresh"] != 1 {
        assert!(
            Instant::now() < deadline,
            "the refresh never reached the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = server.signal(libc::SIGINT);
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    let stderr = server.stderr();
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(!stderr.contains("still in flight"), "{stderr}");
    // The request in flight was answered, not cut off.
    let reply = in_flight
        .join()
        .unwrap()
        .expect("an answer to the request in flight");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let second = reply.json()["auth_result"].clone();
    assert_ne!(rt(&second), rt(&first));

    // Restarted on the same directory and port: the rotation made while
    // stopping stands.
    let server = Server::start_at(&dir, &format!("127.0.0.1:{port}"), &[]);
    assert_eq!(server.current_user("demo", jwt(&second)).status, 200);
    server.refresh_ok("demo", rt(&second));
    assert_eq!(server.refresh("demo", rt(&first)).status, 401);
}

#[test]
fn tokens_verify_against_the_jwks() {
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};

    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let result = server.login("demo", "alice@example.com");
    let token = jwt(&result);
    let r = server.get("/v1/apps/demo/.well-known/jwks.json");
    assert_eq!(r.status, 200);
    let raw = r.json();
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(
            raw["keys"][0].get(private).is_none(),
            "JWKS leaks {private}"
        );
    }
    let jwks: JwkSet = serde_json::from_value(raw).unwrap();
    let header = decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let kid = header.kid.expect("kid in the header");
    let jwk = jwks.find(&kid).expect("the JWKS has the token's kid");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["demo"]);
    validation.set_issuer(&[format!("{}/v1/apps/demo", server.base)]);
    let data = decode::<Value>(token, &key, &validation).expect("the token verifies");
    assert_eq!(data.claims["aud"][1], "demo");

    // A tampered token does not.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload = claims(token);
    payload["sub"] = json!("someone-else");
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        payload.to_string(),
    );
    assert!(decode::<Value>(&parts.join("."), &key, &validation).is_err());
    assert_eq!(server.current_user("demo", &parts.join(".")).status, 401);

    // Every app is signed by the same key; unknown apps have no JWKS.
    server.put_app("two", json!({}));
    assert_eq!(
        server.get("/v1/apps/two/.well-known/jwks.json").json()["keys"][0]["kid"],
        kid.as_str()
    );
    let r = server.get("/v1/apps/nope/.well-known/jwks.json");
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "app_not_found");
}

#[test]
fn concurrent_refreshes_of_many_sessions_never_fail() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let tokens: Vec<String> = (0..200)
        .map(|i| rt(&server.login("demo", &format!("user{i}@example.com"))).to_owned())
        .collect();
    let port = server.port;
    let start = std::sync::Arc::new(std::sync::Barrier::new(tokens.len()));
    let handles: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let start = std::sync::Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                let mut statuses = Vec::new();
                let mut token = token;
                // Two rounds, so rotation is exercised under contention.
                for _ in 0..2 {
                    let r = common::refresh_demo(port, &token).expect("a response");
                    statuses.push(r.status);
                    if r.status != 200 {
                        return (statuses, r.text());
                    }
                    token = r.json()["auth_result"]["refresh_token"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                }
                (statuses, String::new())
            })
        })
        .collect();
    for handle in handles {
        let (statuses, text) = handle.join().unwrap();
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?} {text}");
    }
    let stats = server.stats("demo");
    assert_eq!(stats["refresh_ok"], 400);
    assert!(!server.stderr().contains("locked"));
}
