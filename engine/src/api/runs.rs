//! Runs and what they leave behind: timelines, tasks, dead letters (and retrying one).

use super::audit::record;
use super::redact;
use super::{ApiError, ApiPath, ApiQuery, ApiResult, AppState};
use crate::core::access::Identity;
use crate::store::{DeadLetterRow, RunFilter, RunRow, TaskRow, TimelineEntry};
use axum::extract::State;
use axum::Extension;
use axum::Json;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most tasks and dead letters listed.
const LIST_LIMIT: i64 = 500;

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(list_tasks))
        .routes(routes!(list_dead_letters))
        .routes(routes!(retry_dead_letter))
}

/// A run and its timeline.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct RunWithTimeline {
    run: RunRow,
    timeline: Vec<TimelineEntry>,
    /// The step graph of the run's workflow version (nodes and edges), while that version is
    /// loaded: what the page draws the run's path on.
    graph: Option<serde_json::Value>,
}

/// The run a retried dead letter sent back.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Retried {
    run_id: String,
}

/// Runs, newest first (`runs:read`; the context is hidden without `customers:read`).
#[utoipa::path(get, path = "/runs", tag = "runs", params(RunFilter),
    responses((status = 200, body = Vec<RunRow>), super::openapi::Refusals))]
async fn list_runs(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiQuery(f): ApiQuery<RunFilter>,
) -> ApiResult<Json<Vec<RunRow>>> {
    let mut runs = s.engine.runs(&f).await?;
    redact::hide(&who, &mut runs, |r| &mut r.context);
    Ok(Json(runs))
}

/// One run and its timeline.
#[utoipa::path(get, path = "/runs/{id}", tag = "runs", params(("id" = String, Path, description = "Run id")),
    responses((status = 200, body = RunWithTimeline), super::openapi::Refusals))]
async fn get_run(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RunWithTimeline>> {
    let (mut run, mut timeline) = s
        .engine
        .run_with_timeline(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))?;
    redact::hide(&who, std::slice::from_mut(&mut run), |r| &mut r.context);
    redact::hide(&who, &mut timeline, |l| &mut l.detail);
    let graph = s
        .engine
        .registry()
        .version(&run.workflow, run.version)
        .map(|w| serde_json::json!(mikawaya_dsl::graph::graph(&w.ir)));
    Ok(Json(RunWithTimeline {
        run,
        timeline,
        graph,
    }))
}

/// Tasks created by `task.create`, newest first.
#[utoipa::path(get, path = "/tasks", tag = "runs", responses((status = 200, body = Vec<TaskRow>), super::openapi::Refusals))]
async fn list_tasks(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
) -> ApiResult<Json<Vec<TaskRow>>> {
    let mut tasks = s.engine.tasks(LIST_LIMIT).await?;
    redact::hide(&who, &mut tasks, |t| &mut t.data);
    Ok(Json(tasks))
}

/// Dead letters (steps that failed for good), newest first.
#[utoipa::path(get, path = "/dead-letters", tag = "runs", responses((status = 200, body = Vec<DeadLetterRow>), super::openapi::Refusals))]
async fn list_dead_letters(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
) -> ApiResult<Json<Vec<DeadLetterRow>>> {
    let mut letters = s.engine.dead_letters(LIST_LIMIT).await?;
    redact::hide(&who, &mut letters, |d| &mut d.input);
    Ok(Json(letters))
}

/// Sends a dead letter's run back to its failed step (`runs:write`; audited).
#[utoipa::path(post, path = "/dead-letters/{id}/retry", tag = "runs",
    params(("id" = i64, Path, description = "Dead letter id")),
    responses((status = 200, body = Retried), super::openapi::Refusals))]
async fn retry_dead_letter(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Retried>> {
    let run = s.engine.retry_dead_letter(id).await?.ok_or_else(|| {
        ApiError::NotFound(format!("dead letter {id} (or it was already retried)"))
    })?;
    let detail = json!({ "run_id": run });
    record(&s, &who, "dead_letter.retried", &id.to_string(), detail).await?;
    Ok(Json(Retried { run_id: run }))
}
