//! The server's parsers of untrusted input, for the fuzz targets in `fuzz/`
//! and their replay test (`tests/fuzz_corpus.rs`): each request body and
//! query string as its handler reads and checks it (the same functions the
//! handlers call), and the bearer token of an `Authorization` header with
//! the JWT verification behind it. Not an API: nothing else should use it.

use axum::extract::Query;
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use rsa::pkcs8::DecodePrivateKey;
use rsa::RsaPrivateKey;
use serde_json::{Map, Value};

use crate::error::{parse_json, ApiError};
use crate::metadata::{self, MetadataField};

/// A refused request: what the client would be answered.
#[derive(Debug)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// The error body's `code`.
    pub code: &'static str,
    /// The error body's `error`.
    pub message: String,
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal {
            status: e.status.as_u16(),
            code: e.code,
            message: e.message,
        }
    }
}

/// What a handler goes on with once the body is read and checked.
#[derive(Debug)]
pub enum Accepted {
    /// `POST /tokens`: the refresh token to look up.
    RefreshToken(String),
    /// `DELETE /tokens?refresh_token=`: the token to revoke.
    RevokeToken(String),
    /// `POST /demo/login`: the email.
    LoginIdentifier(String),
    /// `PATCH /currentuser/email` or `/phone`: the new value and options.
    Change {
        /// The new email (lower-cased) or phone.
        value: String,
        /// `language`.
        language: Option<String>,
        /// `magic_link_path`.
        magic_link_path: Option<String>,
        /// `redirect_url`.
        redirect_url: Option<String>,
    },
    /// `PATCH /currentuser/user-metadata`: the stored values after the
    /// update, from an empty profile, under [`METADATA_SCHEMA`].
    Metadata(Map<String, Value>),
    /// `PATCH /currentuser/devices/{id}`: the new name.
    DeviceName(String),
    /// `POST /currentuser/devices/start`: the attachment.
    Attachment(String),
    /// `POST /currentuser/devices/finish`: a parsed WebAuthn registration.
    Registration {
        /// `user_id`, compared with the signed-in user's next.
        user_id: Option<String>,
    },
    /// `PUT /admin/apps/{app}`.
    AppPatch {
        /// The metadata schema it sets, if any.
        schema: Option<Vec<String>>,
    },
    /// `POST /admin/faults`.
    Fault {
        /// Requests it hits.
        count: u32,
        /// The status it answers (for `status` faults).
        status: u16,
        /// `status`, `malformed`, `drop`, `delay` or `late`.
        mode: &'static str,
        /// Its delay.
        delay_ms: u64,
        /// Its `Retry-After`.
        retry_after: Option<u64>,
    },
    /// `POST /admin/clock`.
    Clock {
        /// The shift.
        offset_secs: i64,
    },
    /// `POST /admin/.../social-connections`.
    Social {
        /// The provider.
        provider: String,
    },
    /// A query string of the admin API (`?app=`, `?user=`).
    Query(Option<String>),
}

/// Every request body and query string the server reads, by name: the
/// first line of a fuzz input.
pub const ENDPOINTS: [&str; 15] = [
    "refresh", "revoke", "login", "email", "phone", "metadata", "device", "start", "finish", "app",
    "fault", "clock", "social", "links", "stats",
];

/// The metadata schema `metadata` bodies are checked against: one field of
/// each type.
pub const METADATA_SCHEMA: &str = r#"[
    {"field_name": "nickname", "type": "string"},
    {"field_name": "newsletter", "type": "boolean"},
    {"field_name": "age", "type": "integer"},
    {"field_name": "birthday", "type": "date"},
    {"field_name": "work_email", "type": "email"},
    {"field_name": "mobile", "type": "phone"}
]"#;

fn schema() -> Vec<MetadataField> {
    serde_json::from_str(METADATA_SCHEMA).expect("the fuzzing schema is valid")
}

/// A query string as axum's `Query` extractor reads it; `None` when the
/// bytes cannot be a request target at all (hyper refuses those first).
fn query<T: serde::de::DeserializeOwned>(
    input: &[u8],
) -> Option<Result<Query<T>, axum::extract::rejection::QueryRejection>> {
    let mut target = b"/x?".to_vec();
    target.extend_from_slice(input);
    let uri = Uri::try_from(target).ok()?;
    Some(Query::<T>::try_from_uri(&uri))
}

fn query_value<T: serde::de::DeserializeOwned>(
    input: &[u8],
    value: impl FnOnce(T) -> Option<String>,
) -> Option<Result<Accepted, Refusal>> {
    Some(
        query::<T>(input)?
            .map(|Query(q)| Accepted::Query(value(q)))
            .map_err(|e| ApiError::bad_request(e.body_text()).into()),
    )
}

/// Reads `body` as the handler of `endpoint` (one of [`ENDPOINTS`]) does.
/// `None`: no such endpoint, or bytes no HTTP request can carry there.
pub fn request(endpoint: &str, body: &[u8]) -> Option<Result<Accepted, Refusal>> {
    fn run(f: impl FnOnce() -> Result<Accepted, ApiError>) -> Option<Result<Accepted, Refusal>> {
        Some(f().map_err(Refusal::from))
    }
    match endpoint {
        "refresh" => {
            run(|| crate::api::refresh_token_of(parse_json(body)?).map(Accepted::RefreshToken))
        }
        "revoke" => {
            let q = query::<crate::api::RevokeQuery>(body)?;
            run(|| crate::api::revoke_token_of(q).map(Accepted::RevokeToken))
        }
        "login" => {
            run(|| crate::api::login_identifier(parse_json(body)?).map(Accepted::LoginIdentifier))
        }
        "email" | "phone" => run(|| {
            let change = if endpoint == "email" {
                crate::account::email_change_of(parse_json(body)?)?
            } else {
                crate::account::phone_change_of(parse_json(body)?)?
            };
            Ok(Accepted::Change {
                value: change.value,
                language: change.language,
                magic_link_path: change.magic_link_path,
                redirect_url: change.redirect_url,
            })
        }),
        "metadata" => run(|| {
            let body: crate::account::MetadataBody = parse_json(body)?;
            metadata::apply_update(&schema(), &Map::new(), &body.user_metadata)
                .map(Accepted::Metadata)
                .map_err(ApiError::bad_request)
        }),
        "device" => {
            run(|| crate::passkeys::device_name_of(parse_json(body)?).map(Accepted::DeviceName))
        }
        "start" => run(|| crate::passkeys::attachment_of(body).map(Accepted::Attachment)),
        "finish" => run(|| {
            let finish: crate::passkeys::FinishBody = parse_json(body)?;
            crate::passkeys::registration_of(&finish)?;
            Ok(Accepted::Registration {
                user_id: finish.user_id,
            })
        }),
        "app" => run(|| {
            let patch = crate::admin::app_patch_of(body)?;
            Ok(Accepted::AppPatch {
                schema: patch
                    .user_metadata_schema
                    .map(|s| s.into_iter().map(|f| f.field_name).collect()),
            })
        }),
        "fault" => run(|| {
            let request: crate::faults::FaultRequest = parse_json(body)?;
            let fault =
                crate::faults::Fault::from_request(1, request).map_err(ApiError::bad_request)?;
            Ok(Accepted::Fault {
                count: fault.remaining,
                status: fault.status,
                mode: match fault.mode {
                    crate::faults::Mode::Status => "status",
                    crate::faults::Mode::Malformed => "malformed",
                    crate::faults::Mode::Drop => "drop",
                    crate::faults::Mode::Delay => "delay",
                    crate::faults::Mode::Late => "late",
                },
                delay_ms: fault.delay_ms,
                retry_after: fault.retry_after,
            })
        }),
        "clock" => run(|| {
            let request = crate::admin::clock_request_of(body)?;
            Ok(Accepted::Clock {
                offset_secs: request.offset_secs,
            })
        }),
        "social" => run(|| {
            let seed: crate::store::account::SocialSeed = parse_json(body)?;
            seed.validate().map_err(ApiError::bad_request)?;
            Ok(Accepted::Social {
                provider: seed.provider,
            })
        }),
        "links" => query_value(body, |q: crate::account::LinksQuery| q.user),
        "stats" => query_value(body, |q: crate::admin::AppQuery| q.app),
        _ => None,
    }
}

/// The longest clock shift `POST /admin/clock` accepts.
pub const MAX_CLOCK_OFFSET: i64 = crate::admin::MAX_CLOCK_OFFSET;
/// The longest refresh token looked up.
pub const MAX_REFRESH_TOKEN_LEN: usize = crate::api::MAX_REFRESH_TOKEN_LEN;

/// The claims of a verified auth token.
#[derive(Debug)]
pub struct Verified {
    /// `iss`.
    pub iss: String,
    /// `aud`.
    pub aud: Vec<String>,
    /// `sub`.
    pub sub: String,
    /// `exp`.
    pub exp: i64,
}

/// The server's signer over a fixed key.
pub struct Verifier(crate::jwt::Signer);

impl Verifier {
    /// The signer of this PKCS#8 PEM key.
    pub fn from_pem(pem: &str) -> Verifier {
        let key = RsaPrivateKey::from_pkcs8_pem(pem).expect("a PKCS#8 RSA key");
        Verifier(crate::jwt::Signer::from_key(&key).expect("a usable key"))
    }

    /// An auth token as the server issues them.
    pub fn sign(&self, iss: &str, app: &str, sub: &str, iat: i64, exp: i64) -> String {
        let claims = crate::jwt::Claims {
            iss: iss.to_owned(),
            aud: vec!["http://127.0.0.1:8787".to_owned(), app.to_owned()],
            sub: sub.to_owned(),
            iat,
            exp,
            jti: "fuzz".to_owned(),
        };
        self.0.sign(&claims).expect("signing works")
    }

    /// `Authorization` as the API and the admin API read it: the API's
    /// bearer token, the admin key presented, and the claims of the API's
    /// token when it verifies for `app` of `iss` at `now`. `None` when the
    /// bytes cannot be a header value.
    pub fn authorization(
        &self,
        value: &[u8],
        iss: &str,
        app: &str,
        now: i64,
    ) -> Option<(Option<String>, Option<String>, Option<Verified>)> {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_bytes(value).ok()?);
        let token = crate::extract::bearer_token(&headers);
        let admin_key = crate::admin::presented_key(&headers);
        let verified = token.as_deref().and_then(|t| {
            self.0.verify(t, iss, app, now).map(|c| Verified {
                iss: c.iss,
                aud: c.aud,
                sub: c.sub,
                exp: c.exp,
            })
        });
        Some((token, admin_key, verified))
    }
}
