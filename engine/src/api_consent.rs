//! Routes of consent and restraint: the one-click unsubscribe page customers reach from an email
//! (open, signed by token), and the operators' suppression list and customer view (protected).

use crate::api::{ApiError, ApiResult, AppState};
use crate::restraint::verify_token;
use axum::extract::{Path, State};
use axum::response::Html;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// Routes customers reach without a token.
pub fn public() -> Router<AppState> {
    Router::new().route(
        "/unsubscribe/{token}",
        get(unsubscribe_page).post(unsubscribe),
    )
}

/// Routes for operators (behind the API token).
pub fn protected() -> Router<AppState> {
    Router::new()
        .route(
            "/suppressions",
            get(list_suppressions).post(add_suppression),
        )
        .route("/suppressions/{address}", delete(remove_suppression))
        .route("/customers/{id}", get(get_customer))
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title></head><body style=\"font-family:sans-serif;max-width:32rem;margin:4rem auto\"><h1>{title}</h1>{body}</body></html>"
    ))
}

fn checked(s: &AppState, token: &str) -> ApiResult<(String, String)> {
    verify_token(&s.engine.config.secret, token)
        .ok_or_else(|| ApiError::NotFound("unsubscribe link (it may be mistyped)".into()))
}

/// GET shows a confirmation button: link scanners that follow URLs must not unsubscribe anyone.
async fn unsubscribe_page(
    State(s): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Html<String>> {
    let (_, channel) = checked(&s, &token)?;
    Ok(page(
        "Unsubscribe",
        &format!("<p>Stop receiving marketing {channel} from us?</p><form method=\"post\"><button type=\"submit\" autofocus>Unsubscribe</button></form>"),
    ))
}

/// POST (the button, or a mail client's RFC 8058 one-click request) records the opt-out.
async fn unsubscribe(
    State(s): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Html<String>> {
    let (customer, channel) = checked(&s, &token)?;
    s.engine
        .store
        .set_consent(
            &customer,
            &channel,
            false,
            "unsubscribe link",
            s.engine.clock.now_ms(),
        )
        .await?;
    tracing::info!(%customer, %channel, "customer unsubscribed");
    Ok(page(
        "You are unsubscribed",
        &format!("<p>You will not receive marketing {channel} from us any more.</p>"),
    ))
}

async fn list_suppressions(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.engine.store.suppressions().await?)))
}

#[derive(Deserialize)]
struct NewSuppression {
    address: String,
    reason: Option<String>,
}

async fn add_suppression(
    State(s): State<AppState>,
    Json(body): Json<NewSuppression>,
) -> ApiResult<Json<Value>> {
    if !body.address.contains('@') {
        return Err(ApiError::BadRequest(
            json!({ "error": format!("`{}` is not an email address", body.address), "field": "address" }),
        ));
    }
    let reason = body.reason.unwrap_or_else(|| "manual".into());
    s.engine
        .store
        .suppress(&body.address, &reason, s.engine.clock.now_ms())
        .await?;
    Ok(Json(
        json!({ "address": body.address.to_lowercase(), "reason": reason }),
    ))
}

async fn remove_suppression(
    State(s): State<AppState>,
    Path(address): Path<String>,
) -> ApiResult<Json<Value>> {
    if !s.engine.store.unsuppress(&address).await? {
        return Err(ApiError::NotFound(format!("suppression of {address}")));
    }
    Ok(Json(json!({ "removed": address.to_lowercase() })))
}

async fn get_customer(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let attrs = s
        .engine
        .store
        .customer(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("customer `{id}`")))?;
    Ok(Json(crate::scope::customer_value(Some(&id), Some(attrs))))
}
