//! Scoped tokens ([`crate::core::access`]): every protected route needs a token with the scope
//! the route's resource and method call for (`required_scope`); a missing, unknown or revoked
//! token is a 401, a token without the scope a 403 naming it. With no token of any kind the API
//! is open, except saving workflows, which needs a write token.

use super::{ApiError, AppState};
use crate::core::access::{Identity, Scope};
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;

/// The scope a request needs, by the first segment of its path and whether it reads; `None`
/// for a path no route serves (any valid token then gets the 404).
pub fn required_scope(method: &Method, path: &str) -> Option<Scope> {
    let reads = method == Method::GET || method == Method::HEAD;
    let resource = path.trim_start_matches('/').split('/').next().unwrap_or("");
    Some(match (resource, reads) {
        ("events", false) => Scope::EventsWrite,
        // Explaining an event shows the customer attribute values its conditions saw.
        ("events", true) => Scope::CustomersRead,
        ("workflows" | "event-types" | "actions" | "schema" | "models", true) | ("validate", _) => {
            Scope::WorkflowsRead
        }
        ("workflows" | "models", false) => Scope::WorkflowsWrite,
        ("runs" | "tasks" | "dead-letters" | "metrics" | "nodes" | "experiments", true) => {
            Scope::RunsRead
        }
        ("runs" | "tasks" | "dead-letters", false) => Scope::RunsWrite,
        ("customers" | "suppressions" | "segments", true) => Scope::CustomersRead,
        ("segments", false) => Scope::RunsWrite,
        ("customers" | "suppressions", false) => Scope::ConsentWrite,
        ("tokens" | "audit", _) => Scope::Admin,
        _ => return None,
    })
}

/// The middleware in front of every protected route; the caller's [`Identity`] goes into the
/// request's extensions.
pub async fn auth(
    State(s): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let identity = if s.access.is_open() {
        if req.method() == Method::PUT {
            return Err(ApiError::Forbidden(
                "saving workflows needs the engine to run with --token (the write token)".into(),
            ));
        }
        Identity::anonymous()
    } else {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let identity = given
            .and_then(|g| s.access.identify(g))
            .ok_or(ApiError::Unauthorized)?;
        if let Some(scope) = required_scope(req.method(), req.uri().path()) {
            if !identity.may(scope) {
                return Err(ApiError::Forbidden(format!(
                    "this needs the `{scope}` scope; token `{}` has {}",
                    identity.name,
                    identity.scope_list()
                )));
            }
        }
        identity
    };
    req.extensions_mut().insert(identity);
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_resource_and_method_needs_its_scope() {
        use Scope::*;
        let cases = [
            ("POST", "/events", Some(EventsWrite)),
            ("GET", "/events/e1/explain", Some(CustomersRead)),
            ("GET", "/events/rejected", Some(CustomersRead)),
            ("GET", "/workflows/cart/graph", Some(WorkflowsRead)),
            ("POST", "/validate", Some(WorkflowsRead)),
            ("PUT", "/workflows/cart/source", Some(WorkflowsWrite)),
            ("POST", "/workflows/reload", Some(WorkflowsWrite)),
            ("POST", "/workflows", Some(WorkflowsWrite)),
            ("GET", "/actions", Some(WorkflowsRead)),
            ("GET", "/schema", Some(WorkflowsRead)),
            (
                "GET",
                "/event-types/lead.created/paths",
                Some(WorkflowsRead),
            ),
            ("GET", "/runs", Some(RunsRead)),
            ("GET", "/metrics", Some(RunsRead)),
            ("GET", "/nodes", Some(RunsRead)),
            ("GET", "/experiments", Some(RunsRead)),
            ("GET", "/event-types", Some(WorkflowsRead)),
            ("POST", "/dead-letters/3/retry", Some(RunsWrite)),
            ("GET", "/customers/c1", Some(CustomersRead)),
            ("GET", "/suppressions", Some(CustomersRead)),
            ("GET", "/segments", Some(CustomersRead)),
            ("POST", "/segments/sweep", Some(RunsWrite)),
            ("GET", "/models", Some(WorkflowsRead)),
            ("POST", "/models/churn/train", Some(WorkflowsWrite)),
            ("GET", "/customers/c1/predictions", Some(CustomersRead)),
            ("DELETE", "/suppressions/a@x", Some(ConsentWrite)),
            ("POST", "/tokens", Some(Admin)),
            ("GET", "/tokens", Some(Admin)),
            ("GET", "/audit", Some(Admin)),
            ("GET", "/nowhere", None),
        ];
        for (method, path, scope) in cases {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            assert_eq!(required_scope(&method, path), scope, "{method} {path}");
        }
    }
}
