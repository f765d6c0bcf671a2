//! Thin adapters over browser APIs. They carry out the core's decisions and
//! hold no token logic of their own.

pub mod http;
pub mod js;
pub mod lock;
pub mod signals;
pub mod store;
pub mod time;
