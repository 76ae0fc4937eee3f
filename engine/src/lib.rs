//! # mikawaya-engine: the runtime
//!
//! Event intake, the trigger index, durable runs (waits, timers, retries), cron and date
//! schedules, storage and the HTTP API. The `mikawaya` command line (`engine/cli`) sits on top.
//!
//! The one design choice to know: **all due work is a row**. A run's next step, a wait's timeout
//! and a retry are the run's single timer row; waits for events are rows keyed by correlation
//! value; every transition (timeline lines, new state, next timer) commits in one transaction.
//! A `kill -9` therefore loses nothing: after restart the same rows are simply due again.
//!
//! The folders are the layers, each using only those below it:
//! - [`store`]: one trait per concern (event log, runs, schedules, restraint, plugin key-values,
//!   read model), implemented by SQLite, PostgreSQL and in memory;
//! - [`core`]: the engine — intake, matching, the pure run lifecycle and the executor that
//!   carries out its effects, schedules, restraint, the registry of compiled workflows;
//! - [`api`]: HTTP handlers that parse, authorise and call one engine service each;
//! - [`tools`]: the simulation, rule tests and replay, built on the engine;
//! - [`serve`]: wires a store, the engine, its loops and the HTTP server together.

#![deny(missing_docs)]

pub mod api;
pub mod clock;
pub mod core;
pub mod event;
pub mod fuzzing;
pub mod intel;
pub mod nats;
pub mod serve;
pub mod store;
pub mod tools;

pub use crate::core::{Engine, EngineConfig};
