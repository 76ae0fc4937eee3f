//! What the engine knows of customers beyond what events said: scores, the history digest that
//! aggregates read, segment membership and RFM quintiles. [`Knowledge`] is what is in force
//! (declarations and the last sweep's RFM breakpoints); [`learn`] is the matcher's hook that
//! keeps a customer's part up to date as each event arrives, and [`customer_value`] is the one
//! place a customer object for expressions is made.

use crate::clock::Millis;
use crate::core::history::Tracked;
use crate::core::rfm::RfmBreaks;
use crate::event::Event;
use crate::store::merge::merge_value;
use crate::store::MatchBatch;
use mikawaya_dsl::expr::Aggregate;
use mikawaya_dsl::scores::Scores;
use mikawaya_dsl::segments::Segments;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Declarations in force and what the last sweep computed.
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    /// `workflows/scores/`.
    pub scores: Scores,
    /// `workflows/segments/`.
    pub segments: Segments,
    /// The event types the history digest keeps (from segments, RFM and workflows).
    pub tracked: Tracked,
    /// RFM breakpoints of the customer base, from the last sweep.
    pub rfm: Option<RfmBreaks>,
    /// `workflows/models/`: the models declared.
    pub models: Vec<mikawaya_dsl::models::ModelDef>,
    /// The current trained version of each model (kept in the store), ready to score.
    pub trained: Vec<Arc<ActiveModel>>,
}

/// A trained model with its features compiled.
#[derive(Debug)]
pub struct ActiveModel {
    /// The stored model.
    pub model: crate::intel::model::TrainedModel,
    /// Its features, compiled.
    pub features: Vec<mikawaya_dsl::expr::Expr>,
}

impl ActiveModel {
    /// Compiles the features of `model`.
    pub fn new(model: crate::intel::model::TrainedModel) -> Result<ActiveModel, String> {
        let features = model.compiled_features()?;
        Ok(ActiveModel { model, features })
    }

    /// The history aggregates its features read (the digest must keep them).
    pub fn aggregates(&self) -> Vec<Aggregate> {
        let mut found = Vec::new();
        self.features
            .iter()
            .for_each(|f| f.node.aggregates(&mut found));
        found.into_iter().cloned().collect()
    }

    /// The raw feature values of `customer` (as expressions see it) at `now`.
    pub fn values(&self, customer: &Value, now: Millis) -> Vec<f64> {
        let exprs: Vec<&mikawaya_dsl::expr::Expr> = self.features.iter().collect();
        crate::intel::model::evaluate(&exprs, customer, now)
    }
}

impl Knowledge {
    /// The same knowledge, keeping for the digest what `workflow_aggregates` and the segments
    /// (RFM included) read.
    pub fn tracking<'a>(
        mut self,
        workflow_aggregates: impl IntoIterator<Item = &'a Aggregate>,
    ) -> Self {
        let mut all = self.segments.aggregates();
        all.extend(workflow_aggregates.into_iter().cloned());
        for m in &self.models {
            all.extend(m.aggregates());
        }
        for t in &self.trained {
            all.extend(t.aggregates());
        }
        self.tracked = Tracked::of(&all);
        self
    }

    /// Whether anything is declared that events must update.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
            && self.segments.is_empty()
            && self.tracked.is_empty()
            && self.trained.is_empty()
    }
}

/// A customer object as expressions see it at `now`: its attributes plus `id`; scores' values
/// (decayed to `now`) as `score`, the segments it belongs to as `segments`, its RFM quintiles
/// as `rfm` (when it bought in the window and a sweep computed the breakpoints), each trained
/// model's predicted chance as `predict` (`customer.predict.churn`). The history digest stays
/// (aggregates read it).
pub fn customer_value(
    k: &Knowledge,
    id: Option<&str>,
    attrs: Option<&Map<String, Value>>,
    now: Millis,
) -> Value {
    let Some(id) = id else {
        return Value::Null;
    };
    let empty = Map::new();
    let attrs = attrs.unwrap_or(&empty);
    // Only what expressions read is copied: the score states and memberships are read in
    // place (they are most of a known customer's stored attributes).
    let own = [
        crate::core::scoring::SCORES_KEY,
        crate::core::membership::SEGMENTS_KEY,
    ];
    let mut m: Map<String, Value> = attrs
        .iter()
        .filter(|(key, _)| !own.contains(&key.as_str()))
        .map(|(key, v)| (key.clone(), v.clone()))
        .collect();
    if let Some(scores) = crate::core::scoring::score_values(attrs, now) {
        m.insert("score".into(), scores);
    }
    if !k.segments.is_empty() {
        let segments = crate::core::membership::members(&k.segments, attrs);
        m.insert("segments".into(), segments.into());
    }
    m.insert("id".into(), Value::String(id.to_string()));
    let mut customer = Value::Object(m);
    if let Some(breaks) = &k.rfm {
        if let Some(measures) = crate::core::rfm::measures(&k.segments.rfm, &customer, now) {
            customer["rfm"] = breaks.value(&measures);
        }
    }
    if !k.trained.is_empty() {
        let predict: Map<String, Value> = k
            .trained
            .iter()
            .map(|m| {
                let chance = m.model.chance(&m.values(&customer, now));
                (
                    m.model.name.clone(),
                    Value::from((chance * 1000.0).round() / 1000.0),
                )
            })
            .collect();
        customer["predict"] = Value::Object(predict);
    }
    customer
}

/// The customer as the API shows it: [`customer_value`] without the history digest.
pub fn customer_view(k: &Knowledge, id: &str, attrs: Map<String, Value>, now: Millis) -> Value {
    let mut v = customer_value(k, Some(id), Some(&attrs), now);
    if let Value::Object(m) = &mut v {
        m.remove(mikawaya_dsl::expr::HISTORY_KEY);
    }
    v
}

/// Merges `patch` into the customer's `attrs` and queues it in `batch`, to be written with
/// the rest of the event.
fn apply(
    batch: &mut MatchBatch,
    id: &str,
    attrs: &mut Map<String, Value>,
    patch: Map<String, Value>,
    now: Millis,
) {
    let patch = Value::Object(patch);
    merge_value(attrs, &patch);
    let Value::Object(patch) = patch else {
        unreachable!("an object stays one")
    };
    batch.customers.push((id.to_string(), patch, now));
}

/// What event `ev` (seen by expressions as `event`: the matcher's scope value, built once for
/// the scores and the workflows) teaches about customer `id` (attributes `attrs`, updated): its
/// place in the history digest, the points it earns, then the segments the customer enters or leaves (their
/// events go into `batch.emitted`). Each change is a patch of the customer, written with the
/// rest of the event's batch. Returns the customer as expressions now see them: built once,
/// after the digest, then only its `score` and `segments` follow the changes (a customer
/// object is a copy of all their attributes, the largest cost here).
pub fn learn(
    k: &Knowledge,
    ev: &Event,
    event: &Value,
    id: &str,
    attrs: &mut Map<String, Value>,
    batch: &mut MatchBatch,
    now: Millis,
) -> Value {
    if let Some(Value::Object(patch)) = k.tracked.record(ev, attrs, now) {
        apply(batch, id, attrs, patch, now);
    }
    let mut customer = customer_value(k, Some(id), Some(attrs), now);
    if let Some((patch, changes)) =
        crate::core::scoring::earn(&k.scores, ev, event, id, &customer, attrs, now)
    {
        apply(batch, id, attrs, patch, now);
        crate::core::scoring::refresh(&mut customer, attrs, &changes, now);
        batch.score_changes.extend(changes);
    }
    if k.segments.is_empty() {
        return customer;
    }
    let (patch, events) = crate::core::membership::changes(k, id, &customer, attrs, &ev.id, now);
    if let Some(patch) = patch {
        apply(batch, id, attrs, patch, now);
        customer["segments"] = crate::core::membership::members(&k.segments, attrs).into();
    }
    batch.emitted.extend(events);
    customer
}
