//! The public API under `/v1/apps/{app}`: what the browser client speaks
//! (docs/contract.md §1), plus the demo login and a demo protected endpoint.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, JsonBody};
use crate::extract::{App, SignedIn};
use crate::state::SharedState;
use crate::store::{self, account, Issued, RevokeOutcome};

/// Refresh tokens this server issues are 43 characters; anything much longer
/// is refused without a database look-up.
pub(crate) const MAX_REFRESH_TOKEN_LEN: usize = 512;
const MAX_IDENTIFIER_LEN: usize = 254;

#[derive(Deserialize)]
pub struct RefreshBody {
    #[serde(alias = "refreshToken")]
    refresh_token: String,
}

#[derive(Deserialize)]
pub struct RevokeQuery {
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginBody {
    identifier: String,
}

fn auth_result(token: String, issued: &Issued) -> Json<Value> {
    Json(json!({
        "auth_result": {
            "auth_token": token,
            "redirect_url": "/",
            "refresh_token": issued.refresh_token,
            "refresh_token_expiration": issued.expires_at,
        }
    }))
}

/// `POST /v1/apps/{app}/tokens`: rotation.
pub async fn refresh(
    State(state): State<SharedState>,
    App(app): App,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<Json<Value>, ApiError> {
    let token = refresh_token_of(body)?;
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let rotation = store::Rotation {
                key: state.signer.rotation_key(),
                grace: app.reuse_grace_or(state.reuse_grace),
            };
            let issued = state
                .db
                .write(|tx| store::refresh(tx, &app, &token, now, rotation))?
                .map_err(refusal)?;
            let jwt = state
                .auth_token(&app, &issued, now)
                .map_err(ApiError::internal)?;
            state.stats.refresh_ok(&app.id, issued.retried);
            Ok(auth_result(jwt, &issued))
        })
        .await
}

/// The token of a refresh body; one this server cannot have issued is
/// refused without a database look-up.
pub(crate) fn refresh_token_of(body: RefreshBody) -> Result<String, ApiError> {
    let token = body.refresh_token;
    if token.is_empty() || token.len() > MAX_REFRESH_TOKEN_LEN {
        return Err(refusal(store::Refusal::Unknown));
    }
    Ok(token)
}

fn refusal(r: store::Refusal) -> ApiError {
    ApiError::unauthorized(r.code(), r.message())
}

/// `DELETE /v1/apps/{app}/tokens?refresh_token=...`: sign-out.
pub async fn revoke(
    State(state): State<SharedState>,
    App(app): App,
    query: Result<Query<RevokeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let token = revoke_token_of(query)?;
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            match state
                .db
                .write(|tx| store::revoke(tx, &app.id, &token, now))?
            {
                RevokeOutcome::Revoked | RevokeOutcome::AlreadyRevoked => {
                    state.stats.revoke_ok(&app.id);
                    Ok(StatusCode::NO_CONTENT.into_response())
                }
                RevokeOutcome::NotFound => Err(revoke_not_found()),
            }
        })
        .await
}

/// The token of a sign-out's query string.
pub(crate) fn revoke_token_of(
    query: Result<Query<RevokeQuery>, QueryRejection>,
) -> Result<String, ApiError> {
    let token = query
        .map_err(|e| ApiError::bad_request(e.body_text()))?
        .0
        .refresh_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("the refresh_token query parameter is required"))?;
    if token.len() > MAX_REFRESH_TOKEN_LEN {
        return Err(revoke_not_found());
    }
    Ok(token)
}

fn revoke_not_found() -> ApiError {
    ApiError::not_found("refresh_token_not_found", "refresh token not found")
}

/// `GET /v1/apps/{app}/currentuser`.
pub async fn current_user(
    State(state): State<SharedState>,
    SignedIn { app, user }: SignedIn,
) -> Result<Json<Value>, ApiError> {
    state
        .blocking(move |state| {
            let user = state
                .db
                .read(|conn| account::user_json(conn, &app, &user))?;
            Ok(Json(json!({ "user": user })))
        })
        .await
}

/// `POST /v1/apps/{app}/demo/login`: stands in for the Passage element.
pub async fn demo_login(
    State(state): State<SharedState>,
    App(app): App,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Json<Value>, ApiError> {
    let identifier = login_identifier(body)?;
    state
        .blocking(move |state| {
            let now = state.clock.now(&app.id);
            let issued = state
                .db
                .write(|tx| store::login(tx, &app, &identifier, now))?
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::FORBIDDEN,
                        "user_deactivated",
                        "user is deactivated",
                    )
                })?;
            let jwt = state
                .auth_token(&app, &issued, now)
                .map_err(ApiError::internal)?;
            Ok(auth_result(jwt, &issued))
        })
        .await
}

/// The email a demo login names.
pub(crate) fn login_identifier(body: LoginBody) -> Result<String, ApiError> {
    let identifier = body.identifier.trim().to_owned();
    validate_email(&identifier)?;
    Ok(identifier)
}

fn validate_email(identifier: &str) -> Result<(), ApiError> {
    let valid = identifier.len() <= MAX_IDENTIFIER_LEN && crate::metadata::valid_email(identifier);
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "identifier must be an email address such as alice@example.com",
        ))
    }
}

/// `GET /v1/apps/{app}/demo/api/hello`: a protected API for the demo page.
pub async fn demo_hello(
    State(state): State<SharedState>,
    SignedIn { app, user }: SignedIn,
) -> Json<Value> {
    Json(json!({
        "message": format!("Hello, {}! This answer comes from a protected API.", user.email),
        "user": user.to_json(),
        "server_time": state.clock.now(&app.id),
    }))
}

/// `GET /v1/apps/{app}/.well-known/jwks.json`.
pub async fn jwks(State(state): State<SharedState>, _: App) -> Json<Value> {
    Json(state.signer.jwks())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_email_identifiers() {
        assert!(validate_email("alice@example.com").is_ok());
        for bad in ["", "alice", "@x", "a@", "a b@c", "a@b@c"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
        assert!(validate_email(&format!("{}@x.io", "a".repeat(300))).is_err());
    }
}
