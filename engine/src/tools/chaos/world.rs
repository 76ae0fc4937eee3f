//! What a simulation remembers across the engine's crashes: its random source, the effects the
//! outside world saw, the events it sent, and the violations found so far.

use crate::clock::{splitmix64, Millis};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// A seeded random source (SplitMix64): the same seed gives the same choices.
#[derive(Debug)]
pub struct SimRng {
    state: AtomicU64,
}

impl SimRng {
    /// A source seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SimRng {
            state: AtomicU64::new(seed),
        }
    }

    /// The next number.
    pub fn next(&self) -> u64 {
        splitmix64(
            self.state
                .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::SeqCst),
        )
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items`.
    pub fn pick<'a, T>(&self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// One side effect the outside world saw (an action call that got through).
#[derive(Debug, Clone)]
pub struct SeenEffect {
    /// Action name.
    pub action: String,
    /// Its idempotency key.
    pub key: String,
    /// Run and step that made it.
    pub run_id: String,
    /// Step id.
    pub step_id: String,
    /// The run's customer.
    pub customer_id: Option<String>,
    /// The evaluated input.
    pub input: Value,
    /// When, on the simulated clock.
    pub at: Millis,
}

/// One event the simulation sent, and which workflows it must start.
#[derive(Debug, Clone)]
pub struct SentEvent {
    /// The event as posted.
    pub body: Value,
    /// The event's id.
    pub id: String,
    /// Workflows that must have exactly one run for it.
    pub starts: Vec<&'static str>,
}

/// State shared by the simulation, its actions and its checks.
#[derive(Debug)]
pub struct World {
    /// The seed.
    pub seed: u64,
    /// The random source of every choice.
    pub rng: SimRng,
    /// Whether actions may fail (off while the simulation drains at the end).
    pub failures: AtomicBool,
    /// Effects seen, in order.
    pub effects: Mutex<Vec<SeenEffect>>,
    /// Violations found while running.
    pub violations: Mutex<Vec<String>>,
    /// What happened, step by step (kept only when tracing).
    pub trace: Mutex<Vec<String>>,
    /// Whether to keep the trace.
    pub tracing: bool,
}

impl World {
    /// A new world for `seed`.
    pub fn new(seed: u64, tracing: bool) -> Self {
        World {
            seed,
            rng: SimRng::new(seed),
            failures: AtomicBool::new(true),
            effects: Mutex::default(),
            violations: Mutex::default(),
            trace: Mutex::default(),
            tracing,
        }
    }

    /// Records a violation.
    pub fn violation(&self, text: String) {
        self.note(format!("VIOLATION {text}"));
        self.violations.lock().expect("violations").push(text);
    }

    /// Adds a line to the trace.
    pub fn note(&self, line: String) {
        if self.tracing {
            self.trace.lock().expect("trace").push(line);
        }
    }

    /// Whether actions may fail now.
    pub fn failures_on(&self) -> bool {
        self.failures.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_numbers() {
        let (a, b) = (SimRng::new(7), SimRng::new(7));
        let xs: Vec<u64> = (0..5).map(|_| a.next()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next()).collect();
        assert_eq!(xs, ys);
        assert_ne!(
            xs,
            (0..5).map(|_| SimRng::new(8).next()).collect::<Vec<_>>()
        );
        assert!((0..100).all(|_| a.below(3) < 3));
    }
}
