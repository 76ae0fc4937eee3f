//! The simulation's customers and the events it sends, each with the workflows it must start
//! (conditions in the simulator's workflows read only the event, so this is known up front).

use super::world::{SentEvent, SimRng};
use serde_json::json;

/// The simulated customers (few, so runs of one customer meet at the frequency cap).
pub const CUSTOMERS: [&str; 3] = ["ada", "ben", "cy"];

/// One of the customers, at random.
pub fn any_customer(rng: &SimRng) -> &'static str {
    CUSTOMERS[rng.below(CUSTOMERS.len() as u64) as usize]
}

/// A customer's address.
pub fn address(customer: &str) -> String {
    format!("{customer}@example.com")
}

/// Makes the events of one simulation.
#[derive(Debug, Default)]
pub struct EventMaker {
    made: u64,
    tickets: Vec<(String, String)>,
}

impl EventMaker {
    /// The next event: a cart, an order, a ticket or its reply, a newsletter, or a customer
    /// update that changes consent.
    pub fn next(&mut self, rng: &SimRng) -> SentEvent {
        self.made += 1;
        let id = format!("e{}", self.made);
        let customer = any_customer(rng);
        let mut who = json!({ "id": customer, "email": address(customer) });
        let (kind, data, starts): (&str, _, Vec<&'static str>) = match rng.below(12) {
            0..=2 => {
                let total = *rng.pick(&[20, 50, 80, 250]);
                let starts = if total >= 50 {
                    vec!["sim-cart"]
                } else {
                    vec![]
                };
                (
                    "cart.abandoned",
                    json!({ "cart": { "total": total } }),
                    starts,
                )
            }
            3 => ("order.placed", json!({}), vec![]),
            4 | 5 => {
                let ticket = format!("t{}", self.made);
                self.tickets.push((ticket.clone(), customer.to_string()));
                (
                    "ticket.opened",
                    json!({ "ticket": { "id": ticket } }),
                    vec!["sim-ticket"],
                )
            }
            6 if !self.tickets.is_empty() => {
                let (ticket, owner) = rng.pick(&self.tickets).clone();
                who = json!({ "id": owner, "email": address(&owner) });
                (
                    "ticket.replied",
                    json!({ "ticket": { "id": ticket } }),
                    vec![],
                )
            }
            7..=9 => (
                "newsletter.due",
                json!({ "issue": self.made }),
                vec!["sim-news"],
            ),
            _ => {
                who["consent"] = json!({ "email": rng.chance(70) });
                ("customer.updated", json!({}), vec![])
            }
        };
        SentEvent {
            body: json!({ "id": id, "type": kind, "customer": who, "data": data }),
            id,
            starts,
        }
    }
}
