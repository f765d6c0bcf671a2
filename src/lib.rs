//! A browser client for Passage auth sessions, compiled to WebAssembly.
//!
//! The [`core`] decides (is the token fresh, is this reply usable, what a
//! failure means) and is plain Rust, tested on the host. The [`client`]
//! carries the decisions out over the [`ports`] (single flight, the
//! cross-tab lock, storage, events, sign-out), and runs on the host in the
//! simulation of `tests/sim`. On `wasm32`, `js_api` still exports the
//! decisions as synchronous calls to the package's JavaScript entry, which
//! carries them out with `localStorage`, `fetch` and Web Locks.
#![deny(missing_docs)]
// On the web there is nowhere to print a panic, and std's panic machinery
// (message formatting) is a good part of a small module: core and alloc only.
#![cfg_attr(all(target_arch = "wasm32", feature = "shipped"), no_std)]

extern crate alloc;

pub mod client;
pub mod core;
pub mod ports;

#[cfg(target_arch = "wasm32")]
pub mod js_api;

#[cfg(target_arch = "wasm32")]
mod bump;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: bump::Bump = bump::Bump;

/// A panic (which the core's tests show no input reaches) stops the module
/// without formatting a message that no one would read.
#[cfg(all(target_arch = "wasm32", feature = "shipped"))]
#[panic_handler]
fn panic(_: &::core::panic::PanicInfo) -> ! {
    ::core::arch::wasm32::unreachable()
}
