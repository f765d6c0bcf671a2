//! Sign-out and revocations: clear at once, then revoke under the refresh
//! lock; what the server has not confirmed is kept as a pending revocation
//! and retried on the next page load and when the browser is back online.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;

use super::lock::HANDOFF_MS;
use super::{now_or, Client, Flight, Leaving};
use crate::core::error::Error;
use crate::core::session::Session;
use crate::core::storage::MAX_PENDING;
use crate::core::url::encode_component;
use crate::ports::{Io, Method, Ports, Reason, Signal};

/// A sign-out once its synchronous part has run.
enum Begun {
    /// Nothing was signed in.
    Done,
    /// The session is cleared in memory; the store is clearing.
    Ending(Box<Ending>),
}

struct Ending {
    s: Session,
    url: Option<String>,
    leaving: Rc<Leaving>,
    cleared: Io<Result<(), Error>>,
}

impl<P: Ports> Client<P> {
    /// Ends the session everywhere. With a synchronous store, the session
    /// is gone from memory and storage before this returns; the future
    /// revokes it and resolves `true` once the server confirmed.
    pub fn sign_out(self: &Rc<Self>) -> impl Future<Output = bool> + 'static {
        // A second call while this tab signs out resolves with the first.
        if let Some(flight) = self.st.borrow().signing_out.clone() {
            return flight.join();
        }
        let flight = Flight::new();
        self.state().signing_out = Some(flight.clone());
        // The latest stored session: another tab may have rotated the token.
        let begun = self
            .store
            .is_sync()
            .then(|| self.begin_sign_out(now_or(self.reload()).unwrap_or_else(|| self.session())));
        let landing = flight.clone();
        self.spawn(|c| async move {
            let begun = match begun {
                Some(begun) => begun,
                None => {
                    let s = c.reload().await.unwrap_or_else(|_| c.session());
                    c.begin_sign_out(s)
                }
            };
            let confirmed = c.finish_sign_out(begun).await;
            let mut st = c.state();
            if st
                .signing_out
                .as_ref()
                .is_some_and(|f| Rc::ptr_eq(f, &landing))
            {
                st.signing_out = None;
            }
            drop(st);
            landing.land(confirmed);
        });
        flight.join()
    }

    fn begin_sign_out(self: &Rc<Self>, s: Session) -> Begun {
        let url = self.app_url(&s).ok();
        // Kept apart from the session, never used to refresh, until the
        // server confirms; so a closed tab or a network blip loses no
        // revocation.
        if let Some(r) = s.refresh_token() {
            self.add_pending(r);
        }
        if s.is_empty() {
            // Nothing here, but a refresh of this tab may be in flight: its
            // result must not bring a session back.
            self.state().epoch += 1;
            self.publish();
            return Begun::Done;
        }
        let leaving = Rc::new(Leaving {
            sub: s.sub().map(String::from),
        });
        self.state().leaving = Some(leaving.clone());
        let cleared = self.end_begin();
        Begun::Ending(Box::new(Ending {
            s,
            url,
            leaving,
            cleared,
        }))
    }

    async fn finish_sign_out(self: &Rc<Self>, begun: Begun) -> bool {
        match begun {
            Begun::Done => {
                self.after_queued_holders().await;
                true
            }
            Begun::Ending(ending) => self.clean_up(*ending).await,
        }
    }

    /// Nothing was signed in here; but another tab's sign-out may be
    /// clearing, under the lock, a refresh that wrote the session back
    /// after its clear and before this tab read storage. Resolves once the
    /// holders queued before this tab are done. (This tab's own kept lock
    /// is left to its linger: it waits for this tab's last write to reach
    /// the others.)
    async fn after_queued_holders(self: &Rc<Self>) {
        if !self.st.borrow().locks.is_lingering() {
            let granted = self.acquire(self.lock_name(&Session::default())).await;
            self.release_soon(granted.hold);
        }
    }

    /// The sign-out after its synchronous part: tells the listeners and the
    /// other tabs, then, under the lock, clears and revokes what a crossing
    /// refresh wrote back, and revokes the session.
    ///
    /// A refresh in flight in another tab may write the session back after
    /// our clear (its reply crossing our sign-out). Its tab holds the
    /// refresh lock until that write has reached the other tabs: once we
    /// hold the lock, what storage holds is final. Holding the lock through
    /// the revocation keeps a tab that has not seen our clear yet from
    /// refreshing with a token we are about to revoke.
    async fn clean_up(self: &Rc<Self>, ending: Ending) -> bool {
        let Ending {
            s,
            url,
            leaving,
            cleared,
        } = ending;
        self.end_finish(cleared, Reason::SignOut).await;
        let handoffs_before = self.st.borrow().locks.handoffs;
        let granted = self.acquire(self.lock_name(&s)).await;
        // As for a refresh granted the lock after another holder: its write
        // may reach this tab a little after the grant.
        if granted.after_another && self.st.borrow().locks.handoffs == handoffs_before {
            self.next_handoff(HANDOFF_MS).await;
        }
        let mut tokens: Vec<String> = s.refresh_token().map(String::from).into_iter().collect();
        let after = self.clear_write_back(&leaving, &mut tokens).await;
        // From here, with the lock ours, no refresh can write: a session of
        // this user that appears now is a new sign-in.
        if self.is_leaving(&leaving) {
            self.state().leaving = None;
        }
        // Memory follows storage again: while leaving, this tab ignored the
        // writes of this user's session (and kept what it adopted before,
        // another user's perhaps) that the clean-up has now dealt with.
        // Unless the store failed to clear: then memory, signed out, stays
        // the truth until it does.
        if let Some(stored) = after.filter(|_| !self.st.borrow().unsaved) {
            self.adopt(stored);
        }
        let mut confirmed = true;
        for token in &tokens {
            let done = match &url {
                Some(url) => self.revoke(url, token, true).await,
                None => false,
            };
            confirmed &= done;
        }
        // Our clear is a write like a refresh's: the lock is kept until it
        // has reached the other tabs, so none refreshes with the token we
        // cleared.
        self.linger(granted);
        confirmed
    }

    /// True while this tab's sign-out of `leaving` is the one in progress
    /// (it has not signed in again since).
    fn is_leaving(&self, leaving: &Rc<Leaving>) -> bool {
        self.st
            .borrow()
            .leaving
            .as_ref()
            .is_some_and(|l| Rc::ptr_eq(l, leaving))
    }

    /// Reads storage under the lock: a session of the leaving user written
    /// back there by a crossing refresh is cleared, and its token added to
    /// `tokens` to revoke. Answers what storage holds then, or `None` when
    /// the store failed to answer or to clear.
    async fn clear_write_back(
        &self,
        leaving: &Rc<Leaving>,
        tokens: &mut Vec<String>,
    ) -> Option<Session> {
        let back = self.store.load().get().await.ok()?;
        // (Unless this tab signed in again meanwhile: that session stays;
        // nor is another app's session ours to clear.)
        let written_back = back
            .written_back(leaving.sub.as_deref())
            .filter(|_| self.is_leaving(leaving) && !self.foreign(&back))
            .map(String::from);
        let Some(token) = written_back else {
            return Some(back);
        };
        self.add_pending(&token);
        tokens.push(token);
        if self.store.clear().get().await.is_err() {
            return None;
        }
        self.ports.post(Signal::Changed);
        Some(Session::default())
    }

    /// `DELETE /tokens`; true once the token is known dead on the server.
    pub(super) async fn revoke(&self, url: &str, token: &str, pending: bool) -> bool {
        let mut target = String::from(url);
        target.push_str("/tokens?refresh_token=");
        target.push_str(&encode_component(token));
        let status = match self.call(Method::Delete, target, None, None, true).await {
            Ok(reply) => reply.status,
            Err(_) => 0,
        };
        // Unconfirmed, it is retried on the next page load or when back
        // online.
        let confirmed =
            (200..300).contains(&status) || ((400..500).contains(&status) && status != 429);
        if confirmed && pending {
            let rest: Vec<String> = self
                .store
                .pending()
                .into_iter()
                .filter(|t| t != token)
                .collect();
            self.set_pending(rest);
        }
        confirmed
    }

    fn set_pending(&self, mut tokens: Vec<String>) {
        let excess = tokens.len().saturating_sub(MAX_PENDING);
        tokens.drain(..excess);
        self.store.set_pending(&tokens);
    }

    fn add_pending(&self, token: &str) {
        let mut tokens = self.store.pending();
        if !tokens.iter().any(|t| t == token) {
            tokens.push(String::from(token));
            self.set_pending(tokens);
        }
    }

    /// Retries the revocations a sign-out could not confirm, in one tab at
    /// a time: a tab that finds the lock taken leaves the work to its
    /// holder. (Whether there is any work is decided now, not in a later
    /// task, when this call's own page may have added some.)
    pub(super) fn retry_pending(self: &Rc<Self>) {
        if self.store.pending().is_empty() {
            return;
        }
        let Ok(url) = self.app_url(&self.session()) else {
            return;
        };
        self.spawn(|c| async move {
            let mut name = String::from("psg_revoke ");
            name.push_str(&url);
            let Some(hold) = c.try_acquire(&name).await else {
                return;
            };
            // Read again under the lock: the last holder may have done it all.
            for token in c.store.pending() {
                c.revoke(&url, &token, true).await;
            }
            c.release(hold).await;
        });
    }
}
