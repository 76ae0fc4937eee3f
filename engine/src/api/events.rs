//! `POST /events` (intake), `POST /sources/{name}/events` (intake from a signed source, see
//! [`crate::core::sources`]) and `GET /events/{id}/explain`.

use super::{ApiError, ApiPath, ApiResult, AppState};
use crate::core::access::Identity;
use crate::core::limits::LimitError;
use crate::core::sources::SIGNATURE_HEADER;
use crate::core::trace;
use crate::event::parse_events;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::Extension;
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes behind the bearer token.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_events))
        .routes(routes!(explain_event))
}

/// An event as sent, for the document (the intake parses events itself, to name the field at
/// fault in a 400).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
struct EventInput {
    /// Unique id; a duplicate is ignored.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    id: String,
    /// Dotted words, e.g. `cart.abandoned`.
    #[serde(rename = "type")]
    #[schema(min_length = 1, max_length = 100, pattern = r"^[A-Za-z0-9._-]+$")]
    event_type: String,
    /// A customer id, or an object with `id` and attributes to merge.
    #[schema(min_length = 1)]
    customer: Option<String>,
    /// When it happened (RFC 3339; default: now).
    #[schema(format = DateTime)]
    occurred_at: Option<String>,
    /// The payload.
    data: Option<std::collections::HashMap<String, Value>>,
}

/// One event or an array of them.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum Events {
    /// One event.
    One(EventInput),
    /// Several (at least one), stored together.
    Many(EventBatch),
}

/// At least one event.
#[derive(serde::Serialize)]
#[allow(dead_code)]
struct EventBatch(Vec<EventInput>);

impl utoipa::PartialSchema for EventBatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ArrayBuilder::new()
            .items(utoipa::openapi::Ref::from_schema_name("EventInput"))
            .min_items(Some(1))
            .into()
    }
}

impl utoipa::ToSchema for EventBatch {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push(("EventInput".into(), EventInput::schema()));
    }
}

/// The intake's answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// Events stored now.
    accepted: usize,
    /// Ids of events stored before (ignored).
    duplicates: Vec<String>,
}

/// The routes of signed sources: their signature is their authentication, so a sending system
/// needs no bearer token.
pub fn signed() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_source_events))
}

/// Whether a `Content-Type` names JSON (`application/json`, with parameters or a `+json` type).
fn is_json(content_type: Option<&str>) -> bool {
    let Some(essence) = content_type.and_then(|t| t.split(';').next()) else {
        return false;
    };
    let essence = essence.trim().to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Stores one event or a JSON array of events durably (`events:write`); runs start from them.
#[utoipa::path(post, path = "/events", tag = "events",
    request_body(content = Events, content_type = "application/json",
        description = "One event or an array of them"),
    responses((status = 202, body = Accepted), super::openapi::Refusals,
        (status = 413, description = "The body is larger than the intake takes"),
        (status = 415, description = "Not sent as JSON", body = super::error::ErrorBody),
        (status = 429, description = "Over the sender's rate limit; see Retry-After", body = super::error::ErrorBody),
        (status = 503, description = "The backlog is past its bound; see Retry-After", body = super::error::ErrorBody)))]
async fn post_events(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    accept(&s, &headers, &body, None, &who.name).await
}

/// Events from the signed source `name`: refused with 401 and the reason unless the
/// `Mikawaya-Signature` header signs this body within the source's tolerance; each accepted
/// event records the source (`event.source` in rules).
#[utoipa::path(post, path = "/sources/{name}/events", tag = "events", security(()),
    params(("name" = String, Path, description = "The source, as configured with `serve --sources`"),
        ("Mikawaya-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of t.body>`")),
    request_body(content = Events, content_type = "application/json"),
    responses((status = 202, body = Accepted),
        (status = 400, description = "A malformed event", body = super::error::ErrorBody),
        (status = 401, description = "The signature does not hold", body = super::error::ErrorBody),
        (status = 404, description = "No such source", body = super::error::ErrorBody),
        (status = 500, description = "An internal error", body = super::error::ErrorBody),
        (status = 413, description = "The body is larger than the intake takes"),
        (status = 415, description = "Not sent as JSON", body = super::error::ErrorBody),
        (status = 429, description = "Over the sender's rate limit; see Retry-After", body = super::error::ErrorBody),
        (status = 503, description = "The backlog is past its bound; see Retry-After", body = super::error::ErrorBody)))]
async fn post_source_events(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let Some(source) = s.sources.get(&name) else {
        return Err(ApiError::NotFound(format!(
            "source `{name}` (sources are configured in the file given to `serve --sources`)"
        )));
    };
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    if let Err(e) = source.verify(signature, &body, s.engine.clock().now_ms()) {
        s.engine.metrics().events_rejected.inc();
        return Err(ApiError::BadSignature(format!("source `{name}`: {e}")));
    }
    accept(&s, &headers, &body, Some(&name), &format!("source:{name}")).await
}

/// The intake of both routes. Refused with 503 and `Retry-After` while the backlog is past its
/// bound. Events must be sent as JSON: a `text/plain` body is what any web page can post
/// cross-site without a preflight, so with no token configured it would let a page a user
/// visits inject events. A 415 names the header. `source` is set here, never by the body. A
/// sender (`who`) over its rate limit gets 429 with `Retry-After`, and nothing is stored.
async fn accept(
    s: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
    source: Option<&str>,
    who: &str,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let started = std::time::Instant::now();
    let answer = store_events(s, headers, body, source, who).await;
    let elapsed = started.elapsed().as_secs_f64();
    s.engine.metrics().intake_seconds.observe(elapsed);
    answer
}

/// Checks the request, validates its events and stores them durably (the 202's promise).
async fn store_events(
    s: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
    source: Option<&str>,
    who: &str,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !is_json(content_type) {
        s.engine.metrics().events_rejected.inc();
        return Err(ApiError::UnsupportedMediaType(format!(
            "events must be sent with `Content-Type: application/json` (got {})",
            content_type.map_or("none".into(), |t| format!("`{t}`"))
        )));
    }
    let (backlog, bound) = (s.engine.backlog(), s.engine.config().max_backlog);
    if backlog >= bound {
        s.engine.metrics().events_pushed_back.inc();
        return Err(ApiError::Busy(format!(
            "the engine is behind: {backlog} events and runs are waiting (bound {bound}); nothing of this request was stored, send it again after `Retry-After`"
        )));
    }
    let now = s.engine.clock().now_ms();
    let parsed = parse_events(body, now).and_then(|events| {
        s.engine.check_events(&events)?;
        Ok(events)
    });
    let mut events = parsed.map_err(|e| {
        s.engine.metrics().events_rejected.inc();
        ApiError::BadRequest(json!({ "error": e.to_string(), "index": e.index, "field": e.field, "reason": e.message }))
    })?;
    for (index, e) in events.iter_mut().enumerate() {
        if e.source.is_some() {
            s.engine.metrics().events_rejected.inc();
            let message = format!("event {index}: `source` is set by the engine from the route a signed source posts to (`/sources/<name>/events`); remove it");
            return Err(ApiError::BadRequest(
                json!({ "error": message, "index": index, "field": "source" }),
            ));
        }
        e.source = source.map(String::from);
    }
    s.limits.check(who, events.len()).map_err(|e| {
        s.engine.metrics().events_rate_limited.inc();
        let wait = match &e {
            LimitError::Over { retry_after, .. } => retry_after.as_secs_f64().ceil().max(1.0),
            LimitError::TooLarge { .. } => 1.0,
        };
        ApiError::TooMany(e.to_string(), wait as u64)
    })?;
    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    let fresh = s
        .intake
        .submit(events)
        .await
        .map_err(|e| ApiError::Internal(e.0))?;
    if trace::enabled() {
        for (id, _) in ids.iter().zip(&fresh).filter(|(_, f)| **f) {
            let trace_id = trace::trace_id(id);
            tracing::debug!(target: trace::TARGET, %trace_id, event_id = %id, source, "event stored");
        }
    }
    let duplicates: Vec<String> = ids
        .iter()
        .zip(&fresh)
        .filter(|(_, f)| !**f)
        .map(|(id, _)| id.clone())
        .collect();
    let accepted = fresh.iter().filter(|f| **f).count();
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            accepted,
            duplicates,
        }),
    ))
}

/// Why each workflow listening to the event did or did not start (`customers:read`: it shows
/// the attribute values its conditions saw).
#[utoipa::path(get, path = "/events/{id}/explain", tag = "events",
    params(("id" = String, Path, description = "Event id")),
    responses((status = 200, body = serde_json::Value), super::openapi::Refusals))]
async fn explain_event(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let x = s
        .engine
        .explain_event(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("event `{id}`")))?;
    Ok(Json(json!(x)))
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn only_json_content_types_are_taken() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/cloudevents+json",
        ] {
            assert!(is_json(Some(ok)), "{ok}");
        }
        for refused in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ] {
            assert!(!is_json(Some(refused)), "{refused}");
        }
        assert!(!is_json(None));
    }
}
