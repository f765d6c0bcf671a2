//! Scenario tests: the real client in a quiet simulated world (no faults,
//! 8 ms of delivery lag, Web Locks unless a test says otherwise), each
//! checking one behaviour to the
//! millisecond of virtual time: a three-second token's leeway, a sign-out
//! right after this tab's refresh and a refresh right after a sign-out,
//! back-to-back refreshes, a refresh heard before its callers resume, a
//! lock holder frozen for longer than the lock wait (with and without the
//! server's grace period), a page reopened after a rotation whose old
//! token gets its pair again, a page opened on a stored session or a
//! pending revocation, and, without Web Locks, a holder whose page died
//! without a word.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use passage_user::client::values::AuthResultFields;
use passage_user::core::error::{Code, Error};
use passage_user::ports::Event;

use crate::world::{claims_of, Browser, Settings, Tab, World, START};
use crate::TIMEOUT_MS;
use passage_user::client::{CLAIM_MS, LINGER_MS, PROBE_MS};
use passage_user::ports::LockKind;

/// A world of one or more tabs with a signed-in user, no faults.
pub(crate) fn quiet_world(tabs: usize, lifetime: i64) -> Rc<World> {
    let w = signed_in_world(tabs, lifetime, 0);
    w.exec.run(1000.0, || {});
    w
}

/// The same in a browser that offers `browser`, with tokens of 300 s.
pub(crate) fn quiet_world_of(tabs: usize, browser: Browser) -> Rc<World> {
    let w = signed_in_world_of(tabs, 300, 0, browser);
    w.exec.run(1000.0, || {});
    w
}

/// `tabs` tabs without faults, 8 ms of lag, tokens of `lifetime` s and
/// the server's `grace`; tab 0 has just signed in u1.
pub(crate) fn signed_in_world(tabs: usize, lifetime: i64, grace: i64) -> Rc<World> {
    signed_in_world_of(tabs, lifetime, grace, Browser::WebLocks)
}

/// The same in a browser that offers `browser`.
pub(crate) fn signed_in_world_of(
    tabs: usize,
    lifetime: i64,
    grace: i64,
    browser: Browser,
) -> Rc<World> {
    let w = World::new(
        7,
        Settings {
            tabs,
            faults: 0.0,
            lifetime,
            timeout_ms: TIMEOUT_MS,
            lag: 8,
            grace,
            browser,
        },
    );
    sign_in(&w, &w.tab(0), "u1");
    w
}

/// Signs `sub` in on `tab` with a fresh login; answers the login's pair.
pub(crate) fn sign_in(w: &World, tab: &Tab, sub: &str) -> serde_json::Value {
    let pair = w.server.login(w, sub);
    let fields: AuthResultFields = serde_json::from_value(pair.clone()).expect("an AuthResult");
    tab.client()
        .set_auth_result(fields.read().expect("well-typed fields"))
        .expect("a valid AuthResult");
    pair
}

/// Tab `tab` takes the lock for a forced refresh whose request is held
/// `frozen_ms` (`f64::INFINITY`: it never goes out); then the world runs
/// `ms` on.
pub(crate) fn holding_lock(w: &World, tab: &Tab, frozen_ms: f64, ms: f64) {
    tab.frozen_until.set(w.now() + frozen_ms);
    start(w, tab.client().refresh(true));
    w.exec.run(ms, || {});
}

/// Starts `work` in the background; its outcome is not looked at.
pub(crate) fn start<T: 'static>(w: &World, work: impl Future<Output = T> + 'static) {
    w.exec.spawn(async move {
        let _ = work.await;
    });
}

/// Runs `work` to its end; answers its output and the simulated ms it took.
pub(crate) fn timed<T: 'static>(w: &World, work: impl Future<Output = T> + 'static) -> (T, f64) {
    let out: Rc<RefCell<Option<(T, f64)>>> = Rc::default();
    let start = w.now();
    let (slot, exec) = (out.clone(), w.exec.clone());
    w.exec.spawn(async move {
        let value = work.await;
        *slot.borrow_mut() = Some((value, exec.now() - start));
    });
    w.exec.run(60_000.0, || {});
    let taken = out.borrow_mut().take();
    taken.expect("the call settled")
}

/// Like `timed`, but without running the clock on: for calls that settle
/// without waiting.
pub(crate) fn timed_now<T: 'static>(
    w: &World,
    work: impl Future<Output = T> + 'static,
) -> (T, f64) {
    let out: Rc<RefCell<Option<(T, f64)>>> = Rc::default();
    let start = w.now();
    let (slot, exec) = (out.clone(), w.exec.clone());
    w.exec.spawn(async move {
        let value = work.await;
        *slot.borrow_mut() = Some((value, exec.now() - start));
    });
    w.exec.run_ready();
    let taken = out.borrow_mut().take();
    taken.expect("the call settled without waiting")
}

#[test]
fn a_sign_out_right_after_this_tabs_refresh_takes_over_its_kept_lock() {
    let w = quiet_world(2, 300);
    let client = w.tab(0).client();
    // The refresh keeps its lock LINGER_MS; the sign-out right after takes
    // it over rather than wait for it and then for a settle window.
    let work = async move {
        let token = client.refresh(true).await;
        assert!(token.is_ok());
        client.sign_out().await
    };
    let (confirmed, ms) = timed(&w, work);
    assert!(confirmed);
    // Two round trips (the refresh, then the DELETE; at most 80 ms each
    // here), and no lock wait.
    assert!(ms <= 160.0, "refresh then signOut took {ms} ms");
    w.tear_down();
}

#[test]
fn a_refresh_right_after_a_sign_out_is_login_required_at_once() {
    let w = quiet_world(2, 300);
    let client = w.tab(0).client();
    let signing_out = client.sign_out();
    let (result, ms) = timed(&w, client.refresh(true));
    assert_eq!(result.unwrap_err().code, Code::LoginRequired);
    assert_eq!(ms, 0.0, "no lock wait, no settle window");
    let (confirmed, _) = timed(&w, signing_out);
    assert!(confirmed);
    w.tear_down();
}

#[test]
fn a_three_second_token_is_used_until_a_tenth_of_its_life_before_exp() {
    let w = quiet_world(1, 3);
    // Signed in at `login`; the token lives 3 s, so its leeway is 300 ms.
    let login = START;
    let exp = login + 3000.0;
    let first = claims_of(&timed_now(&w, w.tab(0).get_auth_token()).0.unwrap());
    // quiet_world ran 1 s: calls every 50 ms until 2,700 ms after the login
    // get the same token without a request.
    while w.now() + 50.0 < exp - 300.0 {
        w.exec.run(50.0, || {});
        let tab = w.tab(0);
        let (token, ms) = timed_now(&w, tab.get_auth_token());
        assert_eq!(ms, 0.0);
        assert_eq!(claims_of(&token.unwrap())["iat"], first["iat"]);
    }
    assert_eq!(
        w.server.families.borrow()[0].current,
        "rt-1",
        "no refresh yet"
    );
    // Past exp - leeway, the next call refreshes.
    w.exec.run(exp - 300.0 - w.now(), || {});
    let (token, _) = timed(&w, w.tab(0).get_auth_token());
    assert_ne!(claims_of(&token.unwrap())["iat"], first["iat"]);
    assert_eq!(w.server.families.borrow()[0].current, "rt-2");
    w.tear_down();
}

/// A stale session in two tabs; tab 0 takes the refresh lock and freezes
/// before its request goes out, for longer than the lock wait; tab 1 goes
/// on alone. Answers the reuses the server saw, whether a later refresh
/// works, and what tab 0's call got.
fn frozen_holder(grace: i64) -> (u32, bool, Result<String, Error>) {
    let w = signed_in_world(2, 20, grace);
    // Past the token's freshness.
    w.exec.run(19_000.0, || {});
    // Tab 0 takes the lock and freezes just before sending, for 10 s (the
    // lock wait is 4 x 2 s).
    w.tab(0).frozen_until.set(w.now() + 10_000.0);
    let frozen: Rc<RefCell<Option<Result<String, Error>>>> = Rc::default();
    let slot = frozen.clone();
    let call = w.tab(0).get_auth_token();
    w.exec.spawn(async move {
        *slot.borrow_mut() = Some(call.await);
    });
    w.exec.run(1.0, || {});
    let (other, ms) = timed(&w, w.tab(1).get_auth_token());
    assert!(other.is_ok(), "tab 1 went on alone: {other:?}");
    assert!(ms >= 8_000.0, "tab 1 waited {ms} ms for the frozen holder");
    // Tab 0 wakes and sends the token tab 1 rotated away.
    w.exec.run(5_000.0, || {});
    let woke = frozen.borrow_mut().take().expect("tab 0's call settled");
    let (later, _) = timed(&w, w.tab(1).client().refresh(true));
    let reuses = w.server.reuses.get();
    w.tear_down();
    (reuses, later.is_ok(), woke)
}

#[test]
fn a_frozen_lock_holder_that_wakes_within_the_grace_period_keeps_the_session() {
    let (reuses, later, woke) = frozen_holder(30);
    assert_eq!(reuses, 0);
    assert!(woke.is_ok(), "{woke:?}");
    assert!(later, "the session goes on");
}

#[test]
fn with_strict_rotation_a_frozen_lock_holder_that_wakes_ends_the_session() {
    // The limit the grace period lifts: the old token's use is reuse, and
    // the server revokes the session.
    let (reuses, later, _) = frozen_holder(0);
    assert_eq!(reuses, 1);
    assert!(!later, "the session was revoked");
}

/// One tab, a 20 s token and a 30 s grace period. At 19 s the tab
/// refreshes, and its page closes once the server has rotated, before the
/// reply arrives; the reopened page holds the rotated-away token. `later_ms`
/// after, it asks for a token, and gets the pair the server sends again.
/// Answers the world, that token and when it came.
fn reopened_after_rotation(later_ms: f64) -> (Rc<World>, String, f64) {
    let w = signed_in_world(1, 20, 30);
    w.exec.run(19_000.0, || {});
    let first = w.server.families.borrow()[0].current.clone();
    start(&w, w.tab(0).client().refresh(true));
    let reopened = Cell::new(false);
    w.exec.run(100.0, || {
        if !reopened.get() && w.server.families.borrow()[0].current != first {
            reopened.set(true);
            w.tab(0).open();
        }
    });
    assert!(reopened.get(), "the server rotated");
    assert_eq!(w.lost_replies.get(), 1, "the reply went to a closed page");
    w.exec.run(later_ms, || {});
    let got: Rc<RefCell<Option<(String, f64)>>> = Rc::default();
    let (slot, world, call) = (got.clone(), w.clone(), w.tab(0).get_auth_token());
    w.exec.spawn(async move {
        let token = call.await.expect("a token");
        *slot.borrow_mut() = Some((token, world.now()));
    });
    w.exec.run(5_000.0, || {});
    assert_eq!(w.server.graced.get(), 1, "the old token got its pair again");
    assert_eq!(w.server.reuses.get(), 0);
    let (token, at) = got.borrow_mut().take().expect("the call settled");
    (w, token, at)
}

#[test]
fn a_pair_sent_again_within_the_grace_period_is_not_read_as_clock_skew() {
    // 10 s later, the pair sent again was issued 10 s ago, as if this
    // tab's clock ran 10 s fast; its token is still fresh.
    let (w, token, at) = reopened_after_rotation(10_000.0);
    let claims = claims_of(&token);
    let (iat, exp) = (
        claims["iat"].as_f64().unwrap(),
        claims["exp"].as_f64().unwrap(),
    );
    assert!(at - iat * 1000.0 >= 9_000.0, "the pair sent again");
    // Just past exp - leeway (a 20 s token: 2 s), the next call refreshes.
    w.exec.run(exp * 1000.0 - 2_000.0 + 10.0 - w.now(), || {});
    let asked = w.now();
    let (next, _) = timed(&w, w.tab(0).get_auth_token());
    let next = next.expect("a token");
    assert_ne!(next, token, "a token handed out past exp - leeway");
    assert!(claims_of(&next)["iat"].as_f64().unwrap() * 1000.0 >= asked - 1_000.0);
    w.tear_down();
}

#[test]
fn a_pair_sent_again_already_stale_is_refreshed_once_more_not_read_as_skew() {
    // 25 s later, the pair sent again has outlived its 20 s token: one
    // more refresh gets a pair issued now.
    let (w, token, at) = reopened_after_rotation(25_000.0);
    let exp = claims_of(&token)["exp"].as_f64().unwrap() * 1000.0;
    assert!(exp - at > 2_000.0, "a token {} ms from its exp", exp - at);
    w.tear_down();
}

#[test]
fn back_to_back_refreshes_in_one_tab_take_over_its_kept_lock() {
    let w = quiet_world(2, 300);
    let client = w.tab(0).client();
    let work = async move {
        for _ in 0..20 {
            client.refresh(true).await.expect("a refresh");
        }
    };
    let ((), ms) = timed(&w, work);
    // One round trip each (at most 80 ms here); waiting on its own kept lock
    // would add 100 ms and a 500 ms settle window to each.
    assert!(ms <= 20.0 * 80.0, "20 refreshes took {ms} ms");
    w.tear_down();
}

#[test]
fn a_refresh_is_heard_before_its_callers_resume() {
    let w = quiet_world(2, 300);
    let tab = w.tab(0);
    let client = tab.client();
    let heard = {
        let tab = tab.clone();
        async move {
            client.refresh(true).await.expect("a refresh");
            let events = tab.events.borrow();
            events.iter().map(|(_, e, _)| *e).collect::<Vec<_>>()
        }
    };
    let (heard, _) = timed(&w, heard);
    // (The sign-in came first.)
    assert_eq!(heard.last(), Some(&Event::TokenRefreshed), "{heard:?}");
    w.tear_down();
}

#[test]
fn a_page_opened_on_a_stored_session_hands_out_its_token_before_any_call() {
    let w = quiet_world(2, 300);
    let tab = w.tab(1);
    tab.open();
    // Read at construction: the hot path has the token, no call needed.
    let (token, until) = tab.cache.borrow().clone();
    let stored = w.truth.borrow().get(crate::world::AUTH).cloned();
    assert!(token.is_some() && token == stored, "{token:?}");
    assert!(until > w.now());
    w.tear_down();
}

#[test]
fn a_page_opened_with_a_pending_revocation_sends_it_whether_or_not_it_names_the_app() {
    for names_app in [true, false] {
        let w = quiet_world(2, 300);
        let rt = w.truth.borrow()[crate::world::REFRESH].clone();
        let pending = serde_json::to_string(&[&rt]).unwrap();
        for t in [0, 1] {
            let tab = w.tab(t);
            tab.view
                .borrow_mut()
                .insert(crate::world::PENDING.into(), pending.clone());
        }
        w.truth
            .borrow_mut()
            .insert(crate::world::PENDING.into(), pending);
        let tab = w.tab(1);
        tab.names_app.set(names_app);
        tab.open();
        w.exec.run(5_000.0, || {});
        let revoked = w
            .server
            .families
            .borrow()
            .iter()
            .any(|f| f.revoked == Some("sign_out"));
        assert!(
            revoked,
            "names_app {names_app}: the pending revocation was not sent"
        );
        w.tear_down();
    }
}

#[test]
fn without_web_locks_a_holder_gone_without_a_word_delays_the_others_once() {
    let w = quiet_world_of(3, Browser::NoLocks);
    // Tab 1 takes the lock; its request is held (a frozen page); then its
    // page dies without a word: no "free" ever comes.
    let (holder, other) = (w.tab(1), w.tab(0));
    holding_lock(&w, &holder, f64::INFINITY, 500.0);
    holder.crash();
    // The first refresh waits out the silent holder (a probe's wait and
    // its window).
    let client = other.client();
    let (first, ms) = timed(&w, async move { client.refresh(true).await });
    assert!(first.is_ok(), "{first:?}");
    assert!(ms >= f64::from(PROBE_MS), "took over after {ms} ms");
    // The next one does not wait for that holder again.
    let client = other.client();
    let (second, ms) = timed(&w, async move { client.refresh(true).await });
    assert!(second.is_ok(), "{second:?}");
    assert!(
        ms < f64::from(PROBE_MS),
        "waited {ms} ms for a holder that is gone"
    );
    // Nor does a third tab, which heard the new holder name itself.
    let client = w.tab(2).client();
    let (third, ms) = timed(&w, async move { client.refresh(true).await });
    assert!(third.is_ok(), "{third:?}");
    assert!(
        ms < f64::from(PROBE_MS),
        "tab 2 waited {ms} ms for a holder that is gone"
    );
    w.tear_down();
}

/// One tab signed in with a session the server ends `session_s` after the
/// login, no faults, Web Locks.
fn world_with_session_end(session_s: i64) -> Rc<World> {
    world_of_tabs_with_session_end(1, session_s)
}

/// The same with `tabs` tabs.
fn world_of_tabs_with_session_end(tabs: usize, session_s: i64) -> Rc<World> {
    let w = World::new(
        7,
        Settings {
            tabs,
            faults: 0.0,
            lifetime: 300,
            timeout_ms: TIMEOUT_MS,
            lag: 8,
            grace: 0,
            browser: Browser::WebLocks,
        },
    );
    w.server.session_s.set(Some(session_s));
    sign_in(&w, &w.tab(0), "u1");
    w.exec.run(1000.0, || {});
    w
}

fn signed_out(w: &World, tab: usize) -> bool {
    w.tab(tab)
        .events
        .borrow()
        .iter()
        .any(|(_, e, _)| *e == Event::SignedOut)
}

#[test]
fn a_clock_far_ahead_asks_the_server_before_it_drops_a_live_session() {
    // An hour of session left; then the page's clock runs two hours ahead,
    // and the page is opened again (nothing read of the server's clock yet).
    let w = world_with_session_end(3600);
    let tab = w.tab(0);
    tab.clock_ahead.set(7_200_000.0);
    tab.open();
    let call = tab.get_auth_token();
    let (token, _) = timed(&w, call);
    assert!(token.is_ok(), "{token:?}");
    assert!(
        w.server.refreshes.get() >= 1,
        "nothing was asked of the server"
    );
    assert!(!signed_out(&w, 0), "signed out by a clock alone");
    // The server's clock, read, keeps the new token fresh: no refresh storm.
    let asked = w.server.refreshes.get();
    let again = tab.get_auth_token();
    let (token, _) = timed(&w, again);
    assert!(token.is_ok(), "{token:?}");
    assert_eq!(w.server.refreshes.get(), asked);
    w.tear_down();
}

#[test]
fn an_end_that_the_fresh_token_vouches_for_ends_the_session_without_a_request() {
    // The session ends after 10 s; its 300 s token is still fresh.
    let w = world_with_session_end(10);
    w.exec.run(20_000.0, || {});
    let tab = w.tab(0);
    tab.open();
    let call = tab.get_auth_token();
    let (token, _) = timed_now(&w, call);
    assert_eq!(token.map_err(|e| e.code), Err(Code::LoginRequired));
    assert_eq!(
        w.server.refreshes.get(),
        0,
        "a request for a session known over"
    );
    w.tear_down();
}

#[test]
fn another_apps_session_in_storage_is_never_handed_out_refreshed_or_cleared() {
    let w = quiet_world(1, 300);
    let other = crate::world::fake_jwt(&serde_json::json!({
        "sub": "u9", "iat": 1, "exp": 4_102_444_800i64, "aud": [crate::world::ORIGIN, "app2"],
    }));
    let tab = w.tab(0);
    tab.set_stored(crate::world::AUTH, Some(&other));
    tab.set_stored(crate::world::REFRESH, Some("rt-app2"));
    tab.open();
    let call = tab.get_auth_token();
    let (token, _) = timed(&w, call);
    assert_eq!(token.map_err(|e| e.code), Err(Code::LoginRequired));
    let client = tab.client();
    let (confirmed, _) = timed(&w, client.sign_out());
    assert!(confirmed);
    assert_eq!(w.server.refreshes.get(), 0);
    assert_eq!(
        w.truth.borrow().get(crate::world::AUTH),
        Some(&other),
        "another app's session was cleared"
    );
    // Nor is its AuthResult taken: the instance names app1.
    let fields: AuthResultFields = serde_json::from_value(serde_json::json!({
        "auth_token": other, "refresh_token": "rt-app2",
    }))
    .expect("an AuthResult");
    let refused = tab.client().set_auth_result(fields.read().expect("fields"));
    assert_eq!(refused.map_err(|e| e.code), Err(Code::InvalidAuthResult));
    w.tear_down();
}

#[test]
fn a_disposed_client_hands_out_nothing_from_memory() {
    let w = quiet_world(1, 300);
    let tab = w.tab(0);
    assert!(tab.cache.borrow().0.is_some());
    tab.client().dispose();
    assert_eq!(
        tab.cache.borrow().0,
        None,
        "a disposed client still publishes its token"
    );
    w.tear_down();
}

#[test]
fn a_sign_in_is_heard_at_once_and_a_refresh_once_its_flight_has_landed() {
    let w = signed_in_world(1, 300, 0);
    let tab = w.tab(0);
    // (signed_in_world's set_auth_result has just returned.)
    let heard: Vec<Event> = tab.events.borrow().iter().map(|(_, e, _)| *e).collect();
    assert_eq!(heard, [Event::SignedIn]);
    let client = tab.client();
    let (refreshed, _) = timed(&w, client.refresh(true));
    assert!(refreshed.is_ok(), "{refreshed:?}");
    assert_eq!(
        tab.events.borrow().last().map(|(_, e, _)| *e),
        Some(Event::TokenRefreshed)
    );
    assert_eq!(
        tab.heard_in_flight.get(),
        0,
        "an event was delivered while its refresh was in flight"
    );
    w.tear_down();
}

#[test]
fn a_tab_signing_out_never_hands_out_a_crossing_refreshs_write_back() {
    // Tab 0 refreshes. The moment the server has rotated its token, tab 1
    // signs out; tab 0's reply lands before tab 1's clear reaches it (90 ms
    // of delivery lag), so tab 0 writes the session back after the clear,
    // and keeps the lock a while after writing. Tab 1, its clean-up waiting
    // for that lock, sees the write-back arrive: asked for a token then, it
    // must have none.
    let w = World::new(
        7,
        Settings {
            tabs: 2,
            faults: 0.0,
            lifetime: 300,
            timeout_ms: TIMEOUT_MS,
            lag: 90,
            grace: 0,
            browser: Browser::WebLocks,
        },
    );
    let pair = w.server.login(&w, "u1");
    let fields: AuthResultFields = serde_json::from_value(pair).expect("an AuthResult");
    let raw = fields.read().expect("well-typed fields");
    w.tab(0)
        .client()
        .set_auth_result(raw)
        .expect("a valid AuthResult");
    w.exec.run(1000.0, || {});
    let (a, b) = (w.tab(0), w.tab(1));
    start(&w, a.client().refresh(true));
    let asked: Rc<RefCell<Option<Result<String, Error>>>> = Rc::default();
    let (slot, exec, world) = (asked.clone(), w.exec.clone(), w.clone());
    let (signed_out, arrived) = (Cell::new(false), Cell::new(false));
    let cleared = Cell::new(false);
    w.exec.run(5_000.0, || {
        if !signed_out.get() && world.server.refreshes.get() == 1 {
            signed_out.set(true);
            let signing_out = b.client().sign_out();
            exec.spawn(async move {
                let _ = signing_out.await;
            });
        }
        // (The whole write-back: the auth token arrives last.)
        let seen = b.view.borrow().get(crate::world::AUTH).cloned();
        cleared.set(cleared.get() || (signed_out.get() && seen.is_none()));
        if cleared.get() && !arrived.get() && seen.is_some() {
            arrived.set(true);
            let call = b.get_auth_token();
            let slot = slot.clone();
            exec.spawn(async move {
                *slot.borrow_mut() = Some(call.await);
            });
        }
    });
    assert!(arrived.get(), "no write-back reached tab 1 after its clear");
    let answer = asked.borrow_mut().take().expect("the call settled");
    assert_eq!(answer.map_err(|e| e.code), Err(Code::LoginRequired));
    w.tear_down();
}

#[test]
fn another_users_sign_in_during_this_tabs_sign_out_is_seen_at_once() {
    // Tab 0 holds the refresh lock (its request is held: a frozen page), so
    // tab 1's sign-out waits for it to clean up. Meanwhile tab 2 signs in
    // another user: tab 1 hands out that user's token as soon as the write
    // reaches it, not once its clean-up is done.
    let w = quiet_world(3, 300);
    let (a, b, c) = (w.tab(0), w.tab(1), w.tab(2));
    holding_lock(&w, &a, f64::INFINITY, 100.0);
    let signing_out = b.client().sign_out();
    let settled = Rc::new(Cell::new(false));
    let done = settled.clone();
    w.exec.spawn(async move {
        signing_out.await;
        done.set(true);
    });
    w.exec.run(100.0, || {});
    let pair = sign_in(&w, &c, "u2");
    w.exec.run(200.0, || {});
    assert!(!settled.get(), "the sign-out did not wait for the lock");
    let call = b.get_auth_token();
    let (token, _) = timed_now(&w, call);
    assert_eq!(token.ok().as_deref(), pair["auth_token"].as_str());
    w.tear_down();
}

#[test]
fn without_web_locks_two_calls_of_one_tab_hold_the_lock_one_after_the_other() {
    // A refresh and a sign-out of the same tab both want the refresh lock
    // (the sign-out while the refresh still claims it, or holds it): the
    // tab announces it held, then free, then held again, never held twice
    // at once (other tabs could not tell the two apart), and the second
    // goes on as soon as the first lets go.
    for delay in [100.0, 500.0] {
        let w = quiet_world_of(2, Browser::NoLocks);
        let tab = w.tab(0);
        let client = tab.client();
        // The refresh's request is held a while.
        tab.frozen_until.set(w.now() + 1_000.0);
        let refresh = client.refresh(true);
        let refreshed = Rc::new(Cell::new(None));
        let (done, exec) = (refreshed.clone(), w.exec.clone());
        w.exec.spawn(async move {
            let _ = refresh.await;
            done.set(Some(exec.now()));
        });
        w.exec.run(delay, || {});
        let start = w.now();
        let (confirmed, ms) = timed(&w, client.sign_out());
        assert!(confirmed);
        let signed_out = start + ms;
        let mut holding = std::collections::HashMap::new();
        let messages = w.lock_messages.borrow().clone();
        for (_, m) in messages.iter().filter(|(tab, _)| *tab == 0) {
            let held = holding.entry(m.name).or_insert(false);
            match m.kind {
                LockKind::Held => {
                    assert!(!*held, "after {delay} ms: a lock announced held twice");
                    *held = true;
                }
                LockKind::Free => *held = false,
                LockKind::Claim => {}
            }
        }
        let helds = messages
            .iter()
            .filter(|(t, m)| *t == 0 && m.kind == LockKind::Held)
            .count();
        assert!(
            helds >= 2,
            "after {delay} ms: the two did not both take the lock"
        );
        // The sign-out's hold began right after the refresh let go (a claim
        // window), not after a wait for some other tab's message.
        let refresh_done = refreshed.get().expect("the refresh settled");
        assert!(
            signed_out - refresh_done < 2_000.0,
            "after {delay} ms: the sign-out waited {} ms",
            signed_out - refresh_done
        );
        w.tear_down();
    }
}

#[test]
fn other_tabs_hear_a_refresh_once_with_the_new_token_a_sign_in_as_such_and_a_sign_out() {
    let w = quiet_world(2, 300);
    let (a, b) = (w.tab(0), w.tab(1));
    let heard = |tab: &crate::world::Tab| -> Vec<Event> {
        tab.events.borrow().iter().map(|(_, e, _)| *e).collect()
    };
    let before = heard(&b).len();
    let client = a.client();
    let (token, _) = timed(&w, client.refresh(true));
    let token = token.expect("a refresh");
    // Once, and with the new token published (not for the partway state
    // whose refresh token arrived first).
    assert_eq!(heard(&b)[before..], [Event::TokenRefreshed]);
    assert_eq!(b.heard_with.borrow().last().cloned().flatten(), Some(token));
    // Another user's sign-in is a sign-in, not a refresh.
    sign_in(&w, &a, "u2");
    w.exec.run(1000.0, || {});
    assert_eq!(heard(&b).last(), Some(&Event::SignedIn));
    // A sign-out there is heard here as one; a clear seen with nothing
    // signed in fires nothing.
    let client = a.client();
    let (_, _) = timed(&w, client.sign_out());
    let events = b.events.borrow().clone();
    assert_eq!(
        events.last().map(|(_, e, r)| (*e, *r)),
        Some((Event::SignedOut, Some("other_tab")))
    );
    let count = events.len();
    drop(events);
    let client = a.client();
    let (_, _) = timed(&w, client.sign_out());
    assert_eq!(
        b.events.borrow().len(),
        count,
        "an event for a session that was not there"
    );
    w.tear_down();
}

#[test]
fn a_refresh_is_in_flight_until_it_lands() {
    let w = quiet_world(1, 300);
    let client = w.tab(0).client();
    assert!(!client.is_refreshing());
    let refresh = client.refresh(true);
    assert!(client.is_refreshing());
    let (token, _) = timed(&w, refresh);
    assert!(token.is_ok());
    assert!(!client.is_refreshing());
    w.tear_down();
}

#[test]
fn a_second_sign_out_after_another_users_sign_in_signs_that_user_out_too() {
    // As in the scenario above: tab 1's sign-out waits for the lock tab 0
    // holds, and tab 2 signs in another user meanwhile. Tab 1's next
    // signOut() is one of its own: it signs that user out too.
    let w = quiet_world(3, 300);
    let (a, b, c) = (w.tab(0), w.tab(1), w.tab(2));
    holding_lock(&w, &a, 3_000.0, 100.0);
    start(&w, b.client().sign_out());
    w.exec.run(100.0, || {});
    sign_in(&w, &c, "u2");
    w.exec.run(200.0, || {});
    let second = b.client().sign_out();
    let (confirmed, _) = timed(&w, second);
    assert!(confirmed);
    assert!(
        !w.truth.borrow().contains_key(crate::world::REFRESH),
        "the second sign-out joined the first and left the new session"
    );
    let families = w.server.families.borrow();
    assert!(
        families.last().is_some_and(|f| f.revoked.is_some()),
        "u2's session lives on"
    );
    drop(families);
    w.tear_down();
}

#[test]
fn a_session_the_store_refused_stays_in_memory_when_another_tabs_write_arrives() {
    // Tab 0's store refuses writes: its refreshed session lives in memory
    // only. Another tab's write then arrives: tab 0 keeps handing out the
    // token of its own, newer session rather than the stored one.
    let w = quiet_world(2, 300);
    let a = w.tab(0);
    a.store_full.set(true);
    let client = a.client();
    let (refreshed, _) = timed(&w, client.refresh(true));
    assert_eq!(refreshed.map_err(|e| e.code), Err(Code::Storage));
    let kept = a
        .cache
        .borrow()
        .0
        .clone()
        .expect("the new session, in memory");
    // Another tab's write becomes readable here.
    a.client().signal(passage_user::ports::Signal::Stored);
    let call = a.get_auth_token();
    let (token, _) = timed_now(&w, call);
    assert_eq!(token.ok(), Some(kept));
    w.tear_down();
}

#[test]
fn an_authresult_whose_end_passed_by_the_servers_clock_is_refused() {
    // This page's clock runs ten minutes behind the server's; a login's
    // token read as ahead of ours is trusted. An AuthResult whose session
    // ended a minute ago by the server's clock is refused, though our clock
    // would still see nine minutes left; and with clocks in step, an ended
    // one is refused as well.
    for behind_ms in [600_000.0, 0.0] {
        let w = quiet_world(1, 300);
        let tab = w.tab(0);
        tab.clock_ahead.set(-behind_ms);
        tab.open();
        let pair = w.server.login(&w, "u2");
        let server_s = (w.now() / 1000.0) as i64;
        let fields: AuthResultFields = serde_json::from_value(serde_json::json!({
            "auth_token": pair["auth_token"], "refresh_token": pair["refresh_token"],
            "refresh_token_expiration": server_s - 60,
        }))
        .expect("an AuthResult");
        let refused = tab.client().set_auth_result(fields.read().expect("fields"));
        assert_eq!(
            refused.map_err(|e| e.code),
            Err(Code::InvalidAuthResult),
            "{behind_ms} ms behind"
        );
        w.tear_down();
    }
}

#[test]
fn a_login_in_step_with_our_clock_reads_the_servers_clock() {
    // The session ends 10 s after a login whose 5 s token is in step with
    // our clock. 20 s later both are past: the server's clock was read at
    // the login, so the end stands without a request.
    let w = World::new(
        7,
        Settings {
            tabs: 1,
            faults: 0.0,
            lifetime: 5,
            timeout_ms: TIMEOUT_MS,
            lag: 8,
            grace: 0,
            browser: Browser::WebLocks,
        },
    );
    w.server.session_s.set(Some(10));
    let tab = w.tab(0);
    sign_in(&w, &tab, "u1");
    w.exec.run(20_000.0, || {});
    let call = tab.get_auth_token();
    let (token, _) = timed_now(&w, call);
    assert_eq!(token.map_err(|e| e.code), Err(Code::LoginRequired));
    assert_eq!(w.server.refreshes.get(), 0);
    w.tear_down();
}

#[test]
fn a_sign_in_while_this_tabs_refresh_is_out_wins_over_its_reply() {
    // Tab 0's refresh is held; the page then signs in another user. The
    // refresh's reply must not write over that sign-in.
    let w = quiet_world(1, 300);
    let tab = w.tab(0);
    holding_lock(&w, &tab, 1_000.0, 100.0);
    let pair = sign_in(&w, &tab, "u2");
    w.exec.run(5_000.0, || {});
    let token = tab.cache.borrow().0.clone();
    assert_eq!(
        token.as_deref(),
        pair["auth_token"].as_str(),
        "the refresh wrote over the sign-in"
    );
    assert_eq!(
        w.truth
            .borrow()
            .get(crate::world::REFRESH)
            .map(String::as_str),
        pair["refresh_token"].as_str()
    );
    w.tear_down();
}

#[test]
fn after_a_sign_in_this_tab_still_hears_another_tabs_sign_out() {
    let w = quiet_world(2, 300);
    let (a, b) = (w.tab(0), w.tab(1));
    sign_in(&w, &a, "u2");
    w.exec.run(1_000.0, || {});
    let client = b.client();
    let (_, _) = timed(&w, client.sign_out());
    let call = a.get_auth_token();
    let (token, _) = timed_now(&w, call);
    assert_eq!(token.map_err(|e| e.code), Err(Code::LoginRequired));
    w.tear_down();
}

#[test]
fn a_sign_in_revokes_the_replaced_session_where_it_was_issued() {
    // Our app's previous session is revoked at our app.
    let w = quiet_world(1, 300);
    let tab = w.tab(0);
    sign_in(&w, &tab, "u2");
    w.exec.run(5_000.0, || {});
    let first = w.server.families.borrow()[0].revoked;
    assert_eq!(first, Some("sign_out"), "the replaced session lives on");
    // Another app's session in storage is revoked at that app.
    let other = crate::world::fake_jwt(&serde_json::json!({
        "sub": "u9", "iat": 1, "exp": 4_102_444_800i64, "aud": [crate::world::ORIGIN, "app2"],
    }));
    tab.set_stored(crate::world::AUTH, Some(&other));
    tab.set_stored(crate::world::REFRESH, Some("rt-app2"));
    sign_in(&w, &tab, "u3");
    w.exec.run(5_000.0, || {});
    let at_app2 = format!(
        "{}/v1/apps/app2/tokens?refresh_token=rt-app2",
        crate::world::ORIGIN
    );
    let received = w.server.received.borrow();
    assert!(
        received
            .iter()
            .any(|(m, url)| *m == passage_user::ports::Method::Delete && *url == at_app2),
        "another app's session was not revoked at its app: {received:?}"
    );
    drop(received);
    w.tear_down();
}

#[test]
fn auth_guard_answers_whether_a_token_is_stored() {
    let w = quiet_world(1, 300);
    let client = w.tab(0).client();
    let (signed_in, _) = timed_now(&w, async move { client.auth_guard().await });
    assert_eq!(signed_in, Ok(true));
    let client = w.tab(0).client();
    let (_, _) = timed(&w, client.sign_out());
    let client = w.tab(0).client();
    let (signed_in, _) = timed_now(&w, async move { client.auth_guard().await });
    assert_eq!(signed_in, Ok(false));
    w.tear_down();
}

#[test]
fn a_sign_in_reaches_a_store_that_answers_later() {
    // An app's store whose methods return promises: the session is written
    // in the background, with no call needed.
    let w = quiet_world(1, 300);
    let tab = w.tab(0);
    tab.store_async.set(true);
    tab.open();
    let pair = sign_in(&w, &tab, "u2");
    w.exec.run(1_000.0, || {});
    assert_eq!(
        w.truth
            .borrow()
            .get(crate::world::REFRESH)
            .map(String::as_str),
        pair["refresh_token"].as_str()
    );
    w.tear_down();
}

#[test]
fn an_expired_token_without_a_refresh_token_ends_the_session_once() {
    // A session of an auth token alone (no refresh token), whose token has
    // expired: the next call ends it (storage cleared, SIGNED_OUT expired);
    // with nothing stored, a call ends nothing and fires nothing.
    let w = quiet_world(1, 300);
    let tab = w.tab(0);
    let stale = crate::world::fake_jwt(&serde_json::json!({
        "sub": "u1", "iat": 1, "exp": 2, "aud": [crate::world::ORIGIN, crate::world::APP],
    }));
    tab.set_stored(crate::world::REFRESH, None);
    tab.set_stored(crate::world::END, None);
    tab.set_stored(crate::world::AUTH, Some(&stale));
    tab.open();
    let call = tab.get_auth_token();
    let (token, _) = timed(&w, call);
    assert_eq!(token.map_err(|e| e.code), Err(Code::LoginRequired));
    assert!(
        !w.truth.borrow().contains_key(crate::world::AUTH),
        "the expired session stays stored"
    );
    let events = tab.events.borrow().clone();
    assert_eq!(
        events.iter().map(|(_, e, r)| (*e, *r)).collect::<Vec<_>>(),
        [(Event::SignedOut, Some("expired"))]
    );
    let call = tab.get_auth_token();
    let (token, _) = timed(&w, call);
    assert_eq!(token.map_err(|e| e.code), Err(Code::LoginRequired));
    assert_eq!(
        tab.events.borrow().len(),
        1,
        "an event for a session that was not there"
    );
    w.tear_down();
}

#[test]
fn the_web_lock_of_a_refresh_names_the_auth_server_and_the_app() {
    let w = quiet_world(1, 300);
    let client = w.tab(0).client();
    let (token, _) = timed(&w, client.refresh(true));
    assert!(token.is_ok());
    let name = format!(
        "psg_refresh {}/v1/apps/{}",
        crate::world::ORIGIN,
        crate::world::APP
    );
    assert!(
        w.lock_names.borrow().contains(&name),
        "{:?}",
        w.lock_names.borrow()
    );
    w.tear_down();
}

#[test]
fn without_web_locks_a_pending_revocation_is_not_held_up_by_the_refresh_lock() {
    // Tab 0 holds the refresh lock (its request is held); tab 1 opens with
    // a pending revocation: the revocation lock is another lock, so it is
    // sent at once.
    let w = quiet_world_of(2, Browser::NoLocks);
    let rt = w.truth.borrow()[crate::world::REFRESH].clone();
    let holder = w.tab(0);
    holding_lock(&w, &holder, f64::INFINITY, 500.0);
    let pending = serde_json::to_string(&[&rt]).unwrap();
    let tab = w.tab(1);
    w.truth
        .borrow_mut()
        .insert(crate::world::PENDING.into(), pending.clone());
    tab.view
        .borrow_mut()
        .insert(crate::world::PENDING.into(), pending);
    tab.open();
    w.exec.run(1_000.0, || {});
    let revoked = w
        .server
        .received
        .borrow()
        .iter()
        .any(|(m, _)| *m == passage_user::ports::Method::Delete);
    assert!(revoked, "the revocation waited for the refresh lock");
    w.tear_down();
}

#[test]
fn a_sign_out_with_nothing_to_sign_out_waits_for_the_holders_queued_before_it() {
    // Tab 0 holds the refresh lock (its request held a while); tab 1 signs
    // out, its clean-up queued behind that lock. Tab 2, whose copy already
    // has the clear, has nothing to sign out: its signOut() still resolves
    // only after the holders queued before it.
    let w = quiet_world(3, 300);
    let (a, b, c) = (w.tab(0), w.tab(1), w.tab(2));
    holding_lock(&w, &a, 2_000.0, 100.0);
    start(&w, b.client().sign_out());
    w.exec.run(200.0, || {});
    assert!(
        c.client().session().is_empty(),
        "tab 2 has not heard the clear"
    );
    let client = c.client();
    let (_, ms) = timed(&w, client.sign_out());
    assert!(
        ms >= 1_000.0,
        "resolved after {ms} ms, before the lock's holders were done"
    );
    w.tear_down();
}

#[test]
fn a_lock_wait_that_runs_out_while_the_lock_changes_hands_waits_again() {
    // The first wait runs out (as on a frozen holder). If another tab's
    // refresh was handed off meanwhile, the queue is moving: ask again.
    // If nothing moved, go on without the lock.
    for moved in [true, false] {
        let w = quiet_world(1, 300);
        let tab = w.tab(0);
        tab.lock_waits_run_out.set(1);
        let client = tab.client();
        let refresh = client.refresh(true);
        if moved {
            let client = client.clone();
            w.exec.at(1_000.0, move || {
                client.signal(passage_user::ports::Signal::Unchanged)
            });
        }
        let (token, _) = timed(&w, refresh);
        assert!(token.is_ok(), "{token:?}");
        let asked = w
            .lock_names
            .borrow()
            .iter()
            .filter(|n| n.starts_with("psg_refresh"))
            .count();
        assert_eq!(
            asked,
            usize::from(moved),
            "moved {moved}: Web Lock requests"
        );
        w.tear_down();
    }
}

#[test]
fn a_store_only_this_tab_reads_takes_no_lock() {
    let w = signed_in_world_of(2, 300, 0, Browser::NoLocks);
    let tab = w.tab(1);
    tab.store_memory.set(true);
    tab.open();
    sign_in(&w, &tab, "u2");
    let client = tab.client();
    let (token, ms) = timed(&w, client.refresh(true));
    assert!(token.is_ok(), "{token:?}");
    assert!(
        ms < f64::from(passage_user::client::CLAIM_MS),
        "waited {ms} ms for a lock"
    );
    assert!(
        w.lock_messages.borrow().iter().all(|(t, _)| *t != 1),
        "lock messages"
    );
    w.tear_down();
}

#[test]
fn without_web_locks_a_holder_that_never_lets_go_blocks_no_longer_than_the_lock_wait() {
    // Tab 0 holds the lock and answers every claim, but its request never
    // goes out. Tab 1 waits at most the lock wait (4 x the request timeout),
    // then goes on alone.
    let w = quiet_world_of(2, Browser::NoLocks);
    let holder = w.tab(0);
    holding_lock(&w, &holder, f64::INFINITY, 500.0);
    let client = w.tab(1).client();
    let (token, ms) = timed(&w, client.refresh(true));
    assert!(token.is_ok(), "{token:?}");
    let wait = 4.0 * f64::from(TIMEOUT_MS);
    assert!(ms >= wait && ms < wait + 5_000.0, "went on after {ms} ms");
    w.tear_down();
}

#[test]
fn a_session_ended_in_a_store_that_answers_later_is_heard_by_the_other_tabs() {
    // An app's store fires no storage event: once it has cleared, the
    // other tabs hear of the end on the channel.
    let w = world_of_tabs_with_session_end(2, 10);
    for i in 0..2 {
        w.tab(i).store_async.set(true);
        w.tab(i).open();
    }
    let call = w.tab(1).get_auth_token();
    let (token, _) = timed_now(&w, call);
    assert!(token.is_ok(), "{token:?}");
    w.exec.run(20_000.0, || {});
    let call = w.tab(0).get_auth_token();
    let (token, _) = timed_now(&w, call);
    assert_eq!(token.map_err(|e| e.code), Err(Code::LoginRequired));
    w.exec.run(1_000.0, || {});
    assert!(
        signed_out(&w, 1),
        "tab 1 did not hear that the session ended"
    );
    w.tear_down();
}

#[test]
fn a_sign_out_revokes_the_stored_session_before_its_event_arrives() {
    // Another tab's sign-in is in storage, its event not yet delivered:
    // the sign-out ends what is stored, not what memory still holds.
    let w = quiet_world(1, 300);
    let tab = w.tab(0);
    let pair = w.server.login(&w, "u2");
    for (key, field) in [
        (crate::world::AUTH, "auth_token"),
        (crate::world::REFRESH, "refresh_token"),
    ] {
        tab.set_stored(key, Some(pair[field].as_str().expect("a token")));
    }
    let client = tab.client();
    let (_, _) = timed(&w, client.sign_out());
    let revoked: Vec<_> = w
        .server
        .families
        .borrow()
        .iter()
        .map(|f| f.revoked)
        .collect();
    assert_eq!(
        revoked[1],
        Some("sign_out"),
        "the stored session was not revoked: {revoked:?}"
    );
    w.tear_down();
}

#[test]
fn without_web_locks_a_tab_waiting_on_a_holder_takes_the_lock_one_claim_window_after_its_release() {
    // Tab 0 holds the lock while its request waits a second; tab 1 asks
    // meanwhile. Once the holder lets go, tab 1 claims for one claim
    // window, not for the longer window that gives a silent holder time to
    // answer a probe.
    let w = quiet_world_of(2, Browser::NoLocks);
    let holder = w.tab(0);
    holder.frozen_until.set(w.now() + 1_000.0);
    let released: Rc<Cell<f64>> = Rc::default();
    let (refresh, at, exec) = (
        holder.client().refresh(true),
        released.clone(),
        w.exec.clone(),
    );
    w.exec.spawn(async move {
        let _ = refresh.await;
        at.set(exec.now());
    });
    w.exec.run(300.0, || {});
    let (client, asked) = (w.tab(1).client(), w.now());
    let (token, ms) = timed(&w, client.refresh(true));
    assert!(token.is_ok(), "{token:?}");
    assert!(
        released.get() > asked,
        "the holder was done before tab 1 asked"
    );
    let after = asked + ms - released.get();
    // The holder's linger, one claim window, and 100 ms for the messages
    // and tab 1's request at 8 ms of lag; a probe window would be 1 s.
    assert!(
        after < f64::from(LINGER_MS + CLAIM_MS) + 100.0,
        "took the lock {after} ms after the holder's refresh settled"
    );
    w.tear_down();
}

#[test]
fn a_refresh_refused_because_another_tab_signed_in_meanwhile_keeps_that_sign_in() {
    // Tab 0's refresh is held; tab 1 signs in another user, which revokes
    // tab 0's session. The refused refresh finds the new session in
    // storage and keeps it: it must not sign that user out.
    let w = quiet_world(2, 300);
    let a = w.tab(0);
    a.frozen_until.set(w.now() + 1_000.0);
    let refresh = a.client().refresh(true);
    w.exec.run(100.0, || {});
    let pair = sign_in(&w, &w.tab(1), "u2");
    let (token, _) = timed(&w, refresh);
    assert_eq!(
        token.as_deref().ok(),
        pair["auth_token"].as_str(),
        "tab 0 answered {token:?}"
    );
    assert_eq!(
        w.truth
            .borrow()
            .get(crate::world::REFRESH)
            .map(String::as_str),
        pair["refresh_token"].as_str(),
        "the new user's session is gone from storage"
    );
    assert!(!signed_out(&w, 1), "tab 1 heard a sign-out");
    w.tear_down();
}

#[test]
fn a_memory_stores_unconfirmed_revocation_is_sent_when_the_browser_is_back_online() {
    let w = quiet_world(1, 300);
    let tab = w.tab(0);
    tab.store_memory.set(true);
    tab.open();
    // Two sessions signed out offline, one after the other.
    for sub in ["u2", "u3"] {
        sign_in(&w, &tab, sub);
        tab.offline.set(true);
        let client = tab.client();
        let (confirmed, _) = timed(&w, client.sign_out());
        assert!(!confirmed, "a revocation confirmed offline");
        tab.offline.set(false);
    }
    let revoked = || -> Vec<_> {
        w.server.families.borrow()[1..]
            .iter()
            .map(|f| f.revoked)
            .collect()
    };
    assert_eq!(revoked(), [None, None]);
    tab.client().signal(passage_user::ports::Signal::Online);
    w.exec.run(5_000.0, || {});
    assert_eq!(
        revoked(),
        [Some("sign_out"), Some("sign_out")],
        "the pending revocations were not sent"
    );
    w.tear_down();
}

#[test]
fn a_forced_refresh_without_a_refresh_token_clears_only_a_session_whose_end_passed() {
    // A session of an auth token alone: refresh() rejects at once and
    // sends nothing. It leaves a fresh or an expired token for
    // getAuthToken() to judge, and ends a session whose end has passed.
    let far = 4_102_444_800i64;
    for (exp_s, end_s, ended) in [(far, None, false), (2, None, false), (far, Some(3), true)] {
        let w = quiet_world(1, 300);
        let tab = w.tab(0);
        let token = crate::world::fake_jwt(&serde_json::json!({
            "sub": "u1", "iat": 1, "exp": exp_s, "aud": [crate::world::ORIGIN, crate::world::APP],
        }));
        let stored = [
            (crate::world::AUTH, Some(token)),
            (crate::world::REFRESH, None),
            (crate::world::END, end_s.map(|s: i64| s.to_string())),
        ];
        for (key, value) in stored {
            tab.set_stored(key, value.as_deref());
        }
        tab.open();
        let client = tab.client();
        let (refreshed, _) = timed(&w, client.refresh(true));
        let case = format!("exp {exp_s}, end {end_s:?}");
        assert_eq!(
            refreshed.map_err(|e| e.code),
            Err(Code::LoginRequired),
            "{case}"
        );
        assert_eq!(
            !w.truth.borrow().contains_key(crate::world::AUTH),
            ended,
            "{case}: storage"
        );
        assert_eq!(signed_out(&w, 0), ended, "{case}: SIGNED_OUT");
        assert_eq!(w.server.refreshes.get(), 0, "{case}: a refresh was sent");
        w.tear_down();
    }
}

#[test]
fn a_revocation_the_server_confirms_or_does_not_know_leaves_nothing_pending() {
    // Confirmed (204): nothing is kept to send again. Unknown to the
    // server (404): the token is dead there all the same.
    for known in [true, false] {
        let w = quiet_world(1, 300);
        let tab = w.tab(0);
        if !known {
            tab.set_stored(crate::world::REFRESH, Some("rt-unknown"));
            tab.open();
        }
        let client = tab.client();
        let (confirmed, _) = timed(&w, client.sign_out());
        assert!(confirmed, "known {known}: not confirmed");
        assert_eq!(
            w.truth.borrow().get(crate::world::PENDING),
            None,
            "known {known}: a revocation is still pending"
        );
        w.tear_down();
    }
}

#[test]
fn a_memory_store_hands_out_nothing_once_sign_out_is_called() {
    // The memory store answers at once: signOut() clears the published
    // token before it returns, as with localStorage.
    let w = quiet_world(1, 300);
    let tab = w.tab(0);
    tab.store_memory.set(true);
    tab.open();
    sign_in(&w, &tab, "u2");
    assert!(tab.cache.borrow().0.is_some(), "no token published");
    let signing_out = tab.client().sign_out();
    assert_eq!(tab.cache.borrow().0, None, "a token is still handed out");
    let (confirmed, _) = timed(&w, signing_out);
    assert!(confirmed);
    w.tear_down();
}
