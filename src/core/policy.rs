//! Timing decisions: leeway, clock-skew correction, retries and backoff.

use super::error::{Code, Error};
use super::jwt::Claims;

/// The knobs of docs/contract.md §5, with their defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// The most a token is treated as expired before its `exp`.
    pub leeway_ms: i64,
    /// Timeout of one refresh attempt.
    pub timeout_ms: u32,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First backoff step; doubled each retry, then jittered.
    pub backoff_ms: u32,
    /// The longest `Retry-After` waited for; longer is reported at once.
    pub max_retry_after_s: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            leeway_ms: 10_000,
            timeout_ms: 10_000,
            max_attempts: 3,
            backoff_ms: 300,
            max_retry_after_s: 10,
        }
    }
}

/// Below this, a difference between `iat` and the local clock is rounding
/// and latency, not skew.
pub const SKEW_THRESHOLD_MS: f64 = 2_000.0;

/// How one refresh attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// `fetch` rejected: offline, DNS, connection reset, CORS.
    Network,
    /// No answer within the timeout.
    Timeout,
    /// An HTTP status other than success, with `Retry-After` seconds if any.
    Status(u16, Option<u32>),
    /// A success status whose body is not the documented shape.
    Malformed,
}

/// What to do after a failed attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Wait this long, then try again.
    RetryIn(u32),
    /// The server refused the refresh token: the session is over.
    Refused,
    /// Stop and report, keeping the session.
    Fail(Error),
}

impl Policy {
    /// The longest wait for the cross-tab refresh lock: a holder's whole
    /// refresh (every attempt at its timeout) and then some. A frozen or hung
    /// holder blocks no one for longer.
    pub fn lock_timeout_ms(&self) -> u32 {
        self.timeout_ms.saturating_mul(self.max_attempts + 1)
    }

    /// The leeway for one token: the configured one, capped at a tenth of
    /// the token's lifetime so short-lived tokens are still used.
    pub fn leeway_for(&self, claims: &Claims) -> i64 {
        match claims.iat {
            Some(iat) if claims.exp > iat => self
                .leeway_ms
                .min(claims.exp.saturating_sub(iat).saturating_mul(100)),
            _ => self.leeway_ms,
        }
    }

    /// The decision after attempt number `attempt` (1-based) failed.
    /// `jitter` is a random number in `[0, 1)`.
    pub fn after_failure(&self, attempt: u32, failure: Failure, jitter: f64) -> Next {
        let (error, retry_after) = match failure {
            Failure::Status(401 | 403 | 404, _) => return Next::Refused,
            Failure::Malformed => {
                return Next::Fail(Error::new(
                    Code::InvalidResponse,
                    "the refresh reply is not an auth_result",
                ))
            }
            Failure::Network => (
                Error::new(Code::Network, "the auth server could not be reached"),
                None,
            ),
            Failure::Timeout => (
                Error::new(Code::Network, "the auth server did not answer in time"),
                None,
            ),
            Failure::Status(429, retry_after) => {
                let e = Error::new(Code::RateLimited, "the auth server is rate limiting")
                    .with_retry_after(retry_after);
                if retry_after.is_some_and(|s| s > self.max_retry_after_s) {
                    return Next::Fail(e);
                }
                (e, retry_after)
            }
            Failure::Status(500..=599, retry_after) => (
                Error::new(Code::Server, "the auth server failed"),
                retry_after.filter(|&s| s <= self.max_retry_after_s),
            ),
            Failure::Status(..) => {
                return Next::Fail(Error::new(
                    Code::InvalidResponse,
                    "the auth server answered an unexpected status",
                ))
            }
        };
        if attempt >= self.max_attempts {
            return Next::Fail(error);
        }
        let wait = match retry_after {
            Some(s) => s.saturating_mul(1000),
            None => {
                let step = self
                    .backoff_ms
                    .saturating_mul(1 << (attempt - 1).min(16))
                    .min(10_000);
                // Half fixed, half random: spreads a crowd of clients out
                // while keeping a floor.
                let jitter = if (0.0..1.0).contains(&jitter) {
                    jitter
                } else {
                    0.5
                };
                step / 2 + (f64::from(step / 2) * jitter) as u32
            }
        };
        Next::RetryIn(wait)
    }
}

/// A `Retry-After` header in whole seconds, the only form the client
/// honours (an HTTP date is ignored).
pub fn parse_retry_after(value: &str) -> Option<u32> {
    let digits = value.trim();
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The clock correction to keep after receiving a token issued at `iat`
/// (unix seconds) at local time `local_now_ms`: server time minus local time,
/// or 0 when the difference is within rounding and latency.
pub fn skew_from_iat(iat: i64, local_now_ms: f64) -> f64 {
    let offset = iat as f64 * 1000.0 - local_now_ms;
    if offset.abs() > SKEW_THRESHOLD_MS {
        offset
    } else {
        0.0
    }
}

/// What a refresh reply's token says about the server's clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reading {
    /// Keep this correction (server time minus local time, ms).
    Skew(f64),
    /// Refresh once more before trusting this offset.
    Confirm(f64),
}

/// The correction after a refresh reply whose token was issued at `iat`
/// (unix seconds) and arrived at local time `local_now_ms`.
/// `stale_by_our_clock`: without any correction, the token would already
/// need a refresh. `held`: the correction kept so far. `earlier`: the offset
/// read from a reply earlier in the same refresh.
///
/// A server clock ahead of ours is kept: it can only make tokens stale
/// sooner. A token issued well before now by our clock means our clock runs
/// fast, or the server sent again a pair it issued earlier (a retry answered
/// within a reuse grace period); trusting the second would let its token be
/// handed out past its expiry. So a negative offset is kept only when the
/// token is unusable without it (otherwise the cost of a fast clock is an
/// earlier refresh) and a second reading agrees: the correction already
/// held, or the next refresh's, whose pair is new.
pub fn skew_after_refresh(
    iat: i64,
    local_now_ms: f64,
    stale_by_our_clock: bool,
    held: f64,
    earlier: Option<f64>,
) -> Reading {
    let offset = skew_from_iat(iat, local_now_ms);
    if offset >= 0.0 || !stale_by_our_clock {
        Reading::Skew(offset.max(0.0))
    } else if earlier.is_some() || (offset - held).abs() <= SKEW_THRESHOLD_MS {
        Reading::Skew(offset)
    } else {
        Reading::Confirm(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(iat: Option<i64>, exp: i64) -> Claims {
        Claims {
            exp,
            iat,
            sub: None,
            app_id: None,
        }
    }

    #[test]
    fn leeway_is_ten_seconds_or_a_tenth_of_the_lifetime() {
        let p = Policy::default();
        assert_eq!(p.leeway_for(&claims(Some(0), 300)), 10_000);
        assert_eq!(p.leeway_for(&claims(Some(0), 60)), 6_000);
        assert_eq!(p.leeway_for(&claims(Some(100), 102)), 200);
        assert_eq!(p.leeway_for(&claims(None, 5)), 10_000);
        assert_eq!(p.leeway_for(&claims(Some(10), 5)), 10_000);
        // No lifetime to take a tenth of: the configured leeway.
        assert_eq!(p.leeway_for(&claims(Some(5), 5)), 10_000);
        assert_eq!(p.leeway_for(&claims(Some(i64::MIN), i64::MAX)), 10_000);
    }

    #[test]
    fn skew_is_kept_only_beyond_two_seconds() {
        assert_eq!(skew_from_iat(1000, 1_000_900.0), 0.0);
        assert_eq!(skew_from_iat(1000, 1_001_999.0), 0.0);
        assert_eq!(skew_from_iat(1000, 1_060_000.0), -60_000.0);
        assert_eq!(skew_from_iat(1100, 1_000_000.0), 100_000.0);
    }

    #[test]
    fn a_refresh_reply_keeps_a_server_ahead_at_once() {
        // Issued 100 s ahead of our clock; stale or not by it.
        for stale in [false, true] {
            let r = skew_after_refresh(1100, 1_000_000.0, stale, 0.0, None);
            assert_eq!(r, Reading::Skew(100_000.0));
        }
        // Within rounding and latency: no correction, whatever was held.
        let r = skew_after_refresh(1000, 1_001_500.0, false, -60_000.0, None);
        assert_eq!(r, Reading::Skew(0.0));
    }

    #[test]
    fn an_old_token_still_usable_by_our_clock_is_not_read_as_skew() {
        // Issued 9 s ago: a pair sent again within a grace period looks the
        // same as a clock 9 s fast. Its token is still usable, so no
        // correction, which would let it outlive its expiry.
        let r = skew_after_refresh(1000, 1_009_000.0, false, 0.0, None);
        assert_eq!(r, Reading::Skew(0.0));
        // Nor is a correction held earlier kept.
        let r = skew_after_refresh(1000, 1_009_000.0, false, -9_000.0, None);
        assert_eq!(r, Reading::Skew(0.0));
    }

    #[test]
    fn a_server_behind_is_kept_once_a_second_reading_agrees() {
        // Stale on arrival, 120 s behind: refresh once more first.
        let r = skew_after_refresh(1000, 1_120_000.0, true, 0.0, None);
        assert_eq!(r, Reading::Confirm(-120_000.0));
        // The next refresh's reading is taken.
        let r = skew_after_refresh(2000, 2_120_500.0, true, 0.0, Some(-120_000.0));
        assert_eq!(r, Reading::Skew(-120_500.0));
        // As is one that agrees with the correction held.
        let r = skew_after_refresh(3000, 3_121_000.0, true, -120_000.0, None);
        assert_eq!(r, Reading::Skew(-121_000.0));
        // One that does not is confirmed first.
        let r = skew_after_refresh(3000, 3_150_000.0, true, -120_000.0, None);
        assert_eq!(r, Reading::Confirm(-150_000.0));
    }

    #[test]
    fn retry_after_is_whole_seconds_only() {
        assert_eq!(parse_retry_after(" 7 "), Some(7));
        assert_eq!(parse_retry_after("999999999"), Some(999_999_999));
        for bad in [
            "",
            "1.5",
            "-1",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "1234567890",
            "+3",
        ] {
            assert_eq!(parse_retry_after(bad), None, "{bad}");
        }
    }

    #[test]
    fn refusals_end_the_session_at_once() {
        let p = Policy::default();
        for status in [401, 403, 404] {
            assert_eq!(
                p.after_failure(1, Failure::Status(status, None), 0.3),
                Next::Refused
            );
        }
    }

    #[test]
    fn transient_failures_retry_with_jittered_doubling_then_fail() {
        let p = Policy::default();
        assert_eq!(
            p.after_failure(1, Failure::Network, 0.0),
            Next::RetryIn(150)
        );
        assert_eq!(
            p.after_failure(1, Failure::Network, 0.999),
            Next::RetryIn(299)
        );
        assert_eq!(
            p.after_failure(2, Failure::Timeout, 0.0),
            Next::RetryIn(300)
        );
        assert_eq!(
            p.after_failure(2, Failure::Status(503, None), 1.5),
            Next::RetryIn(450)
        );
        let Next::Fail(e) = p.after_failure(3, Failure::Network, 0.0) else {
            panic!("a third failure must be final");
        };
        assert_eq!(e.code, Code::Network);
        let Next::Fail(e) = p.after_failure(3, Failure::Status(502, None), 0.0) else {
            panic!();
        };
        assert_eq!(e.code, Code::Server);
    }

    #[test]
    fn retry_after_is_honoured_up_to_ten_seconds() {
        let p = Policy::default();
        assert_eq!(
            p.after_failure(1, Failure::Status(429, Some(2)), 0.5),
            Next::RetryIn(2000)
        );
        let Next::Fail(e) = p.after_failure(1, Failure::Status(429, Some(11)), 0.5) else {
            panic!("a long Retry-After is reported at once");
        };
        assert_eq!((e.code, e.retry_after()), (Code::RateLimited, Some(11)));
        let Next::Fail(e) = p.after_failure(3, Failure::Status(429, None), 0.5) else {
            panic!();
        };
        assert_eq!(e.code, Code::RateLimited);
    }

    #[test]
    fn malformed_and_odd_statuses_are_invalid_response_without_retry() {
        let p = Policy::default();
        for f in [
            Failure::Malformed,
            Failure::Status(400, None),
            Failure::Status(302, None),
        ] {
            let Next::Fail(e) = p.after_failure(1, f, 0.5) else {
                panic!("{f:?} retried");
            };
            assert_eq!(e.code, Code::InvalidResponse);
        }
    }
}
