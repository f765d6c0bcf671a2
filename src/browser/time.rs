//! The clock, timers and randomness.

use js_sys::{Date, Function, Math, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
}

/// Local wall-clock time, ms since the epoch.
pub fn now_ms() -> f64 {
    Date::now()
}

/// A number in `[0, 1)` for backoff jitter.
pub fn random() -> f64 {
    Math::random()
}

/// A promise that settles after `ms`: rejects when `reject`, else resolves.
pub fn timer(ms: u32, reject: bool) -> Promise {
    Promise::new(&mut |resolve, rejecter| {
        set_timeout(if reject { &rejecter } else { &resolve }, ms);
    })
}

/// Waits `ms`.
pub async fn sleep(ms: u32) {
    let _ = JsFuture::from(timer(ms, false)).await;
}

/// An abort signal that fires after a delay; dropping it cancels the timer.
pub struct Deadline {
    controller: AbortController,
    handle: JsValue,
}

impl Deadline {
    /// A signal aborted `ms` from now.
    pub fn after(ms: u32) -> Option<Deadline> {
        let controller = AbortController::new().ok()?;
        let abort = super::js::get(&controller, "abort")
            .dyn_into::<Function>()
            .ok()?
            .bind0(&controller);
        let handle = set_timeout(&abort, ms);
        Some(Deadline { controller, handle })
    }

    /// The signal to hand to `fetch` or `navigator.locks.request`.
    pub fn signal(&self) -> AbortSignal {
        self.controller.signal()
    }

    /// True once the deadline has passed.
    pub fn passed(&self) -> bool {
        self.controller.signal().aborted()
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        clear_timeout(&self.handle);
    }
}
