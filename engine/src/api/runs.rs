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
    let mut runs = s.engine.runs(&f).await?;
    redact::hide(&who, &mut runs, |r| &mut r.context);
    Ok(Json(json!(runs)))
}

async fn get_run(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let (mut run, mut timeline) = s
        .engine
        .run_with_timeline(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))?;
    redact::hide(&who, std::slice::from_mut(&mut run), |r| &mut r.context);
    redact::hide(&who, &mut timeline, |l| &mut l.detail);
    Ok(Json(json!({ "run": run, "timeline": timeline })))
}

async fn list_tasks(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
) -> ApiResult<Json<Value>> {
    let mut tasks = s.engine.tasks(LIST_LIMIT).await?;
    redact::hide(&who, &mut tasks, |t| &mut t.data);
    Ok(Json(json!(tasks)))
}

async fn list_dead_letters(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
) -> ApiResult<Json<Value>> {
    let mut letters = s.engine.dead_letters(LIST_LIMIT).await?;
    redact::hide(&who, &mut letters, |d| &mut d.input);
    Ok(Json(json!(letters)))
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
