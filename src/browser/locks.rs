//! Web Locks (`navigator.locks`), through a small binding: web-sys has
//! `LockManager` only behind `--cfg=web_sys_unstable_apis`.
//!
//! `navigator.locks.request(name, options, callback)` holds the lock until
//! the promise the callback returns settles: here, until
//! [`WebLock::release`] resolves it.

use core::future::Future;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::timers;
use crate::core::future::first;
use crate::ports::{Guard, Locked};

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks`.
    type LockManager;

    #[wasm_bindgen(method, catch)]
    fn request(
        this: &LockManager,
        name: &str,
        options: &Object,
        callback: &Function,
    ) -> Result<Promise, JsValue>;
}

/// A held Web Lock.
pub struct WebLock {
    /// Resolves the promise that holds the lock.
    done: Function,
    /// Settles once the lock is released.
    asked: Promise,
}

impl Guard for WebLock {
    fn release(self) -> impl Future<Output = ()> + 'static {
        let _ = self.done.call0(&JsValue::UNDEFINED);
        let asked = JsFuture::from(self.asked);
        async move {
            let _ = asked.await;
        }
    }
}

fn lock_manager() -> Option<LockManager> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let locks = Reflect::get(&navigator, &"locks".into()).ok()?;
    let request = Reflect::get(&locks, &"request".into()).ok()?;
    request.is_function().then(|| locks.unchecked_into())
}

/// What one `navigator.locks.request` gave.
enum Answer {
    Granted(WebLock),
    /// `ifAvailable` and taken, or aborted.
    NotGranted,
    /// The browser refused the request itself.
    Failed,
}

/// One `navigator.locks.request`, held until released.
async fn request(locks: &LockManager, name: &str, options: &Object) -> Answer {
    let mut done = None;
    let held = Promise::new(&mut |resolve, _| done = Some(resolve));
    let Some(done) = done else {
        return Answer::Failed;
    };
    let mut grant = None;
    let granted = Promise::new(&mut |resolve, _| grant = Some(resolve));
    let Some(grant) = grant else {
        return Answer::Failed;
    };
    // Called once, with the lock or (ifAvailable, taken) null; answers the
    // promise the browser holds the lock by.
    let callback = Closure::once(move |lock: JsValue| -> JsValue {
        let _ = grant.call1(&JsValue::UNDEFINED, &lock);
        if lock.is_null() {
            JsValue::UNDEFINED
        } else {
            held.into()
        }
    });
    let asked = match locks.request(name, options, callback.as_ref().unchecked_ref()) {
        Ok(asked) => asked,
        Err(_) => return Answer::Failed,
    };
    let got = async {
        match JsFuture::from(granted).await {
            Ok(lock) if !lock.is_null() => Answer::Granted(WebLock {
                done: done.clone(),
                asked: asked.clone(),
            }),
            _ => Answer::NotGranted,
        }
    };
    // An aborted wait rejects the request without calling back.
    let refused = {
        let asked = JsFuture::from(asked.clone());
        async move {
            match asked.await {
                Err(_) => Answer::Failed,
                // Settled only after a grant: the grant answers first.
                Ok(_) => core::future::pending().await,
            }
        }
    };
    // Called or not, the callback is done with once the answer is known.
    let answer = first(got, refused).await;
    drop(callback);
    answer
}

/// The cross-tab lock `name`: asks without waiting first, so that a waiter
/// knows another tab held it; then waits at most `timeout_ms` (with 0,
/// does not wait).
pub async fn lock(name: &str, timeout_ms: u32) -> Locked<WebLock> {
    let Some(locks) = lock_manager() else {
        return Locked::NoLocks;
    };
    let options = Object::new();
    let _ = Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
    match request(&locks, name, &options).await {
        Answer::Granted(guard) => {
            return Locked::Held {
                guard,
                waited: false,
            }
        }
        Answer::Failed => return Locked::NoLocks,
        Answer::NotGranted if timeout_ms == 0 => return Locked::TimedOut,
        Answer::NotGranted => {}
    }
    let Some((signal, timer)) = timers::abort_after(timeout_ms) else {
        return Locked::NoLocks;
    };
    let options = Object::new();
    let _ = Reflect::set(&options, &"signal".into(), &signal);
    let answer = request(&locks, name, &options).await;
    timer.clear();
    match answer {
        Answer::Granted(guard) => Locked::Held {
            guard,
            waited: true,
        },
        Answer::NotGranted | Answer::Failed => Locked::TimedOut,
    }
}
