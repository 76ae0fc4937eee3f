//! The loaded workflows: every version ever stored (runs finish on theirs) and, per name, the
//! latest one that new triggers use; plus the trigger indexes so an event reaches only the
//! workflows that listen for its type.

use mikawaya_dsl::expr::Expr;
use mikawaya_dsl::ir::{StepKind, Trigger, Workflow};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Workflows by version and the indexes built from them.
#[derive(Debug, Default)]
pub struct Registry {
    versions: HashMap<(String, u32), Arc<Workflow>>,
    latest: BTreeMap<String, Arc<Workflow>>,
    by_event: HashMap<String, Vec<Arc<Workflow>>>,
    by_date_event: HashMap<String, Vec<Arc<Workflow>>>,
    goals: HashMap<String, Vec<String>>,
    wait_exprs: HashMap<String, Vec<Expr>>,
}

impl Registry {
    /// Builds the registry from all versions and the names' active versions.
    pub fn new(all: Vec<Arc<Workflow>>, active: Vec<Arc<Workflow>>) -> Self {
        let mut r = Registry::default();
        for w in all.iter().chain(active.iter()) {
            r.versions.insert((w.name.clone(), w.version), w.clone());
            for step in &w.steps {
                if let StepKind::Wait { until: Some(u), .. } = &step.kind {
                    let list = r.wait_exprs.entry(u.event.clone()).or_default();
                    if !list.iter().any(|e| e.source == u.match_key.source) {
                        list.push(u.match_key.clone());
                    }
                }
            }
        }
        for w in active {
            match &w.trigger {
                Trigger::Event { event } => {
                    r.by_event.entry(event.clone()).or_default().push(w.clone())
                }
                Trigger::Date { from_event, .. } => r
                    .by_date_event
                    .entry(from_event.clone())
                    .or_default()
                    .push(w.clone()),
                Trigger::Schedule { .. } => {}
            }
            if let Some(goal) = &w.goal {
                r.goals
                    .entry(goal.clone())
                    .or_default()
                    .push(w.name.clone());
            }
            r.latest.insert(w.name.clone(), w);
        }
        r
    }

    /// A specific version.
    pub fn version(&self, name: &str, version: u32) -> Option<Arc<Workflow>> {
        self.versions.get(&(name.to_string(), version)).cloned()
    }

    /// The active version of each workflow, by name.
    pub fn latest(&self) -> impl Iterator<Item = &Arc<Workflow>> {
        self.latest.values()
    }

    /// The active version of one workflow.
    pub fn active(&self, name: &str) -> Option<Arc<Workflow>> {
        self.latest.get(name).cloned()
    }

    /// Workflows started by events of `event_type`.
    pub fn event_triggered(&self, event_type: &str) -> &[Arc<Workflow>] {
        self.by_event
            .get(event_type)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Workflows whose date trigger is carried by `event_type`.
    pub fn date_triggered(&self, event_type: &str) -> &[Arc<Workflow>] {
        self.by_date_event
            .get(event_type)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Workflow names whose goal is `event_type`.
    pub fn goal_of(&self, event_type: &str) -> &[String] {
        self.goals.get(event_type).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Distinct correlation expressions of waits for `event_type`.
    pub fn wait_exprs(&self, event_type: &str) -> &[Expr] {
        self.wait_exprs
            .get(event_type)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Cron-triggered active workflows.
    pub fn scheduled(&self) -> impl Iterator<Item = &Arc<Workflow>> {
        self.latest
            .values()
            .filter(|w| matches!(w.trigger, Trigger::Schedule { .. }))
    }
}
