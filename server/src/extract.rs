//! The extractors handlers take: [`App`], the app a route names, and
//! [`SignedIn`], the user of the request's auth token.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::config::AppSettings;
use crate::error::ApiError;
use crate::state::{AppState, SharedState};
use crate::store::{self, User};

/// The settings of the app `id`, or the 404 for an unknown one.
pub fn app(state: &AppState, id: &str) -> Result<AppSettings, ApiError> {
    state.app(id).ok_or_else(|| ApiError::app_not_found(id))
}

/// The app of a route's `{app}`: 404 `app_not_found` when there is no such
/// app. It is looked up once per request (the fault injection looks first).
#[derive(Clone)]
pub struct App(pub AppSettings);

#[derive(Deserialize)]
struct AppParam {
    app: String,
}

impl FromRequestParts<SharedState> for App {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Response> {
        if let Some(app) = parts.extensions.get::<App>() {
            return Ok(app.clone());
        }
        let Path(AppParam { app: id }) = Path::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let found = App(app(state, &id).map_err(IntoResponse::into_response)?);
        parts.extensions.insert(found.clone());
        Ok(found)
    }
}

/// The signed-in user of a valid `Authorization: Bearer <auth token>` for
/// the route's app, and that app. Refused with 401 `missing_auth_token`,
/// `invalid_auth_token` (bad signature, expired, another app's, unknown
/// user) or `user_deactivated`.
pub struct SignedIn {
    pub app: AppSettings,
    pub user: User,
}

impl FromRequestParts<SharedState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Response> {
        let App(app) = App::from_request_parts(parts, state).await?;
        let user = authenticate(state, &app, &parts.headers)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(SignedIn { app, user })
    }
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// The user of a valid `Authorization: Bearer <jwt>` for this app.
async fn authenticate(
    state: &SharedState,
    app: &AppSettings,
    headers: &HeaderMap,
) -> Result<User, ApiError> {
    let token = bearer_token(headers).ok_or_else(|| {
        ApiError::unauthorized(
            "missing_auth_token",
            "an Authorization: Bearer token is required",
        )
    })?;
    let app = app.clone();
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let claims = state
                .signer
                .verify(&token, &state.issuer(&app.id), &app.id, now)
                .ok_or_else(|| {
                    ApiError::unauthorized(
                        "invalid_auth_token",
                        "the auth token is invalid, expired or for another app",
                    )
                })?;
            let user = state
                .db
                .read(|conn| store::user_by_id(conn, &app.id, &claims.sub))?
                .ok_or_else(|| ApiError::unauthorized("invalid_auth_token", "unknown user"))?;
            if !user.is_active() {
                return Err(ApiError::unauthorized(
                    "user_deactivated",
                    "user is deactivated",
                ));
            }
            Ok(user)
        })
        .await
}
