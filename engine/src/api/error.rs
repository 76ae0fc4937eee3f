//! The one error type of the API: each variant maps to its status and the same JSON shape
//! `{"error": "…", …}`, including the rejections of axum's extractors (a malformed JSON body, a
//! bad path or query parameter), which [`ApiJson`], [`ApiPath`] and [`ApiQuery`] turn into it.

use crate::core::EngineError;
use crate::store::StoreError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// Errors of the API, each with its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is wrong; the body says how.
    #[error("{0}")]
    BadRequest(Value),
    /// Nothing here.
    #[error("not found: {0}")]
    NotFound(String),
    /// Missing or wrong token.
    #[error("unauthorized")]
    Unauthorized,
    /// A signed source's request whose signature does not hold (401 with the reason).
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// The token is right but not allowed to do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The thing exists but its state does not allow this (409), e.g. cancelling a finished run.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The body is not of a type this route takes.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// This sender is over its rate limit (429 with `Retry-After` in whole seconds).
    #[error("too many requests: {0}")]
    TooMany(String, u64),
    /// Too much of this work is running; retry shortly (503 with `Retry-After`).
    #[error("busy: {0}")]
    Busy(String),
    /// Our fault (database, shutdown).
    #[error("internal: {0}")]
    Internal(String),
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A 400 with a message and the field at fault.
    pub fn bad_field(field: &str, message: impl Into<String>) -> Self {
        ApiError::BadRequest(json!({ "error": message.into(), "field": field }))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Busy(busy) => ApiError::Busy(busy),
            EngineError::Conflict(message) => ApiError::Conflict(message),
            EngineError::Input(message) => ApiError::BadRequest(json!({ "error": message })),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        ApiError::BadRequest(json!({ "error": r.body_text(), "field": "body" }))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::BadRequest(json!({ "error": r.body_text(), "field": "path" }))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::BadRequest(json!({ "error": r.body_text(), "field": "query" }))
    }
}

impl ApiError {
    /// The stable code a client can branch on (the message may change; the code does not).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::NotFound(_) => "not_found",
            ApiError::Unauthorized => "unauthorized",
            ApiError::BadSignature(_) => "bad_signature",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Conflict(_) => "conflict",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::TooMany(..) => "rate_limited",
            ApiError::Busy(_) => "busy",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The status and body (without the code).
    fn parts(self) -> (StatusCode, Value) {
        let message = |m: String| json!({ "error": m });
        match self {
            ApiError::BadRequest(v) => (StatusCode::BAD_REQUEST, v),
            ApiError::NotFound(what) => {
                (StatusCode::NOT_FOUND, message(format!("{what} not found")))
            }
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, message(m)),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, message(m)),
            ApiError::UnsupportedMediaType(m) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({ "error": m, "field": "content-type" }),
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                message("missing or wrong bearer token".into()),
            ),
            ApiError::BadSignature(m) => (
                StatusCode::UNAUTHORIZED,
                json!({ "error": m, "field": "mikawaya-signature" }),
            ),
            ApiError::TooMany(m, retry_after_s) => (
                StatusCode::TOO_MANY_REQUESTS,
                json!({ "error": m, "retry_after_s": retry_after_s }),
            ),
            ApiError::Busy(m) => (StatusCode::SERVICE_UNAVAILABLE, message(m)),
            ApiError::Internal(m) => {
                tracing::error!("{m}");
                (StatusCode::INTERNAL_SERVER_ERROR, message(m))
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let retry_after = match &self {
            ApiError::TooMany(_, s) => Some(s.to_string()),
            ApiError::Busy(_) => Some("1".to_string()),
            _ => None,
        };
        let (status, mut body) = self.parts();
        if let Some(fields) = body.as_object_mut() {
            fields.insert("code".into(), Value::String(code.into()));
        }
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = retry_after.and_then(|s| s.parse().ok()) {
            response.headers_mut().insert("retry-after", seconds);
        }
        response
    }
}

/// The JSON shape of every error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What is wrong and how to fix it.
    pub error: String,
    /// A stable code: `bad_request`, `not_found`, `unauthorized`, `bad_signature`, `forbidden`,
    /// `conflict`, `unsupported_media_type`, `rate_limited`, `busy`, `internal`,
    /// `method_not_allowed`.
    pub code: String,
    /// The field, parameter or header at fault, when one is.
    pub field: Option<String>,
}

/// A JSON body whose rejection is an [`ApiError`].
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Path parameters whose rejection is an [`ApiError`].
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Query parameters whose rejection is an [`ApiError`].
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);
