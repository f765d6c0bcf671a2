//! A browser client for Passage auth sessions, compiled to WebAssembly.
//!
//! The [`core`] decides (is the token fresh, who refreshes, what a failure
//! means) and is plain Rust, tested on the host. On `wasm32` the `browser`
//! adapters carry those decisions out with `localStorage`, `fetch` and Web
//! Locks, and `js_api` exports the `PassageUser` class to JavaScript.
#![deny(missing_docs)]

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod browser;
#[cfg(target_arch = "wasm32")]
mod js_api;

/// talc instead of the default dlmalloc: a maintained allocator made for
/// wasm, with coalescing free lists, about 7 KB smaller in the shipped module.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
