//! The cross-tab lock's rules, one scenario each, in virtual time: the
//! order of claims without Web Locks, a page's goodbye, the wait for the
//! previous holder's write, and a tab's own kept lock.

use passage_user::client::{CLAIM_MS, HANDOFF_MS};
use passage_user::ports::LockKind;

use crate::scenarios::{holding_lock, quiet_world_of, sign_in, signed_in_world_of, start, timed};
use crate::world::{Browser, Settings, World};
use crate::TIMEOUT_MS;

/// Whether `tab` has named itself holder of a lock.
fn has_held(w: &World, tab: usize) -> bool {
    w.lock_messages
        .borrow()
        .iter()
        .any(|(t, m)| *t == tab && m.kind == LockKind::Held)
}

/// Runs the world `ms` on; answers when `tab` first named itself holder.
fn held_at(w: &World, tab: usize, ms: f64) -> Option<f64> {
    let mut at = None;
    w.exec.run(ms, || {
        if at.is_none() && has_held(w, tab) {
            at = Some(w.now());
        }
    });
    at
}

/// Starts a forced refresh in `tab` `ms` from now.
fn refresh_later(w: &World, tab: usize, ms: f64) {
    let (client, exec) = (w.tab(tab).client(), w.exec.clone());
    w.exec.at(ms, move || {
        exec.spawn(async move {
            let _ = client.refresh(true).await;
        })
    });
}

#[test]
fn without_web_locks_the_older_of_two_crossing_claims_wins() {
    // Tab 1 claims 1 ms after tab 0, before either hears the other.
    let w = quiet_world_of(2, Browser::NoLocks);
    start(&w, w.tab(0).client().refresh(true));
    refresh_later(&w, 1, 1.0);
    w.exec.run(5_000.0, || {});
    let holders: Vec<usize> = w
        .lock_messages
        .borrow()
        .iter()
        .filter(|(_, m)| m.kind == LockKind::Held)
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(
        holders.first(),
        Some(&0),
        "the younger claim won: {holders:?}"
    );
    w.tear_down();
}

#[test]
fn without_web_locks_a_page_that_closes_lets_its_lock_go_at_once() {
    // Tab 0 holds the lock (its request waits), then its page closes with
    // `pagehide`: tab 1, waiting, takes the lock one claim window later,
    // not after probing a silent holder.
    let w = quiet_world_of(2, Browser::NoLocks);
    let a = w.tab(0);
    holding_lock(&w, &a, f64::INFINITY, 500.0);
    assert!(has_held(&w, 0), "tab 0 does not hold the lock");
    start(&w, w.tab(1).client().refresh(true));
    w.exec.run(100.0, || {});
    a.frozen_until.set(0.0);
    a.open();
    let closed = w.now();
    let at = held_at(&w, 1, 10_000.0).expect("tab 1 never took the lock");
    assert!(
        at - closed < f64::from(CLAIM_MS) + 100.0,
        "tab 1 took the lock {} ms after the page closed",
        at - closed
    );
    w.tear_down();
}

#[test]
fn a_tab_granted_the_lock_waits_for_the_previous_holders_late_write() {
    // Writes reach the other tab up to 400 ms late, longer than the
    // holder keeps the lock after writing. Tab 1, granted the lock after
    // tab 0's refresh, waits for that write instead of refreshing with
    // the token it replaced (the reuse strict rotation punishes). (With
    // Web Locks only, as below.)
    for seed in 1..=10 {
        let w = laggy_world(seed, 400, Browser::WebLocks);
        start(&w, w.tab(0).client().refresh(true));
        refresh_later(&w, 1, 1.0);
        w.exec.run(10_000.0, || {});
        assert_eq!(
            w.server.reuses.get(),
            0,
            "seed {seed}: a refresh token was used twice"
        );
        assert_eq!(w.server.refreshes.get(), 1, "seed {seed}: refreshes");
        w.tear_down();
    }
}

#[test]
fn taking_over_this_tabs_kept_lock_waits_for_no_handoff() {
    // Tab 0's refresh gets the lock after tab 1's, and tab 0 keeps it a
    // little. Its next refresh takes the kept lock over at once: there is
    // no other holder's write to wait for.
    let w = quiet_world_of(2, Browser::WebLocks);
    // Tab 0 asks once tab 1's write has reached it, while tab 1 keeps the
    // lock: it refreshes after tab 1, and keeps the lock in turn.
    start(&w, w.tab(1).client().refresh(true));
    w.exec.run(50.0, || {});
    let (client, exec) = (w.tab(0).client(), w.exec.clone());
    let (second, ms) = timed(&w, async move {
        let first = client.refresh(true).await;
        assert!(first.is_ok(), "{first:?}");
        let at = exec.now();
        let second = client.refresh(true).await;
        (second, exec.now() - at)
    })
    .0;
    assert!(second.is_ok(), "{second:?}");
    assert!(
        ms < f64::from(HANDOFF_MS),
        "the second refresh waited {ms} ms"
    );
    w.tear_down();
}

/// Two tabs signed in with writes reaching the other tab up to `lag` ms
/// late (each delivery's lag drawn from `seed`).
fn laggy_world(seed: u64, lag: u32, browser: Browser) -> std::rc::Rc<World> {
    let w = World::new(
        seed,
        Settings {
            tabs: 2,
            faults: 0.0,
            lifetime: 300,
            timeout_ms: TIMEOUT_MS,
            lag,
            grace: 0,
            browser,
        },
    );
    sign_in(&w, &w.tab(0), "u1");
    w.exec.run(2_000.0, || {});
    w
}

#[test]
fn a_sign_out_granted_the_lock_waits_for_a_crossing_refreshs_late_write_back() {
    // Tab 1 signs out the moment the server has rotated tab 0's token; tab
    // 0 writes the session back after that clear, and the write reaches
    // tab 1 later than tab 0 keeps the lock. Tab 1's clean-up, granted the
    // lock after tab 0, waits for that write and clears it.
    // (With Web Locks only: without them, the lock's own messages take as
    // long, and a lag over half the claim window is the message lock's
    // documented limit.)
    for seed in 1..=10 {
        let browser = Browser::WebLocks;
        let w = laggy_world(seed, 400, browser);
        start(&w, w.tab(0).client().refresh(true));
        let (world, exec) = (w.clone(), w.exec.clone());
        let mut signed_out = false;
        w.exec.run(10_000.0, || {
            if !signed_out && world.server.refreshes.get() == 1 {
                signed_out = true;
                let signing_out = world.tab(1).client().sign_out();
                exec.spawn(async move {
                    let _ = signing_out.await;
                });
            }
        });
        assert!(signed_out, "{browser:?} {seed}: no refresh");
        assert_eq!(
            w.truth.borrow().get(crate::world::AUTH),
            None,
            "{browser:?} {seed}: the write-back stays in storage"
        );
        w.tear_down();
    }
}

#[test]
fn a_sign_in_while_this_tabs_sign_out_waits_for_the_lock_stays() {
    // Tab 1 signs out while tab 0 holds the lock, then signs the same
    // user in again before its clean-up gets the lock: that session is
    // this tab's new sign-in, not a write-back to clear.
    let w = crate::scenarios::quiet_world(2, 300);
    let (a, b) = (w.tab(0), w.tab(1));
    holding_lock(&w, &a, 1_000.0, 100.0);
    start(&w, b.client().sign_out());
    w.exec.run(100.0, || {});
    let pair = sign_in(&w, &b, "u1");
    w.exec.run(10_000.0, || {});
    assert_eq!(
        w.truth
            .borrow()
            .get(crate::world::REFRESH)
            .map(String::as_str),
        pair["refresh_token"].as_str(),
        "the new sign-in is gone from storage"
    );
    let families = w.server.families.borrow();
    assert_eq!(
        families.last().map(|f| f.revoked),
        Some(None),
        "the new sign-in was revoked"
    );
    drop(families);
    w.tear_down();
}

#[test]
fn a_tab_keeps_the_lock_a_linger_after_its_last_write() {
    // Two refreshes back to back in one tab: the second takes the kept
    // lock over, and the lock is kept LINGER_MS after the second's write,
    // not let go when the first one's linger would have ended.
    let w = crate::scenarios::quiet_world(1, 300);
    let name = format!(
        "psg_refresh {}/v1/apps/{}",
        crate::world::ORIGIN,
        crate::world::APP
    );
    let (client, exec) = (w.tab(0).client(), w.exec.clone());
    let second_done: std::rc::Rc<std::cell::Cell<f64>> = Default::default();
    let done = second_done.clone();
    start(&w, async move {
        client.refresh(true).await.expect("a refresh");
        client.refresh(true).await.expect("a refresh");
        done.set(exec.now());
    });
    let mut released = None;
    w.exec.run(5_000.0, || {
        if second_done.get() > 0.0 && released.is_none() && !w.lock_held(&name) {
            released = Some(w.now());
        }
    });
    let kept = released.expect("the lock was never let go") - second_done.get();
    assert!(
        kept >= f64::from(passage_user::client::LINGER_MS),
        "let go {kept} ms after the last write"
    );
    w.tear_down();
}

#[test]
fn with_a_server_that_keeps_refresh_tokens_a_waiter_sees_the_new_auth_token() {
    // No rotation: the refresh token stays, only the auth token changes.
    // Tab 1's forced refresh, granted the lock after tab 0's, sees that
    // new token and sends nothing.
    let w = signed_in_world_of(2, 300, 0, Browser::WebLocks);
    w.server.keeps_refresh_tokens.set(true);
    w.exec.run(1000.0, || {});
    start(&w, w.tab(0).client().refresh(true));
    refresh_later(&w, 1, 1.0);
    w.exec.run(5_000.0, || {});
    assert_eq!(w.server.refreshes.get(), 1, "refreshes");
    assert_eq!(w.tab(0).cache.borrow().0, w.tab(1).cache.borrow().0);
    w.tear_down();
}
