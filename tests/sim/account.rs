//! The signed-in user's requests (`userInfo()`, `changeEmail()`, the
//! passkeys, metadata and social connections) over the simulated server:
//! what each sends, how its reply is read, a 401 answered by one refresh and
//! one retry, a refusal with the server's code, and nothing sent when
//! signed out.

use std::rc::Rc;

use passage_user::client::user::AccountOp;
use passage_user::client::Client;
use passage_user::core::error::{Code, Error};
use passage_user::ports::Method;
use serde_json::{json, Value};

use crate::scenarios::{quiet_world, timed};
use crate::world::{SimJson, SimPorts, World, APP, ORIGIN};

/// Runs `op` in tab 0 to its end.
fn run(w: &World, op: AccountOp<SimJson>) -> Result<Value, Error> {
    let client: Rc<Client<SimPorts>> = w.tab(0).client();
    timed(w, async move { client.account(op).await.map(|j| j.0) }).0
}

/// The account requests the server received: method, path under
/// `/currentuser`, body.
fn sent(w: &World) -> Vec<(Method, String, Option<Value>)> {
    let base = format!("{ORIGIN}/v1/apps/{APP}/currentuser");
    w.server
        .account_requests
        .borrow()
        .iter()
        .map(|r| {
            let body = r
                .body
                .as_deref()
                .map(|b| serde_json::from_str(b).expect("JSON"));
            (r.method, r.url[base.len()..].to_string(), body)
        })
        .collect()
}

fn script(w: &World, status: u16, body: Value) {
    w.server
        .account_replies
        .borrow_mut()
        .push_back((status, body));
}

#[test]
fn user_info_sends_the_fresh_token_and_maps_the_user() {
    let w = quiet_world(1, 300);
    let user = run(&w, AccountOp::UserInfo).expect("a user");
    assert_eq!(user["id"], "u1");
    assert_eq!(user["email"], "a@example.com");
    assert_eq!(user["createdAt"], "2026-01-01T00:00:00Z");
    assert_eq!(user["webauthnDevices"], json!([]));
    let requests = w.server.account_requests.borrow();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, Method::Get);
    assert_eq!(requests[0].bearer, w.tab(0).cache.borrow().0);
    drop(requests);
    w.tear_down();
}

#[test]
fn signed_out_nothing_is_sent_and_user_info_is_undefined() {
    let w = quiet_world(1, 300);
    let client = w.tab(0).client();
    let _ = timed(&w, client.sign_out());
    assert_eq!(run(&w, AccountOp::UserInfo), Ok(Value::Null));
    let passkeys = run(&w, AccountOp::Passkeys);
    assert_eq!(passkeys.map_err(|e| e.code), Err(Code::LoginRequired));
    let deleted = run(&w, AccountOp::DeleteSocialConnection("github".into()));
    assert_eq!(deleted.map_err(|e| e.code), Err(Code::LoginRequired));
    assert!(sent(&w).is_empty(), "sent {:?}", sent(&w));
    w.tear_down();
}

#[test]
fn a_401_is_answered_by_one_refresh_and_one_retry() {
    let w = quiet_world(1, 300);
    script(&w, 401, json!({ "code": "invalid_access_token" }));
    let before = w.tab(0).cache.borrow().0.clone();
    let user = run(&w, AccountOp::UserInfo).expect("a user after the retry");
    assert_eq!(user["id"], "u1");
    assert_eq!(w.server.refreshes.get(), 1);
    let bearers: Vec<_> = w
        .server
        .account_requests
        .borrow()
        .iter()
        .map(|r| r.bearer.clone())
        .collect();
    assert_eq!(bearers.len(), 2);
    assert_eq!(bearers[0], before);
    assert_ne!(bearers[1], before, "the retry used the refused token");
    // A second 401, after the refresh: no third try.
    script(&w, 401, json!({}));
    script(&w, 401, json!({}));
    let refused = run(&w, AccountOp::UserInfo);
    assert_eq!(refused.map_err(|e| e.code), Err(Code::InvalidResponse));
    assert_eq!(w.server.account_requests.borrow().len(), 4);
    w.tear_down();
}

#[test]
fn a_refusal_carries_its_status_and_the_servers_code() {
    let w = quiet_world(1, 300);
    script(
        &w,
        404,
        json!({ "code": "user_not_found", "error": "no such user" }),
    );
    let e = run(&w, AccountOp::UserInfo).expect_err("refused");
    assert_eq!(e.code, Code::RequestRefused);
    assert_eq!(
        (e.status(), e.server_code()),
        (Some(404), Some("user_not_found"))
    );
    script(&w, 503, json!({}));
    let e = run(&w, AccountOp::Metadata).expect_err("a server error");
    assert_eq!(e.code, Code::Server);
    script(&w, 200, json!({ "nothing": true }));
    let e = run(&w, AccountOp::UserInfo).expect_err("no user");
    assert_eq!(e.code, Code::InvalidResponse);
    w.tear_down();
}

#[test]
fn each_account_method_sends_its_request_and_reads_its_member() {
    let w = quiet_world(1, 300);
    let passkey =
        json!({ "id": "pk1", "friendly_name": "Laptop", "created_at": "2026-01-01T00:00:00Z" });
    script(&w, 200, json!({ "magic_link": { "id": "ml1" } }));
    let link = run(
        &w,
        AccountOp::Change {
            phone: false,
            identifier: "b@example.com".into(),
            language: Some("de".into()),
        },
    );
    assert_eq!(link.expect("a magic link")["id"], "ml1");
    script(&w, 200, json!({ "magic_link": { "id": "ml2" } }));
    let phone = AccountOp::Change {
        phone: true,
        identifier: "+15555550100".into(),
        language: None,
    };
    assert_eq!(run(&w, phone).expect("a magic link")["id"], "ml2");
    script(&w, 200, json!({ "devices": [passkey] }));
    let list = run(&w, AccountOp::Passkeys).expect("passkeys");
    assert_eq!(list[0]["friendlyName"], "Laptop");
    script(&w, 200, json!({ "device": passkey }));
    let edit = AccountOp::EditPasskey {
        id: "pk/1".into(),
        name: "Phone".into(),
    };
    assert_eq!(run(&w, edit).expect("a passkey")["id"], "pk1");
    script(&w, 204, Value::Null);
    let delete = AccountOp::DeletePasskey {
        id: "pk1".into(),
        credential: None,
    };
    assert_eq!(run(&w, delete), Ok(json!(true)));
    script(
        &w,
        200,
        json!({ "social_connections": { "github": { "provider_id": "g1" } } }),
    );
    let social = run(&w, AccountOp::SocialConnections).expect("connections");
    assert_eq!(social["github"]["providerId"], "g1");
    script(&w, 204, Value::Null);
    let unlink = AccountOp::DeleteSocialConnection("github".into());
    assert_eq!(run(&w, unlink), Ok(json!(true)));
    script(&w, 200, json!({ "user_metadata": { "plan": "pro" } }));
    assert_eq!(run(&w, AccountOp::Metadata), Ok(json!({ "plan": "pro" })));
    script(
        &w,
        200,
        json!({ "user": {
            "id": "u1", "user_metadata": { "plan": "team" }, "webauthn_devices": [], "webauthn_types": [],
        } }),
    );
    let update = AccountOp::UpdateMetadata(SimJson(json!({ "plan": "team" })));
    assert_eq!(
        run(&w, update).expect("a user")["userMetadata"]["plan"],
        "team"
    );
    assert_eq!(
        sent(&w),
        [
            (
                Method::Patch,
                "/email".into(),
                Some(json!({ "language": "de", "new_email": "b@example.com" }))
            ),
            (
                Method::Patch,
                "/phone".into(),
                Some(json!({ "new_phone": "+15555550100" }))
            ),
            (Method::Get, "/devices".into(), None),
            (
                Method::Patch,
                "/devices/pk%2F1".into(),
                Some(json!({ "friendly_name": "Phone" }))
            ),
            (Method::Delete, "/devices/pk1".into(), None),
            (Method::Get, "/social-connections".into(), None),
            (Method::Delete, "/social-connections/github".into(), None),
            (Method::Get, "/user-metadata".into(), None),
            (
                Method::Patch,
                "/user-metadata".into(),
                Some(json!({ "user_metadata": { "plan": "team" } }))
            ),
        ]
    );
    w.tear_down();
}

#[test]
fn adding_a_passkey_starts_the_ceremony_and_reports_the_authenticators_failure() {
    let w = quiet_world(1, 300);
    script(
        &w,
        200,
        json!({ "handshake": { "id": "h1", "challenge": { "publicKey": { "challenge": "AAAA", "rp": { "id": "example.com" } } } }, "user": { "id": "u1" } }),
    );
    let added = run(&w, AccountOp::AddPasskey { attachment: None });
    assert_eq!(added.map_err(|e| e.code), Err(Code::PasskeyFailed));
    script(&w, 200, json!({ "user": { "id": "u1" } }));
    let added = run(
        &w,
        AccountOp::AddPasskey {
            attachment: Some("cross-platform".into()),
        },
    );
    assert_eq!(added.map_err(|e| e.code), Err(Code::InvalidResponse));
    assert_eq!(
        sent(&w),
        [
            (
                Method::Post,
                "/devices/start".into(),
                Some(json!({ "authenticator_attachment": "platform" }))
            ),
            (
                Method::Post,
                "/devices/start".into(),
                Some(json!({ "authenticator_attachment": "cross-platform" }))
            ),
        ]
    );
    w.tear_down();
}

#[test]
fn a_token_that_cannot_be_refreshed_now_is_an_error_not_signed_out() {
    // The token is stale and the browser offline: userInfo() rejects with
    // `network` (the session stays), it does not answer "signed out".
    let w = quiet_world(1, 300);
    w.exec.run(300_000.0, || {});
    w.tab(0).offline.set(true);
    let e = run(&w, AccountOp::UserInfo).expect_err("offline");
    assert_eq!(e.code, Code::Network);
    assert!(sent(&w).is_empty());
    w.tear_down();
}
