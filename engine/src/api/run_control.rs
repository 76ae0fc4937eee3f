//! Run control (`runs:write`): cancel one run or send it back to its failed step, and the same in
//! bulk by a selection. Every change is audited with the caller's token; a bulk entry names the
//! selection, the count and (the first [`AUDITED_IDS`] of) the runs it changed.

use super::audit::record;
use super::{ApiError, ApiJson, ApiPath, ApiResult, AppState};
use crate::core::access::Identity;
use crate::core::run_control::BulkAction;
use crate::store::RunFilter;
use axum::extract::State;
use axum::Extension;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most run ids written into one audit entry (the count is always there).
const AUDITED_IDS: usize = 100;

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(cancel_run))
        .routes(routes!(retry_run))
        .routes(routes!(cancel_selected))
        .routes(routes!(retry_selected))
}

/// The body of a single cancel (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    /// Why, kept as the run's exit reason.
    reason: Option<String>,
}

/// The body of a bulk request: which runs, and whether to only count them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Selection {
    /// The workflow whose runs to change (required: a bulk action never spans every workflow).
    workflow: String,
    /// Only runs in this status (cancel: `active` or `waiting`; retry: `failed`).
    status: Option<String>,
    /// Only this customer's runs.
    customer: Option<String>,
    /// Only runs started at or after this instant (RFC 3339).
    started_after: Option<chrono::DateTime<chrono::Utc>>,
    /// Only runs started before this instant (RFC 3339).
    started_before: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many runs (default 100, at most 10,000).
    limit: Option<i64>,
    /// Why (cancel only), kept as each run's exit reason.
    reason: Option<String>,
    /// Only list what would change.
    #[serde(default)]
    dry_run: bool,
}

impl Selection {
    fn filter(&self) -> RunFilter {
        RunFilter {
            customer: self.customer.clone(),
            workflow: Some(self.workflow.clone()),
            status: self.status.clone(),
            started_after: self.started_after,
            started_before: self.started_before,
            limit: self.limit,
        }
    }

    /// The selection as the audit entry records it.
    fn described(&self) -> Value {
        json!({
            "workflow": self.workflow,
            "status": self.status,
            "customer": self.customer,
            "started_after": self.started_after,
            "started_before": self.started_before,
            "limit": self.limit,
        })
    }
}

/// The reason kept on a cancelled run: the caller's, else who cancelled it.
fn reason_of(given: Option<String>, who: &Identity) -> String {
    given
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| format!("cancelled by {}", who.name))
}

/// Why a run could not be changed: it does not exist, or its status does not allow it.
async fn refusal(s: &AppState, id: &str, action: BulkAction) -> ApiError {
    match s.engine.run(id).await {
        Ok(Some(run)) => ApiError::Conflict(format!(
            "run `{id}` is {}; only {} runs can be {}",
            run.status.as_str(),
            action.statuses_text(),
            action.done()
        )),
        Ok(None) => ApiError::NotFound(format!("run `{id}`")),
        Err(e) => e.into(),
    }
}

/// Cancels an active or waiting run (`runs:write`; audited). The body is optional.
#[utoipa::path(post, path = "/runs/{id}/cancel", tag = "run control",
    params(("id" = String, Path, description = "Run id")),
    request_body(content = Option<CancelBody>, content_type = "application/json"),
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals, (status = 409, description = "The run's status does not allow it", body = super::error::ErrorBody)))]
async fn cancel_run(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    // The body is optional: none, or `{"reason": "…"}`.
    let body: CancelBody = if body.iter().all(u8::is_ascii_whitespace) {
        CancelBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_field("body", format!("not a cancel request: {e}")))?
    };
    let reason = reason_of(body.reason, &who);
    let ids = [id.clone()];
    if s.engine.cancel_runs(&ids, &reason).await?.is_empty() {
        return Err(refusal(&s, &id, BulkAction::Cancel).await);
    }
    record(&s, &who, "run.cancelled", &id, json!({ "reason": reason })).await?;
    Ok(Json(json!({ "run_id": id, "status": "cancelled" })))
}

/// Sends a failed run back to its failed step (`runs:write`; audited).
#[utoipa::path(post, path = "/runs/{id}/retry", tag = "run control",
    params(("id" = String, Path, description = "Run id")),
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals, (status = 409, description = "The run's status does not allow it", body = super::error::ErrorBody)))]
async fn retry_run(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let ids = [id.clone()];
    if s.engine.retry_runs(&ids).await?.is_empty() {
        return Err(refusal(&s, &id, BulkAction::Retry).await);
    }
    record(&s, &who, "run.retried", &id, json!({})).await?;
    Ok(Json(json!({ "run_id": id, "status": "active" })))
}

/// Cancels a workflow's active and waiting runs picked by the selection (`runs:write`; one
/// audit entry).
#[utoipa::path(post, path = "/runs/cancel", tag = "run control", request_body = Selection,
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
async fn cancel_selected(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiJson(selection): ApiJson<Selection>,
) -> ApiResult<Json<Value>> {
    bulk(&s, &who, BulkAction::Cancel, selection).await
}

/// Sends a workflow's failed runs picked by the selection back to their failed step
/// (`runs:write`; one audit entry).
#[utoipa::path(post, path = "/runs/retry", tag = "run control", request_body = Selection,
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
async fn retry_selected(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiJson(selection): ApiJson<Selection>,
) -> ApiResult<Json<Value>> {
    if selection.reason.is_some() {
        return Err(ApiError::bad_field(
            "reason",
            "a retry takes no reason; only a cancel records one",
        ));
    }
    bulk(&s, &who, BulkAction::Retry, selection).await
}

/// Selects the runs, changes them (unless a dry run) and audits the change.
async fn bulk(
    s: &AppState,
    who: &Identity,
    action: BulkAction,
    selection: Selection,
) -> ApiResult<Json<Value>> {
    let selected = s.engine.select_runs(action, &selection.filter()).await?;
    if selection.dry_run {
        return Ok(Json(
            json!({ "matched": selected.len(), "run_ids": selected }),
        ));
    }
    let changed = match action {
        BulkAction::Cancel => {
            let reason = reason_of(selection.reason.clone(), who);
            s.engine.cancel_runs(&selected, &reason).await?
        }
        BulkAction::Retry => s.engine.retry_runs(&selected).await?,
    };
    let detail = json!({
        "selection": selection.described(),
        "reason": selection.reason,
        "matched": selected.len(),
        "count": changed.len(),
        "run_ids": changed.iter().take(AUDITED_IDS).collect::<Vec<_>>(),
    });
    let verb = format!("runs.{}", action.done());
    record(s, who, &verb, &selection.workflow, detail).await?;
    Ok(Json(json!({
        "matched": selected.len(),
        action.done(): changed.len(),
        "run_ids": changed,
    })))
}
