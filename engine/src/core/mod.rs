//! The engine core: everything between the store and the API.
//!
//! One event's path: [`intake`] stores it (group commit) → [`matcher`] finds the workflows that
//! listen (via the [`registry`] of compiled [`runtime`] workflows), starts runs ([`enroll`]),
//! resumes waits and ends runs whose goal it is, in one transaction → [`executor`] claims due
//! timers and walks each run's steps, asking the pure [`lifecycle`] what each step does and
//! carrying out its effects (action calls, guarded by [`restraint`]) before committing (many
//! runs per transaction: [`group_commit`]).
//! [`scheduler`] fires cron and date triggers the same way. [`services`] are what the API calls.

pub mod access;
pub mod actions;
pub mod batcher;
pub mod builder;
pub mod caps;
pub mod carry;
pub mod checks;
pub mod context;
mod engine;
pub mod enroll;
pub mod event_types;
pub mod executor;
pub mod explain;
pub mod group_commit;
pub mod history;
pub mod intake;
pub mod knowledge;
pub mod lifecycle;
pub mod limits;
pub mod loader;
pub mod lookback;
pub mod matcher;
pub mod membership;
pub mod metrics;
pub mod plugins;
pub mod predictions;
pub mod ready;
pub mod registry;
pub mod restraint;
pub mod rfm;
pub mod run_control;
pub mod runtime;
pub mod scheduler;
pub mod scope;
pub mod scoring;
pub mod send_window;
pub mod services;
pub mod sources;
pub mod sweep;
pub mod trace;
pub mod unsubscribe;

pub use context::{Context, EngineConfig, EngineError};
pub use engine::Engine;
pub use metrics::Metrics;
