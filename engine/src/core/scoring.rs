//! Keeping scores (`workflows/scores/*.yaml`, [`mikawaya_dsl::scores`]) per customer, as events
//! arrive: each matching rule's points are added to the score's state, which is kept with the
//! customer's attributes under [`SCORES_KEY`] (value, when and half-life), and each change is
//! appended to the store's score changes (the event, its points, the value after), both written
//! in the same transaction as the rest of what the event changes.
//! Expressions see `customer.score.<name>`: the value decayed to the moment they are evaluated.
//!
//! Decay is exponential: points earned `t` ago weigh `0.5^(t / half_life)`. An event older than
//! the state (delivered out of order) adds its points decayed to the state's time, so without
//! bounds the value does not depend on the order events arrive in; the bounds (`min`, `max`)
//! apply after each change, as they would have when the events happened.

use crate::clock::Millis;
use crate::store::ScoreChange;
use mikawaya_dsl::expr::Scope;
use mikawaya_dsl::scores::{ScoreDef, ScoreRule, Scores};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a customer's score states are kept among their attributes.
pub const SCORES_KEY: &str = "_scores";
/// How many of the latest changes of each score the API shows (what added which points).
pub const HISTORY: i64 = 10;

/// A score's state for one customer: three numbers, rewritten at each change (what added which
/// points is appended to the store's score changes, [`ScoreChange`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreState {
    /// The value at `at`.
    pub value: f64,
    /// When the value was that.
    pub at: Millis,
    /// The half-life it decays with (kept here so reading needs no declaration).
    #[serde(default)]
    pub half_life_ms: Option<i64>,
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
    /// The state stored as `v`: `[value, at, half_life_ms]` (an array, not an object: one
    /// allocation where an object takes four, and every event of a scored customer copies it
    /// several times); the object form `{"value", "at", "half_life_ms"}` is read too.
    pub fn read(v: &Value) -> Option<ScoreState> {
        let (value, at, half_life) = match v {
            Value::Array(a) => (a.first()?, a.get(1)?, a.get(2)),
            _ => (v.get("value")?, v.get("at")?, v.get("half_life_ms")),
        };
        Some(ScoreState {
            value: value.as_f64()?,
            at: at.as_i64()?,
            half_life_ms: half_life.and_then(Value::as_i64),
        })
    }

    /// The state as stored.
    fn stored(&self) -> Value {
        let half_life = self.half_life_ms.map_or(Value::Null, Value::from);
        Value::Array(vec![self.value.into(), self.at.into(), half_life])
    }

    /// The value at `now`.
    pub fn value_at(&self, now: Millis) -> f64 {
        decay(self.value, self.at, now, self.half_life_ms)
    }
}

/// `state` (none yet: 0) with `points` earned at `at` added, within the bounds. An event older
/// than the state adds its points decayed to the state's time.
pub fn add(def: &ScoreDef, state: Option<ScoreState>, points: f64, at: Millis) -> ScoreState {
    let h = def.half_life_ms;
    let (value, time, earned) = match state {
        None => (0.0, at, points),
        Some(s) if at >= s.at => (decay(s.value, s.at, at, h), at, points),
        Some(s) => (s.value, s.at, decay(points, at, s.at, h)),
    };
    ScoreState {
        value: bounded(def, value + earned),
        at: time,
        half_life_ms: h,
    }
}

/// What one event earned: per rule that held, in order, its score, its points and the score's
/// state right after.
#[derive(Debug, Clone)]
pub struct Earned<'a> {
    /// `(score, rule, state after)`.
    pub changes: Vec<(&'a ScoreDef, &'a ScoreRule, ScoreState)>,
}

impl Earned<'_> {
    /// The merge patch of the customer's attributes (`{"_scores": {"lead": {...}}}`): each
    /// touched score's last state.
    pub fn patch(&self) -> Map<String, Value> {
        let states: Map<String, Value> = self
            .changes
            .iter()
            .map(|(def, _, state)| (def.name.clone(), state.stored()))
            .collect();
        let mut patch = Map::new();
        patch.insert(SCORES_KEY.into(), Value::Object(states));
        patch
    }

    /// The changes to append for `customer`, made by event `event`.
    pub fn rows(&self, customer: &str, event: &str) -> Vec<ScoreChange> {
        let (customer, event): (std::sync::Arc<str>, std::sync::Arc<str>) =
            (customer.into(), event.into());
        self.changes
            .iter()
            .map(|(_, rule, state)| ScoreChange {
                customer: customer.clone(),
                score: rule.score.clone(),
                event: event.clone(),
                rule: rule.text.clone(),
                points: rule.points,
                value: state.value,
                at: state.at,
            })
            .collect()
    }
}

/// What an event of `event_type` at `at` earns the customer seen in `scope` (stored as
/// `attrs`); `None` when no rule of its type holds. A condition that fails to evaluate earns
/// nothing. Each touched state is read once from `attrs` and written once.
pub fn score_event<'a>(
    scores: &'a Scores,
    event_type: &str,
    at: Millis,
    scope: &Scope<'_>,
    attrs: &Map<String, Value>,
) -> Option<Earned<'a>> {
    let stored = attrs.get(SCORES_KEY).and_then(Value::as_object);
    let read = |name: &str| stored.and_then(|m| m.get(name)).and_then(ScoreState::read);
    let mut changes: Vec<(&ScoreDef, &ScoreRule, ScoreState)> = Vec::new();
    for (def, rule) in scores.rules_for(event_type) {
        let holds = rule
            .condition
            .as_ref()
            .is_none_or(|c| c.eval(scope).is_ok_and(|v| v.truthy()));
        if !holds {
            continue;
        }
        // A score earlier rules of this event changed goes on from there.
        let before = match changes.iter().rev().find(|(d, _, _)| std::ptr::eq(*d, def)) {
            Some((_, _, state)) => Some(*state),
            None => read(&def.name),
        };
        changes.push((def, rule, add(def, before, rule.points, at)));
    }
    (!changes.is_empty()).then_some(Earned { changes })
}

/// What event `ev` earns customer `id` with attributes `attrs`, seen by conditions as
/// `customer`, at `now` (the matcher's call): [`score_event`] with the event as conditions see
/// it, as the attributes' patch and the changes to append; nothing to evaluate when no score
/// listens to the event's type.
pub fn earn(
    scores: &Scores,
    ev: &crate::event::Event,
    event: &Value,
    id: &str,
    customer: &Value,
    attrs: &Map<String, Value>,
    now: Millis,
) -> Option<(Map<String, Value>, Vec<ScoreChange>)> {
    scores.rules_for(&ev.event_type).next()?;
    let scope = Scope {
        customer,
        ..Scope::with_event(event, crate::clock::to_time(now))
    };
    let earned = score_event(scores, &ev.event_type, ev.occurred_at, &scope, attrs)?;
    Some((earned.patch(), earned.rows(id, &ev.id)))
}

/// A score's value at `now` as expressions see it (rounded to 2 decimals).
fn shown(state: &ScoreState, now: Millis) -> Value {
    Value::from(cents(state.value_at(now)))
}

/// `x` rounded to 2 decimals, as scores are shown.
fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `customer.score`: each stored score's value at `now`, rounded to 2 decimals.
pub fn score_values(attrs: &Map<String, Value>, now: Millis) -> Option<Value> {
    let Some(Value::Object(stored)) = attrs.get(SCORES_KEY) else {
        return None;
    };
    let values: Map<String, Value> = stored
        .iter()
        .filter_map(|(name, v)| Some((name.clone(), shown(&ScoreState::read(v)?, now))))
        .collect();
    Some(Value::Object(values))
}

/// Brings `customer.score` up to date after `changes`, whose states are stored in `attrs`
/// (only the scores they touched are read again).
pub fn refresh(
    customer: &mut Value,
    attrs: &Map<String, Value>,
    changes: &[ScoreChange],
    now: Millis,
) {
    let stored = attrs.get(SCORES_KEY).and_then(Value::as_object);
    let Some(customer) = customer.as_object_mut() else {
        return;
    };
    let values = customer
        .entry("score")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(values) = values else {
        return;
    };
    // A score's rules are listed together: its state is read once per run of its changes.
    for c in changes
        .chunk_by(|a, b| a.score == b.score)
        .filter_map(<[_]>::first)
    {
        let Some(state) = stored
            .and_then(|m| m.get(&*c.score))
            .and_then(ScoreState::read)
        else {
            continue;
        };
        match values.get_mut(&*c.score) {
            Some(v) => *v = shown(&state, now),
            None => {
                values.insert(c.score.to_string(), shown(&state, now));
            }
        }
    }
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
    /// The latest changes, oldest first: the event, the rule that held, its points and the
    /// value after.
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
        seq.serialize_element(&serde_json::json!({ "event": c.event, "rule": c.rule, "points": c.points, "value": cents(c.value), "at": c.at }))?;
    }
    seq.end()
}

/// Every declared score of the customer with `attrs` (0 when none was earned yet), then any
/// stored score no longer declared, each with its latest `changes` (the store's, by score).
pub fn views(
    scores: &Scores,
    attrs: &Map<String, Value>,
    changes: &[ScoreChange],
    now: Millis,
) -> Vec<ScoreView> {
    let stored = attrs.get(SCORES_KEY).and_then(Value::as_object);
    let view = |name: &str, description: Option<String>| ScoreView {
        name: name.to_string(),
        description,
        value: stored
            .and_then(|m| m.get(name))
            .and_then(ScoreState::read)
            .map_or(0.0, |s| cents(s.value_at(now))),
        history: changes
            .iter()
            .filter(|c| &*c.score == name)
            .cloned()
            .collect(),
    };
    let mut out: Vec<ScoreView> = scores
        .iter()
        .map(|d| view(&d.name, d.description.clone()))
        .collect();
    for name in stored
        .into_iter()
        .flat_map(|m| m.keys())
        .filter(|n| scores.get(n).is_none())
    {
        out.push(view(name, None));
    }
    out
}

#[cfg(test)]
mod tests;
