//! Routes of segments: the segments in force with their member counts at the last sweep
//! (`customers:read`), and a sweep on demand (`runs:write`: it makes work due).

use super::{ApiResult, AppState};
use crate::core::services::SegmentsOverview;
use crate::core::sweep::SweepReport;
use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes for operators (behind the API token).
pub fn protected() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_segments))
        .routes(routes!(sweep_segments))
}

/// The segments in force, each with its condition and members at the last sweep, and the last
/// sweep's report (`customers:read`).
#[utoipa::path(get, path = "/segments", tag = "segments",
    responses((status = 200, body = SegmentsOverview), super::openapi::Refusals))]
async fn list_segments(State(s): State<AppState>) -> Json<SegmentsOverview> {
    Json(s.engine.segments_overview())
}

/// Sweeps now: every customer whose membership drifted with time gets a recheck (entries and
/// exits follow as events), and the RFM breakpoints are recomputed (`runs:write`).
#[utoipa::path(post, path = "/segments/sweep", tag = "segments",
    responses((status = 200, body = SweepReport), super::openapi::Refusals))]
async fn sweep_segments(State(s): State<AppState>) -> ApiResult<Json<SweepReport>> {
    Ok(Json(s.engine.sweep_segments().await?))
}
