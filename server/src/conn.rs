//! What a request may do to the connection it came on: close it without
//! any response (the `drop` fault), or hold its answer back once it is
//! ready (the `late` fault). The connection loop puts a [`ConnHandle`] in
//! each request's extensions and carries out what was asked.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct ConnHandle {
    kill: Arc<Notify>,
    hold: Arc<Mutex<Option<Duration>>>,
}

impl ConnHandle {
    /// Closes the connection at once, under the pending request.
    pub fn close(&self) {
        self.kill.notify_one();
    }

    /// Completes once [`close`](Self::close) was called (also if it was
    /// called before).
    pub async fn closed(&self) {
        self.kill.notified().await;
    }

    /// Sends the answer to this connection's request `delay` after it is
    /// ready (the request is handled at once).
    pub fn hold_reply(&self, delay: Duration) {
        *self.hold.lock().unwrap_or_else(|p| p.into_inner()) = Some(delay);
    }

    /// The delay asked for by [`hold_reply`](Self::hold_reply), once.
    pub fn take_hold(&self) -> Option<Duration> {
        self.hold.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}
