//! Runs and what they leave behind: timelines, tasks, dead letters (and retrying one).

use super::audit::record;
use super::redact;
use super::{ApiError, ApiPath, ApiQuery, ApiResult, AppState};
use crate::core::access::Identity;
use crate::store::RunFilter;
use axum::extract::State;
use axum::routing::{get, post};
use axum::Extension;
use axum::{Json, Router};
use serde_json::{json, Value};

/// Most tasks and dead letters listed.
const LIST_LIMIT: i64 = 500;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/runs", get(list_runs))
        .route("/runs/{id}", get(get_run))
        .route("/tasks", get(list_tasks))
        .route("/dead-letters", get(list_dead_letters))
        .route("/dead-letters/{id}/retry", post(retry_dead_letter))
}

async fn list_runs(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiQuery(f): ApiQuery<RunFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(redact::runs(&who, s.engine.runs(&f).await?))))
}

async fn get_run(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let (run, timeline) = s
        .engine
        .run_with_timeline(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))?;
    let run = redact::runs(&who, vec![run]);
    let timeline = redact::timeline(&who, timeline);
    Ok(Json(json!({ "run": run[0], "timeline": timeline })))
}

async fn list_tasks(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
) -> ApiResult<Json<Value>> {
    let tasks = s.engine.tasks(LIST_LIMIT).await?;
    Ok(Json(json!(redact::tasks(&who, tasks))))
}

async fn list_dead_letters(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
) -> ApiResult<Json<Value>> {
    let letters = s.engine.dead_letters(LIST_LIMIT).await?;
    Ok(Json(json!(redact::dead_letters(&who, letters))))
}

async fn retry_dead_letter(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    let run = s.engine.retry_dead_letter(id).await?.ok_or_else(|| {
        ApiError::NotFound(format!("dead letter {id} (or it was already retried)"))
    })?;
    let detail = json!({ "run_id": run });
    record(&s, &who, "dead_letter.retried", &id.to_string(), detail).await?;
    Ok(Json(json!({ "run_id": run })))
}
