//! The audit log: `GET /audit` (admin scope; nothing deletes from it), and [`record`], which
//! each changing handler calls after its change with the caller's identity.

use super::{ApiQuery, ApiResult, AppState};
use crate::core::access::Identity;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// `GET /audit?limit=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Most entries (default 200, at most 1,000).
    limit: Option<i64>,
}

/// The audit log, newest first (`admin`).
#[utoipa::path(get, path = "/audit", tag = "access", params(AuditQuery),
    responses((status = 200, body = Vec<crate::store::AuditEntry>), super::openapi::Refusals))]
async fn list_audit(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<crate::store::AuditEntry>>> {
    let limit = q.limit.unwrap_or(200).clamp(1, 1_000);
    Ok(Json(s.engine.audit_log(limit).await?))
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
