//! Property tests of the session client over random schedules, in the
//! simulated world of `world.rs`: the real client, several tabs, a rotating
//! auth server, transient failures, sign-ins, sign-outs, server-side
//! revocations and pages reopened, on a simulated clock.
//!
//! Invariants checked on every schedule:
//! - at most one refresh request in flight per origin, across all tabs;
//! - no call resolves with a token that is expired at that moment;
//! - no transient failure ends a session: a rotated refresh token is never
//!   reused (but after a page closed with a refresh reply in flight, or
//!   within the storage delivery lag of writing the new token, which strict
//!   rotation makes fatal by design), and every SIGNED_OUT and
//!   login_required has a cause in the schedule (a sign-out, a server-side
//!   revocation, such a lost reply);
//! - a refused refresh ends the session once: one refused request per
//!   revoked session, whatever the number of tabs;
//! - every call settles, within the bound the timeouts imply;
//! - once signOut() has settled (and until the next sign-in), storage holds
//!   no refresh token, and no tab hands out a token once the browser has
//!   delivered the change to it.
//!
//! Schedules are drawn with proptest from a seed per schedule:
//! `SIM_SEED=S` (default 1) and `SIM_RUNS=N` (default 1000) run others or
//! more, `SIM_LOG=1` prints each schedule's story. A failing schedule's
//! message names the seed that reproduces it, and its story. They run in
//! three browsers (with Web Locks, without, and with neither Web Locks nor
//! a BroadcastChannel), and again against a server with a 30 s reuse grace
//! period, where no rotated token may be reused at all.
//!
//! Here: the schedules, the `Checker` that runs one in a world of its own
//! and checks it, and the property tests. `scenarios.rs` holds tests of
//! single scenarios timed to the millisecond, `world.rs` the world, and
//! `exec.rs` its executor on a simulated clock.
#![cfg(not(target_arch = "wasm32"))]

mod account;
mod exec;
mod locks;
mod scenarios;
mod world;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use passage_user::client::values::AuthResultFields;
use passage_user::client::{CLAIM_MS, LINGER_MS};
use passage_user::core::error::{Code, Error};
use passage_user::ports::Event;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use world::{claims_of, Browser, Settings, World, REFRESH, START};

/// One step of a schedule, after a pause.
#[derive(Clone, Debug)]
enum Op {
    /// A tab calls getAuthToken() `n` times at once.
    Get {
        tab: usize,
        n: u32,
    },
    /// Every tab calls at once, a few ms apart; maybe a sign-out lands
    /// amid it, this many ms later.
    Storm {
        tab: usize,
        sign_out: Option<u32>,
    },
    Refresh {
        tab: usize,
    },
    SignOut {
        tab: usize,
    },
    /// A forced refresh in one tab, and a sign-out in another this many ms
    /// later: the reply may cross the sign-out.
    Cross {
        tab: usize,
        other: usize,
        delay: u32,
    },
    Login {
        tab: usize,
        user: u8,
    },
    /// The server revokes the latest session (the backend's "sign out a user").
    Revoke,
    /// The page reloads.
    Reload {
        tab: usize,
    },
    /// A forced refresh, and the page reloaded this many ms later: its reply
    /// may be lost after the server rotated the token.
    CloseMidRefresh {
        tab: usize,
        delay: u32,
    },
}

#[derive(Clone, Debug)]
struct Schedule {
    tabs: usize,
    faults: f64,
    lifetime: i64,
    lag: u32,
    ops: Vec<(u32, Op)>,
}

fn op() -> impl Strategy<Value = Op> {
    let tab = 0..4usize;
    prop_oneof![
        35 => (tab.clone(), 1..=5u32).prop_map(|(tab, n)| Op::Get { tab, n }),
        25 => (tab.clone(), prop::option::weighted(0.3, 0..=150u32))
            .prop_map(|(tab, sign_out)| Op::Storm { tab, sign_out }),
        10 => tab.clone().prop_map(|tab| Op::Refresh { tab }),
        3 => tab.clone().prop_map(|tab| Op::SignOut { tab }),
        3 => (tab.clone(), tab.clone(), 0..=80u32)
            .prop_map(|(tab, other, delay)| Op::Cross { tab, other, delay }),
        3 => (tab.clone(), 1..=2u8).prop_map(|(tab, user)| Op::Login { tab, user }),
        3 => Just(Op::Revoke),
        4 => tab.clone().prop_map(|tab| Op::Reload { tab }),
        2 => (tab, 0..=80u32).prop_map(|(tab, delay)| Op::CloseMidRefresh { tab, delay }),
        17 => Just(Op::Get { tab: 0, n: 0 }), // a pause
    ]
}

fn schedule() -> impl Strategy<Value = Schedule> {
    (
        1..=4usize,
        prop::sample::select(vec![0.0, 0.05, 0.2, 0.4]),
        prop::sample::select(vec![20i64, 60, 300]),
        // Chromium delivers a write to other tabs in a few ms; the client's
        // design holds while that stays under the lock's linger.
        prop::sample::select(vec![8u32, 8, 40, 90]),
        prop::collection::vec((0..=4000u32, op()), 100..140),
    )
        .prop_map(|(tabs, faults, lifetime, lag, ops)| Schedule {
            tabs,
            faults,
            lifetime,
            lag,
            ops,
        })
}

const TIMEOUT_MS: u32 = 2000;
/// How long the schedule's operations go on.
const LENGTH_MS: f64 = 240_000.0;

/// The longest any call may take: the lock wait, then every attempt at its
/// timeout with the longest backoff.
fn bound(timeout: f64) -> f64 {
    4.0 * timeout + 3.0 * timeout + 2.0 * 10_000.0 + 2_000.0
}

/// A call a tab made, and how it settled.
struct Call {
    tab: usize,
    /// The page's generation when it called (a reload opens the next).
    generation: u32,
    /// "get", "refresh" or "signOut".
    kind: &'static str,
    start: f64,
    end: Cell<Option<f64>>,
    code: Cell<Option<Code>>,
}

/// What a call settled with.
enum Outcome {
    /// getAuthToken() or a forced refresh: a token or an error.
    Token(Result<String, Error>),
    /// signOut(): whether the sign-out was confirmed.
    SignedOut(bool),
}

/// Runs one schedule; answers its failures, its story, and how many
/// refresh replies were lost with a closed page.
fn run(
    seed: u64,
    schedule: &Schedule,
    grace: i64,
    browser: Browser,
) -> (Vec<String>, Vec<String>, u32) {
    let checker = Checker::new(seed, schedule, grace, browser);
    checker.login(0, "u1");
    let mut ops = schedule.ops.iter();
    while checker.world.now() < START + LENGTH_MS {
        let Some((pause, op)) = ops.next() else { break };
        checker.wait(f64::from(*pause));
        checker.apply(op);
    }
    checker.finish()
}

/// One schedule's world and what is checked on it: the story so far, the
/// failures found, the calls made, and what the invariants need to know of
/// the past. The tasks and timers it leaves in the world hold it weakly.
struct Checker {
    world: Rc<World>,
    /// The schedule's number of tabs.
    tabs: usize,
    /// The schedule's delivery lag, ms.
    lag: f64,
    /// The server's reuse grace period, s.
    grace: i64,
    /// The story: a line per event, stamped with the simulated time.
    log: RefCell<Vec<String>>,
    failures: RefCell<Vec<String>>,
    /// The story's length at the first failure.
    first_failure: Cell<Option<usize>>,
    calls: RefCell<Vec<Rc<Call>>>,
    /// When the last sign-in and the last settled sign-out happened.
    last_login: Cell<f64>,
    signed_out_at: Cell<f64>,
    /// Per tab, the sign-out it is making: when it began, in which page,
    /// and the session (family) it signs out.
    leaving: RefCell<Vec<Option<(f64, u32, serde_json::Value)>>>,
    /// What may end a session: the schedule's sign-outs and revocations,
    /// and (counted at the end) the rotations lost with a closed page.
    /// With none, no call fails and no tab signs out.
    causes: Cell<u32>,
}

impl Checker {
    /// The world of `schedule`, its story told to this checker.
    fn new(seed: u64, schedule: &Schedule, grace: i64, browser: Browser) -> Rc<Checker> {
        let world = World::new(
            seed,
            Settings {
                tabs: schedule.tabs,
                faults: schedule.faults,
                lifetime: schedule.lifetime,
                timeout_ms: TIMEOUT_MS,
                lag: schedule.lag,
                grace,
                browser,
            },
        );
        let checker = Rc::new(Checker {
            world,
            tabs: schedule.tabs,
            lag: f64::from(schedule.lag),
            grace,
            log: RefCell::default(),
            failures: RefCell::default(),
            first_failure: Cell::default(),
            calls: RefCell::default(),
            last_login: Cell::new(f64::NEG_INFINITY),
            signed_out_at: Cell::new(f64::NEG_INFINITY),
            leaving: RefCell::new(vec![None; schedule.tabs]),
            causes: Cell::new(0),
        });
        let me = Rc::downgrade(&checker);
        *checker.world.trace.borrow_mut() = Some(Box::new(move |what| {
            if let Some(checker) = me.upgrade() {
                checker.note(what);
            }
        }));
        checker
    }

    /// The simulated time since the start, as the story prints it.
    fn stamp(&self) -> String {
        format!("{:.3}s", (self.world.now() - START) / 1000.0)
    }

    /// Adds a line to the story.
    fn note(&self, what: String) {
        let line = format!("{} {what}", self.stamp());
        self.log.borrow_mut().push(line);
    }

    /// Records `what` as a failure unless `ok`, and, at the first, how far
    /// the story had come.
    fn check(&self, ok: bool, what: String) {
        if !ok {
            let failure = format!("{what} (at {})", self.stamp());
            self.failures.borrow_mut().push(failure);
            if self.first_failure.get().is_none() {
                self.first_failure.set(Some(self.log.borrow().len()));
            }
        }
    }

    /// Counts `n` more causes to end a session.
    fn count_causes(&self, n: u32) {
        self.causes.set(self.causes.get() + n);
    }

    /// Whether a sign-out has settled since the last sign-in. (Unless a
    /// page closed within the delivery lag of its write since that sign-in:
    /// a refresh crossing the sign-out may then write the session back
    /// after the clean-up read storage.)
    fn signed_out(&self) -> bool {
        self.signed_out_at.get() > self.last_login.get()
            && self.world.last_unheard_at.get() < self.last_login.get()
    }

    /// Runs the world `ms` on, with the invariants of `step` checked after
    /// every timer.
    fn wait(&self, ms: f64) {
        self.world.exec.run(ms, || self.step());
    }

    /// The invariants checked after every timer: one refresh request in
    /// flight at most, and no refresh token in storage once a sign-out has
    /// settled.
    fn step(&self) {
        let refreshing = self.world.refreshing.get();
        self.check(
            refreshing <= 1,
            format!("{refreshing} refresh requests in flight at once"),
        );
        if self.signed_out() {
            self.check(
                !self.world.truth.borrow().contains_key(REFRESH),
                "storage holds a refresh token after a settled sign-out".into(),
            );
        }
    }

    /// Runs `then` with this checker `ms` of simulated time from now.
    fn later(self: &Rc<Self>, ms: u32, then: impl FnOnce(&Rc<Checker>) + 'static) {
        let me = Rc::downgrade(self);
        self.world.exec.at(f64::from(ms), move || {
            then(&me.upgrade().expect("the checker outlives its world's runs"));
        });
    }

    /// One op of the schedule, its tabs numbered modulo the tabs there are.
    fn apply(self: &Rc<Self>, op: &Op) {
        let tab = |t: &usize| t % self.tabs;
        match op {
            Op::Get { n: 0, .. } => {}
            Op::Get { tab: t, n } => {
                self.note(format!("tab {} getAuthToken x{n}", tab(t)));
                for _ in 0..*n {
                    self.call(tab(t), "get");
                }
            }
            Op::Storm { tab: t, sign_out } => {
                self.note("every tab calls getAuthToken".into());
                for i in 0..self.tabs {
                    let ms = self.world.random.between(0, 20);
                    self.later(ms, move |checker| checker.call(i, "get"));
                }
                if let Some(delay) = sign_out {
                    self.count_causes(1);
                    let t = tab(t);
                    self.later(*delay, move |checker| {
                        checker.note(format!("tab {t} signOut amid the storm"));
                        checker.call(t, "signOut");
                    });
                }
            }
            Op::Refresh { tab: t } => {
                self.note(format!("tab {} refresh", tab(t)));
                self.call(tab(t), "refresh");
            }
            Op::SignOut { tab: t } => {
                self.note(format!("tab {} signOut", tab(t)));
                self.count_causes(1);
                self.call(tab(t), "signOut");
            }
            Op::Cross {
                tab: t,
                other,
                delay,
            } => {
                self.note(format!(
                    "tab {} refresh, tab {} signOut {delay} ms later",
                    tab(t),
                    tab(other)
                ));
                self.count_causes(1);
                self.call(tab(t), "refresh");
                let other = tab(other);
                self.later(*delay, move |checker| checker.call(other, "signOut"));
            }
            Op::Login { tab: t, user } => self.login(tab(t), &format!("u{user}")),
            Op::Revoke => {
                let family = self.world.server.families.borrow().len() as u32;
                self.note(format!("server revokes session {family}"));
                self.count_causes(1);
                self.world.server.revoke(family, "admin");
            }
            Op::Reload { tab: t } => {
                self.note(format!("tab {} reloads the page", tab(t)));
                self.world.tab(tab(t)).open();
            }
            Op::CloseMidRefresh { tab: t, delay } => {
                let t = tab(t);
                self.note(format!(
                    "tab {t} refresh, the page reloaded {delay} ms later"
                ));
                self.call(t, "refresh");
                self.later(*delay, move |checker| {
                    checker.note(format!("tab {t} reloads the page"));
                    checker.world.tab(t).open();
                });
            }
        }
    }

    /// Tab `tab` signs in `sub` with a pair the server issues.
    fn login(&self, tab: usize, sub: &str) {
        let pair = self.world.server.login(&self.world, sub);
        let fields: AuthResultFields = serde_json::from_value(pair).expect("an AuthResult");
        let raw = fields.read().expect("well-typed fields");
        self.world
            .tab(tab)
            .client()
            .set_auth_result(raw)
            .expect("the server's AuthResult is valid");
        self.last_login.set(self.world.now());
        // A sign-in ends this tab's sign-out.
        self.leaving.borrow_mut()[tab] = None;
        self.note(format!("tab {tab} signs in {sub}"));
    }

    /// Tab `tab` calls getAuthToken() ("get"), a forced refresh ("refresh")
    /// or signOut() ("signOut"); `settled` checks what it settles with.
    fn call(self: &Rc<Self>, tab: usize, kind: &'static str) {
        let t = self.world.tab(tab);
        let c = Rc::new(Call {
            tab,
            generation: t.generation.get(),
            kind,
            start: self.world.now(),
            end: Cell::new(None),
            code: Cell::new(None),
        });
        self.calls.borrow_mut().push(c.clone());
        let client = t.client();
        let pending: Pin<Box<dyn Future<Output = Outcome>>> = match kind {
            "get" => {
                let token = t.get_auth_token();
                Box::pin(async { Outcome::Token(token.await) })
            }
            "refresh" => {
                let token = client.refresh(true);
                Box::pin(async { Outcome::Token(token.await) })
            }
            "signOut" => {
                let family = client
                    .session()
                    .auth_token()
                    .map(|token| claims_of(token)["fam"].clone());
                self.leaving.borrow_mut()[tab] = family.map(|fam| (c.start, c.generation, fam));
                let confirmed = client.sign_out();
                Box::pin(async { Outcome::SignedOut(confirmed.await) })
            }
            _ => unreachable!("no call {kind}"),
        };
        let me = Rc::downgrade(self);
        self.world.exec.spawn(async move {
            let outcome = pending.await;
            let checker = me.upgrade().expect("the checker outlives its world's runs");
            checker.settled(&c, outcome);
        });
    }

    /// Checks what call `c` settled with, now: no expired token, no token
    /// once a sign-out has settled; and records when a sign-out settled.
    fn settled(&self, c: &Call, outcome: Outcome) {
        let (tab, kind) = (c.tab, c.kind);
        let now = self.world.now();
        c.end.set(Some(now));
        match outcome {
            Outcome::Token(Ok(token)) => {
                let claims = claims_of(&token);
                self.note(format!(
                    "tab {tab} {kind} resolved {}/{}",
                    claims["fam"], claims["iat"]
                ));
                let exp = claims["exp"].as_f64().unwrap_or(0.0);
                self.check(
                    exp * 1000.0 > now,
                    format!(
                        "tab {tab} {kind} resolved with a token expired {} ms ago",
                        now - exp * 1000.0
                    ),
                );
                // From the moment this tab began to sign out, none of the
                // leaving session's tokens (a crossing refresh's write-back
                // included) is handed out here. (Unless a page closed within
                // the delivery lag of its write since: its write-back may
                // then reach this tab after the clean-up, a loss allowed as
                // for `signed_out`.)
                if let Some((start, generation, fam)) = &self.leaving.borrow()[tab] {
                    let unheard = self.world.last_unheard_at.get() >= *start;
                    self.check(
                        unheard
                            || !(c.generation == *generation
                                && c.start > *start
                                && claims["fam"] == *fam),
                        format!("tab {tab} handed out a token of the session it is signing out"),
                    );
                }
                // Once the sign-out has reached this tab (and as for
                // storage, in `step`).
                self.check(
                    !(self.signed_out() && c.start > self.signed_out_at.get() + self.lag),
                    format!("tab {tab} handed out a token after a settled sign-out"),
                );
            }
            Outcome::Token(Err(e)) => {
                c.code.set(Some(e.code));
                self.note(format!("tab {tab} {kind} failed {}", e.code.as_str()));
            }
            Outcome::SignedOut(confirmed) => {
                self.note(format!("tab {tab} signOut resolved {confirmed}"));
                // (A sign-in that had not reached this tab yet is not signed out.)
                if c.start > self.last_login.get() + self.lag {
                    self.signed_out_at.set(self.signed_out_at.get().max(now));
                }
            }
        }
    }

    /// Lets everything settle, checks what is checked at the end (reuses,
    /// refusals, that every call settled in time, that nothing failed
    /// without a cause), tears the world down, and answers the failures,
    /// the story up to the first (every story too with `SIM_LOG`), and the
    /// refresh replies lost with a closed page.
    fn finish(&self) -> (Vec<String>, Vec<String>, u32) {
        let w = &self.world;
        let timeout = f64::from(TIMEOUT_MS);
        self.wait(bound(timeout) + 10_000.0);

        // Strict rotation makes one loss unavoidable: a page closed after the
        // server rotated its token but before every tab learned the new one
        // (the reply was still on its way, or the write had not reached every
        // tab's copy of storage) leaves another page the old token, and its use
        // ends the session. Nothing else may.
        let lost_replies = w.lost_replies.get();
        let (reuses, lost) = (w.server.reuses.get(), lost_replies + w.unheard_writes.get());
        if self.grace > 0 {
            // Within the period, the old token gets its pair again; a page
            // that comes back with it only after the period (the next refresh
            // is due when the token goes stale, which may be later) loses the
            // session as on a strict server.
            let late = w.server.late.get();
            self.check(
                reuses == late && late <= lost,
                format!("a rotated refresh token was reused {reuses} times with a grace period on ({late} after the period, {lost} rotations lost with a closed page)"),
            );
            self.count_causes(late);
        } else {
            self.check(reuses <= lost, format!("a rotated refresh token was reused {reuses} times ({lost} rotations lost with a closed page)"));
            self.count_causes(lost);
        }
        // A page closed within the delivery lag of its write may leave a tab
        // that has not read it to be refused again: after a reuse, the
        // successor it then reads and adopts, revoked with it; after a refusal,
        // the token whose clear has not reached it.
        let allowed = if w.unheard_writes.get() > 0 { 2 } else { 1 };
        for (family, refused) in w.server.refusals.borrow().iter() {
            self.check(
                *refused <= allowed,
                format!("session {family} was refused {refused} times"),
            );
        }
        let causes = self.causes.get();
        for c in self.calls.borrow().iter() {
            let closed = w.tab(c.tab).generation.get() != c.generation;
            match c.end.get() {
                // A page closed meanwhile takes its pending calls with it.
                None if closed => {}
                None => self.check(
                    false,
                    format!(
                        "tab {} {} from {} never settled",
                        c.tab,
                        c.kind,
                        c.start - START
                    ),
                ),
                Some(end) => self.check(
                    end - c.start <= bound(timeout),
                    format!("tab {} {} took {} ms", c.tab, c.kind, end - c.start),
                ),
            }
            if causes == 0 {
                self.check(
                    c.code.get().is_none(),
                    format!(
                        "tab {} {} failed with {:?} with no sign-out or revocation",
                        c.tab,
                        c.kind,
                        c.code.get()
                    ),
                );
            }
        }
        if causes == 0 {
            for tab in w.tabs.borrow().iter() {
                let signed_out = tab
                    .events
                    .borrow()
                    .iter()
                    .any(|(_, e, _)| *e == Event::SignedOut);
                self.check(
                    !signed_out,
                    format!("tab {} signed out with no cause", tab.id),
                );
            }
        }
        w.tear_down();
        *w.trace.borrow_mut() = None;

        let log = self.log.borrow();
        if std::env::var_os("SIM_LOG").is_some() {
            println!("{}", log.join("\n"));
        }
        // The story up to the first failure.
        let upto = self.first_failure.get().unwrap_or(log.len());
        let story = log[upto.saturating_sub(40)..(upto + 1).min(log.len())].to_vec();
        let failures = self.failures.borrow().clone();
        (failures, story, lost_replies)
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The schedule proptest draws for `seed`.
fn draw(seed: u64) -> Schedule {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    schedule()
        .new_tree(&mut runner)
        .expect("a schedule")
        .current()
}

/// Runs the schedule of `seed` with the server's grace period, and fails
/// with its story if an invariant broke. Answers how many ops it has, and
/// how many refresh replies it lost with a closed page.
fn check_schedule(seed: u64, grace: i64, browser: Browser) -> (u64, u32) {
    // The schedules' delivery lags (up to 90 ms) stay under the linger,
    // and under half the claim window of the lock without Web Locks.
    const _: () = assert!(LINGER_MS > 90 && CLAIM_MS > 2 * 90);
    let schedule = draw(seed);
    let (failures, story, lost) = run(seed, &schedule, grace, browser);
    // The grace-period test runs half of SIM_RUNS.
    let runs = if grace > 0 { 2 } else { 1 };
    assert!(
        failures.is_empty(),
        "schedule {seed} ({browser:?}, {} tabs, faults {}, lag {} ms, grace {grace} s): {}\n\
         SIM_SEED={seed} SIM_RUNS={runs} reproduces it; the story up to the first failure:\n{}",
        schedule.tabs,
        schedule.faults,
        schedule.lag,
        failures[..failures.len().min(5)].join("; "),
        story.join("\n"),
    );
    (schedule.ops.len() as u64, lost)
}

/// The first `1/share` of the `SIM_RUNS` seeds (1,000 by default) from
/// `SIM_SEED` (1).
fn seeds(share: u64) -> std::ops::Range<u64> {
    let first = env("SIM_SEED", 1);
    first..first + env("SIM_RUNS", 1000) / share
}

#[test]
fn the_schedules_long_runs_failed_on_hold_now() {
    // Found by runs of 30,000 schedules from seeds 987654 and 5000000: a
    // lock granted to a closed page (988063), a pair sent again within the
    // grace period read as clock skew (988792, 5000384), a page closed
    // within the delivery lag of its write (993690, 5005468), a part of a
    // refresh's write-back adopted while signing out (995788), a page back
    // with its old token after the grace period (990414, 5004967); and, from
    // 200,000 from seed 7000000, a second signOut() that joined the first
    // though another tab had signed in since (7055722); and from 1,000,000
    // from seed 10000000, a page closed within the delivery lag of its
    // write-back crossing a sign-out (10130980), or of its clear after a
    // refusal (10032934, and 20288582 of 2,000,000 from seed 20000000,
    // where another tab's clear followed it); and a closed page's refresh
    // request reaching the server after the next page's, with the same
    // token (10274370); and a signOut() that found nothing to sign out and
    // resolved while another tab's sign-out was still clearing a crossing
    // refresh's write-back (20918485); and, from 300,000 from 30000000, a
    // tab that kept in memory another user's session, adopted while it
    // signed out, after its clean-up had cleared storage (30051415). And,
    // from 20,000 from seed 1, the one schedule with Web Locks that needs a
    // refresh to drop its result when the session was replaced while it
    // was in flight (the epoch check): 17982.
    let seeds = [
        988063, 988792, 990414, 993690, 995788, 5000384, 5004967, 5005468, 7055722, 10032934,
        10130980, 10274370, 17982, 20288582, 20918485, 30051415,
    ];
    for seed in seeds {
        for grace in [0, 30] {
            check_schedule(seed, grace, Browser::WebLocks);
        }
    }
}

#[test]
fn the_clients_invariants_hold_over_random_schedules() {
    let ops: u64 = seeds(1)
        .map(|seed| check_schedule(seed, 0, Browser::WebLocks).0)
        .sum();
    assert!(ops > 0);
}

#[test]
fn without_web_locks_the_invariants_hold_over_random_schedules() {
    let ops: u64 = seeds(1)
        .map(|seed| check_schedule(seed, 0, Browser::NoLocks).0)
        .sum();
    assert!(ops > 0);
}

#[test]
fn with_neither_web_locks_nor_a_channel_the_invariants_hold_over_random_schedules() {
    let ops: u64 = seeds(1)
        .map(|seed| check_schedule(seed, 0, Browser::Neither).0)
        .sum();
    assert!(ops > 0);
}

#[test]
fn with_a_reuse_grace_period_a_page_closed_after_a_rotation_loses_no_session() {
    // The same schedules, but the server answers the token rotated away last
    // with the pair it was rotated to for 30 s: a refresh reply lost with a
    // closed page no longer ends the session, so no refresh token may be
    // reused at all (check_schedule asserts it with grace on).
    let lost: u32 = seeds(2)
        .map(|seed| check_schedule(seed, 30, Browser::WebLocks).1)
        .sum();
    assert!(
        lost > 0,
        "no schedule lost a refresh reply: the case went untested"
    );
}
