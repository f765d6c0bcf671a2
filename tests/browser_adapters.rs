//! The browser adapters in headless Chromium (wasm-bindgen-test): raw
//! `localStorage` values and a refused write, a Web Lock round trip, the
//! page's signals (its instances at once, other tabs by the channel), a
//! request that times out.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use passage_user::browser::local_store::LocalStore;
use passage_user::browser::signals;
use passage_user::browser::{http, locks, timers};
use passage_user::core::error::Code;
use passage_user::core::session::Session;
use passage_user::ports::{
    Guard, Io, LockKind, LockMessage, Locked, Method, Request, SendError, Signal, Store,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;
use web_sys::{BroadcastChannel, MessageEvent};

wasm_bindgen_test_configure!(run_in_browser);

/// `{"exp":4102444800,"iat":1700000000,"sub":"u1","aud":["x","app1"]}`.
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDAsImlhdCI6MTcwMDAwMDAwMCwic3ViIjoidTEiLCJhdWQiOlsieCIsImFwcDEiXX0.c2ln";

fn storage() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

fn now<T>(io: Io<T>) -> T {
    match io {
        Io::Now(value) => value,
        Io::Later(_) => panic!("localStorage answers at once"),
    }
}

#[wasm_bindgen_test]
fn local_store_writes_raw_strings_under_passage_js_keys() {
    storage().clear().unwrap();
    let store = LocalStore::open(false).expect("localStorage is available");
    let session = Session::from_stored(Some(TOKEN.into()), Some("rt-1".into()), Some("1900000000"));
    now(store.save(&session)).unwrap();
    let raw = |key| storage().get_item(key).unwrap();
    assert_eq!(raw("psg_auth_token").as_deref(), Some(TOKEN));
    assert_eq!(raw("psg_refresh_token").as_deref(), Some("rt-1"));
    assert_eq!(
        raw("psg_refresh_token_expiration").as_deref(),
        Some("1900000000")
    );
    assert_eq!(now(store.load()).unwrap(), session);
    // What another script wrote is read leniently.
    storage()
        .set_item("psg_refresh_token_expiration", "soon")
        .unwrap();
    assert_eq!(now(store.load()).unwrap().refresh_expiration(), None);
    now(store.clear()).unwrap();
    assert_eq!(storage().length().unwrap(), 0);
    // Pending revocations: a JSON array of strings; anything else is none.
    store.set_pending(&["a".into(), "b".into()]);
    assert_eq!(
        raw("psg_pending_revocation").as_deref(),
        Some(r#"["a","b"]"#)
    );
    assert_eq!(store.pending(), ["a", "b"]);
    storage()
        .set_item("psg_pending_revocation", r#"{"not":"a list"}"#)
        .unwrap();
    assert!(store.pending().is_empty());
    storage()
        .set_item("psg_pending_revocation", r#"[1,"c",null,""]"#)
        .unwrap();
    assert_eq!(store.pending(), ["c"]);
    store.set_pending(&[]);
    assert_eq!(raw("psg_pending_revocation"), None);
}

#[wasm_bindgen_test]
fn a_refused_write_is_a_storage_error_and_leaves_no_refresh_token() {
    storage().clear().unwrap();
    let store = LocalStore::open(false).expect("localStorage is available");
    now(store.save(&Session::from_stored(
        Some(TOKEN.into()),
        Some("rt-old".into()),
        None,
    )))
    .unwrap();
    // Fill localStorage to its quota.
    let block = "x".repeat(512 * 1024);
    let mut filled = 0;
    while storage().set_item(&format!("fill{filled}"), &block).is_ok() {
        filled += 1;
    }
    let mut small = 0;
    while storage()
        .set_item(&format!("small{small}"), &"y".repeat(1024))
        .is_ok()
    {
        small += 1;
    }
    let big = Session::from_stored(Some(TOKEN.into()), Some("r".repeat(4000)), None);
    let e = now(store.save(&big)).unwrap_err();
    assert_eq!(e.code, Code::Storage);
    // Never the refresh token the new session replaced.
    assert_ne!(
        storage().get_item("psg_refresh_token").unwrap().as_deref(),
        Some("rt-old")
    );
    storage().clear().unwrap();
    assert!(filled > 0);
}

#[wasm_bindgen_test]
async fn a_web_lock_is_held_until_released() {
    let Locked::Held { guard, waited } = locks::lock("psg_test lock", 1000).await else {
        panic!("a free lock is granted");
    };
    assert!(!waited);
    // Taken: asked without waiting, it is not granted.
    assert!(matches!(
        locks::lock("psg_test lock", 0).await,
        Locked::TimedOut
    ));
    // Asked with a wait, it is granted once released, and says it waited.
    let waiter = locks::lock("psg_test lock", 5000);
    let release = async {
        timers::sleep(50).await;
        guard.release().await;
    };
    let (got, ()) = futures_join(waiter, release).await;
    let Locked::Held { guard, waited } = got else {
        panic!("granted after the release");
    };
    assert!(waited);
    // A wait that times out.
    assert!(matches!(
        locks::lock("psg_test lock", 50).await,
        Locked::TimedOut
    ));
    guard.release().await;
}

/// Both futures, polled together.
async fn futures_join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    let mut a = Box::pin(a);
    let mut b = Box::pin(b);
    let (mut x, mut y) = (None, None);
    std::future::poll_fn(|cx| {
        if x.is_none() {
            if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
                x = Some(v);
            }
        }
        if y.is_none() {
            if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) {
                y = Some(v);
            }
        }
        if x.is_some() && y.is_some() {
            std::task::Poll::Ready((x.take().unwrap(), y.take().unwrap()))
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

#[wasm_bindgen_test]
async fn a_signal_reaches_the_pages_other_instances_at_once_and_other_tabs_by_channel() {
    let heard: Rc<RefCell<Vec<Signal>>> = Rc::default();
    let listener = {
        let heard = heard.clone();
        signals::join(Rc::new(move |s| heard.borrow_mut().push(s))).expect("a window")
    };
    let sender = signals::join(Rc::new(|_| {})).expect("a window");
    // Another tab: a channel of its own.
    let other = BroadcastChannel::new("psg_session").unwrap();
    let received: Rc<RefCell<Vec<String>>> = Rc::default();
    let on_message = {
        let received = received.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            received
                .borrow_mut()
                .push(e.data().as_string().unwrap_or_default());
        })
    };
    other.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let claim = Signal::Lock(LockMessage {
        kind: LockKind::Claim,
        name: 7,
        tab: 4_000_000_000,
        since: 1_800_000_000_123,
    });
    sender.post(Signal::Unchanged);
    sender.post(claim);
    // The page's other instance heard both before post returned.
    assert_eq!(*heard.borrow(), [Signal::Unchanged, claim]);
    for _ in 0..100 {
        if received.borrow().len() == 2 {
            break;
        }
        timers::sleep(10).await;
    }
    let texts = received.borrow().clone();
    let parsed: Vec<_> = texts.iter().map(|t| Signal::from_text(t)).collect();
    assert_eq!(parsed, [Some(Signal::Unchanged), Some(claim)]);
    // The other tab's message reaches the page's instances.
    other.post_message(&"changed".into()).unwrap();
    for _ in 0..100 {
        if heard.borrow().len() == 3 {
            break;
        }
        timers::sleep(10).await;
    }
    assert_eq!(heard.borrow().last(), Some(&Signal::Changed));
    // Gone, it hears nothing more.
    listener.leave();
    sender.post(Signal::Changed);
    other.post_message(&"unchanged".into()).unwrap();
    timers::sleep(100).await;
    assert_eq!(heard.borrow().len(), 3);
    sender.leave();
    other.close();
}

#[wasm_bindgen_test]
async fn a_request_is_answered_or_times_out() {
    let url = web_sys::window().unwrap().location().href().unwrap();
    let request = |timeout_ms| Request {
        method: Method::Get,
        url: url.clone(),
        body: None,
        bearer: None,
        keepalive: false,
        timeout_ms,
    };
    let reply = http::send(request(10_000))
        .await
        .expect("the test page answers");
    assert_eq!(reply.status, 200);
    // An HTML page is not JSON: no body for the client.
    assert!(reply.body.is_none());
    // Aborted by its timer before any answer can arrive.
    assert_eq!(http::send(request(0)).await.err(), Some(SendError::Timeout));
    // Nothing listens there: a network error, not a timeout.
    let mut refused = request(10_000);
    refused.url = "http://127.0.0.1:9/".into();
    assert_eq!(http::send(refused).await.err(), Some(SendError::Network));
}
