//! `GET /events/rejected`: the messages an intake other than HTTP (NATS) could not take, with
//! why (HTTP senders get the reason in their 400 instead). Bodies may hold customer data, so it
//! needs the `customers:read` scope, as every `GET /events/…` does.

use super::{ApiQuery, ApiResult, AppState};
use crate::store::RejectedMessage;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_rejected))
}

/// `GET /events/rejected?limit=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RejectedQuery {
    /// Most messages (default 100, at most 1,000).
    limit: Option<i64>,
}

/// Messages refused by the NATS intake, newest first (`customers:read`).
#[utoipa::path(get, path = "/events/rejected", tag = "events", params(RejectedQuery),
    responses((status = 200, body = Vec<RejectedMessage>), super::openapi::Refusals))]
async fn list_rejected(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<RejectedQuery>,
) -> ApiResult<Json<Vec<RejectedMessage>>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1_000);
    Ok(Json(s.engine.rejected_messages(limit).await?))
}
