//! The cross-tab refresh lock, in one place: how it is taken (Web Locks
//! where the browser has them, else a mutex of the tabs' own messages), how
//! long it is kept after a write, and how a tab that was granted it after
//! another holder waits for that holder's write to reach it.
//!
//! The rules, and why (docs/architecture.md, "Refresh across tabs"): a tab
//! reads another tab's `localStorage` write a few ms late, key by key. So a
//! tab that wrote keeps the lock [`LINGER_MS`] longer; a tab granted it
//! after another holder waits up to [`HANDOFF_MS`] for that holder's write
//! (or its word that it wrote nothing) before it decides; and a wait that
//! times out while the lock kept changing hands is a queue that moves, not
//! a frozen holder.
//!
//! Without Web Locks (insecure origins, older browsers) the lock is this
//! module's own mutex over the messages tabs exchange ([`Signal::Lock`]):
//! a tab claims the lock and holds it when no objection comes within
//! [`CLAIM_MS`]. The holder answers every claim, and a claim with an older
//! ticket beats a younger one, so two tabs hold it at once only when a
//! message takes longer than half the window to arrive.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::poll_fn;
use core::task::{Poll, Waker};

use super::Client;
use crate::core::future::{first, remember};
use crate::core::session::Session;
use crate::ports::{Guard, LockKind, LockMessage, Locked, Ports, Signal};

/// How long a tab granted the lock after another holder waits for that
/// holder's write to become readable here before it decides alone.
pub const HANDOFF_MS: u32 = 500;
/// How long a tab that wrote new tokens keeps the lock, so that the next
/// holder's copy of storage has them.
pub const LINGER_MS: u32 = 100;
/// Without Web Locks: how long a claim waits for an objection. Twice the
/// slowest delivery of a message between tabs that it tolerates.
pub const CLAIM_MS: u32 = 200;
/// Without Web Locks: how long a holder is waited for before it is asked
/// again whether it still holds the lock (and how long it has to answer):
/// a page that closed without a word holds nothing.
pub const PROBE_MS: u32 = 1_000;

/// A lock this tab holds, or the decision to go on without one.
pub(super) enum Hold<G> {
    /// A Web Lock.
    Web(G),
    /// The mutex of the tabs' messages, by the name's hash.
    Own(u32),
    /// No lock: the wait timed out, or no other tab can be reached.
    Without,
}

/// The lock as granted.
pub(super) struct Granted<G> {
    pub hold: Hold<G>,
    pub name: String,
    /// Another tab held it, or the wait timed out: that tab's write may
    /// not have reached this one yet.
    pub after_another: bool,
}

/// The refresh lock, kept for a moment after this tab wrote.
pub(super) struct Lingering<G> {
    id: u64,
    granted: Granted<G>,
}

/// One claim of this tab's on the message mutex.
struct Claim {
    name: u32,
    ticket: (u64, u32),
    objected: bool,
}

/// What this tab knows of the locks, and holds.
pub(super) struct Locks<G> {
    /// This tab's id in lock messages.
    me: u32,
    /// Another tab's refresh is done: counts the signals that say so (its
    /// write readable here, or its "unchanged").
    pub handoffs: u64,
    lingering: Option<Lingering<G>>,
    linger_id: u64,
    /// The message mutex: what this tab holds and claims, and which tab
    /// said it holds a lock and has not let it go.
    held: Vec<u32>,
    claims: Vec<Claim>,
    busy: Vec<(u32, u32)>,
    /// Woken by every lock message and handoff.
    wakers: Vec<Waker>,
}

impl<G> Locks<G> {
    pub fn new(me: u32) -> Self {
        Locks {
            me,
            handoffs: 0,
            lingering: None,
            linger_id: 0,
            held: Vec::new(),
            claims: Vec::new(),
            busy: Vec::new(),
            wakers: Vec::new(),
        }
    }

    /// True while this tab keeps a lock after its write.
    pub fn is_lingering(&self) -> bool {
        self.lingering.is_some()
    }

    fn holder(&self, name: u32) -> Option<u32> {
        self.busy.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// Another call of this tab holds or claims `name`.
    fn mine(&self, name: u32) -> bool {
        self.held.contains(&name) || self.claims.iter().any(|c| c.name == name)
    }

    fn wake(&mut self) {
        for waker in core::mem::take(&mut self.wakers) {
            waker.wake();
        }
    }
}

/// A lock name's hash in messages (FNV-1a).
pub fn name_hash(name: &str) -> u32 {
    name.bytes().fold(0x811c_9dc5, |h: u32, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

impl<P: Ports> Client<P> {
    /// The refresh lock: one refresh at a time per auth server and app,
    /// across the tabs of the origin.
    pub(super) fn lock_name(&self, s: &Session) -> String {
        let mut name = String::from("psg_refresh ");
        match self.app_url(s) {
            Ok(url) => name.push_str(&url),
            Err(_) => name.push_str(&self.origin),
        }
        name
    }

    /// Takes the lock `name`: this tab's own kept lock is taken over; else
    /// waits for the other holders, at most the lock timeout for one that
    /// never lets go.
    pub(super) async fn acquire(self: &Rc<Self>, name: String) -> Granted<P::Guard> {
        if let Some(kept) = self.take_lingering(&name) {
            return kept;
        }
        let timeout = self.policy.lock_timeout_ms();
        // A wait that timed out while other tabs took and released the lock
        // (each release is a handoff) is a queue, moving: it goes on.
        let (hold, after_another) = loop {
            let seen = self.st.borrow().locks.handoffs;
            match self.take(&name, timeout).await {
                Locked::Held { guard, waited } => break (guard, waited),
                Locked::TimedOut if self.st.borrow().locks.handoffs != seen => {}
                // A frozen or hung holder: go on, as a browser without
                // locks would.
                _ => break (Hold::Without, true),
            }
        };
        Granted {
            hold,
            name,
            after_another,
        }
    }

    /// The lock `name` if no other tab holds it now.
    pub(super) async fn try_acquire(self: &Rc<Self>, name: &str) -> Option<Hold<P::Guard>> {
        match self.take(name, 0).await {
            Locked::Held { guard, .. } => Some(guard),
            _ => None,
        }
    }

    /// One attempt at the lock, by whatever means this browser has.
    async fn take(self: &Rc<Self>, name: &str, timeout: u32) -> Locked<Hold<P::Guard>> {
        match self.ports.lock(name, timeout).await {
            Locked::Held { guard, waited } => Locked::Held {
                guard: Hold::Web(guard),
                waited,
            },
            Locked::TimedOut => Locked::TimedOut,
            // A store no other tab reads needs no lock.
            Locked::NoLocks if self.store.is_shared() => {
                self.take_own(name_hash(name), timeout).await
            }
            Locked::NoLocks | Locked::Alone => Locked::Held {
                guard: Hold::Without,
                waited: false,
            },
        }
    }

    /// The message mutex: claims `name` until no objection comes within
    /// the claim window, waiting out the holder that other tabs named.
    async fn take_own(self: &Rc<Self>, name: u32, timeout: u32) -> Locked<Hold<P::Guard>> {
        let start = self.ports.now();
        let deadline = start + f64::from(timeout);
        let ticket = (start as u64, self.st.borrow().locks.me);
        let mut waited = false;
        loop {
            // Another call of this tab holds or claims it: that one goes
            // first, as a browser queues a tab's second request for a Web
            // Lock (the other tabs cannot tell two calls of one tab apart).
            if self.st.borrow().locks.mine(name) {
                waited = true;
                let left = deadline - self.ports.now();
                if timeout == 0 || left <= 0.0 {
                    return Locked::TimedOut;
                }
                self.lock_news(left as u32, &|l| !l.mine(name)).await;
                continue;
            }
            let mut window = CLAIM_MS;
            if self.st.borrow().locks.holder(name).is_some() {
                waited = true;
                let left = deadline - self.ports.now();
                if timeout == 0 || left <= 0.0 {
                    return Locked::TimedOut;
                }
                let freed = self
                    .lock_news((PROBE_MS as f64).min(left) as u32, &|l| {
                        l.holder(name).is_none()
                    })
                    .await;
                // Still named after a while: ask the holder, and give it
                // time to answer.
                if !freed {
                    window = PROBE_MS;
                }
            }
            self.claim(name, ticket);
            let objected = self
                .lock_news(window, &|l| {
                    l.claims.iter().any(|c| c.name == name && c.objected)
                })
                .await;
            let objected = {
                let mut st = self.state();
                let locks = &mut st.locks;
                let at = locks.claims.iter().position(|c| c.name == name);
                let objected = objected || at.is_some_and(|i| locks.claims[i].objected);
                if let Some(i) = at {
                    locks.claims.remove(i);
                }
                if !objected {
                    locks.held.push(name);
                    // Whoever was named holder is gone (a page that closed
                    // without a word): the next wait must not start on it.
                    locks.busy.retain(|(n, _)| *n != name);
                }
                objected
            };
            if !objected {
                self.post_lock(LockKind::Held, name, 0);
                return Locked::Held {
                    guard: Hold::Own(name),
                    waited,
                };
            }
            waited = true;
            if timeout == 0 || self.ports.now() >= deadline {
                return Locked::TimedOut;
            }
            // Beaten by an older claim: its holder names itself shortly.
            if self.st.borrow().locks.holder(name).is_none() {
                self.lock_news(CLAIM_MS, &|l| l.holder(name).is_some())
                    .await;
            }
        }
    }

    fn claim(&self, name: u32, ticket: (u64, u32)) {
        self.state().locks.claims.push(Claim {
            name,
            ticket,
            objected: false,
        });
        self.post_lock(LockKind::Claim, name, ticket.0);
    }

    fn post_lock(&self, kind: LockKind, name: u32, since: u64) {
        let tab = self.st.borrow().locks.me;
        self.ports.post(Signal::Lock(LockMessage {
            kind,
            name,
            tab,
            since,
        }));
    }

    /// Waits at most `ms` for `ready` to hold, re-checked at every lock
    /// message and handoff; answers whether it did.
    async fn lock_news(&self, ms: u32, ready: &dyn Fn(&Locks<P::Guard>) -> bool) -> bool {
        let news = poll_fn(|cx| {
            let mut st = self.state();
            if ready(&st.locks) {
                return Poll::Ready(true);
            }
            remember(&mut st.locks.wakers, cx);
            Poll::Pending
        });
        let sleep = self.ports.sleep(ms);
        first(news, async move {
            sleep.await;
            false
        })
        .await
    }

    /// What another tab says of the message mutex.
    pub(super) fn hear_lock(&self, m: LockMessage) {
        let reply = {
            let mut st = self.state();
            let locks = &mut st.locks;
            let mut reply = None;
            if m.tab != locks.me {
                match m.kind {
                    LockKind::Claim => {
                        if locks.held.contains(&m.name) {
                            reply = Some((LockKind::Held, 0));
                        } else if let Some(c) = locks.claims.iter_mut().find(|c| c.name == m.name) {
                            // The older ticket wins; ours is told again.
                            if (m.since, m.tab) < c.ticket {
                                c.objected = true;
                            } else {
                                reply = Some((LockKind::Claim, c.ticket.0));
                            }
                        }
                    }
                    LockKind::Held => {
                        locks.busy.retain(|(n, _)| *n != m.name);
                        locks.busy.push((m.name, m.tab));
                        for c in locks.claims.iter_mut().filter(|c| c.name == m.name) {
                            c.objected = true;
                        }
                    }
                    LockKind::Free => locks.busy.retain(|&b| b != (m.name, m.tab)),
                }
            }
            locks.wake();
            reply
        };
        if let Some((kind, since)) = reply {
            self.post_lock(kind, m.name, since);
        }
    }

    /// Another tab's refresh is done: a tab granted the lock after it
    /// stops waiting for its write.
    pub(super) fn hear_handoff(&self) {
        let mut st = self.state();
        st.locks.handoffs += 1;
        st.locks.wake();
    }

    /// Waits for the next handoff, at most `ms`.
    pub(super) async fn next_handoff(&self, ms: u32) {
        let seen = self.st.borrow().locks.handoffs;
        self.lock_news(ms, &|l| l.handoffs != seen).await;
    }

    /// This tab's own lock `name`, still kept after its last write: taken
    /// over rather than waited for (and for a handoff only another tab
    /// sends).
    fn take_lingering(&self, name: &str) -> Option<Granted<P::Guard>> {
        let mut st = self.state();
        let locks = &mut st.locks;
        if locks
            .lingering
            .as_ref()
            .is_some_and(|l| l.granted.name == name)
        {
            locks.lingering.take().map(|l| Granted {
                after_another: false,
                ..l.granted
            })
        } else {
            None
        }
    }

    /// Keeps the lock `LINGER_MS` longer, unless a later call of this tab
    /// takes it over.
    pub(super) fn linger(self: &Rc<Self>, granted: Granted<P::Guard>) {
        if matches!(granted.hold, Hold::Without) {
            return;
        }
        let id = {
            let mut st = self.state();
            let locks = &mut st.locks;
            locks.linger_id += 1;
            let id = locks.linger_id;
            locks.lingering = Some(Lingering { id, granted });
            id
        };
        self.spawn(|c| async move {
            c.ports.sleep(LINGER_MS).await;
            let kept = {
                let mut st = c.state();
                let locks = &mut st.locks;
                match &locks.lingering {
                    Some(l) if l.id == id => locks.lingering.take(),
                    _ => return,
                }
            };
            if let Some(kept) = kept {
                c.release(kept.granted.hold).await;
            }
        });
    }

    /// Lets the lock go, in the background.
    pub(super) fn release_soon(self: &Rc<Self>, hold: Hold<P::Guard>) {
        if !matches!(hold, Hold::Without) {
            self.spawn(|c| async move { c.release(hold).await });
        }
    }

    /// Lets the lock go; resolves once another tab could take it.
    pub(super) async fn release(&self, hold: Hold<P::Guard>) {
        match hold {
            Hold::Web(guard) => guard.release().await,
            Hold::Own(name) => {
                let had = {
                    let mut st = self.state();
                    let locks = &mut st.locks;
                    let had = locks.held.contains(&name);
                    locks.held.retain(|&n| n != name);
                    // This tab's next call for it may go on.
                    locks.wake();
                    had
                };
                if had {
                    self.post_lock(LockKind::Free, name, 0);
                }
            }
            Hold::Without => {}
        }
    }

    /// The page is going away: the message mutex's locks are let go now,
    /// as a browser lets Web Locks go when a page closes.
    pub(super) fn release_all(&self) {
        let held = core::mem::take(&mut self.state().locks.held);
        for name in held {
            self.post_lock(LockKind::Free, name, 0);
        }
    }
}
