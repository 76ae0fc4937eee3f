//! Routes of consent and restraint: the one-click unsubscribe page customers reach from an email
//! (open, signed by token), and the operators' suppression list and customer view (protected).

use super::audit::record;
use super::{ApiError, ApiJson, ApiPath, ApiResult, AppState};
use crate::core::access::Identity;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Extension;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes customers reach without a token.
pub fn public() -> Router<AppState> {
    Router::new().route(
        "/unsubscribe/{token}",
        get(unsubscribe_page).post(unsubscribe),
    )
}

/// Routes for operators (behind the API token).
pub fn protected() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_suppressions, add_suppression))
        .routes(routes!(remove_suppression))
        .routes(routes!(get_customer))
        .routes(routes!(get_customer_scores))
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title></head><body style=\"font-family:sans-serif;max-width:32rem;margin:4rem auto\"><h1>{title}</h1>{body}</body></html>"
    ))
}

fn not_ours() -> ApiError {
    ApiError::NotFound("unsubscribe link (it may be mistyped)".into())
}

/// GET shows a confirmation button: link scanners that follow URLs must not unsubscribe anyone.
async fn unsubscribe_page(
    State(s): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> ApiResult<Html<String>> {
    let (_, channel) = s.engine.unsubscribe_target(&token).ok_or_else(not_ours)?;
    Ok(page(
        "Unsubscribe",
        &format!("<p>Stop receiving marketing {channel} from us?</p><form method=\"post\"><button type=\"submit\" autofocus>Unsubscribe</button></form>"),
    ))
}

/// POST (the button, or a mail client's RFC 8058 one-click request) records the opt-out.
async fn unsubscribe(
    State(s): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> ApiResult<Html<String>> {
    let (customer, channel) = s.engine.unsubscribe(&token).await?.ok_or_else(not_ours)?;
    let detail = json!({ "channel": channel });
    s.engine
        .audit("customer", "consent.withdrawn", &customer, detail)
        .await?;
    Ok(page(
        "You are unsubscribed",
        &format!("<p>You will not receive marketing {channel} from us any more.</p>"),
    ))
}

/// The suppression list, newest first (`customers:read`).
#[utoipa::path(get, path = "/suppressions", tag = "consent",
    responses((status = 200, body = Vec<crate::store::Suppression>), super::openapi::Refusals))]
async fn list_suppressions(
    State(s): State<AppState>,
) -> ApiResult<Json<Vec<crate::store::Suppression>>> {
    Ok(Json(s.engine.suppressions().await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewSuppression {
    #[schema(pattern = "@")]
    address: String,
    reason: Option<String>,
}

/// Suppresses an address: no message goes to it (`consent:write`; audited).
#[utoipa::path(post, path = "/suppressions", tag = "consent", request_body = NewSuppression,
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
async fn add_suppression(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiJson(body): ApiJson<NewSuppression>,
) -> ApiResult<Json<Value>> {
    if !body.address.contains('@') {
        return Err(ApiError::bad_field(
            "address",
            format!("`{}` is not an email address", body.address),
        ));
    }
    let reason = body.reason.unwrap_or_else(|| "manual".into());
    s.engine.suppress(&body.address, &reason).await?;
    let address = body.address.to_lowercase();
    let detail = json!({ "reason": reason });
    record(&s, &who, "suppression.added", &address, detail).await?;
    Ok(Json(json!({ "address": address, "reason": reason })))
}

/// Lifts a suppression (`consent:write`; audited).
#[utoipa::path(delete, path = "/suppressions/{address}", tag = "consent",
    params(("address" = String, Path, description = "The address")),
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
async fn remove_suppression(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ApiPath(address): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    if !s.engine.unsuppress(&address).await? {
        return Err(ApiError::NotFound(format!("suppression of {address}")));
    }
    let address = address.to_lowercase();
    record(&s, &who, "suppression.removed", &address, json!({})).await?;
    Ok(Json(json!({ "removed": address })))
}

/// A customer's scores now, each with the latest changes: which event added which points
/// (`customers:read`).
#[utoipa::path(get, path = "/customers/{id}/scores", tag = "consent",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Vec<crate::core::scoring::ScoreView>), super::openapi::Refusals))]
async fn get_customer_scores(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<crate::core::scoring::ScoreView>>> {
    let scores = s
        .engine
        .customer_scores(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("customer `{id}`")))?;
    Ok(Json(scores))
}

/// A customer's merged attributes, as expressions see them (`customers:read`).
#[utoipa::path(get, path = "/customers/{id}", tag = "consent",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
async fn get_customer(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let customer = s
        .engine
        .customer_view(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("customer `{id}`")))?;
    Ok(Json(customer))
}
