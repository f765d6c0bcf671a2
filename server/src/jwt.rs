//! The signing key and the auth tokens: RS256 JWTs, and the JWKS that lets
//! any backend verify them.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const KEY_FILE: &str = "signing-key.pem";
const KEY_BITS: usize = 2048;
/// Longer than any JWT this server issues; longer input is not even parsed.
const MAX_TOKEN_LEN: usize = 8 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: Vec<String>,
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// Unique per token, so two tokens issued in the same second differ.
    pub jti: String,
}

pub struct Signer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    /// The public JWK, as served in the JWKS.
    jwk: Value,
    /// Derives rotated refresh tokens ([`crate::util::successor_token`]).
    rotation_key: [u8; 32],
}

impl Signer {
    /// Loads the key kept in `dir`, or generates and stores one on first start.
    pub fn load_or_create(dir: &Path) -> Result<Signer, String> {
        let path = dir.join(KEY_FILE);
        let key = match std::fs::read_to_string(&path) {
            Ok(pem) => RsaPrivateKey::from_pkcs8_pem(&pem)
                .map_err(|e| format!("invalid signing key {}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS)
                    .map_err(|e| format!("cannot generate a signing key: {e}"))?;
                let pem = key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| format!("cannot encode the signing key: {e}"))?;
                write_private_file(&path, pem.as_bytes())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                key
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Signer::from_key(&key)
    }

    /// The key that derives each rotated refresh token from the one before.
    pub fn rotation_key(&self) -> &[u8; 32] {
        &self.rotation_key
    }

    pub fn from_key(key: &RsaPrivateKey) -> Result<Signer, String> {
        let der = key
            .to_pkcs1_der()
            .map_err(|e| format!("cannot encode the signing key: {e}"))?;
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        // RFC 7638 thumbprint: stable for the key, so it survives restarts.
        let thumbprint_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint_input.as_bytes()));
        let decoding = DecodingKey::from_rsa_components(&n, &e)
            .map_err(|e| format!("cannot use the signing key: {e}"))?;
        // A separate key for refresh-token rotation, derived from the
        // private key so it needs no file of its own and survives restarts.
        let mut rotation = Sha256::new();
        rotation.update(b"passage-auth-server refresh token rotation v1\0");
        rotation.update(der.as_bytes());
        Ok(Signer {
            rotation_key: rotation.finalize().into(),
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding,
            jwk: json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e}),
            kid,
        })
    }

    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| e.to_string())
    }

    /// Verifies signature, issuer and audience, and checks `exp` against
    /// `now` (the server's possibly shifted clock, hence not the library's
    /// own check against the system time).
    pub fn verify(&self, token: &str, issuer: &str, app_id: &str, now: i64) -> Option<Claims> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[app_id]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?;
        (data.claims.exp > now).then_some(data.claims)
    }
}

fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("pem.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    // Renaming makes the key appear whole or not at all.
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS).unwrap();
        let signer = Signer::from_key(&key).unwrap();
        let claims = Claims {
            iss: "http://x/v1/apps/demo".into(),
            aud: vec!["http://x".into(), "demo".into()],
            sub: "user".into(),
            iat: 1000,
            exp: 1300,
            jti: "j".into(),
        };
        let token = signer.sign(&claims).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(signer.kid.as_str()));
        assert!(signer.verify(&token, &claims.iss, "demo", 1299).is_some());
        assert!(signer.verify(&token, &claims.iss, "demo", 1300).is_none());
        assert!(signer.verify(&token, &claims.iss, "other", 1000).is_none());
        assert!(signer
            .verify(&token, "http://x/v1/apps/other", "demo", 1000)
            .is_none());
        let mut tampered = token.clone();
        tampered.pop();
        assert!(signer
            .verify(&tampered, &claims.iss, "demo", 1000)
            .is_none());
        assert!(signer
            .verify("garbage", &claims.iss, "demo", 1000)
            .is_none());
    }
}
