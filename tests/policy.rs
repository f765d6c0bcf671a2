//! Properties of the retry policy (`passage_user::core::policy`), checked
//! with proptest on the host: retries are bounded in number and delay,
//! `Retry-After` is honoured as documented, backoff is jittered within its
//! step, the leeway is capped by the token's lifetime, and clock skew is
//! measured exactly beyond its threshold.
//!
//! Each property runs a modest number of cases so the file stays fast; set
//! `PROPTEST_CASES` for a longer run, e.g.
//! `PROPTEST_CASES=20000 cargo test --release -p passage-user --test policy`.
//! Failing cases are kept in `proptest-regressions/policy.txt` and replayed
//! first on every run.
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/core.rs"]
mod support;

use passage_user::core::error::Code;
use passage_user::core::jwt;
use passage_user::core::policy::{skew_from_iat, Failure, Next, Policy, SKEW_THRESHOLD_MS};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// `cases` unless `PROPTEST_CASES` asks for more (or fewer); failures are
/// kept in `proptest-regressions/policy.txt`.
fn config(cases: u32) -> Config {
    support::config("proptest-regressions/policy.txt", cases)
}

// ---------------------------------------------------------------------------
// Retries and backoff.

fn failure() -> impl Strategy<Value = Failure> {
    prop_oneof![
        Just(Failure::Network),
        Just(Failure::Timeout),
        Just(Failure::Malformed),
        (
            prop::sample::select(vec![401u16, 403, 404, 429, 500, 502, 503, 504, 599]),
            option::of(0u32..30)
        )
            .prop_map(|(s, r)| Failure::Status(s, r)),
        (any::<u16>(), option::of(any::<u32>())).prop_map(|(s, r)| Failure::Status(s, r)),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        0i64..=3_600_000,
        100u32..=300_000,
        1u32..=8,
        any::<u32>(),
        0u32..=10,
    )
        .prop_map(
            |(leeway_ms, timeout_ms, max_attempts, backoff_ms, max_retry_after_s)| Policy {
                leeway_ms,
                timeout_ms,
                max_attempts,
                backoff_ms,
                max_retry_after_s,
            },
        )
}

/// The code a failure is reported with, once no retry is left.
fn code_of(failure: Failure) -> Option<Code> {
    match failure {
        Failure::Network | Failure::Timeout => Some(Code::Network),
        Failure::Malformed => Some(Code::InvalidResponse),
        Failure::Status(401 | 403 | 404, _) => None,
        Failure::Status(429, _) => Some(Code::RateLimited),
        Failure::Status(500..=599, _) => Some(Code::Server),
        Failure::Status(..) => Some(Code::InvalidResponse),
    }
}

proptest! {
    #![proptest_config(config(1024))]

    /// A refresh that keeps failing makes at most `max_attempts` requests,
    /// never waits more than 10 s between two, and ends with the code of
    /// its last failure.
    #[test]
    fn retries_are_bounded_in_number_and_delay(
        policy in policy(),
        failures in vec(failure(), 12),
        jitters in vec(any::<f64>(), 12),
    ) {
        let mut attempt = 1u32;
        let mut waited = 0u64;
        let outcome = loop {
            let failure = failures[(attempt - 1) as usize];
            match policy.after_failure(attempt, failure, jitters[(attempt - 1) as usize]) {
                Next::RetryIn(ms) => {
                    prop_assert!(ms <= 10_000, "waits {} ms", ms);
                    waited += u64::from(ms);
                    attempt += 1;
                    prop_assert!(attempt <= policy.max_attempts, "attempt {} of {}", attempt, policy.max_attempts);
                }
                other => break (failure, other),
            }
        };
        prop_assert!(waited <= u64::from(policy.max_attempts - 1) * 10_000);
        match outcome {
            (failure, Next::Refused) => prop_assert_eq!(code_of(failure), None),
            (failure, Next::Fail(e)) => {
                prop_assert_eq!(Some(e.code), code_of(failure));
                if let Failure::Status(429, retry_after) = failure {
                    prop_assert_eq!(e.retry_after(), retry_after);
                } else {
                    prop_assert_eq!(e.retry_after(), None);
                }
            }
            (_, Next::RetryIn(_)) => unreachable!(),
        }
    }

    /// `Retry-After`: honoured exactly up to the limit (for 429 and 5xx),
    /// a longer one on a 429 is reported at once with its seconds, a longer
    /// one on a 5xx falls back to the usual backoff.
    #[test]
    fn retry_after_semantics(
        policy in policy(),
        attempt in 1u32..=8,
        status in prop::sample::select(vec![429u16, 500, 502, 503, 504]),
        retry_after in 0u32..=30,
        jitter in 0.0f64..1.0,
    ) {
        let next = policy.after_failure(attempt, Failure::Status(status, Some(retry_after)), jitter);
        let last = attempt >= policy.max_attempts;
        let honoured = retry_after <= policy.max_retry_after_s;
        match (status, honoured, last) {
            (429, false, _) => {
                let Next::Fail(e) = next else {
                    return Err(TestCaseError::fail(format!("{next:?}")));
                };
                prop_assert_eq!((e.code, e.retry_after()), (Code::RateLimited, Some(retry_after)));
            }
            (_, _, true) => prop_assert!(matches!(next, Next::Fail(_)), "{:?}", next),
            (_, true, false) => prop_assert_eq!(next, Next::RetryIn(retry_after * 1000)),
            (_, false, false) => {
                let step = policy.backoff_ms.saturating_mul(1 << (attempt - 1).min(16)).min(10_000);
                let Next::RetryIn(ms) = next else {
                    return Err(TestCaseError::fail(format!("{next:?}")));
                };
                prop_assert!(ms >= step / 2 && ms <= step, "{} ms for a step of {}", ms, step);
            }
        }
    }

    /// Jittered backoff stays within [step/2, step], whatever the jitter
    /// (even NaN), and the step doubles from `backoff_ms` up to 10 s.
    #[test]
    fn backoff_is_jittered_within_its_step(
        policy in policy(),
        attempt in 1u32..=8,
        jitter in any::<f64>(),
        timeout in any::<bool>(),
    ) {
        let policy = Policy { max_attempts: policy.max_attempts.max(attempt + 1), ..policy };
        let failure = if timeout { Failure::Timeout } else { Failure::Network };
        let step = policy.backoff_ms.saturating_mul(1 << (attempt - 1)).min(10_000);
        let Next::RetryIn(ms) = policy.after_failure(attempt, failure, jitter) else {
            return Err(TestCaseError::fail("a transient failure before the last attempt must retry"));
        };
        prop_assert!(ms >= step / 2 && ms <= step, "{} ms for a step of {}", ms, step);
    }

    #[test]
    fn leeway_is_the_configured_one_capped_at_a_tenth_of_the_lifetime(
        leeway_ms in 0i64..=3_600_000,
        iat in option::of(any::<i64>()),
        exp in any::<i64>(),
    ) {
        let policy = Policy { leeway_ms, ..Policy::default() };
        let claims = jwt::Claims { exp, iat, sub: None, app_id: None };
        let l = policy.leeway_for(&claims);
        prop_assert!((0..=leeway_ms).contains(&l));
        if let Some(iat) = iat.filter(|&i| exp > i) {
            prop_assert!(i128::from(l) <= (i128::from(exp) - i128::from(iat)) * 100);
        } else {
            prop_assert_eq!(l, leeway_ms);
        }
    }

    #[test]
    fn skew_threshold_is_exact(
        iat in 0i64..4_102_444_800,
        delta in prop_oneof![
            prop::sample::select(vec![-2_001i64, -2_000, -1_999, 0, 1_999, 2_000, 2_001]),
            -5_000i64..=5_000,
        ],
    ) {
        let skew = skew_from_iat(iat, (iat * 1000 - delta) as f64);
        prop_assert_eq!(skew, if delta.abs() > 2_000 { delta as f64 } else { 0.0 });
    }

    #[test]
    fn skew_is_zero_within_the_threshold_and_exact_beyond(
        iat in any::<i64>(),
        now in any::<f64>(),
    ) {
        let skew = skew_from_iat(iat, now);
        let offset = iat as f64 * 1000.0 - now;
        if offset.abs() > SKEW_THRESHOLD_MS {
            prop_assert_eq!(skew.to_bits(), offset.to_bits());
        } else {
            prop_assert_eq!(skew, 0.0);
        }
    }
}
