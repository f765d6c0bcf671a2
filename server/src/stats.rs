//! Per-app request counters, so tests can assert how many requests a client
//! really sent (for instance, exactly one refresh for many callers).

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;

use crate::faults::Endpoint;

#[derive(Debug, Default, Clone, Serialize)]
pub struct Counters {
    /// Refresh requests received, faulted ones included.
    pub refresh: u64,
    /// Refreshes answered with new tokens.
    pub refresh_ok: u64,
    /// Those of `refresh_ok` that were retries within the grace period,
    /// answered with the tokens of the rotation they retried.
    pub refresh_grace: u64,
    pub revoke: u64,
    pub revoke_ok: u64,
    pub currentuser: u64,
    pub login: u64,
    pub hello: u64,
    /// Requests to the account endpoints under `/currentuser/`.
    pub account: u64,
}

#[derive(Default)]
pub struct Stats {
    apps: Mutex<HashMap<String, Counters>>,
}

impl Stats {
    fn update(&self, app: &str, f: impl FnOnce(&mut Counters)) {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        f(apps.entry(app.to_owned()).or_default());
    }

    pub fn received(&self, app: &str, endpoint: Endpoint) {
        self.update(app, |c| match endpoint {
            Endpoint::Refresh => c.refresh += 1,
            Endpoint::Revoke => c.revoke += 1,
            Endpoint::Currentuser => c.currentuser += 1,
            Endpoint::Login => c.login += 1,
            Endpoint::Hello => c.hello += 1,
            Endpoint::Account => c.account += 1,
        });
    }

    pub fn refresh_ok(&self, app: &str, retried: bool) {
        self.update(app, |c| {
            c.refresh_ok += 1;
            c.refresh_grace += u64::from(retried);
        });
    }

    pub fn revoke_ok(&self, app: &str) {
        self.update(app, |c| c.revoke_ok += 1);
    }

    pub fn get(&self, app: &str) -> Counters {
        self.apps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(app)
            .cloned()
            .unwrap_or_default()
    }

    /// Resets one app's counters, or all of them.
    pub fn reset(&self, app: Option<&str>) {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        match app {
            Some(app) => {
                apps.remove(app);
            }
            None => apps.clear(),
        }
    }
}
