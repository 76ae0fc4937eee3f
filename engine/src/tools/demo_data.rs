//! A synthetic but realistic CRM history (`mikawaya demo-data`): customers signing up, browsing,
//! abandoning carts, ordering, opening newsletters, opening support tickets (texts from the
//! shipped triage examples) and, for business customers, contracts — over a period ending now,
//! seeded, so the same options give the same events.
//!
//! Churn is planted: a quarter of the customers stop ordering at some point in the second half
//! of the period, and in the six weeks before they stop, they open fewer emails, spend less
//! and many of them complain in a ticket (billing, delivery or cancellation). Loyal customers
//! order every few weeks, occasional ones every couple of months (so some of them look gone by
//! chance): a churn model has signal to find, and noise to fight.

use crate::clock::Millis;
use crate::event::Event;
use crate::intel::triage::{parse_examples, Example, EXAMPLES};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

const DAY: Millis = 86_400_000;

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// How many customers.
    pub customers: usize,
    /// How many days of history.
    pub days: i64,
    /// The random seed.
    pub seed: u64,
    /// When the history ends (usually now).
    pub end: Millis,
}

/// The generated history and the planted truth (for tests and for judging a model).
#[derive(Debug, Clone)]
pub struct Demo {
    /// Every event, in time order.
    pub events: Vec<Event>,
    /// The customers who stop ordering, with when.
    pub churners: Vec<(String, Millis)>,
}

#[derive(Clone, Copy)]
enum Persona {
    Loyal,
    Occasional,
}

struct Writer<'a> {
    events: Vec<Event>,
    customer: String,
    count: usize,
    rng: &'a mut StdRng,
}

impl Writer<'_> {
    fn push(&mut self, event_type: &str, at: Millis, data: Value, customer: Value) {
        self.count += 1;
        let obj = |v: Value| match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        self.events.push(Event {
            id: format!("demo-{}-{}", self.customer, self.count),
            event_type: event_type.into(),
            customer_id: Some(self.customer.clone()),
            customer: obj(customer),
            occurred_at: at,
            data: obj(data),
            source: None,
        });
    }

    /// An exponential wait with `mean_days`.
    fn gap(&mut self, mean_days: f64) -> Millis {
        let u: f64 = self.rng.gen_range(1e-9..1.0);
        (-u.ln() * mean_days * DAY as f64) as Millis
    }

    fn amount(&mut self, mean: f64) -> f64 {
        let spread: f64 = self.rng.gen_range(0.4..1.6);
        (mean * spread * 100.0).round() / 100.0
    }
}

/// Generates the history.
pub fn generate(opts: &DemoOptions) -> Demo {
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let tickets = parse_examples(EXAMPLES);
    let start = opts.end - opts.days * DAY;
    let mut events = Vec::new();
    let mut churners = Vec::new();
    for i in 0..opts.customers {
        let id = format!("cust-{i:05}");
        let persona = if rng.gen_bool(0.6) {
            Persona::Loyal
        } else {
            Persona::Occasional
        };
        let churn_at = rng.gen_bool(0.25).then(|| {
            let from = opts.end - opts.days * DAY / 2;
            rng.gen_range(from..opts.end - 20 * DAY)
        });
        if let Some(at) = churn_at {
            churners.push((id.clone(), at));
        }
        let joined = rng.gen_range(start..start + opts.days * DAY * 2 / 5);
        let mut w = Writer {
            events: Vec::new(),
            customer: id.clone(),
            count: 0,
            rng: &mut rng,
        };
        customer_history(&mut w, &tickets, persona, joined, churn_at, opts.end);
        events.extend(w.events);
    }
    // Nothing after the end (an email opened days after the last newsletter).
    events.retain(|e| e.occurred_at < opts.end);
    events.sort_by(|a, b| (a.occurred_at, &a.id).cmp(&(b.occurred_at, &b.id)));
    Demo { events, churners }
}

/// One customer's events from `joined` to `end`.
fn customer_history(
    w: &mut Writer<'_>,
    tickets: &[Example],
    persona: Persona,
    joined: Millis,
    churn_at: Option<Millis>,
    end: Millis,
) {
    let business = w.rng.gen_bool(0.2);
    let lang = if w.rng.gen_bool(0.5) { "ja" } else { "en" };
    let consent = w.rng.gen_bool(0.85);
    let email = format!("{}@example.com", w.customer);
    w.push(
        "customer.created",
        joined,
        json!({}),
        json!({ "email": email, "consent": { "email": consent }, "lang": lang, "plan": if business { "business" } else { "personal" } }),
    );
    let (order_gap, basket, open_rate) = match persona {
        Persona::Loyal => (24.0, 70.0, 0.55),
        Persona::Occasional => (65.0, 45.0, 0.3),
    };
    // Six weeks of warning signs before a churner stops.
    let warning = churn_at.map(|c| c - 42 * DAY);
    let stop = churn_at.unwrap_or(end).min(end);
    let mut t = joined + w.gap(order_gap / 2.0);
    let mut orders = 0;
    while t < stop {
        let fading = warning.is_some_and(|s| t >= s);
        if w.rng.gen_bool(0.35) {
            let cart = w.amount(basket);
            let at = t - w.gap(2.0).min(5 * DAY);
            w.push(
                "cart.abandoned",
                at.max(joined),
                json!({ "cart": { "id": format!("{}-k{orders}", w.customer), "total": cart } }),
                json!({}),
            );
        }
        let total = w.amount(if fading { basket * 0.6 } else { basket });
        orders += 1;
        let order_id = format!("{}-o{orders}", w.customer);
        w.push(
            "order.placed",
            t,
            json!({ "order": { "id": order_id, "total": total }, "total": total }),
            json!({}),
        );
        t += w.gap(if fading { order_gap * 1.8 } else { order_gap });
    }
    // A newsletter every week; whether it is opened depends on how engaged they are.
    let mut week = joined + 3 * DAY;
    while week < end {
        let rate = match (warning, churn_at) {
            (_, Some(c)) if week >= c => 0.03,
            (Some(s), _) if week >= s => 0.1,
            _ => open_rate,
        };
        if w.rng.gen_bool(rate) {
            let at = week + w.gap(0.5).min(3 * DAY);
            w.push(
                "email.opened",
                at,
                json!({ "campaign": format!("weekly-{}", week / (7 * DAY)) }),
                json!({}),
            );
        }
        week += 7 * DAY;
    }
    // Tickets: now and then for anyone; most churners complain before they go.
    let ticket = |w: &mut Writer<'_>, at: Millis, topics: &[&str]| {
        let pool: Vec<&Example> = tickets
            .iter()
            .filter(|e| e.lang == lang && topics.contains(&e.topic.as_str()))
            .collect();
        let e = pool[w.rng.gen_range(0..pool.len())];
        let n = w.count;
        w.push("ticket.opened", at, json!({ "ticket": { "id": format!("{}-t{n}", w.customer), "priority": e.priority, "text": e.text } }), json!({}));
    };
    let mut t = joined + w.gap(120.0);
    while t < end {
        ticket(w, t, &["technical", "account", "delivery", "billing"]);
        t += w.gap(120.0);
    }
    if let (Some(s), Some(c)) = (warning, churn_at) {
        if w.rng.gen_bool(0.65) {
            let at = w.rng.gen_range(s..c);
            ticket(w, at, &["billing", "delivery", "cancellation"]);
        }
    }
    if business {
        let renewal = chrono::DateTime::from_timestamp_millis(joined + 365 * DAY)
            .map(|d| d.format("%Y-%m-%d").to_string());
        w.push("contract.updated", joined + DAY, json!({ "contract": { "id": format!("{}-c1", w.customer), "renewal_date": renewal, "status": "active" } }), json!({}));
    }
}

/// The events as JSON lines (the form `POST /events` takes, one per line).
pub fn json_lines(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        out.push_str(&e.to_json().to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo(seed: u64) -> Demo {
        generate(&DemoOptions {
            customers: 200,
            days: 365,
            seed,
            end: 1_000 * DAY,
        })
    }

    #[test]
    fn the_same_seed_gives_the_same_history_in_time_order() {
        let (a, b) = (demo(7), demo(7));
        assert_eq!(a.events.len(), b.events.len());
        assert!(a
            .events
            .iter()
            .zip(&b.events)
            .all(|(x, y)| x.id == y.id && x.data == y.data));
        assert!(a
            .events
            .windows(2)
            .all(|p| p[0].occurred_at <= p[1].occurred_at));
        assert_ne!(demo(8).events.len(), a.events.len());
        let start = 1_000 * DAY - 365 * DAY;
        assert!(a
            .events
            .iter()
            .all(|e| e.occurred_at >= start && e.occurred_at < 1_000 * DAY));
    }

    #[test]
    fn churners_stop_ordering_and_show_signs_first() {
        let d = demo(3);
        assert!(
            d.churners.len() > 20 && d.churners.len() < 90,
            "{}",
            d.churners.len()
        );
        let of = |id: &str, t: &str| {
            d.events
                .iter()
                .filter(move |e| e.customer_id.as_deref() == Some(id) && e.event_type == t)
                .map(|e| e.occurred_at)
                .collect::<Vec<_>>()
        };
        let mut complained = 0;
        for (id, at) in &d.churners {
            assert!(
                of(id, "order.placed").iter().all(|t| t < at),
                "{id} ordered after churning"
            );
            complained += usize::from(
                of(id, "ticket.opened")
                    .iter()
                    .any(|t| *t >= at - 42 * DAY && t < at),
            );
        }
        assert!(
            complained * 2 > d.churners.len(),
            "most churners complain first: {complained}"
        );
        // Every event type the examples and the churn model read is there.
        for t in [
            "customer.created",
            "order.placed",
            "cart.abandoned",
            "email.opened",
            "ticket.opened",
            "contract.updated",
        ] {
            assert!(d.events.iter().any(|e| e.event_type == t), "{t}");
        }
    }

    #[test]
    fn events_read_back_as_intake_would_take_them() {
        let d = demo(1);
        let lines = json_lines(&d.events[..50]);
        for (i, line) in lines.lines().enumerate() {
            let v: Value = serde_json::from_str(line).unwrap();
            let e = crate::event::parse_event(i, v, 0).unwrap();
            assert_eq!(e.id, d.events[i].id);
            assert_eq!(e.occurred_at, d.events[i].occurred_at);
        }
    }
}
