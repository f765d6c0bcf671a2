//! The shapes that cross into the client from outside, read with serde:
//! an AuthResult in either spelling (from a login, or inside a refresh
//! reply). Every field is read leniently, so that a wrong type becomes an
//! error naming that field rather than a generic one.

use alloc::string::String;

use crate::core::error::{Code, Error};
use crate::core::session::RawAuthResult;
pub use crate::ports::Field;

/// The keys of an AuthResult, in both spellings: what the API edge copies
/// from the app's object before reading it as [`AuthResultFields`].
pub const AUTH_RESULT_KEYS: [&str; 6] = [
    "auth_token",
    "authToken",
    "refresh_token",
    "refreshToken",
    "refresh_token_expiration",
    "refreshTokenExpiration",
];

/// An AuthResult's fields in both spellings (docs/contract.md §2).
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct AuthResultFields {
    auth_token: Field<String>,
    #[serde(rename = "authToken")]
    auth_token_camel: Field<String>,
    refresh_token: Field<String>,
    #[serde(rename = "refreshToken")]
    refresh_token_camel: Field<String>,
    refresh_token_expiration: Field<f64>,
    #[serde(rename = "refreshTokenExpiration")]
    refresh_token_expiration_camel: Field<f64>,
}

/// The fixed messages naming each field's problem.
struct Names {
    wrong_type: &'static str,
    differ: &'static str,
}

const AUTH_TOKEN: Names = Names {
    wrong_type: "auth_token must be a string",
    differ: "auth_token and authToken differ",
};
const REFRESH_TOKEN: Names = Names {
    wrong_type: "refresh_token must be a string",
    differ: "refresh_token and refreshToken differ",
};
const EXPIRATION: Names = Names {
    wrong_type: "refresh_token_expiration must be a number of unix seconds",
    differ: "refresh_token_expiration and refreshTokenExpiration differ",
};

/// One field from its two spellings.
fn pick<T: PartialEq>(snake: Field<T>, camel: Field<T>, names: &Names) -> Result<Option<T>, Error> {
    let bad = |message| Err(Error::new(Code::InvalidAuthResult, message));
    if snake == Field::Wrong || camel == Field::Wrong {
        return bad(names.wrong_type);
    }
    match (snake.value(), camel.value()) {
        (Some(a), Some(b)) if a != b => bad(names.differ),
        (a, b) => Ok(a.or(b)),
    }
}

impl AuthResultFields {
    /// The fields, each checked for its type; an error names the field.
    pub fn read(self) -> Result<RawAuthResult, Error> {
        let expiration = pick(
            self.refresh_token_expiration,
            self.refresh_token_expiration_camel,
            &EXPIRATION,
        )?;
        if expiration.is_some_and(|e| !e.is_finite()) {
            return Err(Error::new(Code::InvalidAuthResult, EXPIRATION.wrong_type));
        }
        Ok(RawAuthResult {
            auth_token: pick(self.auth_token, self.auth_token_camel, &AUTH_TOKEN)?,
            refresh_token: pick(self.refresh_token, self.refresh_token_camel, &REFRESH_TOKEN)?,
            refresh_expiration: expiration,
        })
    }
}

/// A refresh reply: `{"auth_result": {...}}`.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct RefreshReply {
    /// The new tokens.
    pub auth_result: Field<AuthResultFields>,
}

impl RefreshReply {
    /// The reply's tokens, when it is an `auth_result` with well-typed fields.
    pub fn read(self) -> Option<RawAuthResult> {
        self.auth_result.value()?.read().ok()
    }
}

/// The body of a refresh request.
#[derive(serde::Serialize)]
pub struct RefreshRequest<'a> {
    /// The refresh token to exchange.
    pub refresh_token: &'a str,
}
