//! Scoped API tokens (admin scope): list, create (the token is in the answer this once), revoke
//! (refused from the next request on).

use super::audit::record;
use super::{ApiError, ApiJson, ApiPath, ApiResult, AppState};
use crate::core::access::Identity;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

/// `POST /tokens`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewToken {
    /// Who will hold it (unique, never reused).
    #[schema(pattern = "^[a-z0-9._-]{1,64}$")]
    name: String,
    /// What it may do.
    #[schema(value_type = Vec<ScopeName>, min_items = 1)]
    scopes: Vec<String>,
}

/// A scope's name, for the document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
enum ScopeName {
    #[schema(rename = "events:write")]
    EventsWrite,
    #[schema(rename = "workflows:read")]
    WorkflowsRead,
    #[schema(rename = "workflows:write")]
    WorkflowsWrite,
    #[schema(rename = "runs:read")]
    RunsRead,
    #[schema(rename = "runs:write")]
    RunsWrite,
    #[schema(rename = "customers:read")]
    CustomersRead,
    #[schema(rename = "consent:write")]
    ConsentWrite,
    #[schema(rename = "admin")]
    Admin,
}

/// Tokens: names, scopes, dates (never a token or its hash; `admin`).
#[utoipa::path(get, path = "/tokens", tag = "access", responses((status = 200, body = Vec<crate::store::TokenRow>), super::openapi::Refusals))]
async fn list_tokens(State(s): State<AppState>) -> ApiResult<Json<Vec<crate::store::TokenRow>>> {
    Ok(Json(s.engine.tokens().await?))
}

/// Creates a scoped token, shown this once (`admin`; audited).
#[utoipa::path(post, path = "/tokens", tag = "access", request_body = NewToken,
    responses((status = 201, body = serde_json::Value), super::openapi::Refusals,
        (status = 409, description = "A token with this name exists or existed (names are never reused)", body = super::error::ErrorBody)))]
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

/// Revokes a token: refused from the next request on (`admin`; audited).
#[utoipa::path(delete, path = "/tokens/{name}", tag = "access",
    params(("name" = String, Path, description = "The token's name")),
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
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

#[cfg(test)]
mod tests {
    use crate::core::access::Scope;

    #[test]
    fn the_documented_scopes_are_the_scopes() {
        let (_, doc) = super::routes().split_for_parts();
        let doc = serde_json::to_value(&doc).unwrap();
        let documented = &doc["components"]["schemas"]["ScopeName"]["enum"];
        let scopes: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(documented, &serde_json::json!(scopes), "{doc}");
    }
}
