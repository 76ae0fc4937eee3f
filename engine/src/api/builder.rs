//! What the page's builder reads and writes: the actions with their input schemas, the JSON
//! Schema of the YAML form, the paths a trigger's events carry, and creating a workflow file.

use super::audit::record;
use super::web::{problems_json, Draft};
use super::{ApiError, ApiJson, ApiPath, ApiResult, AppState};
use crate::core::access::Identity;
use crate::core::builder::{CreateError, KnownPath};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_actions))
        .routes(routes!(workflow_schema))
        .routes(routes!(event_paths))
        .routes(routes!(create_workflow))
        .routes(routes!(test_draft))
        .routes(routes!(backtest))
}

/// One action a step can call.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ActionView {
    /// The name steps use (`email.send`).
    name: String,
    /// The customer-facing channel (`email`), if any: consent and caps apply.
    channel: Option<&'static str>,
    /// The WASM plugin providing it; `null` for a built-in.
    plugin: Option<String>,
    /// JSON Schema of its input (`with:`); `null` when free-form.
    input_schema: Option<Value>,
}

/// The actions steps can call, with their input schemas (`workflows:read`).
#[utoipa::path(get, path = "/actions", tag = "workflows",
    responses((status = 200, body = Vec<ActionView>), super::openapi::Refusals))]
async fn list_actions(State(s): State<AppState>) -> ApiResult<Json<Vec<ActionView>>> {
    let actions = s.engine.actions();
    Ok(Json(
        actions
            .iter()
            .map(|a| ActionView {
                name: a.name().to_string(),
                channel: a.channel(),
                plugin: s.engine.plugin_of(a.name()),
                input_schema: a.input_schema(),
            })
            .collect(),
    ))
}

/// The JSON Schema of a YAML workflow file, with the event catalog's paths as the examples of
/// expression fields (`workflows:read`); the builder's forms are made from it.
#[utoipa::path(get, path = "/schema", tag = "workflows",
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
async fn workflow_schema(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let paths = s.engine.event_catalog().paths();
    let text = mikawaya_dsl::schema::json_schema_with_paths(&paths);
    Ok(Json(serde_json::from_str(&text).map_err(|e| {
        ApiError::Internal(format!("the schema: {e}"))
    })?))
}

/// The paths conditions can read on a trigger's events, with their types: declared in the
/// event catalog, else seen in the last week's events of the type (`workflows:read`).
#[utoipa::path(get, path = "/event-types/{type}/paths", tag = "workflows",
    params(("type" = String, Path, description = "Event type, e.g. `cart.abandoned`")),
    responses((status = 200, body = Vec<KnownPath>), super::openapi::Refusals))]
async fn event_paths(
    State(s): State<AppState>,
    ApiPath(event_type): ApiPath<String>,
) -> ApiResult<Json<Vec<KnownPath>>> {
    Ok(Json(s.engine.trigger_paths(&event_type).await?))
}

/// The refusal of a `source` that does not check: every problem with its line and column.
fn has_problems(d: &mikawaya_dsl::Diagnostics) -> ApiError {
    ApiError::BadRequest(
        json!({ "error": "the workflow has problems", "field": "source", "problems": problems_json(d) }),
    )
}

/// Creates a workflow file in the workflows folder (checked first, never over an existing file
/// or workflow) and loads it (`workflows:write`; audited).
#[utoipa::path(post, path = "/workflows", tag = "workflows", request_body = Draft,
    responses((status = 201, body = serde_json::Value), super::openapi::Refusals))]
async fn create_workflow(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiJson(new): ApiJson<Draft>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (name, report) = s
        .engine
        .create_workflow(&new.file, new.source)
        .await
        .map_err(|e| match e {
            CreateError::Refused(message) => ApiError::bad_field("file", message),
            CreateError::Problems(d) => has_problems(&d),
            CreateError::Engine(e) => e.into(),
        })?;
    let version = report
        .active
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v);
    let created = json!({ "file": new.file, "version": version });
    record(&s, &who, "workflow.created", &name, created).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "name": name, "file": new.file, "version": version, "notes": report.notes })),
    ))
}

/// A draft to try: the workflow file's text as the page has it now.
#[derive(Deserialize, utoipa::ToSchema)]
struct TryDraft {
    /// The draft's text; without it, the saved file.
    source: Option<String>,
    /// For a backtest: how many days of stored events to replay (1 to 90, default 7).
    days: Option<u32>,
}

/// The draft's text (the saved file's without one) and its checked form; a draft with problems
/// is refused with them.
async fn checked_draft(
    s: &AppState,
    w: &crate::core::runtime::RuntimeWorkflow,
    source: Option<String>,
) -> ApiResult<(String, mikawaya_dsl::Workflow)> {
    let source = match source {
        Some(text) => text,
        None => s.engine.workflow_source(w).await?,
    };
    let checked = s.engine.check_draft(w.file.clone(), source.clone()).await?;
    let compiled = checked.map_err(|d| has_problems(&d))?;
    Ok((source, compiled))
}

/// Runs a workflow's rule tests (`*.test.yaml` beside it) on a draft, in a sandbox on a
/// simulated clock with recorded actions: each file's cases, passed or with what failed
/// (`workflows:write`).
#[utoipa::path(post, path = "/workflows/{name}/tests", tag = "workflows", request_body = TryDraft,
    params(("name" = String, Path, description = "Workflow name")),
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
async fn test_draft(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(draft): ApiJson<TryDraft>,
) -> ApiResult<Json<Value>> {
    let w = s.active_workflow(&name)?;
    let (source, _) = checked_draft(&s, &w, draft.source).await?;
    let files = s.engine.test_draft(&w, Some(source)).await?;
    let (passed, failed) = files.iter().fold((0, 0), |(p, f), r| {
        let (a, b) = r.counts();
        (p + a, f + b)
    });
    Ok(Json(
        json!({ "passed": passed, "failed": failed, "files": files }),
    ))
}

/// Replays a draft over the events stored in the last days, in a sandbox with recorded
/// actions: customers reaching each step, runs by status, the actions it would have called
/// (`workflows:write`).
#[utoipa::path(post, path = "/workflows/{name}/backtest", tag = "workflows", request_body = TryDraft,
    params(("name" = String, Path, description = "Workflow name")),
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
async fn backtest(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(draft): ApiJson<TryDraft>,
) -> ApiResult<Json<Value>> {
    let w = s.active_workflow(&name)?;
    let (source, compiled) = checked_draft(&s, &w, draft.source).await?;
    let report = s
        .engine
        .backtest(&w, source, draft.days.unwrap_or(7))
        .await
        .map_err(|e| match e {
            crate::core::EngineError::Input(m) => ApiError::bad_field("days", m),
            other => other.into(),
        })?;
    Ok(Json(
        json!({ "report": report, "graph": mikawaya_dsl::graph::graph(&compiled) }),
    ))
}
