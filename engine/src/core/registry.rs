//! The loaded workflows: every version ever stored (runs finish on theirs) and, per name, the
//! active version that new triggers use; plus the trigger indexes so an event reaches only the
//! workflows that listen for its type. Workflows are held in their [`RuntimeWorkflow`] form.

use crate::core::runtime::{ActionResolver, BuildError, RuntimeWorkflow};
use mikawaya_dsl::expr::Expr;
use mikawaya_dsl::ir::{Priority, StepKind, Trigger, Workflow};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Workflows by version and the indexes built from them.
#[derive(Debug, Default)]
pub struct Registry {
    versions: HashMap<(String, u32), Arc<RuntimeWorkflow>>,
    active: BTreeMap<String, Arc<RuntimeWorkflow>>,
    by_event: HashMap<String, Vec<Arc<RuntimeWorkflow>>>,
    by_date_event: HashMap<String, Vec<Arc<RuntimeWorkflow>>>,
    goals: HashMap<String, Vec<String>>,
    wait_exprs: HashMap<String, Vec<Expr>>,
    /// Event types that convert some version's experiment.
    converting: std::collections::HashSet<String>,
    /// Whether a loaded version has a wait with a lookback.
    looks_back: bool,
    /// The highest priority of the active workflows (`None`: none is loaded).
    top_priority: Option<Priority>,
}

impl Registry {
    /// Builds the registry from all stored versions and the names' active versions, resolving
    /// actions with `actions`. Versions that cannot be built are left out and returned.
    pub fn build(
        all: Vec<Arc<Workflow>>,
        active: Vec<Arc<Workflow>>,
        actions: &dyn ActionResolver,
    ) -> (Self, Vec<BuildError>) {
        let mut r = Registry::default();
        let mut errors = Vec::new();
        let mut runtime = |w: Arc<Workflow>| match RuntimeWorkflow::build(w, actions) {
            Ok(rt) => Some(Arc::new(rt)),
            Err(e) => {
                if !errors.contains(&e) {
                    errors.push(e);
                }
                None
            }
        };
        let all: Vec<Arc<RuntimeWorkflow>> = all.into_iter().filter_map(&mut runtime).collect();
        let active: Vec<Arc<RuntimeWorkflow>> =
            active.into_iter().filter_map(&mut runtime).collect();
        for w in all.iter().chain(active.iter()) {
            r.versions.insert((w.name.clone(), w.version), w.clone());
            for step in &w.steps {
                if let StepKind::Split {
                    convert: Some(c), ..
                } = &step.kind
                {
                    r.converting.insert(c.event.clone());
                }
                if let StepKind::Wait { until: Some(u), .. } = &step.kind {
                    r.looks_back |= u.lookback_ms.is_some();
                    let list = r.wait_exprs.entry(u.event.clone()).or_default();
                    if !list.iter().any(|e| e.source == u.match_key.source) {
                        list.push(u.match_key.clone());
                    }
                }
            }
        }
        for w in active {
            match &w.trigger {
                Trigger::Event { event, .. } => {
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
            r.top_priority = r.top_priority.max(Some(w.priority));
            r.active.insert(w.name.clone(), w);
        }
        (r, errors)
    }

    /// Every history aggregate a loaded version reads (the digest keeps their event types).
    pub fn aggregates(&self) -> Vec<&mikawaya_dsl::expr::Aggregate> {
        self.versions
            .values()
            .chain(self.active.values())
            .flat_map(|w| w.ir.aggregates.iter())
            .collect()
    }

    /// Whether a loaded version has a wait with a lookback (which reads events by type and
    /// time).
    pub fn looks_back(&self) -> bool {
        self.looks_back
    }

    /// Whether an active workflow has a higher priority than `priority` (a message of that
    /// priority leaves the last slot of each frequency cap to it).
    pub fn outranked(&self, priority: Priority) -> bool {
        self.top_priority.is_some_and(|top| top > priority)
    }

    /// Whether events of this type convert an experiment of some loaded version.
    pub fn converts(&self, event_type: &str) -> bool {
        self.converting.contains(event_type)
    }

    /// The same workflows with their actions resolved again (after plugins were reloaded).
    pub fn relink(&self, actions: &dyn ActionResolver) -> (Self, Vec<BuildError>) {
        let all = self.versions.values().map(|w| w.ir.clone()).collect();
        let active = self.active.values().map(|w| w.ir.clone()).collect();
        Self::build(all, active, actions)
    }

    /// A specific version.
    pub fn version(&self, name: &str, version: u32) -> Option<Arc<RuntimeWorkflow>> {
        self.versions.get(&(name.to_string(), version)).cloned()
    }

    /// The active version of each workflow, by name.
    pub fn active_workflows(&self) -> impl Iterator<Item = &Arc<RuntimeWorkflow>> {
        self.active.values()
    }

    /// The active version of one workflow.
    pub fn active(&self, name: &str) -> Option<Arc<RuntimeWorkflow>> {
        self.active.get(name).cloned()
    }

    /// Workflows started by events of `event_type`.
    pub fn event_triggered(&self, event_type: &str) -> &[Arc<RuntimeWorkflow>] {
        self.by_event
            .get(event_type)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Workflows whose date trigger is carried by `event_type`.
    pub fn date_triggered(&self, event_type: &str) -> &[Arc<RuntimeWorkflow>] {
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
    pub fn scheduled(&self) -> impl Iterator<Item = &Arc<RuntimeWorkflow>> {
        self.active.values().filter(|w| w.schedule.is_some())
    }
}
