//! Customer intelligence that learns from data: logistic regression (fitted by smartcore) and
//! what is built on it, the churn model trained from the stored history and ticket triage
//! trained from shipped examples. Pure: callers read the store and run these off the async
//! threads.

pub mod logistic;
pub mod model;
pub mod triage;
