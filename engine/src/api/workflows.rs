//! Workflows: the list with run counts, one workflow's IR and graph, reloading the folder.

use super::audit::record;
use super::{ApiError, ApiPath, ApiQuery, ApiResult, AppState};
use crate::core::access::Identity;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::{Json, Router};
use mikawaya_dsl::graph;
use serde::Deserialize;
use serde_json::{json, Value};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/workflows", get(list_workflows))
        .route("/workflows/reload", post(reload))
        .route("/workflows/{name}", get(get_workflow))
        .route("/workflows/{name}/graph", get(get_graph))
}

async fn list_workflows(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let list: Vec<Value> = s
        .engine
        .workflow_summaries()
        .await?
        .into_iter()
        .map(|(w, runs)| {
            json!({
                "name": w.name, "version": w.version, "file": w.file, "description": w.description,
                "trigger": graph::trigger_label(&w.trigger), "enabled": true, "runs": runs,
            })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

async fn get_workflow(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let w = s.active_workflow(&name)?;
    let at_step: Vec<Value> = s
        .engine
        .runs_at_steps(&w)
        .await?
        .iter()
        .filter_map(|c| {
            w.steps
                .get(c.step)
                .map(|st| json!({ "step": st.id, "runs": c.runs }))
        })
        .collect();
    Ok(Json(
        json!({ "workflow": *w.ir, "graph": graph::graph(&w.ir), "runs_at_step": at_step }),
    ))
}

#[derive(Deserialize)]
struct GraphQuery {
    format: Option<String>,
}

async fn get_graph(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<GraphQuery>,
) -> ApiResult<Response> {
    let w = s.active_workflow(&name)?;
    Ok(match q.format.as_deref().unwrap_or("json") {
        "mermaid" => graph::mermaid(&w.ir).into_response(),
        "dot" => graph::dot(&w.ir).into_response(),
        "json" => Json(graph::graph(&w.ir)).into_response(),
        other => {
            return Err(ApiError::bad_field(
                "format",
                format!("unknown format `{other}`; use json, mermaid or dot"),
            ))
        }
    })
}

async fn reload(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
) -> ApiResult<Json<Value>> {
    let report = s.engine.reload().await?;
    let active = json!({ "active": report.active });
    record(&s, &who, "workflows.reloaded", "workflows", active).await?;
    Ok(Json(json!({
        "active": report.active,
        "errors": report.errors.iter().map(|d| d.to_plain()).collect::<Vec<_>>(),
        "problems": report.problems,
        "notes": report.notes,
    })))
}
