//! The signed-in user's account over real HTTP: the full current user,
//! email and phone changes with their magic links, user metadata, social
//! connections, the admin endpoints and subcommands that stand in for the
//! mailbox and the OAuth providers, and persistence.

mod common;

use common::{call, cli, sign_in, Response, Server, Session, TestDir};
use serde_json::{json, Value};

fn me(server: &Server, s: &Session) -> Value {
    let r = call(server, s, "GET", "", None);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["user"].clone()
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn open_link(server: &Server, app: &str, id: &str) -> Response {
    server.admin(
        "POST",
        &format!("/admin/apps/{app}/magic-links/{id}/open"),
        None,
    )
}

fn change(server: &Server, s: &Session, what: &str, body: Value) -> String {
    let r = call(server, s, "PATCH", &format!("/{what}"), Some(body));
    assert_eq!(r.status, 200, "{}", r.text());
    let answer = r.json();
    assert_eq!(keys(&answer), ["magic_link"]);
    assert_eq!(keys(&answer["magic_link"]), ["id"]);
    answer["magic_link"]["id"].as_str().unwrap().to_owned()
}

const SCHEMA: &str = r#"[
    {"field_name": "nickname", "type": "string", "friendly_name": "Nickname"},
    {"field_name": "newsletter", "type": "boolean"},
    {"field_name": "age", "type": "integer"},
    {"field_name": "birthday", "type": "date"},
    {"field_name": "work_email", "type": "email"},
    {"field_name": "mobile", "type": "phone"}
]"#;

#[test]
fn current_user_has_every_field_passage_js_reads() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");
    let user = me(&server, &alice);
    assert_eq!(
        keys(&user),
        [
            "created_at",
            "email",
            "email_verified",
            "id",
            "last_login_at",
            "login_count",
            "phone",
            "phone_verified",
            "social_connections",
            "status",
            "updated_at",
            "user_metadata",
            "webauthn",
            "webauthn_devices",
            "webauthn_types"
        ]
    );
    assert_eq!(user["id"], alice.user_id.as_str());
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["phone"], "");
    assert_eq!(user["phone_verified"], false);
    assert_eq!(user["status"], "active");
    assert_eq!(user["login_count"], 1);
    assert_eq!(user["user_metadata"], json!({}));
    assert_eq!(user["webauthn"], false);
    assert_eq!(user["webauthn_devices"], json!([]));
    assert_eq!(user["webauthn_types"], json!([]));
    assert_eq!(user["social_connections"], json!({}));
    // The admin API shows the same user.
    let admin = server.admin("GET", "/admin/apps/demo/users/alice@example.com", None);
    assert_eq!(admin.json()["user"], user);
}

#[test]
fn an_email_change_waits_for_its_magic_link() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");
    let before = me(&server, &alice);

    let id = change(
        &server,
        &alice,
        "email",
        json!({"new_email": " Alice.New@Example.com ", "language": "fr",
               "magic_link_path": "/verify", "redirect_url": "/account"}),
    );
    // Nothing changes until the link is opened.
    assert_eq!(me(&server, &alice)["email"], "alice@example.com");
    let mailbox = server
        .admin(
            "GET",
            "/admin/apps/demo/magic-links?user=alice@example.com",
            None,
        )
        .json();
    let link = &mailbox["magic_links"][0];
    assert_eq!(link["id"], id.as_str());
    assert_eq!(link["type"], "email");
    assert_eq!(link["new_value"], "alice.new@example.com");
    assert_eq!(link["language"], "fr");
    assert_eq!(link["magic_link_path"], "/verify");
    assert_eq!(link["redirect_url"], "/account");
    assert_eq!(link["status"], "pending");
    assert_eq!(link["user_id"], alice.user_id.as_str());

    let opened = open_link(&server, "demo", &id);
    assert_eq!(opened.status, 200, "{}", opened.text());
    assert_eq!(opened.json()["magic_link"]["status"], "opened");
    assert_eq!(opened.json()["user"]["email"], "alice.new@example.com");
    let after = me(&server, &alice);
    assert_eq!(after["email"], "alice.new@example.com");
    assert_eq!(after["email_verified"], true);
    assert_eq!(after["id"], before["id"]);
    assert!(after["updated_at"].as_str() >= before["updated_at"].as_str());
    // The new address signs in to the same user.
    let again = sign_in(&server, "demo", "alice.new@example.com");
    assert_eq!(again.user_id, alice.user_id);

    // A link opens once, only in its app, and unknown ids are 404.
    let r = open_link(&server, "demo", &id);
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "magic_link_already_used")
    );
    server.put_app("other", json!({}));
    let r = open_link(&server, "other", &id);
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "magic_link_not_found")
    );
    let r = open_link(&server, "demo", "nosuchlink");
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "magic_link_not_found")
    );
    // The admin endpoints need the admin key.
    let r = server.request(
        "POST",
        &format!("/admin/apps/demo/magic-links/{id}/open"),
        &[],
        None,
    );
    assert_eq!(r.status, 401);
}

#[test]
fn email_changes_are_validated() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");
    sign_in(&server, "demo", "bob@example.com");
    for body in [
        json!({"new_email": "not an email"}),
        json!({"new_email": "@example.com"}),
        json!({"new_email": ""}),
        json!({"new_email": format!("{}@example.com", "a".repeat(300))}),
        json!({"new_email": 42}),
        json!({"new_email": "ALICE@example.com"}),
        json!({"new_email": "bob@example.com"}),
        json!({"new_email": "a2@example.com", "language": 5}),
        json!({"new_email": "a2@example.com", "redirect_url": "x".repeat(3000)}),
        json!({"email": "a2@example.com"}),
        json!({}),
        json!([]),
    ] {
        let r = call(&server, &alice, "PATCH", "/email", Some(body.clone()));
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert_eq!(r.error_code(), "invalid_request", "{body}");
    }
    let auth = format!("Bearer {}", alice.jwt);
    let r = server.request(
        "PATCH",
        "/v1/apps/demo/currentuser/email",
        &[("Authorization", &auth)],
        Some(b"{\"new_email\": "),
    );
    assert_eq!((r.status, r.error_code().as_str()), (400, "invalid_json"));
    // Nothing was queued.
    let mailbox = server.admin("GET", "/admin/apps/demo/magic-links", None);
    assert_eq!(mailbox.json(), json!({ "magic_links": [] }));
}

#[test]
fn a_phone_change_is_applied_by_the_open_subcommand() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");
    let bob = sign_in(&server, "demo", "bob@example.com");
    for bad in [
        "555-0100",
        "+0123456789",
        "+1",
        "15555550100",
        "+1555555010012345",
    ] {
        let r = call(
            &server,
            &alice,
            "PATCH",
            "/phone",
            Some(json!({ "new_phone": bad })),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(r.error_code(), "invalid_request");
    }
    let id = change(
        &server,
        &alice,
        "phone",
        json!({ "new_phone": "+15555550100" }),
    );
    assert_eq!(me(&server, &alice)["phone"], "");

    let data = dir.data();
    let out = cli(&["open", "--data", data.to_str().unwrap(), &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("phone") && stdout.contains("+15555550100"),
        "{stdout}"
    );
    let user = me(&server, &alice);
    assert_eq!(user["phone"], "+15555550100");
    assert_eq!(user["phone_verified"], true);

    // Opened links are refused by the subcommand too.
    let out = cli(&["open", "--data", data.to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already opened"));
    let out = cli(&["open", "--data", data.to_str().unwrap(), "nosuchlink"]);
    assert_eq!(out.status.code(), Some(1));

    // The number now belongs to Alice: Bob cannot ask for it.
    let r = call(
        &server,
        &bob,
        "PATCH",
        "/phone",
        Some(json!({ "new_phone": "+15555550100" })),
    );
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn only_the_newest_unexpired_link_opens() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    server.put_app("links", json!({ "auth_token_lifetime": 3600 }));
    let alice = sign_in(&server, "links", "alice@example.com");
    let first = change(
        &server,
        &alice,
        "email",
        json!({"new_email": "one@example.com"}),
    );
    let second = change(
        &server,
        &alice,
        "email",
        json!({"new_email": "two@example.com"}),
    );
    let r = open_link(&server, "links", &first);
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (410, "magic_link_expired")
    );
    // An email link does not supersede a phone link.
    let phone = change(
        &server,
        &alice,
        "phone",
        json!({"new_phone": "+447700900123"}),
    );
    server.set_clock(Some("links"), 301);
    let r = open_link(&server, "links", &second);
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (410, "magic_link_expired")
    );
    server.set_clock(Some("links"), 0);
    assert_eq!(open_link(&server, "links", &second).status, 200);
    assert_eq!(open_link(&server, "links", &phone).status, 200);
    let user = me(&server, &alice);
    assert_eq!(
        (user["email"].as_str(), user["phone"].as_str()),
        (Some("two@example.com"), Some("+447700900123"))
    );
    let statuses: Vec<Value> = server
        .admin("GET", "/admin/apps/links/magic-links", None)
        .json()["magic_links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [json!("opened"), json!("opened"), json!("superseded")]
    );
}

#[test]
fn a_link_is_refused_when_its_address_was_taken_meanwhile() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");
    let id = change(
        &server,
        &alice,
        "email",
        json!({"new_email": "shared@example.com"}),
    );
    sign_in(&server, "demo", "shared@example.com");
    let r = open_link(&server, "demo", &id);
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "identifier_already_exists")
    );
    assert_eq!(me(&server, &alice)["email"], "alice@example.com");

    // Nor does a deactivated user's link open.
    let id = change(
        &server,
        &alice,
        "phone",
        json!({"new_phone": "+15555550111"}),
    );
    server.admin(
        "POST",
        "/admin/apps/demo/users/alice@example.com/deactivate",
        None,
    );
    let r = open_link(&server, "demo", &id);
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "user_not_active")
    );
    let user = server.admin("GET", "/admin/apps/demo/users/alice@example.com", None);
    assert_eq!(user.json()["user"]["phone"], "");
    let r = server.admin(
        "GET",
        "/admin/apps/demo/magic-links?user=nobody@example.com",
        None,
    );
    assert_eq!((r.status, r.error_code().as_str()), (404, "user_not_found"));
}

#[test]
fn metadata_follows_the_apps_declared_fields() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let app = server.put_app("meta", json!({ "user_metadata_schema": schema }));
    assert_eq!(app["user_metadata_schema"][0]["field_name"], "nickname");
    assert_eq!(app["user_metadata_schema"][0]["profile"], true);
    assert_eq!(app["user_metadata_schema"][0]["registration"], false);
    let alice = sign_in(&server, "meta", "alice@example.com");

    let r = call(&server, &alice, "GET", "/user-metadata", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({ "user_metadata": {} }));

    let values = json!({"nickname": "Al", "newsletter": true, "age": 42,
                        "birthday": "1990-02-28", "work_email": "al@work.example",
                        "mobile": "+15555550123"});
    let r = call(
        &server,
        &alice,
        "PATCH",
        "/user-metadata",
        Some(json!({ "user_metadata": values })),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let user = r.json()["user"].clone();
    assert_eq!(user["user_metadata"], values);
    assert_eq!(user["id"], alice.user_id.as_str());
    assert_eq!(keys(&r.json()), ["user"]);
    assert_eq!(
        call(&server, &alice, "GET", "/user-metadata", None).json(),
        json!({ "user_metadata": values })
    );

    // Every wrong type and any undeclared field refuses the whole update.
    for bad in [
        json!({"nickname": 1}),
        json!({"newsletter": "true"}),
        json!({"age": 1.5}),
        json!({"age": "42"}),
        json!({"birthday": "1990-02-30"}),
        json!({"work_email": "nope"}),
        json!({"mobile": "5555550123"}),
        json!({"favourite_colour": "green"}),
        json!({"nickname": "Bo", "undeclared": true}),
    ] {
        let r = call(
            &server,
            &alice,
            "PATCH",
            "/user-metadata",
            Some(json!({ "user_metadata": bad })),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(r.error_code(), "invalid_request");
    }
    for bad_body in [
        json!({}),
        json!({"user_metadata": [1]}),
        json!({"user_metadata": "x"}),
    ] {
        let r = call(
            &server,
            &alice,
            "PATCH",
            "/user-metadata",
            Some(bad_body.clone()),
        );
        assert_eq!(r.status, 400, "{bad_body}");
    }
    assert_eq!(me(&server, &alice)["user_metadata"], values);

    // null removes a field; other fields stay.
    let r = call(
        &server,
        &alice,
        "PATCH",
        "/user-metadata",
        Some(json!({ "user_metadata": {"age": null, "nickname": "Ali"} })),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let metadata = &r.json()["user"]["user_metadata"];
    assert!(metadata.get("age").is_none());
    assert_eq!(metadata["nickname"], "Ali");
    assert_eq!(metadata["newsletter"], true);

    // A field dropped from the schema is no longer shown or accepted.
    server.put_app(
        "meta",
        json!({ "user_metadata_schema": [{"field_name": "nickname", "type": "string"}] }),
    );
    assert_eq!(
        call(&server, &alice, "GET", "/user-metadata", None).json(),
        json!({ "user_metadata": {"nickname": "Ali"} })
    );
    let r = call(
        &server,
        &alice,
        "PATCH",
        "/user-metadata",
        Some(json!({ "user_metadata": {"newsletter": false} })),
    );
    assert_eq!(r.status, 400);

    // Bad schemas are refused.
    for bad in [
        json!([{"field_name": "a b", "type": "string"}]),
        json!([{"field_name": "a", "type": "colour"}]),
        json!([{"field_name": "a", "type": "string"}, {"field_name": "a", "type": "date"}]),
        json!([{"name": "a", "type": "string"}]),
        json!({"field_name": "a"}),
    ] {
        let r = server.admin(
            "PUT",
            "/admin/apps/meta",
            Some(json!({ "user_metadata_schema": bad })),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
}

#[test]
fn an_app_without_fields_accepts_no_metadata() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");
    let r = call(
        &server,
        &alice,
        "PATCH",
        "/user-metadata",
        Some(json!({ "user_metadata": {"anything": 1} })),
    );
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "invalid_request")
    );
    let r = call(
        &server,
        &alice,
        "PATCH",
        "/user-metadata",
        Some(json!({ "user_metadata": {} })),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn the_config_file_declares_metadata_and_passkey_settings() {
    let dir = TestDir::new();
    std::fs::create_dir_all(dir.data()).unwrap();
    std::fs::write(
        dir.data().join("config.json"),
        format!(
            r#"{{"apps": {{"demo": {{"user_metadata_schema": {SCHEMA},
                                   "rp_id": "localhost",
                                   "webauthn_origins": ["http://localhost:5173"]}}}}}}"#
        ),
    )
    .unwrap();
    let server = Server::start(&dir, &[]);
    let app = server.admin("GET", "/admin/apps/demo", None).json()["app"].clone();
    assert_eq!(app["rp_id"], "localhost");
    assert_eq!(app["webauthn_origins"], json!(["http://localhost:5173"]));
    assert_eq!(app["user_metadata_schema"].as_array().unwrap().len(), 6);
    let alice = sign_in(&server, "demo", "alice@example.com");
    let r = call(
        &server,
        &alice,
        "PATCH",
        "/user-metadata",
        Some(json!({ "user_metadata": {"newsletter": false} })),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    drop(server);

    std::fs::write(
        dir.data().join("config.json"),
        r#"{"apps": {"demo": {"user_metadata_schema": [{"field_name": "x", "type": "colour"}]}}}"#,
    )
    .unwrap();
    let out = std::process::Command::new(common::BIN)
        .args([
            "--addr",
            "127.0.0.1:0",
            "--data",
            dir.data().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("config.json"));
}

#[test]
fn social_connections_are_seeded_listed_and_deleted() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");
    let bob = sign_in(&server, "demo", "bob@example.com");
    let r = call(&server, &alice, "GET", "/social-connections", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({ "social_connections": {} }));

    let seeded = server.admin(
        "POST",
        "/admin/apps/demo/users/alice@example.com/social-connections",
        Some(json!({"type": "github", "provider_id": "583231",
                    "provider_identifier": "octocat@github.example"})),
    );
    assert_eq!(seeded.status, 200, "{}", seeded.text());
    assert_eq!(seeded.json()["created"], true);
    let data = dir.data();
    let out = cli(&[
        "social",
        "--data",
        data.to_str().unwrap(),
        &alice.user_id,
        "google",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let list = call(&server, &alice, "GET", "/social-connections", None).json();
    let connections = &list["social_connections"];
    assert_eq!(keys(connections), ["github", "google"]);
    let github = &connections["github"];
    assert_eq!(
        keys(github),
        [
            "created_at",
            "last_login_at",
            "provider_id",
            "provider_identifier"
        ]
    );
    assert_eq!(github["provider_id"], "583231");
    assert_eq!(github["provider_identifier"], "octocat@github.example");
    assert!(github["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        connections["google"]["provider_identifier"],
        "alice@example.com"
    );
    assert_eq!(me(&server, &alice)["social_connections"], *connections);
    // Bob sees none of them.
    assert_eq!(
        call(&server, &bob, "GET", "/social-connections", None).json(),
        json!({ "social_connections": {} })
    );
    let r = call(&server, &bob, "DELETE", "/social-connections/github", None);
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "social_connection_not_found");

    let r = call(
        &server,
        &alice,
        "DELETE",
        "/social-connections/github",
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let r = call(
        &server,
        &alice,
        "DELETE",
        "/social-connections/github",
        None,
    );
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "social_connection_not_found")
    );
    let r = call(
        &server,
        &alice,
        "DELETE",
        "/social-connections/myspace",
        None,
    );
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "invalid_request")
    );
    assert_eq!(
        keys(
            &call(&server, &alice, "GET", "/social-connections", None).json()["social_connections"]
        ),
        ["google"]
    );

    // Seeding refuses unknown types, fields and users.
    for (user, body, status) in [
        ("alice@example.com", json!({"type": "myspace"}), 400),
        (
            "alice@example.com",
            json!({"type": "apple", "extra": 1}),
            400,
        ),
        (
            "alice@example.com",
            json!({"type": "apple", "provider_id": ""}),
            400,
        ),
        ("nobody@example.com", json!({"type": "apple"}), 404),
    ] {
        let r = server.admin(
            "POST",
            &format!("/admin/apps/demo/users/{user}/social-connections"),
            Some(body.clone()),
        );
        assert_eq!(r.status, status, "{body}: {}", r.text());
    }
    let out = cli(&[
        "social",
        "--data",
        data.to_str().unwrap(),
        "nobody@example.com",
        "apple",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn every_account_endpoint_needs_the_auth_token() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    for (method, path) in [
        ("PATCH", "/email"),
        ("PATCH", "/phone"),
        ("GET", "/user-metadata"),
        ("PATCH", "/user-metadata"),
        ("GET", "/social-connections"),
        ("DELETE", "/social-connections/github"),
    ] {
        let url = format!("/v1/apps/demo/currentuser{path}");
        let r = server.request(method, &url, &[], Some(b"{}"));
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (401, "missing_auth_token"),
            "{method} {path}"
        );
        let r = server.request(method, &url, &[("Authorization", "Bearer x.y.z")], None);
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (401, "invalid_auth_token"),
            "{method} {path}"
        );
        let r = server.request(
            method,
            &format!("/v1/apps/nope/currentuser{path}"),
            &[],
            None,
        );
        assert_eq!((r.status, r.error_code().as_str()), (404, "app_not_found"));
    }
    // A token of another app is refused.
    server.put_app("other", json!({}));
    let elsewhere = sign_in(&server, "other", "alice@example.com");
    let r = server.get_auth("/v1/apps/demo/currentuser/user-metadata", &elsewhere.jwt);
    assert_eq!(r.status, 401);
    // So is a deactivated user's.
    let alice = sign_in(&server, "demo", "alice@example.com");
    server.admin(
        "POST",
        "/admin/apps/demo/users/alice@example.com/deactivate",
        None,
    );
    let r = call(&server, &alice, "GET", "/social-connections", None);
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (401, "user_deactivated")
    );
}

#[test]
fn account_requests_are_counted_and_can_be_faulted() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    server.put_app("faulty", json!({}));
    let alice = sign_in(&server, "faulty", "alice@example.com");
    server.add_fault(json!({"app": "faulty", "endpoint": "account", "status": 401}));
    let r = call(&server, &alice, "GET", "/user-metadata", None);
    assert_eq!((r.status, r.error_code().as_str()), (401, "fault_injected"));
    let r = call(&server, &alice, "GET", "/user-metadata", None);
    assert_eq!(r.status, 200);
    call(&server, &alice, "GET", "/devices", None);
    call(&server, &alice, "GET", "", None);
    let stats = server.stats("faulty");
    assert_eq!(stats["account"], 3);
    assert_eq!(stats["currentuser"], 1);
}

#[test]
fn cors_preflights_allow_patch() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let r = server.request(
        "OPTIONS",
        "/v1/apps/demo/currentuser/user-metadata",
        &[
            ("Origin", "http://localhost:5173"),
            ("Access-Control-Request-Method", "PATCH"),
            (
                "Access-Control-Request-Headers",
                "authorization, content-type",
            ),
        ],
        None,
    );
    assert_eq!(r.status, 204);
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("PATCH"));
}

#[test]
fn account_state_survives_a_restart() {
    let dir = TestDir::new();
    let mut server = Server::start(&dir, &[]);
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    server.put_app(
        "kept",
        json!({ "user_metadata_schema": schema, "rp_id": "localhost", "auth_token_lifetime": 3600 }),
    );
    let alice = sign_in(&server, "kept", "alice@example.com");
    let opened = change(
        &server,
        &alice,
        "email",
        json!({"new_email": "al@example.com"}),
    );
    assert_eq!(open_link(&server, "kept", &opened).status, 200);
    let pending = change(
        &server,
        &alice,
        "phone",
        json!({"new_phone": "+15555550199"}),
    );
    let r = call(
        &server,
        &alice,
        "PATCH",
        "/user-metadata",
        Some(json!({ "user_metadata": {"nickname": "Al", "age": 7} })),
    );
    assert_eq!(r.status, 200);
    server.admin(
        "POST",
        "/admin/apps/kept/users/al@example.com/social-connections",
        Some(json!({"type": "apple"})),
    );
    let before = me(&server, &alice);
    let port = server.port;
    assert!(server.stop().success());

    let server = Server::start_at(&dir, &format!("127.0.0.1:{port}"), &[]);
    assert_eq!(me(&server, &alice), before);
    let app = server.admin("GET", "/admin/apps/kept", None).json()["app"].clone();
    assert_eq!(app["rp_id"], "localhost");
    assert_eq!(app["user_metadata_schema"].as_array().unwrap().len(), 6);
    // The link made before the restart still opens.
    assert_eq!(open_link(&server, "kept", &pending).status, 200);
    assert_eq!(me(&server, &alice)["phone"], "+15555550199");
}
