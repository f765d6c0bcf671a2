//! The state shared by every request handler.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::http::StatusCode;

use crate::clock::Clock;
use crate::config::AppSettings;
use crate::db::Db;
use crate::error::ApiError;
use crate::faults::Faults;
use crate::jwt::{Claims, Signer};
use crate::purge::Purger;
use crate::static_files::StaticDirs;
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
    /// The settings of an app, or the 404 for an unknown one.
    pub fn app(&self, id: &str) -> Result<AppSettings, ApiError> {
        self.apps
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "app_not_found",
                    format!("no app with id {:?}", crate::util::truncate(id, 64)),
                )
            })
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

    /// Signs the auth token for freshly issued session tokens.
    pub fn auth_token(
        &self,
        app: &AppSettings,
        issued: &Issued,
        now: i64,
    ) -> Result<String, ApiError> {
        let claims = Claims {
            iss: self.issuer(&app.id),
            aud: vec![self.app_origin(app), app.id.clone()],
            sub: issued.user.id.clone(),
            iat: now,
            exp: now.saturating_add(app.auth_token_lifetime as i64),
            jti: crate::util::random_id(),
        };
        self.signer.sign(&claims).map_err(ApiError::internal)
    }

    /// Runs blocking work (database, RSA) off the async worker threads.
    pub async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || f(&state))
            .await
            .map_err(ApiError::internal)?
    }
}
