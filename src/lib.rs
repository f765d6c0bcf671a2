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
