//! Keeping scores (`workflows/scores/*.yaml`, [`mikawaya_dsl::scores`]) per customer, as events
//! arrive: each matching rule's points are added to the score's state, which is kept with the
//! customer's attributes under [`SCORES_KEY`] (value, when, half-life and the last changes), so
//! an event's points are written in the same transaction as the rest of what it changes.
//! Expressions see `customer.score.<name>`: the value decayed to the moment they are evaluated.
//!
//! Decay is exponential: points earned `t` ago weigh `0.5^(t / half_life)`. An event older than
//! the state (delivered out of order) adds its points decayed to the state's time, so without
//! bounds the value does not depend on the order events arrive in; the bounds (`min`, `max`)
//! apply after each change, as they would have when the events happened.

use crate::clock::Millis;
use mikawaya_dsl::expr::Scope;
use mikawaya_dsl::scores::{ScoreDef, Scores};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a customer's score states are kept among their attributes.
pub const SCORES_KEY: &str = "_scores";
/// How many of the latest changes each score keeps (what added which points).
pub const HISTORY: usize = 10;

/// One change of a score: the event, its points and the value after it. Stored as a JSON array
/// `[event, points, value, at]` (a state is rewritten at every change: objects would cost a map
/// per change, most of the work per event), shown as an object by the API ([`ScoreView`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "ChangeRow", from = "ChangeRow")]
pub struct ScoreChange {
    /// The event's id.
    pub event: String,
    /// The points it earned (negative: took away).
    pub points: f64,
    /// The score's value right after.
    pub value: f64,
    /// When (the event's time, or the state's when the event was older).
    pub at: Millis,
}

/// How a [`ScoreChange`] is stored.
#[derive(Serialize, Deserialize)]
struct ChangeRow(String, f64, f64, Millis);

impl From<ScoreChange> for ChangeRow {
    fn from(c: ScoreChange) -> Self {
        ChangeRow(c.event, c.points, c.value, c.at)
    }
}

impl From<ChangeRow> for ScoreChange {
    fn from(ChangeRow(event, points, value, at): ChangeRow) -> Self {
        ScoreChange {
            event,
            points,
            value,
            at,
        }
    }
}

/// A score's state for one customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreState {
    /// The value at `at`.
    pub value: f64,
    /// When the value was that.
    pub at: Millis,
    /// The half-life it decays with (kept here so reading needs no declaration).
    #[serde(default)]
    pub half_life_ms: Option<i64>,
    /// The latest changes, oldest first, at most [`HISTORY`].
    #[serde(default)]
    pub history: Vec<ScoreChange>,
}

/// `value` at `from`, decayed to `to` with `half_life` (unchanged without one, or backwards).
pub fn decay(value: f64, from: Millis, to: Millis, half_life: Option<i64>) -> f64 {
    match half_life {
        Some(h) if to > from && h > 0 => value * 0.5f64.powf((to - from) as f64 / h as f64),
        _ => value,
    }
}

fn bounded(def: &ScoreDef, value: f64) -> f64 {
    let value = def.min.map_or(value, |lo| value.max(lo));
    def.max.map_or(value, |hi| value.min(hi))
}

impl ScoreState {
    /// A placeholder while a state is being replaced.
    const EMPTY: ScoreState = ScoreState {
        value: 0.0,
        at: 0,
        half_life_ms: None,
        history: Vec::new(),
    };

    /// The value at `now`.
    pub fn value_at(&self, now: Millis) -> f64 {
        decay(self.value, self.at, now, self.half_life_ms)
    }
}

/// `state` (none yet: 0) with `points` earned by event `event` at `at` added, within the bounds.
pub fn add(
    def: &ScoreDef,
    state: Option<ScoreState>,
    points: f64,
    event: &str,
    at: Millis,
) -> ScoreState {
    let h = def.half_life_ms;
    let (value, time, earned, mut history) = match state {
        None => (0.0, at, points, Vec::new()),
        Some(s) if at >= s.at => (decay(s.value, s.at, at, h), at, points, s.history),
        // Older than what the state has seen: its points, decayed to the state's time.
        Some(s) => (s.value, s.at, decay(points, at, s.at, h), s.history),
    };
    let value = bounded(def, value + earned);
    if history.len() >= HISTORY {
        history.drain(..=history.len() - HISTORY);
    }
    history.push(ScoreChange {
        event: event.to_string(),
        points,
        value,
        at: time,
    });
    ScoreState {
        value,
        at: time,
        half_life_ms: h,
        history,
    }
}

/// The score states stored among a customer's attributes.
pub fn states(attrs: &Map<String, Value>) -> Map<String, Value> {
    match attrs.get(SCORES_KEY) {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}

/// What event `(id, type, occurred_at)` earns the customer seen in `scope`: each score's new
/// state, as the merge patch of the customer's attributes (`{"_scores": {"lead": {...}}}`);
/// `None` when no rule of its type holds. A condition that fails to evaluate earns nothing.
/// Each touched state is read once from `attrs` (by reference) and written once.
pub fn score_event(
    scores: &Scores,
    id: &str,
    event_type: &str,
    at: Millis,
    scope: &Scope<'_>,
    attrs: &Map<String, Value>,
) -> Option<Value> {
    let stored = attrs.get(SCORES_KEY).and_then(Value::as_object);
    let read = |name: &str| {
        stored
            .and_then(|m| m.get(name))
            .and_then(|v| ScoreState::deserialize(v).ok())
    };
    let mut changed: Vec<(&str, ScoreState)> = Vec::new();
    for (def, rule) in scores.rules_for(event_type) {
        let holds = rule
            .condition
            .as_ref()
            .is_none_or(|c| c.eval(scope).is_ok_and(|v| v.truthy()));
        if !holds {
            continue;
        }
        match changed.iter_mut().find(|(name, _)| *name == def.name) {
            Some((_, state)) => {
                *state = add(
                    def,
                    Some(std::mem::replace(state, ScoreState::EMPTY)),
                    rule.points,
                    id,
                    at,
                )
            }
            None => changed.push((&def.name, add(def, read(&def.name), rule.points, id, at))),
        }
    }
    if changed.is_empty() {
        return None;
    }
    let patch: Map<String, Value> = changed
        .into_iter()
        .map(|(name, state)| {
            (
                name.to_string(),
                serde_json::to_value(state).expect("a state serialises"),
            )
        })
        .collect();
    Some(serde_json::json!({ SCORES_KEY: patch }))
}

/// What event `ev` earns the customer with attributes `attrs`, seen by conditions as
/// `customer`, at `now` (the matcher's call): [`score_event`] with the event as conditions see
/// it; nothing to evaluate when no score listens to the event's type.
pub fn earn(
    scores: &Scores,
    ev: &crate::event::Event,
    customer: &Value,
    attrs: &Map<String, Value>,
    now: Millis,
) -> Option<Map<String, Value>> {
    scores.rules_for(&ev.event_type).next()?;
    let event = ev.scope_value();
    let scope = Scope {
        customer,
        ..Scope::with_event(&event, crate::clock::to_time(now))
    };
    match score_event(
        scores,
        &ev.id,
        &ev.event_type,
        ev.occurred_at,
        &scope,
        attrs,
    )? {
        Value::Object(patch) => Some(patch),
        _ => None,
    }
}

/// `customer.score`: each stored score's value at `now`, rounded to 2 decimals.
pub fn score_values(attrs: &Map<String, Value>, now: Millis) -> Option<Value> {
    let Some(Value::Object(stored)) = attrs.get(SCORES_KEY) else {
        return None;
    };
    // Only the three numbers are read: the histories stay where they are.
    let values: Map<String, Value> = stored
        .iter()
        .filter_map(|(name, v)| {
            let (value, at) = (v.get("value")?.as_f64()?, v.get("at")?.as_i64()?);
            let half_life = v.get("half_life_ms").and_then(Value::as_i64);
            let value = (decay(value, at, now, half_life) * 100.0).round() / 100.0;
            Some((name.clone(), serde_json::json!(value)))
        })
        .collect();
    Some(Value::Object(values))
}

/// A customer's score as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ScoreView {
    /// The score's name (`customer.score.<name>`).
    pub name: String,
    /// Its declaration's description; `None` for a score no longer declared.
    pub description: Option<String>,
    /// The value now (decayed), rounded to 2 decimals.
    pub value: f64,
    /// The latest changes, oldest first: the event, its points and the value after.
    #[schema(value_type = Vec<Object>)]
    #[serde(serialize_with = "changes_as_objects")]
    pub history: Vec<ScoreChange>,
}

fn changes_as_objects<S: serde::Serializer>(
    changes: &[ScoreChange],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(changes.len()))?;
    for c in changes {
        let round = |x: f64| (x * 100.0).round() / 100.0;
        seq.serialize_element(&serde_json::json!({ "event": c.event, "points": c.points, "value": round(c.value), "at": c.at }))?;
    }
    seq.end()
}

/// Every declared score of the customer with `attrs` (0 when none was earned yet), then any
/// stored score no longer declared.
pub fn views(scores: &Scores, attrs: &Map<String, Value>, now: Millis) -> Vec<ScoreView> {
    let stored = states(attrs);
    let state = |name: &str| -> Option<ScoreState> {
        serde_json::from_value(stored.get(name)?.clone()).ok()
    };
    let view = |name: &str, description: Option<String>| {
        let s = state(name);
        ScoreView {
            name: name.to_string(),
            description,
            value: s
                .as_ref()
                .map_or(0.0, |s| (s.value_at(now) * 100.0).round() / 100.0),
            history: s.map(|s| s.history).unwrap_or_default(),
        }
    };
    let mut out: Vec<ScoreView> = scores
        .iter()
        .map(|d| view(&d.name, d.description.clone()))
        .collect();
    for name in stored.keys().filter(|n| scores.get(n).is_none()) {
        out.push(view(name, None));
    }
    out
}

#[cfg(test)]
mod tests;
