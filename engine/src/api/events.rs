//! `POST /events` (intake) and `GET /events/{id}/explain`.

use super::{ApiError, ApiPath, ApiResult, AppState};
use crate::core::Metrics;
use crate::event::parse_events;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events", post(post_events))
        .route("/events/{id}/explain", get(explain_event))
}

async fn post_events(
    State(s): State<AppState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let events = parse_events(&body, s.engine.clock().now_ms()).map_err(|e| {
        Metrics::add(&s.engine.metrics().events_rejected, 1);
        ApiError::BadRequest(json!({ "error": e.to_string(), "index": e.index, "field": e.field, "reason": e.message }))
    })?;
    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    let fresh = s
        .intake
        .submit(events)
        .await
        .map_err(|e| ApiError::Internal(e.0))?;
    let duplicates: Vec<&String> = ids
        .iter()
        .zip(&fresh)
        .filter(|(_, f)| !**f)
        .map(|(id, _)| id)
        .collect();
    let body =
        json!({ "accepted": fresh.iter().filter(|f| **f).count(), "duplicates": duplicates });
    Ok((StatusCode::ACCEPTED, Json(body)))
}

async fn explain_event(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let x = s
        .engine
        .explain_event(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("event `{id}`")))?;
    Ok(Json(json!(x)))
}
