//! The state shared by every request handler: the database, the signing
//! key, the apps, the clock, the faults and counters, and the settings of
//! this run. It knows nothing of HTTP (the handlers turn its answers into
//! responses).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::clock::Clock;
use crate::config::{self, AppSettings, StaticDirs};
use crate::db::Db;
use crate::faults::Faults;
use crate::jwt::{Claims, Signer};
use crate::purge::{Deleted, Purger};
use crate::stats::Stats;
use crate::store::Issued;

pub type SharedState = Arc<AppState>;

pub struct AppState {
    pub db: Arc<Db>,
    pub signer: Arc<Signer>,
    /// Cache of the `apps` table, which is small and read on every request.
    pub apps: RwLock<HashMap<String, AppSettings>>,
    pub clock: Clock,
    pub faults: Faults,
    pub stats: Stats,
    pub admin_key: String,
    /// `http://host:port` without a trailing slash: the base of `iss` and the
    /// default app origin.
    pub base_url: String,
    /// Extra CORS origins from flags and the config file.
    pub origins: Vec<String>,
    pub static_dirs: StaticDirs,
    /// Rotation grace period of the apps that set none (`--reuse-grace`).
    pub reuse_grace: u64,
    pub purge: Purger,
}

impl AppState {
    /// The settings of an app, if it exists.
    pub fn app(&self, id: &str) -> Option<AppSettings> {
        self.apps
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    pub fn set_app(&self, app: AppSettings) {
        self.apps
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(app.id.clone(), app);
    }

    pub fn all_apps(&self) -> Vec<AppSettings> {
        let mut apps: Vec<_> = self
            .apps
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        apps.sort_by(|a, b| a.id.cmp(&b.id));
        apps
    }

    /// Whether some app names `origin` as its own.
    pub fn is_app_origin(&self, origin: &str) -> bool {
        self.apps
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .any(|app| app.origin.as_deref() == Some(origin))
    }

    pub fn issuer(&self, app_id: &str) -> String {
        format!("{}/v1/apps/{app_id}", self.base_url)
    }

    pub fn app_origin(&self, app: &AppSettings) -> String {
        app.origin.clone().unwrap_or_else(|| self.base_url.clone())
    }

    /// The app's passkey RP ID ([`config::rp_id`]).
    pub fn rp_id(&self, app: &AppSettings) -> String {
        config::rp_id(app, &self.app_origin(app))
    }

    /// The origins the app's passkey ceremonies may come from
    /// ([`config::allowed_origins`]).
    pub fn webauthn_origins(&self, app: &AppSettings) -> Vec<String> {
        config::allowed_origins(app, &self.app_origin(app))
    }

    /// Signs the auth token for freshly issued session tokens.
    pub fn auth_token(
        &self,
        app: &AppSettings,
        issued: &Issued,
        now: i64,
    ) -> Result<String, String> {
        let claims = Claims {
            iss: self.issuer(&app.id),
            aud: vec![self.app_origin(app), app.id.clone()],
            sub: issued.user.id.clone(),
            iat: now,
            exp: now.saturating_add(app.auth_token_lifetime as i64),
            jti: crate::util::random_id(),
        };
        self.signer.sign(&claims)
    }

    /// Runs blocking work (database, RSA) off the async worker threads.
    pub async fn blocking<T, E>(
        self: &Arc<Self>,
        f: impl FnOnce(&AppState) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<tokio::task::JoinError> + Send + 'static,
    {
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || f(&state)).await?
    }

    /// One purge of every app, each by its own (possibly shifted) clock.
    pub fn purge_now(&self) -> rusqlite::Result<(Deleted, Duration)> {
        self.purge
            .run(&self.db, &self.clock, || self.all_apps(), self.reuse_grace)
    }

    /// Purges every `--purge-interval` seconds (the first time at once),
    /// until the process stops.
    pub async fn purge_in_background(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(Duration::from_secs(self.purge.interval));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let state = Arc::clone(&self);
            match tokio::task::spawn_blocking(move || state.purge_now()).await {
                Ok(Ok((deleted, elapsed))) if deleted.any() => eprintln!(
                    "purge: {} ended sessions ({} tokens), {} rotated tokens, {} ms",
                    deleted.sessions,
                    deleted.session_tokens,
                    deleted.rotated_tokens,
                    elapsed.as_millis()
                ),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => eprintln!("purge failed: database: {e}"),
                Err(e) => eprintln!("purge failed: {e}"),
            }
        }
    }
}
