//! `POST /events` (intake) and `GET /events/{id}/explain`.

use super::{ApiError, ApiPath, ApiResult, AppState};
use crate::core::Metrics;
use crate::event::parse_events;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events", post(post_events))
        .route("/events/{id}/explain", get(explain_event))
}

/// Whether a `Content-Type` names JSON (`application/json`, with parameters or a `+json` type).
fn is_json(content_type: Option<&str>) -> bool {
    let Some(essence) = content_type.and_then(|t| t.split(';').next()) else {
        return false;
    };
    let essence = essence.trim().to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Refused with 503 and `Retry-After` while the backlog is past its bound. Events must be sent as JSON: a `text/plain` body is what any web page can post cross-site
/// without a preflight, so with no token configured it would let a page a user visits inject
/// events. A 415 names the header.
async fn post_events(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !is_json(content_type) {
        Metrics::add(&s.engine.metrics().events_rejected, 1);
        return Err(ApiError::UnsupportedMediaType(format!(
            "events must be sent with `Content-Type: application/json` (got {})",
            content_type.map_or("none".into(), |t| format!("`{t}`"))
        )));
    }
    let (backlog, bound) = (s.engine.backlog(), s.engine.config().max_backlog);
    if backlog >= bound {
        Metrics::add(&s.engine.metrics().events_pushed_back, 1);
        return Err(ApiError::Busy(format!(
            "the engine is behind: {backlog} events and runs are waiting (bound {bound}); nothing of this request was stored, send it again after `Retry-After`"
        )));
    }
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

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn only_json_content_types_are_taken() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/cloudevents+json",
        ] {
            assert!(is_json(Some(ok)), "{ok}");
        }
        for refused in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ] {
            assert!(!is_json(Some(refused)), "{refused}");
        }
        assert!(!is_json(None));
    }
}
