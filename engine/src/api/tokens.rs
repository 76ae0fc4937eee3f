//! Scoped API tokens (admin scope): list, create (the token is in the answer this once), revoke
//! (refused from the next request on).

use super::audit::record;
use super::{ApiError, ApiJson, ApiPath, ApiResult, AppState};
use crate::core::access::Identity;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::Extension;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{name}", delete(revoke_token))
}

/// `POST /tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    /// Who will hold it.
    name: String,
    /// What it may do.
    scopes: Vec<String>,
}

async fn list_tokens(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.engine.tokens().await?)))
}

async fn create_token(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiJson(new): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (row, token) = s.engine.create_token(&new.name, &new.scopes).await?;
    s.access.add(&row);
    let scopes = json!({ "scopes": row.scopes });
    record(&s, &who, "token.created", &row.name, scopes).await?;
    let body = json!({
        "name": row.name,
        "scopes": row.scopes,
        "created_at": row.created_at,
        "token": token,
        "note": "shown this once: only its hash is kept",
    });
    Ok((StatusCode::CREATED, Json(body)))
}

async fn revoke_token(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    if !s.engine.revoke_token(&name).await? {
        return Err(ApiError::NotFound(format!(
            "active token `{name}` (or it was revoked already)"
        )));
    }
    s.access.remove(&name);
    record(&s, &who, "token.revoked", &name, json!({})).await?;
    Ok(Json(json!({ "revoked": name })))
}
