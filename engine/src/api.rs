//! The HTTP API (axum): event intake, workflows, runs, tasks, dead letters, metrics.

use crate::engine::Engine;
use crate::event::parse_events;
use crate::intake::Intake;
use crate::store::{RunFilter, StoreError};
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mikawaya_dsl::graph;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Event intake.
    pub intake: Intake,
    /// Write token: required on every route but `/health`, the page and unsubscribe links, if set.
    pub token: Option<String>,
    /// Read-only token, if set.
    pub read_token: Option<String>,
}

/// Errors of the API, each with its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is wrong; the body says how.
    #[error("{0}")]
    BadRequest(Value),
    /// Nothing here.
    #[error("not found: {0}")]
    NotFound(String),
    /// Missing or wrong token.
    #[error("unauthorized")]
    Unauthorized,
    /// The token is right but not allowed to do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Our fault (database, shutdown).
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<crate::engine::EngineError> for ApiError {
    fn from(e: crate::engine::EngineError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::BadRequest(v) => (StatusCode::BAD_REQUEST, v),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                json!({ "error": format!("{what} not found") }),
            ),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, json!({ "error": m })),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({ "error": "missing or wrong bearer token" }),
            ),
            ApiError::Internal(m) => {
                tracing::error!("{m}");
                (StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": m }))
            }
        };
        (status, Json(body)).into_response()
    }
}

/// The active version of workflow `name`, or a 404.
pub fn active_workflow(
    s: &AppState,
    name: &str,
) -> ApiResult<std::sync::Arc<mikawaya_dsl::Workflow>> {
    s.engine
        .registry()
        .active(name)
        .ok_or_else(|| ApiError::NotFound(format!("workflow `{name}`")))
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// The router with every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/events", post(post_events))
        .route("/workflows", get(list_workflows))
        .route("/workflows/reload", post(reload))
        .route("/workflows/{name}", get(get_workflow))
        .route("/workflows/{name}/graph", get(get_graph))
        .route("/events/{id}/explain", get(explain_event))
        .route("/runs", get(list_runs))
        .route("/runs/{id}", get(get_run))
        .route("/tasks", get(list_tasks))
        .route("/dead-letters", get(list_dead_letters))
        .route("/dead-letters/{id}/retry", post(retry_dead_letter))
        .route("/metrics", get(metrics))
        .merge(crate::api_consent::protected())
        .merge(crate::api_web::routes())
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .route("/health", get(|| async { "ok" }))
        .merge(crate::api_consent::public())
        .merge(crate::api_web::page())
        .with_state(state)
}

/// Tokens: the write token may do everything; the read token may read (and validate drafts).
/// With no token configured the API is open, except saving workflows, which needs a write token.
async fn auth(State(s): State<AppState>, req: Request, next: Next) -> Result<Response, ApiError> {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let is_write = s.token.as_deref().is_some_and(|t| Some(t) == given);
    let is_read = is_write || s.read_token.as_deref().is_some_and(|t| Some(t) == given);
    let reading = req.method() == axum::http::Method::GET || req.uri().path() == "/validate";
    let saving = req.method() == axum::http::Method::PUT;
    if saving && s.token.is_none() {
        return Err(ApiError::Forbidden(
            "saving workflows needs the engine to run with --token (the write token)".into(),
        ));
    }
    let open = s.token.is_none() && s.read_token.is_none();
    let allowed = open || is_write || (reading && is_read);
    if !allowed {
        return Err(if is_read {
            ApiError::Forbidden("this needs the write token".into())
        } else {
            ApiError::Unauthorized
        });
    }
    Ok(next.run(req).await)
}

async fn post_events(
    State(s): State<AppState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let events = parse_events(&body, s.engine.clock.now_ms()).map_err(|e| {
        s.engine.metrics.events_rejected.fetch_add(1, Ordering::Relaxed);
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

async fn list_workflows(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let since = s.engine.clock.now_ms() - 86_400_000;
    let counts = s.engine.store.workflow_counts(since).await?;
    let list: Vec<Value> = s
        .engine
        .registry()
        .latest()
        .map(|w| {
            let c = counts
                .iter()
                .find(|(n, _)| *n == w.name)
                .map(|(_, c)| c.clone())
                .unwrap_or_default();
            json!({
                "name": w.name, "version": w.version, "file": w.file, "description": w.description,
                "trigger": graph::trigger_label(&w.trigger), "enabled": true, "runs": c,
            })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

async fn get_workflow(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let w = active_workflow(&s, &name)?;
    let counts = s.engine.store.step_counts(&name).await?;
    let at_step: Vec<Value> = counts
        .iter()
        .filter(|(v, _, _)| *v == w.version)
        .filter_map(|(_, step, n)| {
            w.steps
                .get(*step)
                .map(|st| json!({ "step": st.id, "runs": n }))
        })
        .collect();
    Ok(Json(
        json!({ "workflow": *w, "graph": graph::graph(&w), "runs_at_step": at_step }),
    ))
}

#[derive(Deserialize)]
struct GraphQuery {
    format: Option<String>,
}

async fn get_graph(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<GraphQuery>,
) -> ApiResult<Response> {
    let w = active_workflow(&s, &name)?;
    Ok(match q.format.as_deref().unwrap_or("json") {
        "mermaid" => graph::mermaid(&w).into_response(),
        "dot" => graph::dot(&w).into_response(),
        "json" => Json(graph::graph(&w)).into_response(),
        other => {
            return Err(ApiError::BadRequest(
                json!({ "error": format!("unknown format `{other}`; use json, mermaid or dot") }),
            ))
        }
    })
}

async fn reload(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let report = s.engine.reload().await?;
    Ok(Json(json!({
        "active": report.active,
        "errors": report.errors.iter().map(|d| d.to_plain()).collect::<Vec<_>>(),
        "problems": report.problems,
        "notes": report.notes,
    })))
}

async fn explain_event(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let x = s
        .engine
        .explain_event(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("event `{id}`")))?;
    Ok(Json(json!(x)))
}

async fn list_runs(
    State(s): State<AppState>,
    Query(f): Query<RunFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.engine.store.runs(&f).await?)))
}

async fn get_run(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let run = s
        .engine
        .store
        .run(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))?;
    let timeline = s.engine.store.timeline(&id).await?;
    Ok(Json(json!({ "run": run, "timeline": timeline })))
}

async fn list_tasks(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.engine.store.tasks(500).await?)))
}

async fn list_dead_letters(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.engine.store.dead_letters(500).await?)))
}

async fn retry_dead_letter(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let run = s
        .engine
        .store
        .retry_dead_letter(id, s.engine.clock.now_ms())
        .await?;
    let run = run.ok_or_else(|| {
        ApiError::NotFound(format!("dead letter {id} (or it was already retried)"))
    })?;
    s.engine.wake.notify_waiters();
    Ok(Json(json!({ "run_id": run })))
}

async fn metrics(State(s): State<AppState>) -> String {
    let m = &s.engine.metrics;
    let line = |name: &str, help: &str, v: &std::sync::atomic::AtomicU64| {
        format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
            v.load(Ordering::Relaxed)
        )
    };
    [
        line(
            "mikawaya_events_accepted_total",
            "Events stored.",
            &m.events_accepted,
        ),
        line(
            "mikawaya_events_duplicate_total",
            "Events ignored as duplicates.",
            &m.events_duplicate,
        ),
        line(
            "mikawaya_events_rejected_total",
            "Requests refused as malformed.",
            &m.events_rejected,
        ),
        line(
            "mikawaya_runs_started_total",
            "Runs started.",
            &m.runs_started,
        ),
        line(
            "mikawaya_actions_ok_total",
            "Action calls that succeeded.",
            &m.actions_ok,
        ),
        line(
            "mikawaya_actions_failed_total",
            "Action calls that failed.",
            &m.actions_failed,
        ),
    ]
    .concat()
}
