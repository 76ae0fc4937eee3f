//! `GET /event-types`: the event catalog in force (`workflows/events/*.yaml`): each declared
//! type with its description, the JSON Schemas of its payload and customer attributes, and the
//! file declaring it (`workflows:read`, like the workflows it types).

use super::{ApiResult, AppState};
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_event_types))
}

/// One declared event type.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct EventTypeView {
    /// The type, e.g. `cart.abandoned`.
    name: String,
    /// Free text for people.
    description: Option<String>,
    /// JSON Schema of the payload (`data`).
    data: serde_json::Value,
    /// JSON Schema of the customer attributes it carries.
    customer: serde_json::Value,
    /// The catalog file declaring it.
    file: String,
}

/// The declared event types, by name (`workflows:read`); empty without a catalog.
#[utoipa::path(get, path = "/event-types", tag = "workflows",
    responses((status = 200, body = Vec<EventTypeView>), super::openapi::Refusals))]
async fn list_event_types(State(s): State<AppState>) -> ApiResult<Json<Vec<EventTypeView>>> {
    let catalog = s.engine.event_catalog();
    Ok(Json(
        catalog
            .types()
            .map(|t| EventTypeView {
                name: t.name.clone(),
                description: t.description.clone(),
                data: t.data.clone(),
                customer: t.customer.clone(),
                file: t.file.clone(),
            })
            .collect(),
    ))
}
