//! A browser client for Passage auth sessions, compiled to WebAssembly.
//!
//! - [`core`] decides (is the token fresh, is this reply usable, what a
//!   failure means): plain Rust, tested on the host with a fake clock.
//! - [`client`] carries the decisions out: single flight, the cross-tab
//!   lock, storage, events, sign-out; generic over the [`ports`], so the
//!   simulation in `tests/sim` runs it on the host.
//! - `browser` (wasm32 only) implements the ports on gloo-storage,
//!   gloo-net, web-sys and js-sys; `js_api` exports `PassageUser`.
#![deny(missing_docs)]

extern crate alloc;

pub mod client;
pub mod core;
pub mod ports;

#[cfg(target_arch = "wasm32")]
pub mod browser;
#[cfg(target_arch = "wasm32")]
pub mod js_api;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
