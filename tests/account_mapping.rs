//! The account mapping on the host: the server's snake_case replies read
//! with serde and written back out as passage-js 4.1.2's camelCase shapes,
//! field by field, `null` and nested mappings included.
#![cfg(not(target_arch = "wasm32"))]

use passage_user::client::account::{
    apply, get, map, Member, CREATION_OPTIONS, CURRENT_USER, PASSKEY, SOCIAL_CONNECTIONS,
};
use serde_json::{json, Value};

#[path = "support/json.rs"]
mod json;

use json::HostJson;

fn mapped(value: Value, member: Member) -> Option<Value> {
    apply(HostJson(value), member).map(|j| j.0)
}

fn device(id: &str) -> Value {
    json!({
        "id": id, "user_id": "u1", "cred_id": "Y3JlZA", "friendly_name": "Laptop", "type": "platform",
        "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-02T00:00:00Z",
        "last_login_at": "2026-11-03T00:00:00Z", "usage_count": 2, "icons": { "light": null, "dark": "d.svg" },
    })
}

fn user() -> Value {
    json!({
        "id": "u1", "email": "a@example.com", "email_verified": true, "phone": "", "phone_verified": false,
        "status": "active", "created_at": "2026-10-01T00:00:00Z", "updated_at": "2026-10-02T00:00:00Z",
        "last_login_at": "2026-10-03T00:00:00Z", "login_count": 4, "user_metadata": { "plan": "pro" },
        "webauthn": true, "webauthn_devices": [device("d1")], "webauthn_types": ["platform"],
        "social_connections": { "github": {
            "provider_id": "1234", "provider_identifier": "octocat",
            "created_at": "2026-09-01T00:00:00Z", "last_login_at": "2026-09-02T00:00:00Z",
        }, "apple": null },
        "not_in_passage_js": 1,
    })
}

#[test]
fn the_current_user_is_passage_js_current_user() {
    assert_eq!(
        mapped(user(), Member::Object(&CURRENT_USER)).unwrap(),
        json!({
            "createdAt": "2026-10-01T00:00:00Z", "email": "a@example.com", "emailVerified": true,
            "id": "u1", "lastLoginAt": "2026-10-03T00:00:00Z", "loginCount": 4, "phone": "",
            "phoneVerified": false, "status": "active", "updatedAt": "2026-10-02T00:00:00Z",
            "userMetadata": { "plan": "pro" }, "webauthn": true, "webauthnTypes": ["platform"],
            // Dates where passage-js makes them (new Date(...)); a null
            // provider is left undefined (null here on the host).
            "socialConnections": {
                "apple": null, "google": null,
                "github": { "providerId": "1234", "providerIdentifier": "octocat",
                    "createdAt": { "Date": "2026-09-01T00:00:00Z" }, "lastLoginAt": { "Date": "2026-09-02T00:00:00Z" } },
            },
            // The server's strings kept as strings, and icons mapped.
            "webauthnDevices": [{
                "id": "d1", "userId": "u1", "credId": "Y3JlZA", "friendlyName": "Laptop", "type": "platform",
                "createdAt": "2026-11-01T00:00:00Z", "updatedAt": "2026-11-02T00:00:00Z",
                "lastLoginAt": "2026-11-03T00:00:00Z", "usageCount": 2, "icons": { "light": null, "dark": "d.svg" },
            }],
        })
    );
}

#[test]
fn null_stays_null_where_passage_js_keeps_it() {
    // `r == null ? r : {...}`: a null nested object is kept as null, and a
    // device's missing icons are left out.
    let mut raw = user();
    raw["social_connections"] = Value::Null;
    raw["webauthn_devices"] = json!([null, { "id": "d2" }]);
    let mapped = mapped(raw, Member::Object(&CURRENT_USER)).unwrap();
    assert_eq!(mapped["socialConnections"], Value::Null);
    assert_eq!(mapped["webauthnDevices"][0], Value::Null);
    assert_eq!(mapped["webauthnDevices"][1]["id"], "d2");
    assert_eq!(mapped["webauthnDevices"][1]["icons"], Value::Null);
}

#[test]
fn a_user_without_the_lists_passage_js_maps_over_is_refused() {
    for missing in ["webauthn_devices", "webauthn_types"] {
        let mut raw = user();
        raw.as_object_mut().unwrap().remove(missing);
        assert_eq!(
            mapped(raw, Member::Object(&CURRENT_USER)),
            None,
            "{missing}"
        );
    }
}

#[test]
fn passkeys_and_social_connections_map_alone_too() {
    let passkey = map(HostJson(device("d9")), &PASSKEY).unwrap().0;
    assert_eq!(passkey["friendlyName"], "Laptop");
    assert_eq!(
        passkey.as_object().unwrap().len(),
        10,
        "only passage-js's members"
    );
    let social = mapped(
        json!({ "google": {
            "provider_id": "g", "provider_identifier": "a@example.com", "created_at": "t1", "last_login_at": "t2",
        }}),
        Member::Object(&SOCIAL_CONNECTIONS),
    )
    .unwrap();
    assert_eq!(social["google"]["createdAt"], json!({ "Date": "t1" }));
    assert_eq!(social["github"], Value::Null);
    // A list of something else than objects is not a passkey list.
    assert_eq!(mapped(json!(["x"]), Member::List(&PASSKEY)), None);
    assert_eq!(mapped(json!("x"), Member::List(&PASSKEY)), None);
}

#[test]
fn the_creation_options_keep_what_passage_js_passes_to_the_authenticator() {
    let options = map(
        HostJson(json!({
            "challenge": "Y2hhbGxlbmdl", "timeout": 60000, "attestation": null, "hints": ["client-device"],
            "rp": { "id": "localhost", "name": "app" },
            "user": { "id": "dXNlcg", "name": "a@example.com", "displayName": "a@example.com" },
            "pubKeyCredParams": [{ "alg": -7, "type": "public-key" }],
            "excludeCredentials": [{ "id": "Y3JlZA", "type": "public-key", "transports": ["internal"] }],
            "authenticatorSelection": { "residentKey": "preferred", "userVerification": "required" },
        })),
        &CREATION_OPTIONS,
    )
    .unwrap()
    .0;
    assert_eq!(options["challenge"], "Y2hhbGxlbmdl");
    assert_eq!(options["user"]["id"], "dXNlcg");
    assert_eq!(options["excludeCredentials"][0]["id"], "Y3JlZA");
    assert_eq!(options["pubKeyCredParams"][0]["alg"], -7);
    // Members passage-js does not copy are dropped; null becomes undefined.
    assert!(options.get("hints").is_none());
    assert_eq!(options["attestation"], Value::Null);
    assert_eq!(
        options["authenticatorSelection"]["authenticatorAttachment"],
        Value::Null
    );
}

#[test]
fn a_member_is_read_from_an_object_and_absent_members_are_undefined() {
    let reply = HostJson(json!({ "user": { "id": "u1" }, "devices": [] }));
    assert_eq!(
        get(&reply, "user").map(|j| j.0),
        Some(json!({ "id": "u1" }))
    );
    assert_eq!(get(&reply, "devices").map(|j| j.0), Some(json!([])));
    // Missing: undefined (the default), as `reply.missing` is.
    assert_eq!(get(&reply, "missing").map(|j| j.0), Some(Value::Null));
    // Not an object: nothing to read.
    assert_eq!(get(&HostJson(json!([1, 2])), "user"), None);
    assert_eq!(get(&HostJson(json!("text")), "user"), None);
}

#[test]
fn members_passage_js_reads_with_optional_chaining_are_undefined_when_null() {
    // `r.icons == null ? undefined : ...`-style members: null reads as
    // undefined (the default), not as an error or a mapped null.
    for member in [
        Member::Present,
        Member::ObjectOrUndefined(&PASSKEY),
        Member::OptionalList(&PASSKEY),
    ] {
        assert_eq!(mapped(Value::Null, member), Some(Value::Null));
    }
    // Present keeps a value as it is; a list of another shape is refused.
    assert_eq!(
        mapped(json!({ "a": 1 }), Member::Present),
        Some(json!({ "a": 1 }))
    );
    assert_eq!(
        mapped(json!("not a list"), Member::OptionalList(&PASSKEY)),
        None
    );
}
