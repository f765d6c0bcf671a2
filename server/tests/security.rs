//! Forged auth tokens on `/currentuser` and the demo API: `alg: none`, an
//! HMAC signed with the public key (algorithm confusion), and RS256 by
//! another key that claims the server's `kid`. (Tokens of another server,
//! tampered payloads and the JWKS's private parts are covered in
//! `robustness.rs` and `sessions.rs`.)

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{claims, Server, TestDir};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Value};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with this header and payload, and `signature` as its third part.
fn forge(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    )
}

/// Asserts that both endpoints that verify auth tokens refuse `token` with
/// 401 `invalid_auth_token`.
fn assert_refused(server: &Server, token: &str, what: &str) {
    for path in ["/v1/apps/demo/currentuser", "/v1/apps/demo/demo/api/hello"] {
        let r = server.get_auth(path, token);
        assert_eq!(r.status, 401, "{what} accepted by {path}: {}", r.text());
        assert_eq!(r.error_code(), "invalid_auth_token", "{what} on {path}");
    }
}

/// The server's public key, from its JWKS.
fn server_public_key(server: &Server) -> (RsaPublicKey, String) {
    let jwks = server.get("/v1/apps/demo/.well-known/jwks.json").json();
    let key = &jwks["keys"][0];
    let part = |name: &str| {
        BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap())
    };
    (
        RsaPublicKey::new(part("n"), part("e")).unwrap(),
        key["kid"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn unsigned_tokens_are_refused() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let genuine = server.login("demo", "alice@example.com");
    let token = genuine["auth_token"].as_str().unwrap();
    assert_eq!(server.current_user("demo", token).status, 200);
    let payload = claims(token);
    let signature = token.rsplit('.').next().unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({ "alg": alg, "typ": "JWT", "kid": kid });
        // No signature, a stray one, and the genuine token's own.
        for sig in ["", "e30", signature] {
            assert_refused(
                &server,
                &forge(&header, &payload, sig),
                &format!("alg {alg}"),
            );
        }
        // Without the trailing dot.
        let two = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(payload.to_string().as_bytes())
        );
        assert_refused(&server, &two, &format!("alg {alg}, two parts"));
    }
    // Headers that omit alg, or name one the server does not use.
    for header in [
        json!({ "typ": "JWT", "kid": kid }),
        json!({ "alg": "", "kid": kid }),
        json!({ "alg": "RS256", "crit": ["exp"], "kid": kid, "typ": "JWT" }),
        json!({ "alg": "ES256", "kid": kid }),
        json!({ "alg": "PS256", "kid": kid }),
    ] {
        assert_refused(
            &server,
            &forge(&header, &payload, signature),
            &header.to_string(),
        );
    }
    // The genuine token still works afterwards.
    assert_eq!(server.current_user("demo", token).status, 200);
}

#[test]
fn hmac_tokens_keyed_with_the_public_key_are_refused() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let genuine = server.login("demo", "alice@example.com");
    let payload = claims(genuine["auth_token"].as_str().unwrap());
    let (public, kid) = server_public_key(&server);
    // Every form in which an attacker could take the public key as an HMAC
    // secret.
    let secrets: Vec<Vec<u8>> = vec![
        public
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
            .into_bytes(),
        public.to_public_key_der().unwrap().as_bytes().to_vec(),
        public.to_pkcs1_pem(LineEnding::LF).unwrap().into_bytes(),
        public.to_pkcs1_der().unwrap().as_bytes().to_vec(),
        public.n().to_bytes_be(),
        server.get("/v1/apps/demo/.well-known/jwks.json").body,
    ];
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        for secret in &secrets {
            let mut header = Header::new(alg);
            header.kid = Some(kid.clone());
            let token =
                jsonwebtoken::encode(&header, &payload, &EncodingKey::from_secret(secret)).unwrap();
            assert_refused(
                &server,
                &token,
                &format!("{alg:?} keyed with the public key"),
            );
        }
    }
}

#[test]
fn rs256_by_another_key_claiming_the_servers_kid_is_refused() {
    let dir = TestDir::new();
    let server = Server::start(&dir, &[]);
    let genuine = server.login("demo", "alice@example.com");
    let payload = claims(genuine["auth_token"].as_str().unwrap());
    let (_, kid) = server_public_key(&server);
    let other = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let der = other.to_pkcs1_der().unwrap();
    let key = EncodingKey::from_rsa_der(der.as_bytes());
    for kid in [Some(kid), None, Some("another-key".to_owned())] {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.clone();
        let token = jsonwebtoken::encode(&header, &payload, &key).unwrap();
        assert_refused(&server, &token, &format!("another key with kid {kid:?}"));
    }
    // Its signature over the genuine header and payload does not pass either.
    let genuine = genuine["auth_token"].as_str().unwrap();
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::decode_header(genuine).unwrap(),
        &payload,
        &key,
    )
    .unwrap();
    let spliced = format!(
        "{}.{}",
        genuine.rsplit_once('.').unwrap().0,
        forged.rsplit('.').next().unwrap()
    );
    assert_refused(
        &server,
        &spliced,
        "the genuine token with a foreign signature",
    );
}
