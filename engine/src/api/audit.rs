//! The audit log: `GET /audit` (admin scope; nothing deletes from it), and [`record`], which
//! each changing handler calls after its change with the caller's identity.

use super::{ApiQuery, ApiResult, AppState};
use crate::core::access::Identity;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(list_audit))
}

/// `GET /audit?limit=`.
#[derive(Debug, Deserialize)]
struct AuditQuery {
    /// Most entries (default 200, at most 1,000).
    limit: Option<i64>,
}

async fn list_audit(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(200).clamp(1, 1_000);
    Ok(Json(json!(s.engine.audit_log(limit).await?)))
}

/// Records that `who` did `action` on `target`.
pub async fn record(
    s: &AppState,
    who: &Identity,
    action: &str,
    target: &str,
    detail: Value,
) -> ApiResult<()> {
    Ok(s.engine.audit(&who.name, action, target, detail).await?)
}
