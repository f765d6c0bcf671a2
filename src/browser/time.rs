//! The clock, timers and randomness.

use js_sys::{Date, Function, Math, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: u32) -> JsValue;
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
