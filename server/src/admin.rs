//! The admin API under `/admin`, behind `Authorization: Bearer <admin key>`:
//! app settings at run time, the backend SDKs' user operations, and the
//! instruments tests need (faults, counters, clock).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::{valid_app_id, AppPatch, AppSettings, DEMO_APP};
use crate::error::{parse_json, ApiError};
use crate::extract::{self, App};
use crate::faults::FaultRequest;
use crate::purge;
use crate::state::{AppState, SharedState};
use crate::store::{self, account, UserAction};
use crate::util::{secure_eq, system_now, truncate};

/// The key of an `Authorization: Bearer <key>` header, if there is one.
pub(crate) fn presented_key(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim().to_owned())
}

/// Middleware guarding every admin route.
pub async fn require_admin_key(
    State(state): State<SharedState>,
    req: Request,
    next: Next,
) -> Response {
    match presented_key(req.headers()) {
        Some(key) if secure_eq(key.as_bytes(), state.admin_key.as_bytes()) => next.run(req).await,
        _ => {
            let mut response = ApiError::unauthorized(
                "invalid_admin_key",
                "admin endpoints need Authorization: Bearer <admin key>",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}

fn app_json(state: &SharedState, app: &AppSettings) -> Value {
    json!({
        "id": app.id,
        "auth_token_lifetime": app.auth_token_lifetime,
        "session_expiration": app.session_expiration,
        "inactivity_timeout": app.inactivity_timeout,
        "origin": state.app_origin(app),
        "issuer": state.issuer(&app.id),
        "rp_id": state.rp_id(app),
        "webauthn_origins": state.webauthn_origins(app),
        "user_metadata_schema": app.user_metadata_schema,
        "reuse_grace": app.reuse_grace_or(state.reuse_grace),
    })
}

/// `GET /admin/apps`.
pub async fn list_apps(State(state): State<SharedState>) -> Json<Value> {
    let apps: Vec<Value> = state
        .all_apps()
        .iter()
        .map(|app| app_json(&state, app))
        .collect();
    Json(json!({ "apps": apps }))
}

/// `GET /admin/apps/{app}`.
pub async fn get_app(State(state): State<SharedState>, App(app): App) -> Json<Value> {
    Json(json!({ "app": app_json(&state, &app) }))
}

/// The settings of a `PUT /admin/apps/{app}` body, checked.
pub(crate) fn app_patch_of(body: &[u8]) -> Result<AppPatch, ApiError> {
    let patch: AppPatch = if body.iter().all(u8::is_ascii_whitespace) {
        AppPatch::default()
    } else {
        parse_json(body)?
    };
    patch.validate().map_err(ApiError::bad_request)?;
    Ok(patch)
}

/// `PUT /admin/apps/{app}`: creates the app, or updates the settings given.
/// An empty body is allowed (create with defaults).
pub async fn put_app(
    State(state): State<SharedState>,
    Path(app_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    if !valid_app_id(&app_id) {
        return Err(ApiError::bad_request(
            "app ids are 1 to 64 letters, digits, '-' or '_'",
        ));
    }
    let patch = app_patch_of(&body)?;
    let existing = state.app(&app_id);
    let created = existing.is_none();
    let mut app = existing.unwrap_or_else(|| AppSettings::with_defaults(&app_id));
    app.apply(&patch);
    let saved = app.clone();
    state
        .blocking(move |state| {
            let now = state.clock.now_global();
            state.db.write(|tx| store::upsert_app(tx, &saved, now))?;
            state.set_app(saved);
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(Json(
        json!({ "app": app_json(&state, &app), "created": created }),
    ))
}

fn user_not_found(app: &str, user: &str) -> ApiError {
    ApiError::not_found(
        "user_not_found",
        format!("no user {:?} in app {app}", truncate(user, 100)),
    )
}

/// `POST /admin/apps/{app}/users/{user}/{signout|deactivate|activate}`.
pub async fn user_action(
    State(state): State<SharedState>,
    App(app): App,
    Path((_, user_key, action)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let action = UserAction::parse(&action).ok_or_else(|| {
        ApiError::not_found(
            "not_found",
            "unknown user action (use signout, deactivate or activate)",
        )
    })?;
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let (user, revoked) = state
                .db
                .write(|tx| store::run_user_action(tx, &app.id, &user_key, action, now))?
                .ok_or_else(|| user_not_found(&app.id, &user_key))?;
            Ok(Json(
                json!({ "user": user.to_json(), "revoked_sessions": revoked }),
            ))
        })
        .await
}

/// `GET /admin/apps/{app}/users/{user}`.
pub async fn get_user(
    State(state): State<SharedState>,
    App(app): App,
    Path((_, user_key)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let (user, live) = state
                .db
                .read(|conn| {
                    let Some(user) = store::find_user(conn, &app.id, &user_key)? else {
                        return Ok(None);
                    };
                    let live = store::count_live_sessions(conn, &user.id, now)?;
                    let user = account::user_json(conn, &app, &user)?;
                    Ok(Some((user, live)))
                })?
                .ok_or_else(|| user_not_found(&app.id, &user_key))?;
            Ok(Json(json!({ "user": user, "live_sessions": live })))
        })
        .await
}

/// `POST /admin/faults`.
pub async fn add_fault(
    State(state): State<SharedState>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: FaultRequest = parse_json(&body)?;
    let fault = state.faults.add(request).map_err(ApiError::bad_request)?;
    Ok(Json(json!({ "fault": fault })))
}

/// `GET /admin/faults`.
pub async fn list_faults(State(state): State<SharedState>) -> Json<Value> {
    Json(json!({ "faults": state.faults.list() }))
}

/// `DELETE /admin/faults`.
pub async fn clear_faults(State(state): State<SharedState>) -> Json<Value> {
    Json(json!({ "cleared": state.faults.clear() }))
}

#[derive(Deserialize)]
pub struct AppQuery {
    pub(crate) app: Option<String>,
}

fn app_param(query: Result<Query<AppQuery>, QueryRejection>) -> Result<Option<String>, ApiError> {
    query
        .map(|Query(q)| q.app)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// `GET /admin/stats?app=X` (default app: demo).
pub async fn get_stats(
    State(state): State<SharedState>,
    query: Result<Query<AppQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let app = app_param(query)?.unwrap_or_else(|| DEMO_APP.to_owned());
    Ok(Json(
        serde_json::to_value(state.stats.get(&app)).map_err(ApiError::internal)?,
    ))
}

/// `POST /admin/stats/reset[?app=X]` (no app: every app).
pub async fn reset_stats(
    State(state): State<SharedState>,
    query: Result<Query<AppQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let app = app_param(query)?;
    state.stats.reset(app.as_deref());
    Ok(Json(
        json!({ "reset": app.unwrap_or_else(|| "all".into()) }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockRequest {
    pub(crate) offset_secs: i64,
    pub(crate) app: Option<String>,
}

/// Ten years either way is enough to pass any session limit.
pub(crate) const MAX_CLOCK_OFFSET: i64 = 10 * 366 * 24 * 3600;

fn clock_json(state: &SharedState, app: Option<&str>) -> Value {
    let mut value = json!({
        "offset_secs": state.clock.global_offset(),
        "app_offsets": state.clock.app_offsets(),
        "now": state.clock.now_global(),
        "real_now": system_now(),
    });
    if let Some(app) = app {
        value["app"] = json!(app);
        value["app_offset_secs"] = json!(state.clock.app_offset(app));
        value["app_now"] = json!(state.clock.now(app));
    }
    value
}

/// A `POST /admin/clock` body, checked.
pub(crate) fn clock_request_of(body: &[u8]) -> Result<ClockRequest, ApiError> {
    let request: ClockRequest = parse_json(body)?;
    // Not `abs()`: i64::MIN has no absolute value.
    if !(-MAX_CLOCK_OFFSET..=MAX_CLOCK_OFFSET).contains(&request.offset_secs) {
        return Err(ApiError::bad_request(format!(
            "offset_secs must be within ±{MAX_CLOCK_OFFSET}"
        )));
    }
    Ok(request)
}

/// `GET /admin/clock[?app=X]`.
pub async fn get_clock(
    State(state): State<SharedState>,
    query: Result<Query<AppQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let app = app_param(query)?;
    Ok(Json(clock_json(&state, app.as_deref())))
}

/// `POST /admin/clock` `{"offset_secs": N, "app": optional}`: sets the
/// global shift, or one app's additional shift.
pub async fn set_clock(
    State(state): State<SharedState>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let request = clock_request_of(&body)?;
    match &request.app {
        Some(app) => {
            extract::app(&state, app)?;
            state.clock.set_app_offset(app, request.offset_secs);
        }
        None => state.clock.set_global_offset(request.offset_secs),
    }
    Ok(Json(clock_json(&state, request.app.as_deref())))
}

/// `GET /admin/db[?app=X]`: row counts (all apps, or one), file sizes, and
/// the purge's settings and record.
pub async fn get_db(
    State(state): State<SharedState>,
    query: Result<Query<AppQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let app = app_param(query)?;
    if let Some(app) = &app {
        extract::app(&state, app)?;
    }
    state
        .blocking(move |state| {
            let counts = state.db.read(|conn| purge::counts(conn, app.as_deref()))?;
            Ok(Json(db_json(state, counts)))
        })
        .await
}

fn db_json(state: &AppState, counts: purge::Counts) -> Value {
    let (file_bytes, wal_bytes) = state.db.file_sizes();
    json!({
        "sessions": counts.sessions,
        "refresh_tokens": counts.refresh_tokens,
        "rotated_tokens": counts.rotated_tokens,
        "file_bytes": file_bytes,
        "wal_bytes": wal_bytes,
        "retention": state.purge.retention,
        "purge_interval": state.purge.interval,
        "purge": state.purge.report(),
    })
}

/// `POST /admin/purge`: purges now (as the background purge does) and
/// answers what it deleted, with the counts after it.
pub async fn run_purge(State(state): State<SharedState>) -> Result<Json<Value>, ApiError> {
    state
        .blocking(|state| {
            let (deleted, elapsed) = state.purge_now()?;
            let counts = state.db.read(|conn| purge::counts(conn, None))?;
            Ok(Json(json!({
                "deleted": deleted,
                "duration_ms": elapsed.as_millis() as u64,
                "db": db_json(state, counts),
            })))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_shifts_past_ten_years_are_refused_down_to_i64_min() {
        let shift =
            |secs: i64| clock_request_of(format!(r#"{{"offset_secs": {secs}}}"#).as_bytes());
        for ok in [0, MAX_CLOCK_OFFSET, -MAX_CLOCK_OFFSET] {
            assert_eq!(shift(ok).unwrap().offset_secs, ok);
        }
        for bad in [
            MAX_CLOCK_OFFSET + 1,
            -MAX_CLOCK_OFFSET - 1,
            i64::MAX,
            i64::MIN,
        ] {
            let Err(e) = shift(bad) else {
                panic!("a shift of {bad} s accepted");
            };
            assert_eq!(
                (e.status.as_u16(), e.code),
                (400, "invalid_request"),
                "{bad}"
            );
        }
    }
}
