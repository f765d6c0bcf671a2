//! The router: every route, and the layers around them.

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use serde_json::json;

use crate::error::{self, BODY_LIMIT};
use crate::state::SharedState;
use crate::{access_log, account, admin, api, cors, fault_injection, long_uri};
use crate::{passkeys, static_files};

/// Every route. From the outside in: the access log, CORS, the 414 for
/// over-long URLs, JSON errors, the body limit; then the public API behind
/// fault injection, the admin API behind its key, and the static files.
pub fn router(state: SharedState) -> Router {
    let v1 = Router::new()
        .route(
            "/v1/apps/{app}/tokens",
            post(api::refresh).delete(api::revoke),
        )
        .route(
            "/v1/apps/{app}/tokens/",
            post(api::refresh).delete(api::revoke),
        )
        .route("/v1/apps/{app}/currentuser", get(api::current_user))
        .merge(account_routes())
        .route("/v1/apps/{app}/demo/login", post(api::demo_login))
        .route("/v1/apps/{app}/demo/api/hello", get(api::demo_hello))
        .route("/v1/apps/{app}/.well-known/jwks.json", get(api::jwks))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            fault_injection::inject,
        ));
    let admin = Router::new()
        .route("/admin/apps", get(admin::list_apps))
        .route("/admin/apps/{app}", get(admin::get_app).put(admin::put_app))
        .route("/admin/apps/{app}/users/{user}", get(admin::get_user))
        .merge(account_admin_routes())
        .route(
            "/admin/apps/{app}/users/{user}/{action}",
            post(admin::user_action),
        )
        .route(
            "/admin/faults",
            post(admin::add_fault)
                .get(admin::list_faults)
                .delete(admin::clear_faults),
        )
        .route("/admin/stats", get(admin::get_stats))
        .route("/admin/stats/reset", post(admin::reset_stats))
        .route("/admin/clock", get(admin::get_clock).post(admin::set_clock))
        .route("/admin/db", get(admin::get_db))
        .route("/admin/purge", post(admin::run_purge))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            admin::require_admin_key,
        ));
    Router::new()
        .merge(v1)
        .merge(admin)
        .route("/healthz", get(|| async { Json(json!({ "ok": true })) }))
        .fallback(static_files::serve)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(error::json_errors))
        .layer(middleware::from_fn(long_uri::refuse))
        .layer(middleware::from_fn_with_state(state.clone(), cors::cors))
        .layer(middleware::from_fn(access_log::log_requests))
        .with_state(state)
}

/// The signed-in user's account endpoints (passage-js's `currentUser`).
fn account_routes() -> Router<SharedState> {
    let base = "/v1/apps/{app}/currentuser";
    Router::new()
        .route(&format!("{base}/email"), patch(account::change_email))
        .route(&format!("{base}/phone"), patch(account::change_phone))
        .route(
            &format!("{base}/user-metadata"),
            get(account::get_metadata).patch(account::update_metadata),
        )
        .route(
            &format!("{base}/social-connections"),
            get(account::list_social),
        )
        .route(
            &format!("{base}/social-connections/{{type}}"),
            delete(account::delete_social),
        )
        .route(&format!("{base}/devices"), get(passkeys::list_devices))
        .route(&format!("{base}/devices/start"), post(passkeys::start))
        .route(&format!("{base}/devices/finish"), post(passkeys::finish))
        .route(
            &format!("{base}/devices/{{device}}"),
            patch(passkeys::update_device).delete(passkeys::delete_device),
        )
}

/// The local stand-ins for the mailbox and the OAuth providers.
fn account_admin_routes() -> Router<SharedState> {
    Router::new()
        .route(
            "/admin/apps/{app}/magic-links",
            get(account::admin_list_magic_links),
        )
        .route(
            "/admin/apps/{app}/magic-links/{link}/open",
            post(account::admin_open_magic_link),
        )
        .route(
            "/admin/apps/{app}/users/{user}/social-connections",
            post(account::admin_seed_social),
        )
}
