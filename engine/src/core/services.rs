//! What the API (and the tools) ask of the engine, one method per question or command. Handlers
//! call these and never the store; a command that makes work due wakes the loops itself.

use crate::core::context::EngineError;
use crate::core::runtime::RuntimeWorkflow;
use crate::core::Engine;
use crate::store::{
    AuditEntry, DeadLetterRow, NodeRow, RejectedMessage, RunFilter, RunRow, StepCount, StepStat,
    Suppression, TaskRow, TimelineEntry, TokenRow, WorkflowCounts,
};
use serde_json::Value;
use std::sync::Arc;

/// A day in milliseconds: the window of "recent" run counts.
const DAY_MS: i64 = 86_400_000;

/// A segment as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SegmentView {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Who belongs, as written.
    pub when: String,
    /// Members at the last sweep (none before the first).
    pub members: Option<usize>,
}

/// A declared model as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ModelView {
    /// Its name (`customer.predict.<name>`).
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Feature names and expressions, as declared.
    pub features: Vec<(String, String)>,
    /// The version in force, if trained.
    pub trained: Option<crate::core::predictions::TrainedView>,
}

/// The segments in force and the last sweep.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SegmentsOverview {
    /// Each declared segment.
    pub segments: Vec<SegmentView>,
    /// What the last sweep found.
    pub last_sweep: Option<crate::core::sweep::SweepReport>,
}

impl Engine {
    /// The engine nodes sharing the store (none listed on SQLite: one process).
    pub async fn nodes(&self) -> Result<Vec<NodeRow>, EngineError> {
        Ok(self.store().nodes().await?)
    }

    /// Messages an intake refused, newest first.
    pub async fn rejected_messages(&self, limit: i64) -> Result<Vec<RejectedMessage>, EngineError> {
        Ok(self.store().rejected_messages(limit).await?)
    }

    /// The active version of workflow `name`.
    pub fn active_workflow(&self, name: &str) -> Option<Arc<RuntimeWorkflow>> {
        self.registry().active(name)
    }

    /// Each active workflow with its run counts of the last 24 hours.
    pub async fn workflow_summaries(
        &self,
    ) -> Result<Vec<(Arc<RuntimeWorkflow>, WorkflowCounts)>, EngineError> {
        let since = self.clock().now_ms() - DAY_MS;
        let counts = self.store().workflow_counts(since).await?;
        Ok(self
            .registry()
            .active_workflows()
            .map(|w| {
                let c = counts
                    .iter()
                    .find(|(n, _)| *n == w.name)
                    .map(|(_, c)| c.clone())
                    .unwrap_or_default();
                (w.clone(), c)
            })
            .collect())
    }

    /// Compiles a draft (`file` names it and picks the syntax) against the current actions, off
    /// the async threads and a few at a time: the workflow, or every problem.
    pub async fn check_draft(
        &self,
        file: String,
        source: String,
    ) -> Result<Result<mikawaya_dsl::Workflow, mikawaya_dsl::Diagnostics>, EngineError> {
        let catalog = self.catalog();
        let syntax = mikawaya_dsl::Syntax::of_file(&file).unwrap_or(mikawaya_dsl::Syntax::Yaml);
        Ok(self
            .checks()
            .run(move || mikawaya_dsl::compile_source_with(&file, &source, syntax, &catalog))
            .await?)
    }

    /// The source file of workflow `w`, as it is on disk now.
    pub async fn workflow_source(&self, w: &RuntimeWorkflow) -> Result<String, EngineError> {
        tokio::fs::read_to_string(&w.file)
            .await
            .map_err(|e| EngineError::Workflows(format!("{}: {e}", w.file)))
    }

    /// Replaces the file of workflow `w` with `source` (written to a temporary file, then renamed
    /// over it, so a reader never sees half a file) and reloads: the change becomes a new version
    /// while runs in flight keep theirs. The caller has checked the source.
    pub async fn save_workflow_source(
        &self,
        w: &RuntimeWorkflow,
        source: &str,
    ) -> Result<crate::core::loader::LoadReport, EngineError> {
        let tmp = format!("{}.saving", w.file);
        let written = match tokio::fs::write(&tmp, source).await {
            Ok(()) => tokio::fs::rename(&tmp, &w.file).await,
            Err(e) => Err(e),
        };
        written.map_err(|e| EngineError::Workflows(format!("{}: {e}", w.file)))?;
        self.reload().await
    }

    /// Unfinished runs per step of the active version of `w`.
    pub async fn runs_at_steps(&self, w: &RuntimeWorkflow) -> Result<Vec<StepCount>, EngineError> {
        let counts = self.store().step_counts(&w.name).await?;
        Ok(counts
            .into_iter()
            .filter(|c| c.version == w.version)
            .collect())
    }

    /// Timeline counts per step over the last `period` ms (all time: `None`), and the latest
    /// timeline lines, of the active version of `w`.
    pub async fn step_activity(
        &self,
        w: &RuntimeWorkflow,
        period: Option<i64>,
        recent: i64,
    ) -> Result<(Vec<StepStat>, Vec<(String, TimelineEntry)>), EngineError> {
        let since = period.map_or(0, |p| self.clock().now_ms() - p);
        let stats = self.store().step_stats(&w.name, w.version, since).await?;
        let lines = self
            .store()
            .recent_steps(&w.name, w.version, recent)
            .await?;
        Ok((stats, lines))
    }

    /// Runs, newest first.
    pub async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRow>, EngineError> {
        Ok(self.store().runs(filter).await?)
    }

    /// How many timers are due now and not taken, counted up to `cap`.
    pub async fn due_timers(&self, cap: i64) -> Result<u64, EngineError> {
        Ok(self.store().due_count(self.clock().now_ms(), cap).await?)
    }

    /// One run.
    pub async fn run(&self, id: &str) -> Result<Option<RunRow>, EngineError> {
        Ok(self.store().run(id).await?)
    }

    /// One run and its timeline.
    pub async fn run_with_timeline(
        &self,
        id: &str,
    ) -> Result<Option<(RunRow, Vec<TimelineEntry>)>, EngineError> {
        let Some(run) = self.store().run(id).await? else {
            return Ok(None);
        };
        Ok(Some((run, self.store().timeline(id).await?)))
    }

    /// Tasks, newest first.
    pub async fn tasks(&self, limit: i64) -> Result<Vec<TaskRow>, EngineError> {
        Ok(self.store().tasks(limit).await?)
    }

    /// Dead letters, newest first.
    pub async fn dead_letters(&self, limit: i64) -> Result<Vec<DeadLetterRow>, EngineError> {
        Ok(self.store().dead_letters(limit).await?)
    }

    /// Sends a dead letter's run back to its failed step and wakes the executor; the run id, or
    /// `None` when there is no such letter or it was retried already.
    pub async fn retry_dead_letter(&self, id: i64) -> Result<Option<String>, EngineError> {
        let run = self
            .store()
            .retry_dead_letter(id, self.clock().now_ms())
            .await?;
        if run.is_some() {
            self.wake();
        }
        Ok(run)
    }

    /// A customer's merged attributes with `id`, as expressions see them.
    pub async fn customer_view(&self, id: &str) -> Result<Option<Value>, EngineError> {
        let attrs = self.store().customer(id).await?;
        let now = self.clock().now_ms();
        let k = self.knowledge();
        Ok(attrs.map(|a| crate::core::knowledge::customer_view(&k, id, a, now)))
    }

    /// Runs a segment sweep now ([`crate::core::sweep`]) and wakes the matcher for its rechecks.
    pub async fn sweep_segments(&self) -> Result<crate::core::sweep::SweepReport, EngineError> {
        let report = crate::core::sweep::sweep(self.context(), self.clock().now_ms()).await?;
        self.wake();
        Ok(report)
    }

    /// The scheduled sweep, due every `every`: nodes sharing a store take turns, one sweep per
    /// period among them ([`crate::core::sweep::claim_turn`]); a node whose turn it was not
    /// puts the breakpoints the sweeping node kept in force instead. `None`: not its turn.
    pub async fn scheduled_sweep(
        &self,
        every: std::time::Duration,
    ) -> Result<Option<crate::core::sweep::SweepReport>, EngineError> {
        let now = self.clock().now_ms();
        if !crate::core::sweep::claim_turn(&*self.context().store, now, every).await? {
            crate::core::sweep::restore_rfm(self.context()).await?;
            return Ok(None);
        }
        self.sweep_segments().await.map(Some)
    }

    /// Puts what the store keeps of the last sweep (RFM breakpoints) and of training (each
    /// model's current version) in force.
    pub async fn restore_knowledge(&self) -> Result<(), EngineError> {
        crate::core::sweep::restore_rfm(self.context()).await?;
        crate::core::predictions::restore(self.context()).await
    }

    /// Trains model `name` on the stored history now; the new version is put in force.
    pub async fn train_model(
        &self,
        name: &str,
    ) -> Result<crate::core::predictions::TrainedView, EngineError> {
        crate::core::predictions::train(self.context(), name, self.clock().now_ms()).await
    }

    /// The declared models, each with its current trained version (none before training).
    pub fn models_overview(&self) -> Vec<ModelView> {
        let k = self.knowledge();
        let trained = crate::core::predictions::trained(&k);
        k.models
            .iter()
            .map(|m| ModelView {
                name: m.name.clone(),
                description: m.description.clone(),
                features: m
                    .features
                    .iter()
                    .map(|(n, e)| (n.clone(), e.source.clone()))
                    .collect(),
                trained: trained.iter().find(|t| t.name == m.name).cloned(),
            })
            .collect()
    }

    /// A customer's predictions by each trained model, with every feature's effect; `None`
    /// for an unknown customer.
    pub async fn customer_predictions(
        &self,
        id: &str,
    ) -> Result<Option<Vec<crate::core::predictions::PredictionView>>, EngineError> {
        let Some(attrs) = self.store().customer(id).await? else {
            return Ok(None);
        };
        let k = self.knowledge();
        Ok(Some(crate::core::predictions::predictions(
            &k,
            id,
            attrs,
            self.clock().now_ms(),
        )))
    }

    /// The segments in force, each with its condition and its member count at the last sweep,
    /// and the last sweep's report.
    pub fn segments_overview(&self) -> SegmentsOverview {
        let k = self.knowledge();
        let last = self
            .context()
            .last_sweep
            .lock()
            .expect("sweep lock")
            .clone();
        SegmentsOverview {
            segments: k
                .segments
                .iter()
                .map(|d| SegmentView {
                    name: d.name.clone(),
                    description: d.description.clone(),
                    when: d.condition.source.clone(),
                    members: last
                        .as_ref()
                        .map(|r| r.members.get(&d.name).copied().unwrap_or(0)),
                })
                .collect(),
            last_sweep: last,
        }
    }

    /// A customer's scores now: every declared score (0 until an event earns points) and any
    /// stored one no longer declared, with the latest changes; `None` for an unknown customer.
    pub async fn customer_scores(
        &self,
        id: &str,
    ) -> Result<Option<Vec<crate::core::scoring::ScoreView>>, EngineError> {
        let Some(attrs) = self.store().customer(id).await? else {
            return Ok(None);
        };
        let changes = self
            .store()
            .score_changes(id, crate::core::scoring::HISTORY)
            .await?;
        Ok(Some(crate::core::scoring::views(
            &self.knowledge().scores,
            &attrs,
            &changes,
            self.clock().now_ms(),
        )))
    }

    /// The suppression list, newest first.
    pub async fn suppressions(&self) -> Result<Vec<Suppression>, EngineError> {
        Ok(self.store().suppressions().await?)
    }

    /// Suppresses an address.
    pub async fn suppress(&self, address: &str, reason: &str) -> Result<(), EngineError> {
        let now = self.clock().now_ms();
        Ok(self.store().suppress(address, reason, now).await?)
    }

    /// Lifts a suppression; `false` when there was none.
    pub async fn unsuppress(&self, address: &str) -> Result<bool, EngineError> {
        Ok(self.store().unsuppress(address).await?)
    }

    /// The customer and channel an unsubscribe token names, if its signature holds.
    pub fn unsubscribe_target(&self, token: &str) -> Option<(String, String)> {
        self.restraint().unsubscribe_target(token)
    }

    /// Records the opt-out an unsubscribe token asks for; the customer and channel, or `None`
    /// for a token that is not ours.
    pub async fn unsubscribe(&self, token: &str) -> Result<Option<(String, String)>, EngineError> {
        let Some((customer, channel)) = self.unsubscribe_target(token) else {
            return Ok(None);
        };
        let now = self.clock().now_ms();
        self.store()
            .set_consent(&customer, &channel, false, "unsubscribe link", now)
            .await?;
        tracing::info!(%customer, %channel, "customer unsubscribed");
        Ok(Some((customer, channel)))
    }
}

impl Engine {
    /// Creates the API token `name` with `scopes`: its row and the token itself, which is shown
    /// this once (only its hash is kept). A bad or taken name or an unknown scope is refused.
    pub async fn create_token(
        &self,
        name: &str,
        scopes: &[String],
    ) -> Result<(TokenRow, String), EngineError> {
        use crate::core::access::{hash_token, new_token, valid_token_name, Scope};
        if !valid_token_name(name) {
            return Err(EngineError::Input(format!(
                "`{name}` cannot name a token: use 1 to 64 of a-z, 0-9, `-`, `_` and `.`"
            )));
        }
        let scopes = Scope::parse_all(scopes).map_err(EngineError::Input)?;
        let token = new_token();
        let row = TokenRow {
            name: name.into(),
            hash: hash_token(&token),
            scopes: scopes.iter().map(|s| s.as_str().to_string()).collect(),
            created_at: self.clock().now_ms(),
            revoked_at: None,
        };
        if !self.store().create_token(&row).await? {
            return Err(EngineError::Conflict(format!(
                "a token named `{name}` exists (names are not reused, even after a revocation, so the name always means one holder)"
            )));
        }
        Ok((row, token))
    }

    /// Every API token (without its secret), oldest first.
    pub async fn tokens(&self) -> Result<Vec<TokenRow>, EngineError> {
        Ok(self.store().tokens().await?)
    }

    /// Revokes the API token `name`; `false` when there is no such active token.
    pub async fn revoke_token(&self, name: &str) -> Result<bool, EngineError> {
        Ok(self
            .store()
            .revoke_token(name, self.clock().now_ms())
            .await?)
    }
}

impl Engine {
    /// Records that `actor` did `action` on `target` in the audit log.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: Value,
    ) -> Result<(), EngineError> {
        let entry = AuditEntry {
            id: 0,
            at: self.clock().now_ms(),
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            detail,
        };
        Ok(self.store().record_audit(&entry).await?)
    }

    /// The latest `limit` audit entries, newest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>, EngineError> {
        Ok(self.store().audit_log(limit).await?)
    }
}
