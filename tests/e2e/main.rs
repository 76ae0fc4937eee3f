//! End-to-end tests: each starts the real `mikawaya` binary on a real SQLite file (or the real
//! PostgreSQL server, for many nodes) and real ports.

mod harness;

mod builder;
mod catalog;
mod cli;
mod crash;
mod email;
mod experiments;
mod intake;
mod intel;
mod metrics;
mod nats;
mod nodes;
mod run_control;
mod runs;
mod schedules;
mod scores;
mod sources;
mod tokens;
