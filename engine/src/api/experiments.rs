//! `GET /experiments`: per experiment and variant, how many entered, how many converted within
//! the window, the conversion rate and its 95% Wilson interval (`runs:read`).

use super::{ApiResult, AppState};
use axum::extract::{Query, State};
use axum::Json;
use mikawaya_dsl::experiment::wilson_interval;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_experiments))
}

/// Which experiments.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct ExperimentQuery {
    /// Only this workflow's.
    workflow: Option<String>,
}

/// One experiment of a workflow.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExperimentView {
    /// The workflow.
    pub workflow: String,
    /// The experiment (the split's name).
    pub experiment: String,
    /// Its variants, by name.
    pub variants: Vec<VariantView>,
}

/// One variant's numbers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VariantView {
    /// The variant.
    pub variant: String,
    /// Runs that entered it.
    pub entered: u64,
    /// Of those, converted within the window.
    pub converted: u64,
    /// converted / entered (0 with nobody entered).
    pub rate: f64,
    /// The 95% Wilson interval of the rate: low end.
    pub rate_low: f64,
    /// High end.
    pub rate_high: f64,
}

/// Entries and conversions per experiment and variant.
#[utoipa::path(get, path = "/experiments", tag = "runs", params(ExperimentQuery),
    responses((status = 200, body = Vec<ExperimentView>), super::openapi::Refusals))]
async fn list_experiments(
    State(s): State<AppState>,
    Query(q): Query<ExperimentQuery>,
) -> ApiResult<Json<Vec<ExperimentView>>> {
    let counts = s
        .engine
        .store()
        .variant_counts(q.workflow.as_deref())
        .await
        .map_err(crate::core::context::EngineError::from)?;
    let mut out: Vec<ExperimentView> = Vec::new();
    for c in counts {
        let (low, high) = wilson_interval(c.converted, c.entered);
        let variant = VariantView {
            rate: if c.entered == 0 {
                0.0
            } else {
                c.converted as f64 / c.entered as f64
            },
            rate_low: low,
            rate_high: high,
            variant: c.variant,
            entered: c.entered,
            converted: c.converted,
        };
        match out.last_mut() {
            Some(e) if e.workflow == c.workflow && e.experiment == c.experiment => {
                e.variants.push(variant)
            }
            _ => out.push(ExperimentView {
                workflow: c.workflow,
                experiment: c.experiment,
                variants: vec![variant],
            }),
        }
    }
    Ok(Json(out))
}
