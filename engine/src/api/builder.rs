//! What the page's builder reads and writes: the actions with their input schemas, the JSON
//! Schema of the YAML form, the paths a trigger's events carry, and creating a workflow file.

use super::audit::record;
use super::web::problems_json;
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

/// A new workflow file.
#[derive(Deserialize, utoipa::ToSchema)]
struct NewWorkflow {
    /// File name in the workflows folder, e.g. `win-back.yaml`.
    file: String,
    /// Its text.
    source: String,
}

/// Creates a workflow file in the workflows folder (checked first, never over an existing file
/// or workflow) and loads it (`workflows:write`; audited).
#[utoipa::path(post, path = "/workflows", tag = "workflows", request_body = NewWorkflow,
    responses((status = 201, body = serde_json::Value), super::openapi::Refusals))]
async fn create_workflow(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiJson(new): ApiJson<NewWorkflow>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (name, report) = s
        .engine
        .create_workflow(&new.file, new.source)
        .await
        .map_err(|e| match e {
            CreateError::Refused(message) => ApiError::bad_field("file", message),
            CreateError::Problems(d) => ApiError::BadRequest(
                json!({ "error": "the workflow has problems", "field": "source", "problems": problems_json(&d) }),
            ),
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
