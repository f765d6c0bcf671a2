//! The stored session and what it means at a given moment.

use alloc::rc::Rc;
use alloc::string::String;

use super::error::{Code, Error};
use super::jwt::{self, Claims};
use super::policy::Policy;

/// The longest refresh token accepted from anywhere; Passage's are 50-odd
/// characters.
const MAX_REFRESH_TOKEN_LEN: usize = 4096;

/// What the store holds: the raw strings, plus the auth token's claims
/// decoded once when the session is built. Shared, never changed once
/// built: a copy costs a count, not four strings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Session(Rc<Fields>);

#[derive(Clone, Debug, Default, PartialEq)]
struct Fields {
    auth_token: Option<String>,
    claims: Option<Claims>,
    refresh_token: Option<String>,
    refresh_expiration: Option<i64>,
}

/// A session's state at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Status {
    /// The auth token may be handed out until `until_ms` on the local clock.
    Fresh {
        /// Local time (ms) at which the token stops being fresh.
        until_ms: f64,
    },
    /// The auth token is missing, malformed or stale, and a refresh token
    /// exists.
    NeedsRefresh,
    /// `refresh_token_expiration` has passed: the session is over.
    Ended,
    /// Nothing usable: no fresh token and no refresh token.
    SignedOut,
}

/// The fields of an AuthResult or of a refresh reply, as read from
/// JavaScript, before validation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawAuthResult {
    /// `auth_token` / `authToken`.
    pub auth_token: Option<String>,
    /// `refresh_token` / `refreshToken`.
    pub refresh_token: Option<String>,
    /// `refresh_token_expiration` / `refreshTokenExpiration`, unix seconds.
    pub refresh_expiration: Option<f64>,
}

impl Session {
    /// A session from stored strings. Bad values are not errors here: a
    /// malformed auth token simply is not fresh, an empty refresh token is
    /// absent.
    pub fn from_stored(
        auth_token: Option<String>,
        refresh_token: Option<String>,
        refresh_expiration: Option<&str>,
    ) -> Self {
        let auth_token = auth_token.filter(|t| !t.is_empty());
        let claims = auth_token.as_deref().and_then(|t| jwt::decode(t).ok());
        Session(Rc::new(Fields {
            auth_token,
            claims,
            refresh_token: refresh_token.filter(|t| valid_refresh_token(t)),
            refresh_expiration: refresh_expiration.and_then(parse_unix_seconds),
        }))
    }

    /// The session an AuthResult from login describes, at server time
    /// `now_ms`. It replaces the whole session: no field of a previous
    /// session survives.
    ///
    /// Edge values, as Passage sends them while refresh tokens are disabled
    /// for an app: an empty refresh token is none; an expiration of 0 or
    /// less, or one over 10^11 (milliseconds by mistake), is an unknown end.
    /// A plausible expiration that has passed is refused: that session is
    /// over.
    pub fn from_auth_result(raw: RawAuthResult, now_ms: f64) -> Result<Self, Error> {
        let bad = |message| Err(Error::new(Code::InvalidAuthResult, message));
        let Some(auth_token) = raw.auth_token else {
            return bad("auth_token is missing");
        };
        let claims = match jwt::decode(&auth_token) {
            Ok(claims) => claims,
            Err(jwt::JwtError::TooLong) => return bad("auth_token is longer than 16 KiB"),
            Err(_) => return bad("auth_token is not a JWT with a numeric exp"),
        };
        if !plausible_exp(&claims) {
            return bad("auth_token's exp is not unix seconds (milliseconds by mistake?)");
        }
        let refresh_token = match raw.refresh_token {
            Some(t) if t.is_empty() => None,
            Some(t) if !valid_refresh_token(&t) => return bad("refresh_token is too long"),
            other => other,
        };
        let refresh_expiration = match raw.refresh_expiration {
            Some(s) if !s.is_finite() => {
                return bad("refresh_token_expiration must be a number of unix seconds")
            }
            Some(s) if s <= 0.0 || s > MAX_PLAUSIBLE_SECONDS => None,
            Some(s) if s * 1000.0 <= now_ms => {
                return bad("refresh_token_expiration has passed: the session has ended")
            }
            Some(s) => Some(s as i64),
            None => None,
        };
        Ok(Session(Rc::new(Fields {
            auth_token: Some(auth_token),
            claims: Some(claims),
            refresh_token,
            refresh_expiration,
        })))
    }

    /// The session after a successful refresh reply. A reply without
    /// `refresh_token_expiration` keeps the stored one; one without a
    /// refresh token (a server that does not rotate) keeps the one used.
    /// The server accepted the refresh, so the session is live whatever
    /// its end reads as on our clock: no time is needed to accept it.
    pub fn after_refresh(&self, raw: RawAuthResult) -> Result<Self, Error> {
        let invalid = Error::new(
            Code::InvalidResponse,
            "the refresh reply is not an auth_result",
        );
        let refresh_token = raw.refresh_token.filter(|t| !t.is_empty());
        let next = Session::from_auth_result(
            RawAuthResult {
                refresh_token: refresh_token.or_else(|| self.0.refresh_token.clone()),
                ..raw
            },
            f64::NEG_INFINITY,
        )
        .map_err(|_| invalid)?;
        if next.0.refresh_expiration.is_some() {
            return Ok(next);
        }
        let mut fields = Fields::clone(&next.0);
        fields.refresh_expiration = self.0.refresh_expiration;
        Ok(Session(Rc::new(fields)))
    }

    /// The stored auth token, well-formed or not.
    pub fn auth_token(&self) -> Option<&str> {
        self.0.auth_token.as_deref()
    }

    /// The auth token's claims, when it is a JWT.
    pub fn claims(&self) -> Option<&Claims> {
        self.0.claims.as_ref()
    }

    /// The refresh token.
    pub fn refresh_token(&self) -> Option<&str> {
        self.0.refresh_token.as_deref()
    }

    /// The end of the session, unix seconds, when known.
    pub fn refresh_expiration(&self) -> Option<i64> {
        self.0.refresh_expiration
    }

    /// True when nothing at all is stored.
    pub fn is_empty(&self) -> bool {
        self.0.auth_token.is_none() && self.0.refresh_token.is_none()
    }

    /// The session's state at local time `now_ms`, with the server clock
    /// `skew_ms` ahead of the local one.
    pub fn status(&self, now_ms: f64, skew_ms: f64, policy: &Policy) -> Status {
        let server_now = now_ms + skew_ms;
        let end_ms = self.0.refresh_expiration.map(|s| s as f64 * 1000.0);
        if end_ms.is_some_and(|end| server_now >= end) {
            return Status::Ended;
        }
        if let Some(claims) = self.0.claims.as_ref().filter(|c| plausible_exp(c)) {
            let mut until = (claims.exp as f64) * 1000.0 - policy.leeway_for(claims) as f64;
            if let Some(end) = end_ms {
                until = until.min(end);
            }
            if server_now < until {
                return Status::Fresh {
                    until_ms: until - skew_ms,
                };
            }
        }
        if self.0.refresh_token.is_some() {
            Status::NeedsRefresh
        } else {
            Status::SignedOut
        }
    }
    /// Whether a session end that has passed by local time `now_ms` should
    /// be checked with the server before the session is dropped, when the
    /// server's clock has not been read yet: a refresh token can ask, and
    /// the auth token cannot vouch for the local clock (it has expired too,
    /// as everything does by a clock far ahead). A token still unexpired by
    /// the local clock shows that clock in step with the server's, so the
    /// end stands.
    pub fn end_needs_server(&self, now_ms: f64) -> bool {
        let vouched = self
            .0
            .claims
            .as_ref()
            .is_some_and(|c| plausible_exp(c) && now_ms < c.exp as f64 * 1000.0);
        self.0.refresh_token.is_some() && !vouched
    }

    /// The user the auth token names (`sub`), when it names one.
    pub fn sub(&self) -> Option<&str> {
        self.claims().and_then(|c| c.sub.as_deref())
    }

    /// Whether this session may belong to user `sub`: it names that user,
    /// or no user yet (another tab's write arrives key by key, its auth
    /// token last, so a partway session names nobody).
    pub fn may_be_user(&self, sub: Option<&str>) -> bool {
        let own = self.sub();
        own.is_none() || own == sub
    }

    /// The refresh token of this session, read from storage after a
    /// sign-out of user `sub` cleared it, when it is that user's session
    /// written back by a refresh that crossed the sign-out (which the
    /// sign-out must clear and revoke too).
    pub fn written_back(&self, sub: Option<&str>) -> Option<&str> {
        self.refresh_token().filter(|_| self.may_be_user(sub))
    }

    /// `authGuard`: a well-formed JWT whose `exp` has not passed, in a
    /// session that has not ended. No leeway: this answers "is the user
    /// signed in", not "should we refresh".
    pub fn is_authenticated(&self, now_ms: f64, skew_ms: f64) -> bool {
        let server_now = now_ms + skew_ms;
        let ended = self
            .0
            .refresh_expiration
            .is_some_and(|s| server_now >= s as f64 * 1000.0);
        !ended
            && self
                .0
                .claims
                .as_ref()
                .is_some_and(|c| plausible_exp(c) && server_now < c.exp as f64 * 1000.0)
    }
}

/// An `exp` past 10^11 is milliseconds by mistake: read as seconds it
/// would be fresh for millennia, so the token is never fresh.
fn plausible_exp(claims: &Claims) -> bool {
    (claims.exp as f64) <= MAX_PLAUSIBLE_SECONDS
}

/// A refresh token as accepted from anywhere: 1 to 4,096 characters.
pub fn valid_refresh_token(t: &str) -> bool {
    !t.is_empty() && t.len() <= MAX_REFRESH_TOKEN_LEN
}

/// Unix seconds from a stored decimal string (optionally with a fraction,
/// which is dropped, and surrounding ASCII whitespace); anything else is
/// unknown.
pub fn parse_unix_seconds(s: &str) -> Option<i64> {
    let s = s.trim_ascii().as_bytes();
    let int_len = s.iter().position(|&b| b == b'.').unwrap_or(s.len());
    let int = s.get(..int_len).unwrap_or_default();
    let frac = s.get(int_len + 1..).unwrap_or_default();
    if int.is_empty() || int.len() > 15 || !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return None;
    }
    Some(int.iter().fold(0i64, |n, &d| n * 10 + i64::from(d - b'0')))
}

/// Past this, a "unix time in seconds" is milliseconds by mistake (10^11
/// seconds is the year 5138).
const MAX_PLAUSIBLE_SECONDS: f64 = 1e11;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing::jwt;

    fn raw(auth: Option<&str>, rt: Option<&str>, exp: Option<f64>) -> RawAuthResult {
        RawAuthResult {
            auth_token: auth.map(str::to_owned),
            refresh_token: rt.map(str::to_owned),
            refresh_expiration: exp,
        }
    }

    const NOW: f64 = 1_700_000_000_000.0;

    #[test]
    fn fresh_until_exp_minus_leeway() {
        let s = Session::from_auth_result(
            raw(Some(&jwt(1_699_999_700, 1_700_000_300)), None, None),
            NOW,
        )
        .unwrap();
        let p = Policy::default();
        assert_eq!(
            s.status(NOW, 0.0, &p),
            Status::Fresh {
                until_ms: 1_700_000_290_000.0
            }
        );
        assert_eq!(s.status(1_700_000_290_000.0, 0.0, &p), Status::SignedOut);
        assert!(s.is_authenticated(1_700_000_290_000.0, 0.0));
        assert!(!s.is_authenticated(1_700_000_300_000.0, 0.0));
    }

    #[test]
    fn stale_token_with_refresh_token_needs_refresh() {
        let s = Session::from_stored(Some(jwt(1, 2)), Some("rt".into()), None);
        assert_eq!(s.status(NOW, 0.0, &Policy::default()), Status::NeedsRefresh);
        let s = Session::from_stored(Some("garbage".into()), Some("rt".into()), None);
        assert_eq!(s.claims(), None);
        assert_eq!(s.status(NOW, 0.0, &Policy::default()), Status::NeedsRefresh);
        let s = Session::from_stored(None, Some("rt".into()), None);
        assert_eq!(s.status(NOW, 0.0, &Policy::default()), Status::NeedsRefresh);
    }

    #[test]
    fn past_refresh_expiration_ends_even_a_fresh_session() {
        let s = Session::from_stored(
            Some(jwt(1_699_999_990, 1_700_000_300)),
            Some("rt".into()),
            Some("1699999999"),
        );
        assert_eq!(s.status(NOW, 0.0, &Policy::default()), Status::Ended);
        assert!(!s.is_authenticated(NOW, 0.0));
    }

    #[test]
    fn freshness_is_capped_at_the_session_end() {
        let s = Session::from_stored(
            Some(jwt(1_699_999_990, 1_700_000_300)),
            Some("rt".into()),
            Some("1700000100"),
        );
        assert_eq!(
            s.status(NOW, 0.0, &Policy::default()),
            Status::Fresh {
                until_ms: 1_700_000_100_000.0
            }
        );
    }

    #[test]
    fn skew_shifts_freshness_onto_the_local_clock() {
        // The server's clock is 60 s behind ours.
        let s = Session::from_stored(Some(jwt(1_699_999_940, 1_700_000_240)), None, None);
        let p = Policy::default();
        assert_eq!(
            s.status(NOW, 0.0, &p),
            Status::Fresh {
                until_ms: 1_700_000_230_000.0
            }
        );
        assert_eq!(
            s.status(NOW, -60_000.0, &p),
            Status::Fresh {
                until_ms: 1_700_000_290_000.0
            }
        );
    }

    #[test]
    fn a_two_second_token_is_used_for_most_of_its_life() {
        let s = Session::from_stored(
            Some(jwt(1_700_000_000, 1_700_000_002)),
            Some("rt".into()),
            None,
        );
        assert_eq!(
            s.status(NOW, 0.0, &Policy::default()),
            Status::Fresh {
                until_ms: 1_700_000_001_800.0
            }
        );
    }

    #[test]
    fn auth_result_is_validated_and_replaces_everything() {
        let token = jwt(1, 2);
        let s = Session::from_auth_result(raw(Some(&token), Some("rt"), Some(1.8e9)), NOW).unwrap();
        assert_eq!(s.refresh_expiration(), Some(1_800_000_000));
        let s = Session::from_auth_result(raw(Some(&token), None, None), NOW).unwrap();
        assert_eq!(s.refresh_token(), None);
        for (bad, message) in [
            (raw(None, Some("rt"), None), "auth_token is missing"),
            (
                raw(Some("x.y.z"), Some("rt"), None),
                "auth_token is not a JWT with a numeric exp",
            ),
            (
                raw(Some(&token), Some(&"r".repeat(5000)), None),
                "refresh_token is too long",
            ),
            (
                raw(Some(&token), None, Some(f64::NAN)),
                "refresh_token_expiration must be a number of unix seconds",
            ),
            (
                raw(Some(&token), None, Some(1.6e9)),
                "refresh_token_expiration has passed: the session has ended",
            ),
        ] {
            let e = Session::from_auth_result(bad, NOW).unwrap_err();
            assert_eq!((e.code, e.message), (Code::InvalidAuthResult, message));
        }
    }

    #[test]
    fn edge_values_of_passage_without_refresh_tokens_are_accepted() {
        let token = jwt(1_699_999_990, 1_700_000_300);
        // An empty refresh token is none.
        let s = Session::from_auth_result(raw(Some(&token), Some(""), None), NOW).unwrap();
        assert_eq!(s.refresh_token(), None);
        // 0, negative, or milliseconds by mistake: an unknown end, and the
        // session is fresh rather than ended.
        for end in [0.0, -1.0, 1.8e12] {
            let s =
                Session::from_auth_result(raw(Some(&token), Some("rt"), Some(end)), NOW).unwrap();
            assert_eq!(s.refresh_expiration(), None, "{end}");
            assert!(matches!(
                s.status(NOW, 0.0, &Policy::default()),
                Status::Fresh { .. }
            ));
        }
    }

    #[test]
    fn refresh_reply_keeps_stored_expiration_when_absent() {
        let old = Session::from_stored(Some(jwt(1, 2)), Some("rt1".into()), Some("1800000000"));
        let next = old
            .after_refresh(raw(Some(&jwt(3, 4)), Some("rt2"), None))
            .unwrap();
        assert_eq!(next.refresh_token(), Some("rt2"));
        assert_eq!(next.refresh_expiration(), Some(1_800_000_000));
        let next = old
            .after_refresh(raw(Some(&jwt(3, 4)), None, Some(1.9e9)))
            .unwrap();
        assert_eq!(next.refresh_token(), Some("rt1"));
        assert_eq!(next.refresh_expiration(), Some(1_900_000_000));
        let e = old
            .after_refresh(raw(Some("nope"), Some("rt2"), None))
            .unwrap_err();
        assert_eq!(e.code, Code::InvalidResponse);
    }

    #[test]
    fn stored_values_are_read_leniently() {
        let s = Session::from_stored(Some(String::new()), Some(String::new()), Some("soon"));
        assert!(s.is_empty());
        assert_eq!(s.refresh_expiration(), None);
        assert_eq!(parse_unix_seconds(" 1700000000 "), Some(1_700_000_000));
        assert_eq!(parse_unix_seconds("1700000000.5"), Some(1_700_000_000));
        for bad in ["", "-1", "1e9", "0x10", "1.2.3", "99999999999999999999"] {
            assert_eq!(parse_unix_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_exp_in_milliseconds_is_refused_at_sign_in_and_never_fresh() {
        // 50 minutes ago, in milliseconds: read as seconds, the year 55,000.
        let ms = (NOW - 3_000_000.0) as i64;
        let token = jwt(1_699_999_000, ms);
        let e = Session::from_auth_result(raw(Some(&token), Some("rt"), None), NOW).unwrap_err();
        assert_eq!(e.code, Code::InvalidAuthResult);
        assert!(e.message.contains("exp"), "{}", e.message);
        // From storage (another tab's write) or a refresh reply: not fresh.
        let stored = Session::from_stored(Some(token.clone()), Some("rt".into()), None);
        assert_eq!(
            stored.status(NOW, 0.0, &Policy::default()),
            Status::NeedsRefresh
        );
        assert!(!stored.is_authenticated(NOW, 0.0));
        let e = stored
            .after_refresh(raw(Some(&token), Some("rt2"), None))
            .unwrap_err();
        assert_eq!(e.code, Code::InvalidResponse);
    }

    #[test]
    fn a_token_over_the_size_limit_is_refused_by_name() {
        let long = format!("{}.{}.c2ln", "a".repeat(10), "b".repeat(jwt::MAX_TOKEN_LEN));
        let e = Session::from_auth_result(raw(Some(&long), None, None), NOW).unwrap_err();
        assert_eq!(e.message, "auth_token is longer than 16 KiB");
    }

    #[test]
    fn a_partway_write_may_be_the_leaving_users_and_another_users_is_not() {
        use crate::core::testing::jwt_with;
        let of = |sub: &str| {
            let token = jwt_with(&format!(r#"{{"sub":"{sub}","exp":1900000000}}"#));
            Session::from_stored(Some(token), Some("rt-back".into()), None)
        };
        // The leaving user's session, written back by a crossing refresh.
        assert_eq!(of("u1").written_back(Some("u1")), Some("rt-back"));
        // Partway: the refresh token arrived, the auth token not yet.
        let partway = Session::from_stored(None, Some("rt-back".into()), None);
        assert!(partway.may_be_user(Some("u1")));
        assert_eq!(partway.written_back(Some("u1")), Some("rt-back"));
        // Another user's sign-in is not the leaving user's to clear.
        assert!(!of("u2").may_be_user(Some("u1")));
        assert_eq!(of("u2").written_back(Some("u1")), None);
        // Nothing to clear where there is no refresh token.
        let no_refresh = Session::from_stored(Some(jwt(1, 1_900_000_000)), None, None);
        assert_eq!(no_refresh.written_back(Some("user")), None);
    }

    #[test]
    fn an_end_only_a_clock_sees_is_asked_of_the_server_unless_the_token_vouches_for_it() {
        let now = NOW;
        let secs = (now / 1000.0) as i64;
        // Token and session both past by our clock: a clock far ahead would
        // make it look so too; ask the server.
        let stale =
            Session::from_stored(Some(jwt(secs - 600, secs - 300)), Some("rt".into()), None);
        assert!(stale.end_needs_server(now));
        // A token still fresh by our clock shows it in step with the
        // server's: the end stands.
        let fresh = Session::from_stored(Some(jwt(secs - 10, secs + 290)), Some("rt".into()), None);
        assert!(!fresh.end_needs_server(now));
        // Without a refresh token there is nothing to ask with.
        let alone = Session::from_stored(Some(jwt(secs - 600, secs - 300)), None, None);
        assert!(!alone.end_needs_server(now));
        // A token that expires at this very millisecond vouches for nothing.
        let at_exp = Session::from_stored(Some(jwt(secs - 300, secs)), Some("rt".into()), None);
        assert!(at_exp.end_needs_server(secs as f64 * 1000.0));
    }
}
