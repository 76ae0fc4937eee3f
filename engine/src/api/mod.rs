//! The HTTP API (axum). Each resource has its file; a handler parses, is authorised by
//! [`auth`], calls one engine service and maps the result. Every error, including a rejected
//! body, path or query, answers with the JSON shape of [`ApiError`]. Each handler's
//! `#[utoipa::path]` annotation describes it in the OpenAPI document ([`openapi`]), and the
//! router registers it from that annotation, so the two cannot disagree.

mod audit;
mod auth;
mod builder;
mod consent;
mod error;
mod event_types;
mod events;
mod experiments;
mod metrics;
mod models;
mod nodes;
mod openapi;
mod redact;
mod rejected;
mod run_control;
mod runs;
mod segments;
mod tokens;
mod web;
mod workflows;

pub use error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};

use crate::core::intake::Intake;
use crate::core::runtime::RuntimeWorkflow;
use crate::core::Engine;
use axum::routing::get;
use axum::{middleware, Router};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Event intake.
    pub intake: Intake,
    /// The tokens the API accepts (bootstrap and stored scoped tokens).
    pub access: Arc<crate::core::access::Access>,
    /// Events per second each token and source may send (`serve --rate-limit`).
    pub limits: Arc<crate::core::limits::IntakeLimits>,
    /// Signed event sources (`serve --sources`).
    pub sources: Arc<crate::core::sources::Sources>,
}

impl AppState {
    /// The active version of workflow `name`, or a 404.
    pub fn active_workflow(&self, name: &str) -> ApiResult<Arc<RuntimeWorkflow>> {
        self.engine
            .active_workflow(name)
            .ok_or_else(|| ApiError::NotFound(format!("workflow `{name}`")))
    }
}

/// A path no route serves: a 404 in the API's error shape.
async fn unknown_route(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("route `{}`", uri.path()))
}

/// A known path asked with a method it does not take.
async fn wrong_method(
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = serde_json::json!({
        "error": format!("`{}` does not take {method}", uri.path()),
        "code": "method_not_allowed",
    });
    (axum::http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}

/// Whether the engine answers.
#[utoipa::path(get, path = "/health", tag = "operations", security(()),
    responses((status = 200, description = "The engine is up", content_type = "text/plain", body = String)))]
async fn health() -> &'static str {
    "ok"
}

/// The router with every route, and the OpenAPI document of its API routes (served at
/// `/openapi.json`).
pub fn router(state: AppState) -> Router {
    let (api, paths) = OpenApiRouter::new()
        .merge(events::routes())
        .merge(workflows::routes())
        .merge(runs::routes())
        .merge(run_control::routes())
        .merge(tokens::routes())
        .merge(audit::routes())
        .merge(rejected::routes())
        .merge(nodes::routes())
        .merge(event_types::routes())
        .merge(experiments::routes())
        .merge(consent::protected())
        .merge(segments::protected())
        .merge(models::protected())
        .merge(web::routes())
        .merge(builder::routes())
        .routes(routes!(metrics::metrics))
        .layer(middleware::from_fn_with_state(state.clone(), auth::auth))
        .routes(routes!(health))
        .merge(events::signed())
        .split_for_parts();
    let document = Arc::new(openapi::document(paths));
    Router::new()
        .merge(api)
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { axum::Json(document) }
            }),
        )
        .merge(consent::public())
        .merge(web::page())
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(state)
}
