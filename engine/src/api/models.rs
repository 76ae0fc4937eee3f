//! Routes of prediction models: the declared models with their trained versions
//! (`workflows:read`), training one on the stored history (`workflows:write`), and a customer's
//! predictions with what moved them (`customers:read`).

use super::{ApiError, ApiPath, ApiResult, AppState};
use crate::core::predictions::{PredictionView, TrainedView};
use crate::core::services::ModelView;
use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes for operators (behind the API token).
pub fn protected() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_models))
        .routes(routes!(train_model))
        .routes(routes!(customer_predictions))
}

/// The declared models, each with its current trained version and its held-out evaluation
/// (`workflows:read`).
#[utoipa::path(get, path = "/models", tag = "models",
    responses((status = 200, body = Vec<ModelView>), super::openapi::Refusals))]
async fn list_models(State(s): State<AppState>) -> Json<Vec<ModelView>> {
    Json(s.engine.models_overview())
}

/// Trains the model on the stored history (features as of its horizon ago, label now), keeps
/// it as a new version and puts it in force; answers with its held-out evaluation
/// (`workflows:write`). 400 when the model is not declared or the history is too short.
#[utoipa::path(post, path = "/models/{name}/train", tag = "models",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = TrainedView), super::openapi::Refusals))]
async fn train_model(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<TrainedView>> {
    Ok(Json(s.engine.train_model(&name).await?))
}

/// A customer's predictions by each trained model, with each feature's value and effect on
/// the log-odds, largest first (`customers:read`).
#[utoipa::path(get, path = "/customers/{id}/predictions", tag = "models",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Vec<PredictionView>), super::openapi::Refusals))]
async fn customer_predictions(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<PredictionView>>> {
    let found = s.engine.customer_predictions(&id).await?;
    Ok(Json(found.ok_or_else(|| {
        ApiError::NotFound(format!("customer `{id}`"))
    })?))
}
