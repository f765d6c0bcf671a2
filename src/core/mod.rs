//! The pure core: plain Rust with no browser types, so every decision can be
//! tested on the host with a fake clock. It receives `now` as a parameter and
//! returns decisions; the browser adapters carry them out.

pub mod error;
pub mod jwt;
pub mod policy;
pub mod refresh;
pub mod session;

#[cfg(test)]
pub(crate) mod testing;
