//! Helpers for the core's tests: unsigned JWTs with chosen claims.

/// base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
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
