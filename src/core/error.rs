//! The one error type of the client, with the stable codes of the JS API.
//!
//! Messages are fixed strings chosen here, never text taken from a token, a
//! server reply or storage, so an error can be logged without leaking a
//! secret; the one exception is a plain identifier (an app id) that
//! [`Error::naming`] checks before it adds it.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;

/// The stable `code` of a `PassageError`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// No session, the refresh token was refused, or the session has ended.
    LoginRequired,
    /// The request failed or timed out.
    Network,
    /// The server answered 5xx on every attempt.
    Server,
    /// The server answered 429 on every attempt, or asked to wait too long.
    RateLimited,
    /// The server's reply is not the documented shape.
    InvalidResponse,
    /// `setAuthResult` was given something unusable.
    InvalidAuthResult,
    /// The token store failed.
    Storage,
    /// The options given to the constructor (or a method's arguments) are
    /// unusable.
    InvalidOptions,
    /// The wasm cannot run here (raised by the package's entry).
    Unsupported,
    /// A current-user endpoint answered a 4xx other than 401 and 429.
    RequestRefused,
    /// The browser created no passkey: the user cancelled, no authenticator
    /// answered, or the page cannot use WebAuthn.
    PasskeyFailed,
}

impl Code {
    /// The string JavaScript sees as `error.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::LoginRequired => "login_required",
            Code::Network => "network",
            Code::Server => "server",
            Code::RateLimited => "rate_limited",
            Code::InvalidResponse => "invalid_response",
            Code::InvalidAuthResult => "invalid_auth_result",
            Code::Storage => "storage",
            Code::InvalidOptions => "invalid_options",
            Code::Unsupported => "unsupported",
            Code::RequestRefused => "request_refused",
            Code::PasskeyFailed => "passkey_failed",
        }
    }
}

/// An error with its code, a human message and, for `rate_limited`, the
/// seconds the server asked to wait; for `request_refused`, the HTTP status
/// and the server's own error code. What only some errors carry is boxed,
/// so that every `Result` of the client stays small.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// What kind of failure.
    pub code: Code,
    /// A fixed, token-free explanation (see [`Error::message`] for the
    /// whole text).
    pub message: &'static str,
    extra: Option<Box<Extra>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Extra {
    retry_after: Option<u32>,
    status: Option<u16>,
    server_code: Option<String>,
    name: Option<String>,
}

impl Error {
    /// An error without `retry_after`.
    pub const fn new(code: Code, message: &'static str) -> Self {
        Error {
            code,
            message,
            extra: None,
        }
    }

    /// `storage`: the token store failed.
    pub const fn storage(message: &'static str) -> Self {
        Error::new(Code::Storage, message)
    }

    /// `invalid_options`: an option or an argument is unusable.
    pub const fn invalid_options(message: &'static str) -> Self {
        Error::new(Code::InvalidOptions, message)
    }

    fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// The message, followed by the name [`Error::naming`] added.
    pub fn text(&self) -> Cow<'static, str> {
        match self.extra.as_ref().and_then(|x| x.name.as_deref()) {
            Some(name) => {
                let mut text = String::from(self.message);
                for part in [" \"", name, "\""] {
                    text.push_str(part);
                }
                Cow::Owned(text)
            }
            None => Cow::Borrowed(self.message),
        }
    }

    /// `message` followed by `name` in quotes, when `name` is a plain
    /// identifier; else `message` alone.
    pub fn naming(code: Code, message: &'static str, name: &str) -> Self {
        let mut e = Error::new(code, message);
        if plain(name) {
            e.extra().name = Some(String::from(name));
        }
        e
    }

    /// `request_refused` for a 4xx with the server's `code`, kept only when
    /// it is a plain identifier.
    pub fn refused(status: u16, server_code: Option<String>) -> Self {
        let mut e = Error::new(Code::RequestRefused, "the auth server refused the request");
        let extra = e.extra();
        extra.status = Some(status);
        extra.server_code = server_code.filter(|c| plain(c));
        e
    }

    /// This error with `Retry-After` seconds.
    pub fn with_retry_after(mut self, seconds: Option<u32>) -> Self {
        if seconds.is_some() {
            self.extra().retry_after = seconds;
        }
        self
    }

    /// `Retry-After` in seconds, when the server sent one.
    pub fn retry_after(&self) -> Option<u32> {
        self.extra.as_ref().and_then(|x| x.retry_after)
    }

    /// The HTTP status of a refused request.
    pub fn status(&self) -> Option<u16> {
        self.extra.as_ref().and_then(|x| x.status)
    }

    /// The server's `code` for a refused request, when it is a plain
    /// identifier (`[A-Za-z0-9_.-]`, at most 64 characters): never free text
    /// that could carry a secret.
    pub fn server_code(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|x| x.server_code.as_deref())
    }
}

/// `[A-Za-z0-9_.-]`, 1 to 64 characters: nothing that could carry a secret.
fn plain(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= 64
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn a_refusal_keeps_only_a_plain_server_code() {
        let e = Error::refused(404, Some("device_not_found".to_string()));
        assert_eq!(
            (e.code.as_str(), e.status()),
            ("request_refused", Some(404))
        );
        assert_eq!(e.server_code(), Some("device_not_found"));
        for odd in ["", "has space", "eyJ.a.b/c", &"x".repeat(65)] {
            assert_eq!(
                Error::refused(400, Some(odd.to_string())).server_code(),
                None,
                "{odd}"
            );
        }
        assert_eq!(Error::refused(400, None).server_code(), None);
    }

    #[test]
    fn only_a_plain_name_is_added_to_a_message() {
        let e = Error::naming(Code::InvalidAuthResult, "for app", "app_2.b-c");
        assert_eq!(e.text(), "for app \"app_2.b-c\"");
        for odd in ["", "a/b", "a b", "a\"b", &"x".repeat(65)] {
            assert_eq!(Error::naming(Code::Network, "m", odd).text(), "m", "{odd}");
        }
    }
}
