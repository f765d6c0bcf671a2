//! Helpers for the core's tests: unsigned JWTs with chosen claims.

/// base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    super::jwt::base64url_encode(bytes)
}

/// A JWT with this payload and a dummy signature.
pub fn jwt_with(payload: &str) -> String {
    format!(
        "{}.{}.c2ln",
        b64(br#"{"alg":"RS256","typ":"JWT"}"#),
        b64(payload.as_bytes())
    )
}

/// A JWT issued at `iat` expiring at `exp` (unix seconds).
pub fn jwt(iat: i64, exp: i64) -> String {
    jwt_with(&format!(
        r#"{{"sub":"user","iat":{iat},"exp":{exp},"aud":["http://localhost","app"]}}"#
    ))
}
