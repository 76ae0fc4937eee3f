//! Training the declared prediction models on the stored history and putting them in force:
//! each training is a new version kept in the store (`_models` space of the key-value store:
//! `churn@3` for every version, `churn` for the current one), read again at start.

use crate::clock::Millis;
use crate::core::context::Context;
use crate::core::knowledge::{customer_value, ActiveModel, Knowledge};
use crate::core::EngineError;
use crate::intel::model::{dataset, Contribution, Evaluation, TrainedModel};
use serde::Serialize;
use std::sync::Arc;

/// The most events a training reads (the oldest first); more history is left out.
pub const MAX_TRAINING_EVENTS: i64 = 2_000_000;
const KV_SPACE: &str = "_models";

/// A trained version as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrainedView {
    /// The model.
    pub name: String,
    /// Its version.
    pub version: u32,
    /// When it was trained.
    pub trained_at: Millis,
    /// Its features' names.
    pub features: Vec<String>,
    /// How it did on held-out customers.
    pub evaluation: Evaluation,
}

impl TrainedView {
    fn of(m: &TrainedModel) -> Self {
        TrainedView {
            name: m.name.clone(),
            version: m.version,
            trained_at: m.trained_at,
            features: m.features.iter().map(|(n, _)| n.clone()).collect(),
            evaluation: m.evaluation.clone(),
        }
    }
}

/// A customer's prediction by one model, with what moved it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PredictionView {
    /// The model.
    pub model: String,
    /// Its version.
    pub version: u32,
    /// The predicted chance, 0–1.
    pub chance: f64,
    /// Every feature's value and effect, largest effect first.
    pub because: Vec<Contribution>,
}

/// Trains model `name` on the stored events at `now`, keeps it as the next version and puts it
/// in force.
pub async fn train(ctx: &Context, name: &str, now: Millis) -> Result<TrainedView, EngineError> {
    let k = ctx.knowledge();
    let Some(def) = k.models.iter().find(|m| m.name == name).cloned() else {
        let known: Vec<&str> = k.models.iter().map(|m| m.name.as_str()).collect();
        return Err(EngineError::Input(format!(
            "no model `{name}` is declared (declared: {}); add workflows/models/{name}.yaml",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    };
    let events = ctx
        .store
        .events_between(0, now + 1, MAX_TRAINING_EVENTS)
        .await?;
    let version = k
        .trained
        .iter()
        .find(|m| m.model.name == name)
        .map_or(1, |m| m.model.version + 1);
    let model = tokio::task::spawn_blocking(move || {
        let rows = dataset(&def, &events, now);
        TrainedModel::train(&def, &rows, version, now)
    })
    .await
    .map_err(|e| EngineError::Internal(format!("training: {e}")))?
    .map_err(|e| EngineError::Input(e.to_string()))?;
    let json = serde_json::to_string(&model).expect("a model serialises");
    ctx.store
        .kv_set(KV_SPACE, &format!("{name}@{version}"), &json)
        .await?;
    ctx.store.kv_set(KV_SPACE, name, &json).await?;
    let view = TrainedView::of(&model);
    put_in_force(ctx, model)?;
    Ok(view)
}

fn put_in_force(ctx: &Context, model: TrainedModel) -> Result<(), EngineError> {
    let active = Arc::new(ActiveModel::new(model).map_err(EngineError::Internal)?);
    ctx.update_knowledge(|k| {
        let mut trained: Vec<Arc<ActiveModel>> = k
            .trained
            .iter()
            .filter(|m| m.model.name != active.model.name)
            .cloned()
            .collect();
        trained.push(active);
        let tracked = k.tracked.clone();
        let k = Knowledge { trained, ..k };
        // What the model's features read joins what the digest keeps.
        let extra: Vec<_> = k.trained.iter().flat_map(|t| t.aggregates()).collect();
        Knowledge {
            tracked: tracked.with(&extra),
            ..k
        }
    });
    Ok(())
}

/// Puts the current version of each declared model kept in the store in force (at start).
pub async fn restore(ctx: &Context) -> Result<(), EngineError> {
    let names: Vec<String> = ctx
        .knowledge()
        .models
        .iter()
        .map(|m| m.name.clone())
        .collect();
    for name in names {
        let Some(json) = ctx.store.kv_get(KV_SPACE, &name).await? else {
            continue;
        };
        match serde_json::from_str::<TrainedModel>(&json) {
            Ok(model) => put_in_force(ctx, model)?,
            Err(e) => tracing::error!("stored model `{name}` cannot be read ({e}); train it again"),
        }
    }
    Ok(())
}

/// The current trained versions.
pub fn trained(k: &Knowledge) -> Vec<TrainedView> {
    k.trained
        .iter()
        .map(|m| TrainedView::of(&m.model))
        .collect()
}

/// Each trained model's prediction for customer `id` with `attrs` at `now`, explained.
pub fn predictions(
    k: &Knowledge,
    id: &str,
    attrs: serde_json::Map<String, serde_json::Value>,
    now: Millis,
) -> Vec<PredictionView> {
    let customer = customer_value(k, Some(id), Some(&attrs), now);
    k.trained
        .iter()
        .map(|m| {
            let x = m.values(&customer, now);
            PredictionView {
                model: m.model.name.clone(),
                version: m.model.version,
                chance: (m.model.chance(&x) * 1000.0).round() / 1000.0,
                because: m.model.contributions(&x),
            }
        })
        .collect()
}
