//! # mikawaya-engine: the runtime
//!
//! Event intake, the trigger index, durable runs (waits, timers, retries), cron and date
//! schedules, storage, the HTTP API and the `mikawaya` CLI.
//!
//! The one design choice to know: **all due work is a row**. A run's next step, a wait's timeout
//! and a retry are the run's single timer row; waits for events are rows keyed by correlation
//! value; every transition (timeline lines, new state, next timer) commits in one transaction.
//! A `kill -9` therefore loses nothing: after restart the same rows are simply due again.

#![deny(missing_docs)]

pub mod actions;
pub mod api;
pub mod api_consent;
pub mod api_web;
pub mod cli;
pub mod clock;
pub mod engine;
pub mod enroll;
pub mod event;
pub mod explain;
pub mod intake;
pub mod loader;
pub mod matcher;
pub mod plugin_runtime;
pub mod registry;
pub mod replay;
pub mod restraint;
pub mod ruletest;
pub mod runner;
pub mod scheduler;
pub mod scope;
pub mod serve;
pub mod sim;
pub mod store;

pub use engine::{Engine, EngineConfig};
