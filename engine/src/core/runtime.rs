//! The runtime form of a workflow, built once at load time from its IR (as vector builds each
//! config into a running component): the time zone and cron schedule parsed, every action step
//! resolved to its implementation and, for plugin actions, the plugin it belongs to. A version
//! that cannot be built (an unknown time zone, a bad cron) is refused at load with the reason;
//! nothing is parsed again or silently replaced at run time.

use chrono_tz::Tz;
use mikawaya_dsl::ir::{StepKind, Target, Trigger, Workflow};
use mikawaya_plugins::Action;
use std::str::FromStr;
use std::sync::Arc;

/// Finds the implementation of an action by name: `(action, plugin name if it is a plugin's)`.
pub trait ActionResolver: Send + Sync {
    /// The action `name`, if one is loaded.
    fn resolve(&self, name: &str) -> Option<(Arc<dyn Action>, Option<String>)>;
}

/// An action step's implementation.
#[derive(Clone)]
pub struct ResolvedAction {
    /// The action as loaded when the workflow was built.
    pub action: Arc<dyn Action>,
    /// The plugin providing it (runs pin plugin builds by plugin name).
    pub plugin: Option<String>,
    /// Its channel, if it reaches customers (`email`).
    pub channel: Option<&'static str>,
    /// Whether it reads the templates' scope (see `Action::uses_scope`).
    pub uses_scope: bool,
}

/// A workflow ready to run.
pub struct RuntimeWorkflow {
    /// The IR.
    pub ir: Arc<Workflow>,
    /// The trigger's time zone (UTC for event triggers): `today` in expressions.
    pub tz: Tz,
    /// The cron schedule of a scheduled workflow.
    pub schedule: Option<cron::Schedule>,
    /// Per step index: the action's implementation (`None` for other steps, or an action that
    /// is not loaded, which fails its step with "unknown action").
    actions: Vec<Option<ResolvedAction>>,
    /// Whether any step reads the run's customer: an expression or template argument naming
    /// `customer`, a customer-facing action (consent, address), an action given the templates'
    /// scope, a branch, a wait's correlation key or a wait until a customer-local moment. A run of a workflow whose steps never do
    /// executes without reading its customer.
    pub steps_read_customer: bool,
}

impl std::fmt::Debug for RuntimeWorkflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RuntimeWorkflow({} v{})", self.ir.name, self.ir.version)
    }
}

/// Why a workflow cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: workflow `{name}` version {version}: {reason}")]
pub struct BuildError {
    /// The file.
    pub file: String,
    /// The workflow.
    pub name: String,
    /// Its version.
    pub version: u32,
    /// What is wrong, and how to fix it.
    pub reason: String,
}

impl RuntimeWorkflow {
    /// Builds the runtime form of `ir`, resolving actions with `actions`.
    pub fn build(ir: Arc<Workflow>, actions: &dyn ActionResolver) -> Result<Self, BuildError> {
        let fail = |reason: String| BuildError {
            file: ir.file.clone(),
            name: ir.name.clone(),
            version: ir.version,
            reason,
        };
        let (tz, schedule) = match &ir.trigger {
            Trigger::Event { .. } => (chrono_tz::UTC, None),
            Trigger::Date { timezone, .. } => (parse_tz(timezone).map_err(fail)?, None),
            Trigger::Schedule { cron, timezone, .. } => {
                let tz = parse_tz(timezone).map_err(&fail)?;
                let schedule = cron::Schedule::from_str(cron)
                    .map_err(|e| fail(format!("invalid cron expression `{cron}`: {e}")))?;
                (tz, Some(schedule))
            }
        };
        let resolved: Vec<Option<ResolvedAction>> = ir
            .steps
            .iter()
            .map(|s| match &s.kind {
                StepKind::Action { action, .. } => {
                    actions.resolve(action).map(|(a, plugin)| ResolvedAction {
                        channel: a.channel(),
                        uses_scope: a.uses_scope(),
                        action: a,
                        plugin,
                    })
                }
                _ => None,
            })
            .collect();
        let steps_read_customer = ir
            .steps
            .iter()
            .zip(&resolved)
            .any(|(step, action)| step_reads_customer(&step.kind, action.as_ref()));
        Ok(RuntimeWorkflow {
            ir,
            tz,
            schedule,
            actions: resolved,
            steps_read_customer,
        })
    }

    /// The implementation of the action at step `index`.
    pub fn action(&self, index: usize) -> Option<&ResolvedAction> {
        self.actions.get(index)?.as_ref()
    }

    /// The channel of the action at step `index`, if it reaches customers.
    pub fn channel(&self, index: usize) -> Option<&'static str> {
        self.action(index)?.channel
    }

    /// Whether the action at step `index` reads the templates' scope (an action that is not
    /// loaded gets it, to be safe).
    pub fn uses_scope(&self, index: usize) -> bool {
        self.action(index).is_none_or(|a| a.uses_scope)
    }

    /// The name of the action at step `index`.
    pub fn action_name(&self, index: usize) -> Option<&str> {
        match &self.ir.steps.get(index)?.kind {
            StepKind::Action { action, .. } => Some(action),
            _ => None,
        }
    }

    /// Where an action step goes on.
    pub fn next_of(&self, index: usize) -> Option<usize> {
        match &self.ir.steps.get(index)?.kind {
            StepKind::Action { next, .. } | StepKind::Wait { next, .. } => target_index(*next),
            _ => None,
        }
    }

    /// The first cron due time strictly after `after_ms`, in the workflow's time zone.
    pub fn next_cron(&self, after_ms: i64) -> Option<i64> {
        let after = crate::clock::to_time(after_ms).with_timezone(&self.tz);
        self.schedule
            .as_ref()?
            .after(&after)
            .next()
            .map(|t| t.timestamp_millis())
    }
}

/// A step target as an optional index.
pub fn target_index(t: Target) -> Option<usize> {
    match t {
        Target::Step(i) => Some(i),
        Target::End => None,
    }
}

fn parse_tz(name: &str) -> Result<Tz, String> {
    name.parse().map_err(|_| {
        format!("unknown time zone `{name}`; use an IANA name such as `Europe/Paris` or `UTC`")
    })
}

impl std::ops::Deref for RuntimeWorkflow {
    type Target = Workflow;

    /// The IR's fields (`name`, `steps`, `trigger`, …) read through the runtime form.
    fn deref(&self) -> &Workflow {
        &self.ir
    }
}

/// Whether a step reads the run's customer: an argument naming `customer`, a customer-facing
/// action (consent, address), an action given the templates' scope (an action that is not
/// loaded counts as one, as in [`RuntimeWorkflow::uses_scope`]), a branch or a wait's
/// correlation key naming it.
fn step_reads_customer(step: &StepKind, action: Option<&ResolvedAction>) -> bool {
    let customer = mikawaya_dsl::expr::Root::Customer;
    match step {
        StepKind::Action { args, .. } => {
            action.is_none_or(|a| a.channel.is_some() || a.uses_scope)
                || args.values().any(|a| a.reads(customer))
        }
        StepKind::Branch { condition, .. } => condition.node.reads(customer),
        StepKind::Wait { until, at, .. } => {
            until
                .as_ref()
                .is_some_and(|u| u.match_key.node.reads(customer))
                || at.as_ref().is_some_and(|m| {
                    matches!(m.zone, mikawaya_dsl::calendar::Zone::Customer { .. })
                        || m.at.as_ref().is_some_and(|e| e.node.reads(customer))
                })
        }
        StepKind::Exit { .. } | StepKind::Split { .. } => false,
        StepKind::Decide { inputs, rows, .. } => {
            inputs.iter().any(|e| e.node.reads(customer))
                || rows
                    .iter()
                    .any(|r| r.output.values().any(|a| a.reads(customer)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    struct NoActions;

    impl ActionResolver for NoActions {
        fn resolve(&self, _: &str) -> Option<(Arc<dyn Action>, Option<String>)> {
            None
        }
    }

    fn scheduled(tz: &str, cron: &str) -> Arc<Workflow> {
        let text =
            "workflow \"s\" version 1\non schedule \"0 9 * * *\" tz \"Asia/Tokyo\"\ndo log()\n";
        let mut w = mikawaya_dsl::compile_file("s.mkw", text).unwrap();
        w.trigger = Trigger::Schedule {
            cron: cron.into(),
            timezone: tz.into(),
            for_each: None,
        };
        Arc::new(w)
    }

    #[test]
    fn time_zone_and_cron_are_parsed_once_and_bad_ones_refused_with_the_reason() {
        let w = RuntimeWorkflow::build(scheduled("Asia/Tokyo", "0 0 9 * * *"), &NoActions).unwrap();
        assert_eq!(w.tz, chrono_tz::Asia::Tokyo);
        // 2026-01-05 00:00 UTC is 09:00 in Tokyo: the next firing is a day later.
        let after = chrono::Utc
            .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(w.next_cron(after), Some(after + 86_400_000));
        assert!(
            w.action(0).is_none(),
            "an action that is not loaded stays unresolved"
        );

        let err = RuntimeWorkflow::build(scheduled("Mars/Olympus", "0 0 9 * * *"), &NoActions)
            .unwrap_err();
        assert!(
            err.reason.contains("unknown time zone `Mars/Olympus`"),
            "{err}"
        );
        assert!(
            err.to_string().starts_with("s.mkw: workflow `s` version 1"),
            "{err}"
        );
        let err =
            RuntimeWorkflow::build(scheduled("UTC", "every tuesday"), &NoActions).unwrap_err();
        assert!(
            err.reason
                .contains("invalid cron expression `every tuesday`"),
            "{err}"
        );
    }
}
