//! The browser adapters in headless Chromium (wasm-bindgen-test): raw
//! `localStorage` values and a refused write, a Web Lock round trip, a
//! message between two broadcast channels, a request that times out.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use passage_user::browser::local_store::LocalStore;
use passage_user::browser::signals::{self, Signals};
use passage_user::browser::{http, locks, timers, Browser};
use passage_user::core::error::Code;
use passage_user::core::session::Session;
use passage_user::ports::{Guard, Io, Locked, Method, Ports, Request, SendError, Signal, Store};
use wasm_bindgen_test::*;

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
async fn a_message_reaches_another_channel() {
    let window = web_sys::window().unwrap();
    let heard: Rc<RefCell<Vec<Signal>>> = Rc::default();
    let listening = Signals::listen(
        window.clone(),
        signals::channel(Some(&window)),
        Rc::downgrade(&heard),
        |heard, signal| heard.borrow_mut().push(signal),
    );
    let sender = Browser::new();
    sender.post(Signal::Unchanged);
    sender.post(Signal::Changed);
    for _ in 0..100 {
        if heard.borrow().len() == 2 {
            break;
        }
        timers::sleep(10).await;
    }
    assert_eq!(*heard.borrow(), [Signal::Unchanged, Signal::Changed]);
    // Stopped, it hears nothing more.
    listening.stop();
    sender.post(Signal::Changed);
    timers::sleep(100).await;
    assert_eq!(heard.borrow().len(), 2);
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
