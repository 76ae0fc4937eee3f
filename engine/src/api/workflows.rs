//! Workflows: the list with run counts, one workflow's IR and graph, reloading the folder.

use super::audit::record;
use super::{ApiError, ApiPath, ApiQuery, ApiResult, AppState};
use crate::core::access::Identity;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use mikawaya_dsl::graph;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workflows))
        .routes(routes!(reload))
        .routes(routes!(get_workflow))
        .routes(routes!(get_graph))
}

/// Active workflows with their run counts of the last 24 hours (`workflows:read`).
#[utoipa::path(get, path = "/workflows", tag = "workflows", responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
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

/// One workflow's checked form, graph and runs at each step (`workflows:read`).
#[utoipa::path(get, path = "/workflows/{name}", tag = "workflows",
    params(("name" = String, Path, description = "Workflow name")),
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct GraphQuery {
    /// `json` (default), `mermaid` or `dot`.
    format: Option<String>,
}

/// One workflow's graph as JSON, Mermaid or Graphviz dot (`workflows:read`).
#[utoipa::path(get, path = "/workflows/{name}/graph", tag = "workflows",
    params(("name" = String, Path, description = "Workflow name"), GraphQuery),
    responses((status = 200, description = "The graph", content(
        (serde_json::Value = "application/json"), (String = "text/plain"))), super::openapi::Refusals))]
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

/// Reloads the workflow folder (`workflows:write`; audited).
#[utoipa::path(post, path = "/workflows/reload", tag = "workflows", responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
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
