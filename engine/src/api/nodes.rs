//! `GET /nodes`: the engine nodes sharing the database, whether each is alive, which one
//! matches events and how many runs each holds (`runs:read`, like `/metrics`).

use super::{ApiResult, AppState};
use crate::store::NodeRow;
use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_nodes))
}

/// The nodes sharing the database, alive first (an empty list on SQLite, which serves one
/// process) (`runs:read`).
#[utoipa::path(get, path = "/nodes", tag = "operations",
    responses((status = 200, body = Vec<NodeRow>), super::openapi::Refusals))]
async fn list_nodes(State(s): State<AppState>) -> ApiResult<Json<Vec<NodeRow>>> {
    Ok(Json(s.engine.nodes().await?))
}
