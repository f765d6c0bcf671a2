//! The session as key-value storage (docs/contract.md §3): passage-js's keys,
//! and the order every key-value store writes and clears them in.
//!
//! Another tab reads a write key by key, a few ms apart. So the refresh
//! token goes first and the auth token last: a tab that sees the new auth
//! token always has the refresh token that came with it, and never pairs
//! it with the one it replaced. A clear goes the other way round, so the
//! auth token a tab would hand out goes first.

use alloc::string::String;

use super::decimal;
use super::session::Session;

/// The JWT.
pub const AUTH_TOKEN: &str = "psg_auth_token";
/// The refresh token.
pub const REFRESH_TOKEN: &str = "psg_refresh_token";
/// The session end, unix seconds as a decimal string.
pub const REFRESH_EXPIRATION: &str = "psg_refresh_token_expiration";
/// Refresh tokens still to revoke: a JSON array of strings.
pub const PENDING_REVOCATION: &str = "psg_pending_revocation";
/// Pending revocations kept at most: each is retried on every page load.
pub const MAX_PENDING: usize = 16;

/// The keys of a clear, in order.
pub const CLEAR_ORDER: [&str; 3] = [AUTH_TOKEN, REFRESH_TOKEN, REFRESH_EXPIRATION];

/// The values of session `s` under its keys, in the order they are written
/// (`None`: remove the key).
pub fn entries(s: &Session) -> [(&'static str, Option<String>); 3] {
    [
        (REFRESH_TOKEN, s.refresh_token().map(String::from)),
        (REFRESH_EXPIRATION, s.refresh_expiration().map(decimal)),
        (AUTH_TOKEN, s.auth_token().map(String::from)),
    ]
}

/// Writes `s` with `set` (a value) and `remove`, in [`entries`]' order.
/// A store that refuses a write (full: our own keys may be what fills it)
/// is cleared and written once more; if it refuses again, it is left
/// cleared, so a refresh token this session has rotated away is never left
/// where another tab could use it. Answers whether the write went through.
pub fn write<E>(
    s: &Session,
    mut set: impl FnMut(&str, &str) -> Result<(), E>,
    mut remove: impl FnMut(&str),
) -> bool {
    for last in [false, true] {
        if attempt(s, &mut set, &mut remove) {
            return true;
        }
        clear(&mut remove);
        if last {
            break;
        }
    }
    false
}

/// One write of every key; false at the first refusal.
fn attempt<E>(
    s: &Session,
    set: &mut dyn FnMut(&str, &str) -> Result<(), E>,
    remove: &mut dyn FnMut(&str),
) -> bool {
    entries(s).iter().all(|(key, value)| match value {
        Some(value) => set(key, value).is_ok(),
        None => {
            remove(key);
            true
        }
    })
}

/// Removes the session's keys with `remove`, in [`CLEAR_ORDER`].
pub fn clear(mut remove: impl FnMut(&str)) {
    for key in CLEAR_ORDER {
        remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn session() -> Session {
        let token = crate::core::testing::jwt(1_700_000_000, 1_700_000_300);
        Session::from_stored(Some(token), Some("rt".into()), Some("1800000000"))
    }

    #[test]
    fn the_refresh_token_is_written_first_and_the_auth_token_last() {
        let mut log = Vec::new();
        let ok = write(
            &session(),
            |key, _| {
                log.push(String::from(key));
                Ok::<(), ()>(())
            },
            |_| unreachable!(),
        );
        assert!(ok);
        assert_eq!(log, [REFRESH_TOKEN, REFRESH_EXPIRATION, AUTH_TOKEN]);
        let mut cleared = Vec::new();
        clear(|key| cleared.push(String::from(key)));
        assert_eq!(cleared, [AUTH_TOKEN, REFRESH_TOKEN, REFRESH_EXPIRATION]);
    }

    #[test]
    fn a_refused_write_is_retried_once_after_a_clear_and_leaves_nothing_if_refused_again() {
        for refusals in [1, 2] {
            let log = core::cell::RefCell::new(Vec::new());
            let mut refused = 0;
            let ok = write(
                &session(),
                |key, _| {
                    if key == REFRESH_EXPIRATION && refused < refusals {
                        refused += 1;
                        log.borrow_mut().push(["refused ", key].concat());
                        return Err(());
                    }
                    log.borrow_mut().push(["set ", key].concat());
                    Ok(())
                },
                |key| log.borrow_mut().push(["remove ", key].concat()),
            );
            assert_eq!(ok, refusals == 1);
            let clear = [
                "remove psg_auth_token",
                "remove psg_refresh_token",
                "remove psg_refresh_token_expiration",
            ];
            let mut expected = vec![
                "set psg_refresh_token",
                "refused psg_refresh_token_expiration",
            ];
            expected.extend(clear);
            if refusals == 1 {
                expected.extend([
                    "set psg_refresh_token",
                    "set psg_refresh_token_expiration",
                    "set psg_auth_token",
                ]);
            } else {
                expected.extend([
                    "set psg_refresh_token",
                    "refused psg_refresh_token_expiration",
                ]);
                expected.extend(clear);
            }
            assert_eq!(log.into_inner(), expected);
        }
    }

    #[test]
    fn an_unknown_end_removes_its_key() {
        let s = Session::from_stored(Some("x.y.z".into()), Some("rt".into()), None);
        let mut removed = Vec::new();
        assert!(write(
            &s,
            |_, _| Ok::<(), ()>(()),
            |key| removed.push(String::from(key))
        ));
        assert_eq!(removed, [REFRESH_EXPIRATION]);
    }
}
