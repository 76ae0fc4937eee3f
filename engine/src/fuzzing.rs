//! Entry points of the engine's fuzz targets in `fuzz/` (cargo fuzz), shared with the tests that
//! replay their corpus on every `cargo test`: event intake's JSON parsing, and the whole HTTP API
//! in process. Each takes arbitrary bytes, must not panic, and asserts what has to hold.

use crate::api::{router, AppState};
use crate::clock::{Clock, ManualClock};
use crate::core::intake::Intake;
use crate::core::{Engine, EngineConfig};
use crate::event::{parse_event, parse_events};
use crate::store::MemoryStore;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use std::sync::Arc;
use tower::ServiceExt;

const NOW: i64 = 1_790_000_000_000;

/// A body posted to `/events`: parsed, or refused naming the field; a parsed event's stored form
/// parses back to the same event.
pub fn events(data: &[u8]) {
    match parse_events(data, NOW) {
        Ok(events) => {
            assert!(!events.is_empty());
            for e in events {
                let again = parse_event(0, e.to_json(), NOW)
                    .unwrap_or_else(|err| panic!("the stored form of {e:?} is refused: {err}"));
                assert_eq!(
                    again, e,
                    "an event changed on its way through the store's form"
                );
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// The HTTP API of an in-process engine (in-memory store, the simulator's workflows, no token).
pub struct ApiTarget {
    runtime: tokio::runtime::Runtime,
    app: Router,
    served: usize,
    workflows: std::path::PathBuf,
}

/// Requests served before the engine starts afresh (the in-memory store keeps every event).
const REQUESTS_PER_ENGINE: usize = 5_000;

impl ApiTarget {
    /// A fresh engine and its router.
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a Tokio runtime");
        let workflows =
            std::env::temp_dir().join(format!("mikawaya-fuzz-api-{}", uuid::Uuid::now_v7()));
        crate::tools::chaos::write_workflows(&workflows).expect("workflows written");
        let app = runtime.block_on(Self::app(&workflows));
        ApiTarget {
            runtime,
            app,
            served: 0,
            workflows,
        }
    }

    async fn app(workflows: &std::path::Path) -> Router {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::at(crate::clock::to_time(NOW)));
        let store = Arc::new(MemoryStore::new());
        let email = mikawaya_plugins::builtin::EmailConfig {
            smtp_url: None,
            outbox: workflows.join("outbox"),
            from: "shop@example.com".into(),
            timeout: std::time::Duration::from_secs(1),
            templates: workflows.join("templates"),
        };
        let actions = crate::core::actions::default_actions(store.clone(), clock.clone(), &email)
            .expect("built-in actions");
        let config = EngineConfig {
            workflows_dir: workflows.to_path_buf(),
            secret: "fuzz".into(),
            ..EngineConfig::default()
        };
        let engine = Engine::new(store, clock, actions, config, None);
        engine.reload().await.expect("the workflows load");
        let (intake, _writer) = Intake::start(engine.clone());
        router(AppState {
            engine,
            intake,
            access: Arc::new(crate::core::access::Access::new(None, None, &[])),
            sources: Default::default(),
            limits: Arc::new(crate::core::limits::IntakeLimits::new(None)),
        })
    }

    /// One request from `METHOD /path`, then `name: value` header lines, an empty line and the
    /// body. No request may get a 5xx; every refusal is JSON with an `error`.
    pub fn request(&mut self, data: &[u8]) {
        let Some(request) = parse_request(data) else {
            return;
        };
        self.served += 1;
        if self.served.is_multiple_of(REQUESTS_PER_ENGINE) {
            self.app = self.runtime.block_on(Self::app(&self.workflows));
        }
        let (method, uri) = (request.method().clone(), request.uri().clone());
        let app = self.app.clone();
        let (status, body) = self.runtime.block_on(async move {
            let response = app.oneshot(request).await.expect("the router answers");
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 16 << 20).await;
            (status, body.expect("a readable body"))
        });
        assert!(
            !status.is_server_error(),
            "{method} {uri} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        // A HEAD answer has no body by definition.
        let has_body = method != Method::HEAD;
        if status.is_client_error()
            && status != StatusCode::METHOD_NOT_ALLOWED
            && has_body
            && !for_browsers(&uri)
        {
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|_| {
                panic!("{method} {uri} refused ({status}) without JSON: {body:?}")
            });
            assert!(json["error"].is_string(), "{method} {uri}: {json}");
        }
    }
}

impl Drop for ApiTarget {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.workflows);
    }
}

impl Default for ApiTarget {
    fn default() -> Self {
        Self::new()
    }
}

/// The page, its assets and unsubscribe links answer people, in HTML or text, not JSON.
fn for_browsers(uri: &axum::http::Uri) -> bool {
    let path = uri.path();
    path == "/" || path.starts_with("/assets/") || path.starts_with("/unsubscribe/")
}

fn parse_request(data: &[u8]) -> Option<Request<Body>> {
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.lines();
    let (method, path) = lines.next()?.split_once(' ')?;
    let mut builder = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).ok()?)
        .uri(path);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        builder = builder.header(name.trim(), value.trim());
    }
    builder.body(Body::from(body.to_vec())).ok()
}
