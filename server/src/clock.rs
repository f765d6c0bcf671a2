//! The server's clock, which tests may shift (`POST /admin/clock`) to reach
//! session limits without waiting and to simulate clock skew between the
//! client and the server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;

use crate::util::system_now;

#[derive(Default)]
pub struct Clock {
    /// Shift applied to every app, seconds.
    global: AtomicI64,
    /// Additional shift per app, so that tests sharing one server can each
    /// move their own app's time.
    per_app: RwLock<HashMap<String, i64>>,
}

impl Clock {
    /// Now, in Unix seconds, as seen by `app`.
    pub fn now(&self, app: &str) -> i64 {
        system_now() + self.global_offset() + self.app_offset(app)
    }

    /// Now, in Unix seconds, with only the global shift.
    pub fn now_global(&self) -> i64 {
        system_now() + self.global_offset()
    }

    pub fn global_offset(&self) -> i64 {
        self.global.load(Ordering::Relaxed)
    }

    pub fn app_offset(&self, app: &str) -> i64 {
        self.per_app
            .read()
            .map(|m| m.get(app).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    pub fn set_global_offset(&self, secs: i64) {
        self.global.store(secs, Ordering::Relaxed);
    }

    pub fn set_app_offset(&self, app: &str, secs: i64) {
        if let Ok(mut map) = self.per_app.write() {
            if secs == 0 {
                map.remove(app);
            } else {
                map.insert(app.to_owned(), secs);
            }
        }
    }

    pub fn app_offsets(&self) -> HashMap<String, i64> {
        self.per_app.read().map(|m| m.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_add_up() {
        let clock = Clock::default();
        let base = system_now();
        clock.set_global_offset(100);
        clock.set_app_offset("a", 1000);
        assert!((clock.now("a") - base - 1100).abs() <= 1);
        assert!((clock.now("b") - base - 100).abs() <= 1);
        clock.set_app_offset("a", 0);
        assert!(clock.app_offsets().is_empty());
    }
}
