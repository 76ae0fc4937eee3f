//! Tools built on the engine: a deterministic simulation on a manual clock, the simulator with
//! crash points (`mikawaya chaos`), rule tests
//! (`mikawaya test`) and replay of a workflow over the stored history (`mikawaya replay`).

pub mod chaos;
pub mod demo_data;
pub mod replay;
pub mod ruletest;
pub mod sim;
pub mod try_out;
