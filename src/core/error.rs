//! The one error type of the client, with the stable codes of the JS API.
//!
//! Messages are fixed strings chosen here, never text taken from a token, a
//! server reply or storage, so an error can be logged without leaking a
//! secret.

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
    /// The options given to the constructor are unusable.
    InvalidOptions,
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
        }
    }
}

/// An error with its code, a human message and, for `rate_limited`, the
/// seconds the server asked to wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// What kind of failure.
    pub code: Code,
    /// A fixed, token-free explanation.
    pub message: &'static str,
    /// `Retry-After` in seconds, when the server sent one.
    pub retry_after: Option<u32>,
}

impl Error {
    /// An error without `retry_after`.
    pub const fn new(code: Code, message: &'static str) -> Self {
        Error {
            code,
            message,
            retry_after: None,
        }
    }
}
