//! Routes of the web page: the page itself (built into the binary), live validation, a
//! workflow's source, saving a new version (write token), and per-step counts for the graph.

use super::audit::record;
use super::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState};
use crate::core::access::Identity;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::{Json, Router};
use mikawaya_dsl::Diagnostics;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The built page (`engine/web/dist`, from `engine/web/build.sh`).
#[derive(rust_embed::Embed)]
#[folder = "web/dist/"]
#[allow_missing = true]
struct Assets;

/// Routes for readers (behind the read or write token).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(validate))
        .routes(routes!(get_source, save_source))
        .routes(routes!(step_stats))
}

/// The page and its assets (open: the page asks for the token itself).
pub fn page() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
}

async fn index() -> Response {
    match Assets::get("index.html") {
        Some(f) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            f.data.into_owned(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "The web page is not built into this binary: run engine/web/build.sh, then rebuild.",
        )
            .into_response(),
    }
}

async fn asset(Path(path): Path<String>) -> Response {
    match Assets::get(&format!("assets/{path}")) {
        Some(f) => (
            [(header::CONTENT_TYPE, f.metadata.mimetype().to_string())],
            f.data.into_owned(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Diagnostics as JSON with 1-based line and column of both ends.
pub(super) fn problems_json(d: &Diagnostics) -> Value {
    let list: Vec<Value> = d
        .problems
        .iter()
        .map(|p| {
            let start = mikawaya_dsl::span::position(&d.source, p.span.start);
            let end = mikawaya_dsl::span::position(&d.source, p.span.end.max(p.span.start + 1));
            json!({ "line": start.line, "column": start.column, "end_line": end.line, "end_column": end.column,
                    "from": p.span.start, "to": p.span.end.max(p.span.start + 1), "code": p.code, "message": p.message, "hint": p.hint })
        })
        .collect();
    Value::Array(list)
}

/// A workflow file's name and text: a draft to check, or a new file to create.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct Draft {
    /// The file name (`win-back.yaml`); its extension picks the syntax.
    pub file: String,
    /// Its text.
    pub source: String,
}

/// Checks a draft (the web editor's live validation; `workflows:read`): problems with
/// line:column, or the graph.
#[utoipa::path(post, path = "/validate", tag = "workflows", request_body = Draft,
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
async fn validate(
    State(s): State<AppState>,
    ApiJson(draft): ApiJson<Draft>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        match s.engine.check_draft(draft.file, draft.source).await? {
            Ok(w) => {
                json!({ "ok": true, "problems": [], "graph": mikawaya_dsl::graph::graph(&w), "name": w.name })
            }
            Err(d) => json!({ "ok": false, "problems": problems_json(&d) }),
        },
    ))
}

/// A workflow's source file (`workflows:read`).
#[utoipa::path(get, path = "/workflows/{name}/source", tag = "workflows",
    params(("name" = String, Path, description = "Workflow name")),
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
async fn get_source(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let w = s.active_workflow(&name)?;
    let source = s.engine.workflow_source(&w).await?;
    Ok(Json(
        json!({ "file": w.file, "source": source, "version": w.version }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct Save {
    source: String,
}

/// Saves a new version: checked first, written atomically, then loaded (runs in flight keep
/// theirs; `workflows:write`; audited).
#[utoipa::path(put, path = "/workflows/{name}/source", tag = "workflows",
    params(("name" = String, Path, description = "Workflow name")), request_body = Save,
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
async fn save_source(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiPath(name): ApiPath<String>,
    ApiJson(save): ApiJson<Save>,
) -> ApiResult<Json<Value>> {
    let w = s.active_workflow(&name)?;
    let draft = Draft {
        file: w.file.clone(),
        source: save.source,
    };
    let checked = s
        .engine
        .check_draft(draft.file.clone(), draft.source.clone())
        .await?;
    let compiled = checked.map_err(|d| {
        ApiError::BadRequest(
            json!({ "error": "the workflow has problems", "problems": problems_json(&d) }),
        )
    })?;
    if compiled.name != name {
        return Err(ApiError::BadRequest(
            json!({ "error": format!("the file now names workflow `{}`; keep `{name}` or create a new file", compiled.name) }),
        ));
    }
    let report = s.engine.save_workflow_source(&w, &draft.source).await?;
    let version = report
        .active
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v);
    tracing::info!(workflow = %name, ?version, "saved from the web page");
    let saved = json!({ "version": version });
    record(&s, &who, "workflow.saved", &name, saved).await?;
    Ok(Json(
        json!({ "name": name, "version": version, "notes": report.notes }),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Period {
    /// Count the timeline lines of this last period only (`1h`, `24h`, `7d`); all time without.
    period: Option<String>,
}

/// Per-step counts of a period and recent lines of a workflow's active version
/// (`workflows:read`): each stat is `[step, status, count, reason]`, with `entered` rows (the
/// distinct runs that reached the step) and run-level lines under step `run`.
#[utoipa::path(get, path = "/workflows/{name}/steps", tag = "workflows",
    params(("name" = String, Path, description = "Workflow name"), Period),
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
async fn step_stats(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<Period>,
) -> ApiResult<Json<Value>> {
    let w = s.active_workflow(&name)?;
    let period = match q.period.as_deref() {
        None | Some("all") => None,
        Some(p) => Some(
            mikawaya_dsl::expr::parse_duration(p)
                .filter(|ms| *ms > 0)
                .ok_or_else(|| {
                    ApiError::bad_field(
                        "period",
                        format!("`{p}` is not a period such as `24h` or `7d` (or `all`)"),
                    )
                })?,
        ),
    };
    let (stats, mut recent) = s.engine.step_activity(&w, period, 200).await?;
    super::redact::hide(&who, &mut recent, |(_, line)| &mut line.detail);
    let stats: Vec<Value> = stats
        .into_iter()
        .map(|st| json!([st.step_id, st.status, st.count, st.reason]))
        .collect();
    Ok(Json(
        json!({ "version": w.version, "stats": stats, "recent": recent }),
    ))
}

#[cfg(test)]
mod tests {
    /// Cargo builds the page with the crate (`engine/build.rs`), so a build carries it: its
    /// index and the script the index loads are there.
    #[test]
    fn the_page_is_built_with_the_crate() {
        if std::env::var_os("MIKAWAYA_SKIP_WEB_BUILD").is_some() {
            return;
        }
        let index = super::Assets::get("index.html").expect("engine/build.rs built the page");
        let html = String::from_utf8_lossy(&index.data);
        let script = html
            .split("src=\"/assets/")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the index loads its script from /assets/");
        assert!(
            super::Assets::get(&format!("assets/{script}")).is_some(),
            "{script} is embedded"
        );
    }
}
