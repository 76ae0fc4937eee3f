//! Events through NATS JetStream: every node of a deployment is a member of one durable pull
//! consumer of one stream, so each message goes to one node, and is redelivered to another if
//! that node dies before acknowledging it.
//!
//! A message holds one event, or a JSON array of events, as `POST /events` takes them. Its events
//! go through the same intake as HTTP (group commit); the message is acknowledged only once they
//! are stored, so a crash between the commit and the ack redelivers it, and the event ids (which
//! are also the publisher's `Nats-Msg-Id`, for JetStream's own duplicate window) make the second
//! delivery a duplicate the store drops. A message that is not an event is kept in
//! `rejected_messages` with the reason and terminated: it is never redelivered, and never lost.

use crate::core::intake::Intake;
use crate::core::Engine;
use crate::event::parse_events;
use crate::store::RejectedMessage;
use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, AckKind};
use futures_util::StreamExt;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Messages taken per fetch.
const FETCH: usize = 512;
/// The most of a refused message kept.
const KEPT_BODY: usize = 64 * 1024;

/// Where the events come from.
#[derive(Debug, Clone)]
pub struct NatsSource {
    /// Server URL, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// The stream (created if missing, capturing `subject`).
    pub stream: String,
    /// The subjects taken, e.g. `crm.events.>`.
    pub subject: String,
    /// The durable consumer every node shares.
    pub consumer: String,
}

/// Failures talking to NATS.
#[derive(Debug, thiserror::Error)]
#[error("NATS: {0}")]
pub struct NatsError(String);

fn nats_error(context: &str, e: impl std::fmt::Display) -> NatsError {
    NatsError(format!("{context}: {e}"))
}

/// A JetStream context on the server at `url`.
async fn jetstream_at(url: &str) -> Result<jetstream::Context, NatsError> {
    let client = async_nats::connect(url)
        .await
        .map_err(|e| nats_error("connecting", format!("{url} ({e})")))?;
    Ok(jetstream::new(client))
}

/// Connects, creates the stream and the durable consumer if missing, and returns the consumer.
pub async fn consumer(source: &NatsSource) -> Result<pull::Stream, NatsError> {
    let stream = jetstream_at(&source.url)
        .await?
        .get_or_create_stream(jetstream::stream::Config {
            name: source.stream.clone(),
            subjects: vec![source.subject.clone()],
            // The stream is an intake queue: an event acked is committed in the database, so
            // its message is removed then and the stream never grows with the event history.
            // (A stream the operator created is used as it is, with its own retention.)
            retention: jetstream::stream::RetentionPolicy::WorkQueue,
            ..Default::default()
        })
        .await
        .map_err(|e| nats_error("creating the stream", e))?;
    let consumer = stream
        .get_or_create_consumer(
            &source.consumer,
            pull::Config {
                durable_name: Some(source.consumer.clone()),
                filter_subject: source.subject.clone(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                max_ack_pending: 20_000,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| nats_error("creating the consumer", e))?;
    consumer
        .messages()
        .await
        .map_err(|e| nats_error("pulling messages", e))
}

/// Takes events from `source` into the intake until `stop` turns true. While the backlog is
/// past its bound nothing is pulled: the messages wait in the stream.
pub async fn consume(
    engine: Arc<Engine>,
    intake: Intake,
    source: NatsSource,
    mut stop: watch::Receiver<bool>,
) {
    let mut messages = loop {
        match consumer(&source).await {
            Ok(m) => break m,
            Err(e) => tracing::error!("{e}; trying again in 2 s"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.changed() => return,
        }
    };
    tracing::info!(stream = %source.stream, subject = %source.subject, "taking events from NATS");
    while !*stop.borrow() {
        if engine.backlog() >= engine.config().max_backlog {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let first = tokio::select! {
            m = messages.next() => m,
            _ = stop.changed() => break,
        };
        let Some(first) = first else { break };
        let mut batch = vec![first];
        // Whatever else has arrived already joins the batch (one commit for all).
        while batch.len() < FETCH {
            match futures_util::FutureExt::now_or_never(messages.next()) {
                Some(Some(m)) => batch.push(m),
                _ => break,
            }
        }
        let batch: Vec<jetstream::Message> = batch
            .into_iter()
            .filter_map(|m| m.map_err(|e| tracing::warn!("NATS delivery: {e}")).ok())
            .collect();
        take(&engine, &intake, batch).await;
    }
}

/// Stores the events of `batch` and acknowledges each message once its events are stored;
/// terminates (after keeping it) each message that is not an event.
async fn take(engine: &Engine, intake: &Intake, batch: Vec<jetstream::Message>) {
    let now = engine.clock().now_ms();
    let mut taken = Vec::new();
    let mut events = Vec::new();
    for message in batch {
        let parsed = parse_events(&message.payload, now).and_then(|events| {
            engine.check_events(&events)?;
            Ok(events)
        });
        match parsed {
            Ok(parsed) => {
                events.extend(parsed);
                taken.push(message);
            }
            Err(e) => reject(engine, message, e.to_string(), now).await,
        }
    }
    if taken.is_empty() {
        return;
    }
    match intake.submit(events).await {
        Ok(_) => {
            for m in taken {
                if let Err(e) = m.ack().await {
                    // Redelivered after the ack wait; its events are duplicates then.
                    tracing::warn!("acknowledging a NATS message: {e}");
                }
            }
        }
        Err(e) => {
            tracing::error!("storing events from NATS: {e}; they will be delivered again");
            for m in taken {
                m.ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                    .await
                    .ok();
            }
        }
    }
}

/// Keeps a message that is not an event, then terminates it (no redelivery). If it cannot be
/// kept, it is left unacknowledged, to come back after the ack wait.
async fn reject(engine: &Engine, message: jetstream::Message, reason: String, at: i64) {
    engine.metrics().events_rejected.inc();
    let body = String::from_utf8_lossy(&message.payload);
    let mut end = body.len().min(KEPT_BODY);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let kept = RejectedMessage {
        id: 0,
        at,
        source: format!("nats:{}", message.subject),
        reason: reason.clone(),
        body: body[..end].to_string(),
    };
    match engine.store().reject_message(&kept).await {
        Ok(()) => {
            tracing::warn!(subject = %message.subject, "refused a NATS message: {reason}");
            message.ack_with(AckKind::Term).await.ok();
        }
        Err(e) => tracing::error!("keeping a refused NATS message: {e}"),
    }
}

/// Publishes events (one object or a JSON array) to `{prefix}.{type}`, each with its id as
/// `Nats-Msg-Id`, and waits for JetStream to store each; returns how many were published.
pub async fn publish(url: &str, prefix: &str, body: &str) -> Result<usize, NatsError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| NatsError(format!("the events are not JSON: {e}")))?;
    let events = match value {
        Value::Array(items) => items,
        one => vec![one],
    };
    let js = jetstream_at(url).await?;
    for event in &events {
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let mut headers = async_nats::HeaderMap::new();
        if let Some(id) = event.get("id").and_then(Value::as_str) {
            headers.insert("Nats-Msg-Id", id);
        }
        js.publish_with_headers(
            format!("{prefix}.{kind}"),
            headers,
            event.to_string().into(),
        )
        .await
        .map_err(|e| nats_error("publishing", e))?
        .await
        .map_err(|e| nats_error("publishing (no stream takes this subject?)", e))?;
    }
    Ok(events.len())
}
