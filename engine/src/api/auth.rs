//! Bearer tokens: the write token may do everything; the read token may read (and validate
//! drafts). With no token configured the API is open, except saving workflows, which needs a
//! write token.

use super::{ApiError, AppState};
use crate::core::restraint::constant_time_eq;
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;

/// The middleware in front of every protected route.
pub async fn auth(
    State(s): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Compared in constant time, so response times do not reveal how much of a guess was right.
    let matches = |token: &Option<String>| {
        token
            .as_deref()
            .zip(given)
            .is_some_and(|(t, g)| constant_time_eq(t, g))
    };
    let is_write = matches(&s.token);
    let is_read = is_write || matches(&s.read_token);
    let reading = req.method() == Method::GET || req.uri().path() == "/validate";
    let saving = req.method() == Method::PUT;
    if saving && s.token.is_none() {
        return Err(ApiError::Forbidden(
            "saving workflows needs the engine to run with --token (the write token)".into(),
        ));
    }
    let open = s.token.is_none() && s.read_token.is_none();
    let allowed = open || is_write || (reading && is_read);
    if !allowed {
        return Err(if is_read {
            ApiError::Forbidden("this needs the write token".into())
        } else {
            ApiError::Unauthorized
        });
    }
    Ok(next.run(req).await)
}
