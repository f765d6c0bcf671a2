//! Timers on the global `setTimeout`, which windows, workers and Node all
//! have (web-sys binds it per global type).

use core::future::Future;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// Calls `handler` after `ms`, unless the returned timer is cleared first.
pub fn after(ms: u32, handler: &Function) -> Timer {
    Timer(set_timeout(handler, f64::from(ms)))
}

/// A pending `setTimeout`.
pub struct Timer(JsValue);

impl Timer {
    /// Cancels it.
    pub fn clear(self) {
        clear_timeout(&self.0);
    }
}

/// Resolves after `ms`: a promise whose `resolve` is the timer's handler.
pub fn sleep(ms: u32) -> impl Future<Output = ()> + 'static {
    let promise = Promise::new(&mut |resolve, _| {
        after(ms, &resolve);
    });
    async move {
        let _ = JsFuture::from(promise).await;
    }
}

/// An `AbortSignal` that aborts after `ms`, and the timer that aborts it
/// (cleared when the work is done first). `None` where there is no
/// `AbortController`.
pub fn abort_after(ms: u32) -> Option<(AbortSignal, Timer)> {
    let controller = AbortController::new().ok()?;
    let abort = Reflect::get(&controller, &"abort".into())
        .ok()?
        .dyn_into::<Function>()
        .ok()?
        .bind0(&controller);
    Some((controller.signal(), after(ms, &abort)))
}
