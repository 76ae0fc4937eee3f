//! `webhook`: HTTP POST of JSON with an `Idempotency-Key` header and a timeout.
//!
//! Arguments: `url` (required), `body` (default: all other arguments), `headers` (object),
//! `timeout` (seconds, default 10). 2xx is success; 408, 429, 5xx and network errors are retried;
//! other 4xx fail the step at once.

use crate::{required_str, Action, ActionContext, ActionError};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::time::Duration;

/// Posts JSON to a URL.
pub struct WebhookAction {
    client: reqwest::Client,
}

impl Default for WebhookAction {
    fn default() -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!("mikawaya/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client builds");
        WebhookAction { client }
    }
}

#[async_trait]
impl Action for WebhookAction {
    fn name(&self) -> &str {
        "webhook"
    }

    fn input_schema(&self) -> Option<Value> {
        Some(json!({
            "type": "object",
            "description": "POSTs JSON to a URL with an Idempotency-Key header.",
            "required": ["url"],
            "properties": {
                "url": { "type": "string", "format": "uri", "description": "Where to POST." },
                "body": { "type": "object", "description": "The JSON body (default: every other argument)." },
                "headers": { "type": "object", "description": "Extra request headers." },
                "timeout": { "type": "number", "minimum": 0.1, "maximum": 300, "description": "Seconds before the call counts as failed (default 10)." },
            },
        }))
    }

    async fn call(&self, input: Value, ctx: &ActionContext) -> Result<Value, ActionError> {
        let url = required_str(&input, "url")?;
        let body = match input.get("body") {
            Some(b) => b.clone(),
            None => {
                let mut rest = input.as_object().cloned().unwrap_or_default();
                for k in ["url", "headers", "timeout"] {
                    rest.remove(k);
                }
                Value::Object(rest)
            }
        };
        let timeout = input
            .get("timeout")
            .and_then(Value::as_f64)
            .unwrap_or(10.0)
            .clamp(0.1, 300.0);
        let mut req = self
            .client
            .post(url)
            .timeout(Duration::from_secs_f64(timeout))
            .header("Idempotency-Key", &ctx.idempotency_key)
            .header("X-Mikawaya-Run", &ctx.run_id)
            .json(&body);
        if let Some(traceparent) = &ctx.traceparent {
            req = req.header("traceparent", traceparent);
        }
        if let Some(headers) = input.get("headers").and_then(Value::as_object) {
            for (k, v) in headers {
                req = req.header(
                    k,
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string()),
                );
            }
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ActionError::Retryable(format!("POST {url}: {e}")))?;
        let status = resp.status();
        let (body, truncated) = read_limited(resp, MAX_RESPONSE_BYTES).await;
        let text = String::from_utf8_lossy(&body).into_owned();
        let response: Value = if truncated {
            json!({ "truncated": true, "bytes_read": body.len(), "preview": text })
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(json!({ "status": status.as_u16(), "response": response }));
        }
        let message = format!("POST {url} answered {status}");
        if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            Err(ActionError::Retryable(message))
        } else {
            Err(ActionError::Permanent(message))
        }
    }
}

/// Most of a response body read; the rest is not downloaded.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Reads at most `limit` bytes of a response body; `true` when there was more.
async fn read_limited(mut resp: reqwest::Response, limit: usize) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return (body, true);
        }
        body.extend_from_slice(&chunk);
    }
    (body, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{extract::State, http::HeaderMap, routing::post, Json, Router};
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<Vec<(String, Value)>>>;

    async fn serve(status: u16) -> (String, Seen) {
        let seen: Seen = Arc::default();
        let app = Router::new()
            .route(
                "/hook",
                post(
                    |State((seen, status)): State<(Seen, u16)>,
                     headers: HeaderMap,
                     Json(body): Json<Value>| async move {
                        let key = headers
                            .get("idempotency-key")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        seen.lock().unwrap().push((key, body));
                        (
                            axum::http::StatusCode::from_u16(status).unwrap(),
                            Json(json!({"ok": status < 300})),
                        )
                    },
                ),
            )
            .with_state((seen.clone(), status));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}/hook"), seen)
    }

    fn ctx() -> ActionContext {
        ActionContext {
            workflow: "w".into(),
            version: 1,
            run_id: "r1".into(),
            step_id: "2".into(),
            customer_id: None,
            idempotency_key: "r1:2".into(),
            attempt: 1,
            scope: Value::Null,
            unsubscribe_url: None,
            traceparent: None,
        }
    }

    /// A target answering 10 MB: only the first 64 KiB are read, and the output says so.
    #[tokio::test]
    async fn a_huge_answer_is_read_only_up_to_the_limit() {
        let app = Router::new().route("/big", post(|| async { "x".repeat(10 << 20) }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let out = WebhookAction::default()
            .call(json!({"url": format!("http://{addr}/big")}), &ctx())
            .await
            .unwrap();
        assert_eq!(out["response"]["truncated"], true);
        assert_eq!(out["response"]["bytes_read"], MAX_RESPONSE_BYTES);
        assert!(out.to_string().len() < MAX_RESPONSE_BYTES + 1024);
    }

    #[tokio::test]
    async fn posts_body_with_idempotency_key() {
        let (url, seen) = serve(200).await;
        let out = WebhookAction::default()
            .call(json!({"url": url, "lead": 7}), &ctx())
            .await
            .unwrap();
        assert_eq!(out["status"], 200);
        assert_eq!(
            seen.lock().unwrap()[0],
            ("r1:2".to_string(), json!({"lead": 7}))
        );
    }

    #[tokio::test]
    async fn server_errors_are_retryable_and_client_errors_are_not() {
        let (url, _) = serve(503).await;
        let err = WebhookAction::default()
            .call(json!({"url": url}), &ctx())
            .await
            .unwrap_err();
        assert!(err.is_retryable(), "{err}");
        let (url, _) = serve(422).await;
        let err = WebhookAction::default()
            .call(json!({"url": url}), &ctx())
            .await
            .unwrap_err();
        assert!(!err.is_retryable(), "{err}");
        let err = WebhookAction::default()
            .call(json!({}), &ctx())
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ActionError::Permanent("missing text argument `url`".into())
        );
    }
}
