//! The OpenAPI 3.1 document, served at `/openapi.json`. Each handler carries its
//! `#[utoipa::path]` annotation and is registered with `utoipa_axum::routes!`, so a route and
//! its description are one thing: the router and the document are split from the same
//! `OpenApiRouter` ([`super::router`]). The shared answers (the error shape and the refusals
//! every protected route may give) are declared here once.

use super::error::ErrorBody;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's frame: title, security scheme, shared schemas, tags.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mikawaya",
        description = "Workflow automation for CRM: event intake, durable runs, run control, consent, tokens and the audit log. Every error answers `{\"error\", \"code\", \"field\"?}` with a stable `code`."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(ErrorBody)),
    tags(
        (name = "events", description = "Event intake and explanations"),
        (name = "runs", description = "Runs, their timelines, tasks and dead letters"),
        (name = "run control", description = "Cancel and retry runs, one or in bulk"),
        (name = "workflows", description = "Workflows, their graphs, sources and validation"),
        (name = "consent", description = "Customers, suppressions"),
        (name = "segments", description = "Segments and their sweep"),
        (name = "models", description = "Prediction models: training, evaluation, predictions"),
        (name = "access", description = "API tokens and the audit log"),
        (name = "operations", description = "Metrics and health")
    )
)]
pub struct ApiDoc;

/// Adds the bearer-token scheme.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A scoped API token (`mikawaya token create`) or the bootstrap --token / --read-token.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The refusals any protected route may answer.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum Refusals {
    /// A malformed path, query or body; `field` names it.
    #[response(
        status = 400,
        description = "The request is malformed; `field` names what"
    )]
    BadRequest(ErrorBody),
    /// No token, or an unknown or revoked one.
    #[response(status = 401, description = "Missing, unknown or revoked bearer token")]
    Unauthorized(ErrorBody),
    /// The token lacks the scope.
    #[response(status = 403, description = "The token lacks the scope this needs")]
    Forbidden(ErrorBody),
    /// Nothing there.
    #[response(status = 404, description = "Not found")]
    NotFound(ErrorBody),
    /// Our fault.
    #[response(
        status = 500,
        description = "An internal error (the log has the cause)"
    )]
    Internal(ErrorBody),
}

/// The document, frame and paths together, as served.
pub fn document(paths: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(paths);
    doc
}
