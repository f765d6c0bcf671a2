//! Who refreshes, who waits, and what a waiter does with what it finds.
//!
//! Within a tab, a [`Gate`] lets one refresh run and makes every other
//! caller join it. Across tabs, the winner of the Web Lock refreshes and the
//! others re-read storage once they hold the lock: [`after_lock`] decides
//! whether what they find makes their own refresh unnecessary, and
//! [`after_refusal`] whether a refused refresh token was merely rotated by
//! another tab.

use super::session::Session;

/// The single-flight gate of one tab.
#[derive(Debug, Default)]
pub struct Gate {
    in_flight: Option<u64>,
    issued: u64,
}

/// A caller's role at the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ticket {
    /// Run the refresh with this id, then call [`Gate::leave`].
    Lead(u64),
    /// Await the refresh with this id that is already running.
    Join(u64),
}

impl Gate {
    /// Enter the gate: lead a new refresh, or join the one in flight.
    pub fn enter(&mut self) -> Ticket {
        match self.in_flight {
            Some(id) => Ticket::Join(id),
            None => {
                self.issued += 1;
                self.in_flight = Some(self.issued);
                Ticket::Lead(self.issued)
            }
        }
    }

    /// The leader of refresh `id` is done. A stale id (the gate was reset
    /// meanwhile, e.g. by a sign-out) changes nothing.
    pub fn leave(&mut self, id: u64) {
        if self.in_flight == Some(id) {
            self.in_flight = None;
        }
    }

    /// The id of the refresh in flight.
    pub fn in_flight(&self) -> Option<u64> {
        self.in_flight
    }
}

/// What a tab does once it holds the cross-tab lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterLock {
    /// Storage changed while we waited (another tab refreshed, signed in or
    /// out): take what is stored and decide again from there.
    Adopt,
    /// Storage holds the refresh token we meant to use: refresh with it.
    Refresh,
}

/// Decides after taking the lock, from the session the caller started with
/// and the one storage holds now.
pub fn after_lock(started_with: &Session, stored: &Session) -> AfterLock {
    if stored.refresh_token() != started_with.refresh_token()
        || stored.auth_token() != started_with.auth_token()
    {
        AfterLock::Adopt
    } else {
        AfterLock::Refresh
    }
}

/// What a refused refresh means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Another tab rotated the token first: storage holds its successor.
    LostRace,
    /// The session is really over.
    SignedOut,
}

/// Decides after the server refused refresh token `used`, from what storage
/// holds now.
pub fn after_refusal(used: &str, stored: &Session) -> Refusal {
    match stored.refresh_token() {
        Some(current) if current != used => Refusal::LostRace,
        _ => Refusal::SignedOut,
    }
}

/// How a session changed between two reads of storage, as the auth event
/// to fire for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing a listener cares about.
    None,
    /// A session appeared, or another user's replaced it.
    SignedIn,
    /// Same user, new tokens.
    Refreshed,
    /// The session is gone.
    SignedOut,
}

/// Classifies the change from `old` to `new` (another tab's doing).
pub fn classify(old: &Session, new: &Session) -> Change {
    let sub = |s: &Session| s.claims().and_then(|c| c.sub.clone());
    match (old.is_empty(), new.is_empty()) {
        (true, true) => Change::None,
        (true, false) => Change::SignedIn,
        (false, true) => Change::SignedOut,
        (false, false) if sub(old) != sub(new) => Change::SignedIn,
        (false, false) if old != new => Change::Refreshed,
        (false, false) => Change::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing::jwt_with;

    #[test]
    fn changes_from_other_tabs_map_to_auth_events() {
        let alice = |n: u32| {
            Session::from_stored(
                Some(jwt_with(&format!(r#"{{"sub":"alice","exp":{n}}}"#))),
                Some(format!("rt{n}")),
                None,
            )
        };
        let bob = Session::from_stored(
            Some(jwt_with(r#"{"sub":"bob","exp":9}"#)),
            Some("rtb".into()),
            None,
        );
        let none = Session::default();
        assert_eq!(classify(&none, &none), Change::None);
        assert_eq!(classify(&none, &alice(1)), Change::SignedIn);
        assert_eq!(classify(&alice(1), &none), Change::SignedOut);
        assert_eq!(classify(&alice(1), &alice(2)), Change::Refreshed);
        assert_eq!(classify(&alice(1), &alice(1)), Change::None);
        assert_eq!(classify(&alice(1), &bob), Change::SignedIn);
    }

    fn session(auth: &str, rt: Option<&str>) -> Session {
        Session::from_stored(Some(auth.into()), rt.map(Into::into), None)
    }

    #[test]
    fn one_leader_and_everyone_else_joins() {
        let mut gate = Gate::default();
        let Ticket::Lead(id) = gate.enter() else {
            panic!()
        };
        assert_eq!(gate.enter(), Ticket::Join(id));
        assert_eq!(gate.enter(), Ticket::Join(id));
        gate.leave(id);
        assert_eq!(gate.in_flight(), None);
        let Ticket::Lead(next) = gate.enter() else {
            panic!()
        };
        assert_ne!(next, id);
        gate.leave(id);
        assert_eq!(
            gate.in_flight(),
            Some(next),
            "a stale leave must not open the gate"
        );
    }

    #[test]
    fn waiter_adopts_what_another_tab_stored() {
        let mine = session("a", Some("rt1"));
        assert_eq!(
            after_lock(&mine, &session("a", Some("rt1"))),
            AfterLock::Refresh
        );
        assert_eq!(
            after_lock(&mine, &session("b", Some("rt2"))),
            AfterLock::Adopt
        );
        assert_eq!(after_lock(&mine, &Session::default()), AfterLock::Adopt);
    }

    #[test]
    fn refusal_of_a_rotated_token_is_a_lost_race() {
        assert_eq!(
            after_refusal("rt1", &session("b", Some("rt2"))),
            Refusal::LostRace
        );
        assert_eq!(
            after_refusal("rt1", &session("a", Some("rt1"))),
            Refusal::SignedOut
        );
        assert_eq!(
            after_refusal("rt1", &Session::default()),
            Refusal::SignedOut
        );
    }
}
