//! Passkeys over real HTTP: the add-device ceremony, verified for real
//! against attestations that a software authenticator (a P-256 key, CBOR
//! attestation objects, clientDataJSON) builds here, and the list, rename
//! and delete endpoints.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ciborium::Value as Cbor;
use common::{call, sign_in, Response, Server, Session, TestDir};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const AT: u8 = 0x40;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn cbor(value: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

fn int(i: i64) -> Cbor {
    Cbor::Integer(i.into())
}

/// A software authenticator holding one credential.
struct Authenticator {
    key: SigningKey,
    cred_id: Vec<u8>,
}

/// What the authenticator and the browser put in a registration; tests
/// change one thing at a time.
struct Ceremony {
    challenge: String,
    origin: String,
    rp_id: String,
    flags: u8,
    /// `"none"`, or `"packed"` for a self-attestation signed with the
    /// credential key.
    fmt: &'static str,
    corrupt_signature: bool,
    /// Replaces the credential's COSE key.
    cose_key: Option<Vec<u8>>,
}

impl Authenticator {
    fn new() -> Authenticator {
        let mut secret = [0u8; 32];
        let mut cred_id = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        rand::rngs::OsRng.fill_bytes(&mut cred_id);
        Authenticator {
            key: SigningKey::from_slice(&secret).unwrap(),
            cred_id,
        }
    }

    /// The COSE_Key of the credential (EC2, ES256, P-256), in CTAP2
    /// canonical order.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_encoded_point(false);
        cbor(&Cbor::Map(vec![
            (int(1), int(2)),
            (int(3), int(-7)),
            (int(-1), int(1)),
            (int(-2), Cbor::Bytes(point.x().unwrap().to_vec())),
            (int(-3), Cbor::Bytes(point.y().unwrap().to_vec())),
        ]))
    }

    /// `handshake_response` as passage-js sends it.
    fn register(&self, c: &Ceremony) -> Value {
        let client_data = format!(
            r#"{{"type":"webauthn.create","challenge":"{}","origin":"{}","crossOrigin":false}}"#,
            c.challenge, c.origin
        )
        .into_bytes();
        let mut auth_data = Sha256::digest(c.rp_id.as_bytes()).to_vec();
        auth_data.push(c.flags | AT);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]);
        auth_data.extend_from_slice(&(self.cred_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.cred_id);
        auth_data.extend_from_slice(&c.cose_key.clone().unwrap_or_else(|| self.cose_key()));
        let att_stmt = if c.fmt == "packed" {
            let mut signed = auth_data.clone();
            signed.extend_from_slice(&Sha256::digest(&client_data));
            let signature: Signature = self.key.sign(&signed);
            let mut der = signature.to_der().as_bytes().to_vec();
            if c.corrupt_signature {
                let last = der.len() - 1;
                der[last] ^= 0x01;
            }
            Cbor::Map(vec![
                (Cbor::Text("alg".into()), int(-7)),
                (Cbor::Text("sig".into()), Cbor::Bytes(der)),
            ])
        } else {
            Cbor::Map(vec![])
        };
        let attestation_object = cbor(&Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text(c.fmt.into())),
            (Cbor::Text("attStmt".into()), att_stmt),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]));
        json!({
            "rawId": b64(&self.cred_id),
            "id": b64(&self.cred_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation_object),
                "clientDataJSON": b64(&client_data),
            },
            "transports": ["internal"],
        })
    }
}

/// Starts a ceremony; returns the whole answer.
fn start(server: &Server, s: &Session, attachment: &str) -> Value {
    let r = call(
        server,
        s,
        "POST",
        "/devices/start",
        Some(json!({ "authenticator_attachment": attachment })),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn ceremony(server: &Server, started: &Value) -> Ceremony {
    let public_key = &started["handshake"]["challenge"]["publicKey"];
    Ceremony {
        challenge: public_key["challenge"].as_str().unwrap().to_owned(),
        origin: format!("http://localhost:{}", server.port),
        rp_id: public_key["rp"]["id"].as_str().unwrap().to_owned(),
        flags: UP | UV | BE,
        fmt: "none",
        corrupt_signature: false,
        cose_key: None,
    }
}

fn finish(
    server: &Server,
    s: &Session,
    started: &Value,
    authenticator: &Authenticator,
    c: &Ceremony,
) -> Response {
    call(
        server,
        s,
        "POST",
        "/devices/finish",
        Some(json!({
            "handshake_id": started["handshake"]["id"],
            "handshake_response": authenticator.register(c),
            "user_id": s.user_id,
        })),
    )
}

/// Adds a passkey the way passage-js does; returns the device.
fn add_passkey(server: &Server, s: &Session) -> Value {
    let started = start(server, s, "platform");
    let r = finish(
        server,
        s,
        &started,
        &Authenticator::new(),
        &ceremony(server, &started),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["device"].clone()
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

#[test]
fn adds_lists_renames_and_deletes_a_passkey() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");

    let started = start(&server, &alice, "platform");
    assert_eq!(keys(&started), ["handshake", "user"]);
    assert_eq!(keys(&started["handshake"]), ["challenge", "id"]);
    let public_key = &started["handshake"]["challenge"]["publicKey"];
    assert_eq!(
        keys(public_key),
        [
            "attestation",
            "authenticatorSelection",
            "challenge",
            "excludeCredentials",
            "extensions",
            "pubKeyCredParams",
            "rp",
            "timeout",
            "user"
        ]
    );
    // The server's base is 127.0.0.1, where browsers refuse WebAuthn: the
    // default RP ID is localhost.
    assert_eq!(
        public_key["rp"],
        json!({ "id": "localhost", "name": "demo" })
    );
    assert_eq!(public_key["user"]["id"], b64(alice.user_id.as_bytes()));
    assert_eq!(public_key["user"]["name"], "alice@example.com");
    assert_eq!(
        public_key["authenticatorSelection"]["authenticatorAttachment"],
        "platform"
    );
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert!(public_key["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .contains(&json!({ "type": "public-key", "alg": -7 })));
    assert_eq!(public_key["excludeCredentials"], json!([]));
    assert_eq!(public_key["timeout"], 300000);
    assert_eq!(public_key["attestation"], "none");
    assert_eq!(public_key["extensions"], json!({}));
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(public_key["challenge"].as_str().unwrap())
            .unwrap()
            .len(),
        16
    );
    assert_eq!(started["user"]["id"], alice.user_id.as_str());
    assert_eq!(
        keys(&started["user"]),
        [
            "email",
            "email_verified",
            "id",
            "phone",
            "phone_verified",
            "status",
            "user_metadata",
            "webauthn",
            "webauthn_types"
        ]
    );

    let authenticator = Authenticator::new();
    let r = finish(
        &server,
        &alice,
        &started,
        &authenticator,
        &ceremony(&server, &started),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let device = r.json()["device"].clone();
    assert_eq!(
        keys(&device),
        [
            "created_at",
            "cred_id",
            "friendly_name",
            "icons",
            "id",
            "last_login_at",
            "type",
            "updated_at",
            "usage_count",
            "user_id"
        ]
    );
    assert_eq!(device["cred_id"], b64(&authenticator.cred_id));
    assert_eq!(device["user_id"], alice.user_id.as_str());
    assert_eq!(device["type"], "passkey");
    assert_eq!(device["usage_count"], 0);
    assert_eq!(device["icons"], json!({ "light": null, "dark": null }));
    assert!(device["created_at"].as_str().unwrap().ends_with('Z'));

    let list = call(&server, &alice, "GET", "/devices", None);
    assert_eq!(list.status, 200);
    assert_eq!(list.json(), json!({ "devices": [device.clone()] }));
    let user = call(&server, &alice, "GET", "", None).json()["user"].clone();
    assert_eq!(user["webauthn"], true);
    assert_eq!(user["webauthn_devices"], json!([device.clone()]));
    assert_eq!(user["webauthn_types"], json!(["passkey"]));

    // The next ceremony excludes the credential already registered.
    let again = start(&server, &alice, "any");
    let public_key = &again["handshake"]["challenge"]["publicKey"];
    assert_eq!(
        public_key["excludeCredentials"][0]["id"],
        b64(&authenticator.cred_id)
    );
    assert!(public_key["authenticatorSelection"]
        .get("authenticatorAttachment")
        .is_none());
    assert_eq!(again["user"]["webauthn"], true);

    let id = device["id"].as_str().unwrap();
    let renamed = call(
        &server,
        &alice,
        "PATCH",
        &format!("/devices/{id}"),
        Some(json!({ "friendly_name": "  Work laptop " })),
    );
    assert_eq!(renamed.status, 200, "{}", renamed.text());
    assert_eq!(renamed.json()["device"]["friendly_name"], "Work laptop");
    assert_eq!(renamed.json()["device"]["id"], id);

    let deleted = call(&server, &alice, "DELETE", &format!("/devices/{id}"), None);
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert!(deleted.body.is_empty());
    assert_eq!(
        call(&server, &alice, "GET", "/devices", None).json(),
        json!({ "devices": [] })
    );
    let user = call(&server, &alice, "GET", "", None).json()["user"].clone();
    assert_eq!(user["webauthn"], false);
    assert_eq!(user["webauthn_types"], json!([]));
}

#[test]
fn device_types_follow_the_backup_flag_and_attachment() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");
    for (attachment, flags, expected) in [
        ("platform", UP | UV, "platform"),
        ("cross-platform", UP | UV, "security_key"),
        ("any", UP | UV | BE, "passkey"),
    ] {
        let started = start(&server, &alice, attachment);
        let c = Ceremony {
            flags,
            ..ceremony(&server, &started)
        };
        let r = finish(&server, &alice, &started, &Authenticator::new(), &c);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["device"]["type"], expected);
    }
    let user = call(&server, &alice, "GET", "", None).json()["user"].clone();
    assert_eq!(
        user["webauthn_types"],
        json!(["platform", "security_key", "passkey"])
    );
}

#[test]
fn a_challenge_is_used_once_even_when_the_attempt_fails() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");

    let started = start(&server, &alice, "platform");
    let authenticator = Authenticator::new();
    let good = ceremony(&server, &started);
    assert_eq!(
        finish(&server, &alice, &started, &authenticator, &good).status,
        200
    );
    let replay = finish(&server, &alice, &started, &authenticator, &good);
    assert_eq!(replay.status, 404, "{}", replay.text());
    assert_eq!(replay.error_code(), "handshake_not_found");

    // A failed attempt spends the challenge too.
    let started = start(&server, &alice, "platform");
    let authenticator = Authenticator::new();
    let wrong = Ceremony {
        origin: "http://evil.example".into(),
        ..ceremony(&server, &started)
    };
    assert_eq!(
        finish(&server, &alice, &started, &authenticator, &wrong).error_code(),
        "webauthn_origin_mismatch"
    );
    let retry = finish(
        &server,
        &alice,
        &started,
        &authenticator,
        &ceremony(&server, &started),
    );
    assert_eq!(retry.status, 404);
    assert_eq!(
        call(&server, &alice, "GET", "/devices", None).json()["devices"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn another_users_handshake_or_challenge_is_refused() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");
    let bob = sign_in(&server, "demo", "bob@example.com");
    let bobs = start(&server, &bob, "platform");

    // Alice finishing Bob's handshake: unknown to her, and Bob's is intact.
    let r = call(
        &server,
        &alice,
        "POST",
        "/devices/finish",
        Some(json!({
            "handshake_id": bobs["handshake"]["id"],
            "handshake_response": Authenticator::new().register(&ceremony(&server, &bobs)),
            "user_id": alice.user_id,
        })),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.error_code(), "handshake_not_found");

    // Alice's own handshake, answered with Bob's challenge.
    let alices = start(&server, &alice, "platform");
    let foreign = Ceremony {
        challenge: ceremony(&server, &bobs).challenge,
        ..ceremony(&server, &alices)
    };
    let r = finish(&server, &alice, &alices, &Authenticator::new(), &foreign);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.error_code(), "webauthn_challenge_mismatch");

    // Naming Bob as the user is refused too.
    let alices = start(&server, &alice, "platform");
    let r = call(
        &server,
        &alice,
        "POST",
        "/devices/finish",
        Some(json!({
            "handshake_id": alices["handshake"]["id"],
            "handshake_response": Authenticator::new().register(&ceremony(&server, &alices)),
            "user_id": bob.user_id,
        })),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.error_code(), "invalid_request");

    // A handshake is bound to its app as well.
    server.put_app("other", json!({}));
    let elsewhere = sign_in(&server, "other", "alice@example.com");
    let r = finish(
        &server,
        &elsewhere,
        &alices,
        &Authenticator::new(),
        &ceremony(&server, &alices),
    );
    assert_eq!(r.status, 404);

    // None of this spent Bob's ceremony.
    let r = finish(
        &server,
        &bob,
        &bobs,
        &Authenticator::new(),
        &ceremony(&server, &bobs),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["device"]["user_id"], bob.user_id.as_str());
}

#[test]
fn verification_failures_are_refused() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");
    let not_on_curve = cbor(&Cbor::Map(vec![
        (int(1), int(2)),
        (int(3), int(-7)),
        (int(-1), int(1)),
        (int(-2), Cbor::Bytes(vec![1; 32])),
        (int(-3), Cbor::Bytes(vec![2; 32])),
    ]));
    let wrong_alg = {
        let a = Authenticator::new();
        let point = a.key.verifying_key().to_encoded_point(false);
        cbor(&Cbor::Map(vec![
            (int(1), int(2)),
            (int(3), int(-257)),
            (int(-1), int(1)),
            (int(-2), Cbor::Bytes(point.x().unwrap().to_vec())),
            (int(-3), Cbor::Bytes(point.y().unwrap().to_vec())),
        ]))
    };
    type Change = Box<dyn Fn(Ceremony) -> Ceremony>;
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "wrong origin",
            Box::new(|c| Ceremony {
                origin: "https://localhost".into(),
                ..c
            }),
            "webauthn_origin_mismatch",
        ),
        (
            "origin on another port",
            Box::new(|c| Ceremony {
                origin: "http://localhost:1".into(),
                ..c
            }),
            "webauthn_origin_mismatch",
        ),
        (
            "RP ID hash of another domain",
            Box::new(|c| Ceremony {
                rp_id: "example.com".into(),
                ..c
            }),
            "webauthn_rp_id_mismatch",
        ),
        (
            "user not present",
            Box::new(|c| Ceremony { flags: UV, ..c }),
            "webauthn_user_not_present",
        ),
        (
            "user not verified",
            Box::new(|c| Ceremony { flags: UP, ..c }),
            "webauthn_user_not_verified",
        ),
        (
            "bad self-attestation signature",
            Box::new(|c| Ceremony {
                fmt: "packed",
                corrupt_signature: true,
                ..c
            }),
            "webauthn_invalid_signature",
        ),
        (
            "public key not on the curve",
            Box::new(move |c| Ceremony {
                cose_key: Some(not_on_curve.clone()),
                ..c
            }),
            "webauthn_invalid_public_key",
        ),
        (
            // Refused while the response is parsed, before the ceremony.
            "COSE algorithm that does not match the key",
            Box::new(move |c| Ceremony {
                cose_key: Some(wrong_alg.clone()),
                ..c
            }),
            "invalid_request",
        ),
        (
            // Also refused while the response is parsed.
            "truncated COSE key",
            Box::new(|c| Ceremony {
                cose_key: Some(vec![0xa5, 0x01, 0x02]),
                ..c
            }),
            "invalid_request",
        ),
    ];
    for (what, change, code_expected) in cases {
        let started = start(&server, &alice, "platform");
        let c = change(ceremony(&server, &started));
        let r = finish(&server, &alice, &started, &Authenticator::new(), &c);
        assert_eq!(r.status, 400, "{what}: {}", r.text());
        let code = r.error_code();
        assert_eq!(code, code_expected, "{what}");
    }
    // A correct packed self-attestation passes.
    let started = start(&server, &alice, "platform");
    let c = Ceremony {
        fmt: "packed",
        ..ceremony(&server, &started)
    };
    let r = finish(&server, &alice, &started, &Authenticator::new(), &c);
    assert_eq!(r.status, 200, "{}", r.text());
    // Nothing else was stored.
    let devices = call(&server, &alice, "GET", "/devices", None).json();
    assert_eq!(devices["devices"].as_array().unwrap().len(), 1);
}

#[test]
fn a_credential_is_registered_once() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");
    let bob = sign_in(&server, "demo", "bob@example.com");
    let authenticator = Authenticator::new();
    let started = start(&server, &alice, "platform");
    let r = finish(
        &server,
        &alice,
        &started,
        &authenticator,
        &ceremony(&server, &started),
    );
    assert_eq!(r.status, 200);
    let started = start(&server, &bob, "platform");
    let r = finish(
        &server,
        &bob,
        &started,
        &authenticator,
        &ceremony(&server, &started),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.error_code(), "webauthn_credential_exists");
}

#[test]
fn an_expired_ceremony_is_refused() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    server.put_app("slow", json!({ "auth_token_lifetime": 3600 }));
    let alice = sign_in(&server, "slow", "alice@example.com");
    let started = start(&server, &alice, "platform");
    server.set_clock(Some("slow"), 301);
    let r = finish(
        &server,
        &alice,
        &started,
        &Authenticator::new(),
        &ceremony(&server, &started),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.error_code(), "handshake_expired");
}

#[test]
fn rp_id_and_origins_are_per_app_settings() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let app = server.put_app(
        "shop",
        json!({
            "origin": "https://shop.example.com",
            "rp_id": "Example.COM",
            "webauthn_origins": ["https://shop.example.com", "https://www.example.com"]
        }),
    );
    assert_eq!(app["rp_id"], "example.com");
    assert_eq!(
        app["webauthn_origins"],
        json!(["https://shop.example.com", "https://www.example.com"])
    );
    let alice = sign_in(&server, "shop", "alice@example.com");
    let started = start(&server, &alice, "cross-platform");
    assert_eq!(
        started["handshake"]["challenge"]["publicKey"]["rp"]["id"],
        "example.com"
    );
    for (origin, status) in [
        ("https://www.example.com", 200),
        (&format!("http://localhost:{}", server.port) as &str, 400),
    ] {
        let started = start(&server, &alice, "cross-platform");
        let c = Ceremony {
            origin: origin.to_owned(),
            ..ceremony(&server, &started)
        };
        let r = finish(&server, &alice, &started, &Authenticator::new(), &c);
        assert_eq!(r.status, status, "{origin}: {}", r.text());
    }
    // By default the RP ID is the origin's host.
    let app = server.put_app(
        "plain",
        json!({ "origin": "https://login.example.org:8443" }),
    );
    assert_eq!(app["rp_id"], "login.example.org");
    assert_eq!(
        app["webauthn_origins"],
        json!(["https://login.example.org:8443"])
    );
    // Resetting the settings restores the defaults.
    let app = server.put_app("shop", json!({ "rp_id": "", "webauthn_origins": [] }));
    assert_eq!(app["rp_id"], "shop.example.com");
    assert_eq!(app["webauthn_origins"], json!(["https://shop.example.com"]));
    for bad in [
        json!({ "rp_id": "https://example.com" }),
        json!({ "rp_id": "example.com:443" }),
        json!({ "webauthn_origins": ["example.com"] }),
        json!({ "webauthn_origins": "https://example.com" }),
    ] {
        let r = server.admin("PUT", "/admin/apps/shop", Some(bad.clone()));
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
}

#[test]
fn another_users_devices_are_not_found() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");
    let bob = sign_in(&server, "demo", "bob@example.com");
    let device = add_passkey(&server, &alice);
    let id = device["id"].as_str().unwrap();
    let cred_id = device["cred_id"].as_str().unwrap();

    for (method, body) in [
        ("PATCH", Some(json!({ "friendly_name": "mine now" }))),
        ("DELETE", None),
    ] {
        for path in [format!("/devices/{id}"), "/devices/nosuchdevice".to_owned()] {
            let r = call(&server, &bob, method, &path, body.clone());
            assert_eq!(r.status, 404, "{method} {path}: {}", r.text());
            assert_eq!(r.error_code(), "device_not_found");
            assert!(!r.text().contains(cred_id) && !r.text().contains("alice"));
        }
    }
    assert_eq!(
        call(&server, &bob, "GET", "/devices", None).json(),
        json!({ "devices": [] })
    );
    // The same id in another app is not found either.
    server.put_app("other", json!({}));
    let elsewhere = sign_in(&server, "other", "alice@example.com");
    let r = call(
        &server,
        &elsewhere,
        "DELETE",
        &format!("/devices/{id}"),
        None,
    );
    assert_eq!(r.status, 404);
    // Alice's device is untouched.
    assert_eq!(
        call(&server, &alice, "GET", "/devices", None).json(),
        json!({ "devices": [device] })
    );
}

#[test]
fn bad_requests_are_refused() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");
    let device = add_passkey(&server, &alice);
    let device_path = format!("/devices/{}", device["id"].as_str().unwrap());
    let started = start(&server, &alice, "platform");
    let handshake_id = started["handshake"]["id"].clone();

    let cases = [
        (
            "POST",
            "/devices/start",
            json!({ "authenticator_attachment": "sideways" }),
            "invalid_request",
        ),
        (
            "POST",
            "/devices/start",
            json!({ "authenticator_attachment": 1 }),
            "invalid_request",
        ),
        ("POST", "/devices/finish", json!({}), "invalid_request"),
        (
            "POST",
            "/devices/finish",
            json!({ "handshake_id": handshake_id, "handshake_response": "nope" }),
            "invalid_request",
        ),
        (
            "POST",
            "/devices/finish",
            json!({ "handshake_id": handshake_id, "handshake_response": { "response": {} } }),
            "invalid_request",
        ),
        (
            "POST",
            "/devices/finish",
            json!({
                "handshake_id": handshake_id,
                "handshake_response": { "response": { "clientDataJSON": "!!", "attestationObject": "AA" } }
            }),
            "invalid_request",
        ),
        (
            "PATCH",
            &device_path,
            json!({ "friendly_name": "" }),
            "invalid_request",
        ),
        (
            "PATCH",
            &device_path,
            json!({ "friendly_name": "x".repeat(256) }),
            "invalid_request",
        ),
        (
            "PATCH",
            &device_path,
            json!({ "friendly_name": 7 }),
            "invalid_request",
        ),
        (
            "PATCH",
            &device_path,
            json!({ "name": "x" }),
            "invalid_request",
        ),
    ];
    for (method, path, body, code) in cases {
        let r = call(&server, &alice, method, path, Some(body.clone()));
        assert_eq!(r.status, 400, "{method} {path} {body}: {}", r.text());
        assert_eq!(r.error_code(), code, "{method} {path} {body}");
    }
    let auth = format!("Bearer {}", alice.jwt);
    let r = server.request(
        "PATCH",
        &format!("/v1/apps/demo/currentuser{device_path}"),
        &[("Authorization", &auth)],
        Some(b"{broken"),
    );
    assert_eq!((r.status, r.error_code().as_str()), (400, "invalid_json"));
    let r = server.request(
        "POST",
        "/v1/apps/demo/currentuser/devices/finish",
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!((r.status, r.error_code().as_str()), (400, "invalid_json"));
    // Shape errors did not spend the ceremony.
    let r = finish(
        &server,
        &alice,
        &started,
        &Authenticator::new(),
        &ceremony(&server, &started),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // An empty start body is allowed (any authenticator).
    let r = server.request(
        "POST",
        "/v1/apps/demo/currentuser/devices/start",
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn every_passkey_endpoint_needs_the_auth_token() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");
    let device = add_passkey(&server, &alice);
    let device_path = format!("/devices/{}", device["id"].as_str().unwrap());
    let endpoints = [
        ("GET", "/devices"),
        ("POST", "/devices/start"),
        ("POST", "/devices/finish"),
        ("PATCH", device_path.as_str()),
        ("DELETE", device_path.as_str()),
    ];
    for (method, path) in endpoints {
        let url = format!("/v1/apps/demo/currentuser{path}");
        let r = server.request(method, &url, &[], Some(b"{}"));
        assert_eq!(r.status, 401, "{method} {path}");
        assert_eq!(r.error_code(), "missing_auth_token");
        let r = server.request(
            method,
            &url,
            &[("Authorization", "Bearer not.a.jwt")],
            Some(b"{}"),
        );
        assert_eq!(r.status, 401, "{method} {path}");
        assert_eq!(r.error_code(), "invalid_auth_token");
        assert!(!r.text().contains("not.a.jwt"));
    }
    assert_eq!(
        call(&server, &alice, "GET", "/devices", None).json()["devices"],
        json!([device])
    );
}

#[test]
fn passkeys_and_started_ceremonies_survive_a_restart() {
    let dir = TestDir::new();
    let mut server = Server::start(&dir, &[]);
    let alice = sign_in(&server, "demo", "alice@example.com");
    let device = add_passkey(&server, &alice);
    let started = start(&server, &alice, "platform");
    let port = server.port;
    assert!(server.stop().success());

    let server = Server::start_at(&dir, &format!("127.0.0.1:{port}"), &[]);
    assert_eq!(
        call(&server, &alice, "GET", "/devices", None).json()["devices"],
        json!([device])
    );
    let r = finish(
        &server,
        &alice,
        &started,
        &Authenticator::new(),
        &ceremony(&server, &started),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        call(&server, &alice, "GET", "/devices", None).json()["devices"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
