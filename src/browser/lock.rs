//! The cross-tab lock: Web Locks (`navigator.locks`) with a timeout.
//!
//! The lock is held for as long as the promise returned from the grant
//! callback is pending; [`Held`] resolves it when dropped, so the lock is
//! released on every path out of the code that holds it.

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::{js, time::Deadline};

/// A granted lock; released on drop, or by [`Held::release`], which also
/// waits until the browser has let it go.
pub struct Held {
    release: Function,
    /// The request's promise: it settles once the lock is released.
    request: Option<Promise>,
}

impl Held {
    /// Releases the lock and waits until another holder could take it.
    pub async fn release(mut self) {
        let _ = self.release.call0(&JsValue::NULL);
        if let Some(request) = self.request.take() {
            let _ = JsFuture::from(request).await;
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::NULL);
    }
}

/// The outcome of asking for the lock.
pub enum Acquired {
    /// Granted. `waited` tells whether another holder came first.
    Held {
        /// Released when dropped.
        guard: Held,
        /// Someone else held the lock when we asked.
        waited: bool,
    },
    /// No Web Locks here (old browser, insecure context): go on alone.
    Unsupported,
    /// Not granted within the timeout: a frozen or hung holder.
    TimedOut,
}

fn locks() -> Option<JsValue> {
    let navigator = web_sys::window()?.navigator();
    let locks = js::get(&navigator, "locks");
    js::get(&locks, "request").is_function().then_some(locks)
}

/// Takes the lock `name`, waiting at most `timeout_ms` for another holder.
pub async fn acquire(name: &str, timeout_ms: u32) -> Acquired {
    // First without waiting: whether someone else holds it tells a waiter
    // to look for that holder's result before refreshing itself.
    match try_acquire(name).await {
        Acquired::TimedOut => {}
        granted_or_unsupported => return granted_or_unsupported,
    }
    let (Some(locks), Some(deadline)) = (locks(), Deadline::after(timeout_ms)) else {
        return Acquired::Unsupported;
    };
    match request(&locks, name, Some(&deadline)).await {
        Ok(Some(guard)) => Acquired::Held {
            guard,
            waited: true,
        },
        _ => Acquired::TimedOut,
    }
}

/// Takes the lock `name` only if no one holds it (`TimedOut` when taken).
pub async fn try_acquire(name: &str) -> Acquired {
    let Some(locks) = locks() else {
        return Acquired::Unsupported;
    };
    match request(&locks, name, None).await {
        Ok(Some(guard)) => Acquired::Held {
            guard,
            waited: false,
        },
        Ok(None) => Acquired::TimedOut,
        Err(()) => Acquired::Unsupported,
    }
}

/// One `navigator.locks.request`. Without a deadline it does not wait
/// (`ifAvailable`) and answers `Ok(None)` when the lock is taken.
async fn request(
    locks: &JsValue,
    name: &str,
    deadline: Option<&Deadline>,
) -> Result<Option<Held>, ()> {
    let mut release = None;
    let held = Promise::new(&mut |resolve, _| release = Some(resolve));
    let release = release.ok_or(())?;
    let options = Object::new();
    match deadline {
        Some(d) => Reflect::set(&options, &"signal".into(), &d.signal()),
        None => Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE),
    }
    .map_err(drop)?;
    let mut fail = None;
    let mut pending = None;
    let granted = Promise::new(&mut |grant, reject| {
        let held = held.clone();
        let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
            let _ = grant.call1(&JsValue::NULL, &JsValue::from_bool(!lock.is_null()));
            // Held until `release` runs; a `null` lock (ifAvailable, taken)
            // holds nothing.
            if lock.is_null() {
                JsValue::UNDEFINED
            } else {
                held.clone().into()
            }
        });
        let request = js::get(locks, "request").unchecked_into::<Function>();
        match request.call3(locks, &name.into(), &options, &callback) {
            // An aborted wait rejects the request's promise.
            Ok(p) => {
                if let Ok(catch) = js::get(&p, "catch").dyn_into::<Function>() {
                    let _ = catch.call1(&p, &reject);
                }
                pending = p.dyn_into::<Promise>().ok();
            }
            Err(_) => fail = Some(()),
        }
    });
    if fail.is_some() {
        return Err(());
    }
    match JsFuture::from(granted).await {
        Ok(v) if v.is_truthy() => Ok(Some(Held {
            release,
            request: pending,
        })),
        Ok(_) => Ok(None),
        Err(_) => Err(()),
    }
}
