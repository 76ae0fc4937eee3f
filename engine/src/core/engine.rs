//! The engine: shared state (store, clock, workflows, actions) and the loop steps that move work
//! forward. Each `process_*` call does one bounded batch, so tests drive it step by step with a
//! manual clock and `serve` drives it from background tasks.

use crate::clock::Clock;
use crate::core::carry::Carry;
use crate::core::checks::CheckLimiter;
use crate::core::context::{Context, EngineConfig, EngineError};
use crate::core::event_types::{check_events, load_catalog, load_holidays};
use crate::core::executor::Executor;
use crate::core::explain::{EventExplanation, Explainer};
use crate::core::loader::{compile_dir, load_compiled, LoadReport};
use crate::core::matcher::{Matcher, Prepared};
use crate::core::metrics::Metrics;
use crate::core::plugins::Plugins;
use crate::core::registry::Registry;
use crate::core::restraint::Restraint;
use crate::core::runtime::ActionResolver;
use crate::core::scheduler::Scheduler;
use crate::store::Store;
use mikawaya_dsl::check::Catalog;
use mikawaya_plugins::ActionRegistry;
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

/// The engine. Its parts are private: the API calls its services ([`crate::core::services`]),
/// the loops call its `process_*` steps, and waking the loops is its own business.
pub struct Engine {
    ctx: Arc<Context>,
    /// Built-in actions (plugins are added on top).
    builtins: ActionRegistry,
    /// Built-ins plus the current plugin builds.
    actions: RwLock<Arc<ActionRegistry>>,
    wake: Notify,
    registry: RwLock<Arc<Registry>>,
    /// The event catalog of the last good load of `events/`.
    event_catalog: RwLock<Arc<mikawaya_dsl::catalog::EventCatalog>>,
    checks: CheckLimiter,
}

/// Finds actions among the current ones, telling which plugin provides each.
struct Resolver<'a> {
    actions: &'a ActionRegistry,
    plugins: Option<&'a Plugins>,
}

impl ActionResolver for Resolver<'_> {
    fn resolve(&self, name: &str) -> Option<(Arc<dyn mikawaya_plugins::Action>, Option<String>)> {
        let plugin = self.plugins.and_then(|p| p.plugin_of(name));
        self.actions.get(name).map(|a| (a, plugin))
    }
}

impl Engine {
    /// An engine with no workflows loaded yet, whose actions are `builtins` plus the WASM plugins
    /// of `plugins` (loaded here).
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        builtins: ActionRegistry,
        config: EngineConfig,
        plugins: Option<Arc<Plugins>>,
    ) -> Arc<Self> {
        let restraint = Restraint::new(
            store.clone(),
            config.frequency_caps.clone(),
            crate::core::send_window::WindowRules::new(config.send_window.clone()),
            config.public_url.clone(),
            config.secret.clone(),
        )
        .with_global_control(config.global_control);
        let commits = crate::core::group_commit::GroupCommit::new(store.clone());
        let customer_reads = crate::core::batcher::CustomerReads::new(store.clone());
        let mut metrics = Metrics::new();
        metrics.register_batches(
            (
                "run_commits",
                "Transactions that committed run transitions.",
            ),
            (
                "run_transitions",
                "Run transitions committed (many per transaction under load).",
            ),
            commits.counters(),
        );
        metrics.register_batches(
            (
                "customer_reads",
                "Reads of customers for executing runs (many runs share one).",
            ),
            ("customers_read", "Customers read for executing runs."),
            customer_reads.counters(),
        );
        let ctx = Arc::new(Context {
            commits,
            customer_reads,
            ready: crate::core::ready::ReadyQueue::new(config.ready_capacity),
            store,
            clock,
            config,
            metrics,
            plugins,
            restraint,
            knowledge: Default::default(),
            last_sweep: Default::default(),
        });
        let engine = Arc::new(Engine {
            ctx,
            actions: RwLock::new(Arc::new(builtins.clone())),
            builtins,
            wake: Notify::new(),
            registry: RwLock::new(Arc::new(Registry::default())),
            event_catalog: RwLock::default(),
            checks: CheckLimiter::default(),
        });
        engine.reload_plugins();
        engine
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.ctx.clock
    }

    /// The parts the engine's own services share.
    pub(crate) fn context(&self) -> &Context {
        &self.ctx
    }

    /// The store, for the engine's own services.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.ctx.store
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.ctx.config
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.ctx.metrics
    }

    /// The restraint rules (consent, suppressions, the cap, unsubscribe links).
    pub fn restraint(&self) -> &Restraint {
        &self.ctx.restraint
    }

    /// The plugins, if a plugins folder is configured.
    pub fn plugins(&self) -> Option<&Arc<Plugins>> {
        self.ctx.plugins.as_ref()
    }

    /// Wakes the loops: new events are stored or a run is due now.
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    /// Resolves when [`Engine::wake`] is called.
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    /// The actions workflows can call now.
    pub fn actions(&self) -> Arc<ActionRegistry> {
        self.actions.read().expect("actions lock").clone()
    }

    /// The WASM plugin whose current build provides action `name`; `None` for a built-in.
    pub fn plugin_of(&self, name: &str) -> Option<String> {
        self.ctx.plugins.as_ref()?.plugin_of(name)
    }

    /// Re-reads the plugins folder, rebuilds the action set and re-resolves the loaded
    /// workflows' actions; returns the plugins' problems.
    pub fn reload_plugins(&self) -> Vec<String> {
        let Some(plugins) = &self.ctx.plugins else {
            return vec![];
        };
        let errors = plugins.reload();
        let mut actions = self.builtins.clone();
        plugins.register(&mut actions);
        *self.actions.write().expect("actions lock") = Arc::new(actions);
        let (registry, problems) = self.registry().relink(&self.resolver(&self.actions()));
        for p in &problems {
            tracing::error!("{p}");
        }
        *self.registry.write().expect("registry lock") = Arc::new(registry);
        errors
    }

    fn resolver<'a>(&'a self, actions: &'a ActionRegistry) -> Resolver<'a> {
        Resolver {
            actions,
            plugins: self.ctx.plugins.as_deref(),
        }
    }

    /// Where CPU-heavy checks of rule files run (off the async threads, a few at a time).
    pub fn checks(&self) -> &CheckLimiter {
        &self.checks
    }

    /// The current workflows.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.read().expect("registry lock").clone()
    }

    /// What workflows are checked against: the action names they may use and the event
    /// catalog in force.
    pub fn catalog(&self) -> Catalog {
        Catalog {
            actions: Some(self.actions().names()),
            events: Some(self.event_catalog()),
            holidays: Some(self.ctx.restraint.windows().holidays()),
        }
    }

    /// (Re)loads the workflows folder; files that fail keep their last good version running.
    pub async fn reload(&self) -> Result<LoadReport, EngineError> {
        let previous = self.registry();
        let actions = self.actions();
        let dir = self.ctx.config.workflows_dir.clone();
        let events_dir = dir.clone();
        let mut report_catalog = LoadReport::default();
        // The catalog first: the workflows are checked against the one now in force (the new
        // one, or the last good one when a catalog file has a problem).
        match self.checks.run(move || load_catalog(&events_dir)).await? {
            Ok(events) => {
                if !events.is_empty() {
                    tracing::info!("event catalog: {} declared event type(s)", events.len());
                }
                *self.event_catalog.write().expect("catalog lock") = Arc::new(events);
            }
            // A bad catalog file keeps the last good catalog checking events, as a bad rule
            // file keeps its last good version running.
            Err(problems) => {
                report_catalog.errors = problems.errors;
                report_catalog.problems = problems.unreadable;
            }
        }
        let holidays_dir = dir.clone();
        match self
            .checks
            .run(move || load_holidays(&holidays_dir))
            .await?
        {
            Ok(holidays) => {
                if !holidays.is_empty() {
                    let names: Vec<&str> = holidays.names().collect();
                    tracing::info!("holiday calendars: {}", names.join(", "));
                }
                self.ctx.restraint.windows().set_holidays(holidays);
            }
            Err(problems) => {
                report_catalog.errors.extend(problems.errors);
                report_catalog.problems.extend(problems.unreadable);
            }
        }
        let knowledge = self.read_knowledge(&dir, &mut report_catalog).await?;
        let catalog = self.catalog();
        let compiled = self.checks.run(move || compile_dir(&dir, &catalog)).await?;
        let (registry, report) = load_compiled(
            compiled,
            &*self.ctx.store,
            Some(&previous),
            &self.resolver(&actions),
            self.ctx.clock.now_ms(),
        )
        .await?;
        let tracking = |k: crate::core::knowledge::Knowledge| {
            let k = knowledge.unwrap_or(k);
            k.tracking(registry.aggregates())
        };
        self.ctx.update_knowledge(tracking);
        *self.registry.write().expect("registry lock") = Arc::new(registry);
        let mut report = report;
        report.errors.extend(report_catalog.errors);
        report.problems.extend(report_catalog.problems);
        report.notes.extend(report_catalog.notes);
        for d in &report.errors {
            tracing::error!(file = %d.file, "file rejected:\n{}", d.to_plain());
        }
        for p in &report.problems {
            tracing::error!("{p}");
        }
        for n in &report.notes {
            tracing::warn!("{n}");
        }
        tracing::info!(active = ?report.active, "workflows loaded");
        Ok(report)
    }

    /// Reads the scores (against the catalog in force) and segments of `dir`; `None` when a
    /// file has a problem (it goes into `report`): the last good declarations stay in force.
    async fn read_knowledge(
        &self,
        dir: &std::path::Path,
        report: &mut LoadReport,
    ) -> Result<Option<crate::core::knowledge::Knowledge>, EngineError> {
        let (dir, events) = (dir.to_path_buf(), self.event_catalog());
        let now = self.ctx.knowledge();
        let (rfm, trained) = (now.rfm.clone(), now.trained.clone());
        let read = self
            .checks
            .run(move || crate::core::event_types::load_knowledge(&dir, &events))
            .await?;
        Ok(match read {
            Ok(crate::core::event_types::Declarations {
                scores,
                segments,
                models,
            }) => {
                let names = |v: Vec<&str>| v.join(", ");
                if !scores.is_empty() {
                    tracing::info!(
                        "scores: {}",
                        names(scores.iter().map(|s| s.name.as_str()).collect())
                    );
                }
                if !segments.is_empty() {
                    tracing::info!(
                        "segments: {}",
                        names(segments.iter().map(|s| s.name.as_str()).collect())
                    );
                }
                Some(crate::core::knowledge::Knowledge {
                    scores,
                    segments,
                    rfm,
                    models,
                    trained,
                    ..Default::default()
                })
            }
            Err(problems) => {
                report.errors.extend(problems.errors);
                report.problems.extend(problems.unreadable);
                None
            }
        })
    }

    /// The knowledge in force: scores, segments, RFM.
    pub fn knowledge(&self) -> Arc<crate::core::knowledge::Knowledge> {
        self.ctx.knowledge()
    }

    /// The event catalog in force.
    pub fn event_catalog(&self) -> Arc<mikawaya_dsl::catalog::EventCatalog> {
        self.event_catalog.read().expect("catalog lock").clone()
    }

    /// Checks parsed events against the event catalog (and, with `--strict-events`, that their
    /// types are declared) before they are stored.
    pub fn check_events(
        &self,
        events: &[crate::event::Event],
    ) -> Result<(), crate::event::EventError> {
        check_events(&self.event_catalog(), self.ctx.config.strict_events, events)
    }

    /// Matches one batch of stored events; returns how many were processed.
    pub async fn process_events(&self) -> Result<usize, EngineError> {
        Matcher::new(&self.ctx, &self.registry()).process().await
    }

    /// Matches the next batch of stored events, seen through `carry` (the batches matched
    /// before it and not committed yet), without writing it; see [`Engine::commit_events`].
    pub async fn prepare_events(&self, carry: &mut Carry) -> Result<Option<Prepared>, EngineError> {
        Matcher::new(&self.ctx, &self.registry())
            .prepare(carry)
            .await
    }

    /// Writes a batch [`Engine::prepare_events`] matched; batches must be committed in the
    /// order they were prepared. Returns how many events it processed.
    pub async fn commit_events(&self, prepared: Prepared) -> Result<usize, EngineError> {
        Matcher::new(&self.ctx, &self.registry())
            .commit(prepared)
            .await
    }

    /// Matches stored events until `stop` turns true, pipelined: the next batch is matched
    /// while the previous one's writes commit, and sees what they change through a [`Carry`];
    /// batches still commit one after the other, in order. When a batch fails to commit, the
    /// one matched meanwhile is dropped and matching starts again from the store.
    pub async fn match_continuously(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut carry = Carry::default();
        let mut next: Option<Prepared> = None;
        while !*stop.borrow() {
            let Some(current) = next.take() else {
                match self.prepare_events(&mut carry).await {
                    Ok(Some(prepared)) => next = Some(prepared),
                    Ok(None) => self.idle(&mut stop).await,
                    Err(e) => {
                        tracing::error!("matching events: {e}");
                        carry.reset();
                        self.idle(&mut stop).await;
                    }
                }
                continue;
            };
            let number = current.number();
            let (committed, following) =
                tokio::join!(self.commit_events(current), self.prepare_events(&mut carry));
            if let Err(e) = committed {
                tracing::error!("writing matched events: {e}");
                carry.reset();
                self.idle(&mut stop).await;
                continue;
            }
            carry.committed(number);
            self.wake();
            next = following.unwrap_or_else(|e| {
                tracing::error!("matching events: {e}");
                carry.reset();
                None
            });
        }
    }

    /// Waits for new events, room in the ready queue, `stop`, or at most 250 ms.
    async fn idle(&self, stop: &mut tokio::sync::watch::Receiver<bool>) {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(250)) => {}
            _ = self.woken() => {}
            _ = self.ready_taken() => {}
            _ = stop.changed() => {}
        }
    }

    /// Fires due cron schedules and date triggers; returns how many firings were handled.
    pub async fn process_schedules(&self) -> Result<usize, EngineError> {
        Scheduler::new(&self.ctx, &self.registry()).process().await
    }

    /// Executes one batch of due timers concurrently; returns how many were handled.
    pub async fn process_due(&self) -> Result<usize, EngineError> {
        Executor::new(self.ctx.clone(), self.registry())
            .process()
            .await
    }

    /// Executes due work until `stop` turns true, pipelined: up to `max_in_flight` runs execute
    /// at once, and as each one ends the next is taken (ready runs from the matcher at once,
    /// timers from the store when woken, when the next one is due, or while claims come back
    /// full), instead of waiting for a whole batch to finish. In-flight runs finish before it
    /// returns.
    pub async fn execute_continuously(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        use std::time::Duration;
        use tokio::time::Instant;
        let max = self.ctx.config.max_in_flight.max(1);
        let mut running = tokio::task::JoinSet::new();
        let (mut claim, mut next_check) = (true, Instant::now());
        while !*stop.borrow() {
            let room = max - running.len();
            if room > 0 {
                let executor = Executor::new(self.ctx.clone(), self.registry());
                let claim_now = claim || Instant::now() >= next_check;
                match executor.next_work(room, claim_now).await {
                    Ok((work, full)) => {
                        for w in work {
                            executor.spawn(&mut running, w);
                        }
                        if claim_now {
                            claim = full;
                            next_check = Instant::now() + self.until_next_timer().await;
                        }
                    }
                    Err(e) => {
                        tracing::error!("claiming due work: {e}");
                        (claim, next_check) = (false, Instant::now() + Duration::from_millis(250));
                    }
                }
            }
            // With every slot taken only an ending run (or the stop) is worth waking for.
            let has_room = running.len() < max;
            tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => crate::core::executor::report(done),
                _ = self.ctx.ready.added(), if has_room => {}
                _ = self.woken(), if has_room => claim = true,
                _ = tokio::time::sleep_until(next_check), if has_room => claim = true,
                _ = stop.changed() => {}
            }
        }
        while let Some(done) = running.join_next().await {
            crate::core::executor::report(done);
        }
    }

    /// How long until the store's next timer is due (between 5 and 250 ms).
    async fn until_next_timer(&self) -> std::time::Duration {
        let now = self.ctx.clock.now_ms();
        let ms = match self.next_timer().await {
            Ok(Some(due)) => (due - now).clamp(5, 250),
            _ => 250,
        };
        std::time::Duration::from_millis(ms as u64)
    }

    /// Work not yet done: events not matched, runs ready or executing.
    pub fn backlog(&self) -> u64 {
        self.ctx.backlog()
    }

    /// Resolves when the executor took runs from its ready queue (room for the matcher).
    pub async fn ready_taken(&self) {
        self.ctx.ready.taken().await
    }

    /// New runs waiting in the executor's ready queue.
    pub fn ready_runs(&self) -> usize {
        self.ctx.ready.len()
    }

    /// `(transactions, transitions)` of run commits so far.
    pub fn commit_counts(&self) -> (u64, u64) {
        self.ctx.commits.counts()
    }

    /// Why each workflow listening to event `id` did or did not start; `None` without such an event.
    pub async fn explain_event(&self, id: &str) -> Result<Option<EventExplanation>, EngineError> {
        Explainer::new(&self.ctx, &self.registry())
            .explain(id)
            .await
    }

    /// Runs every kind of work until nothing is due at the clock's current time.
    pub async fn run_until_idle(&self) -> Result<(), EngineError> {
        loop {
            let mut done = self.process_events().await?;
            done += self.process_schedules().await?;
            done += self.process_due().await?;
            if done == 0 {
                return Ok(());
            }
        }
    }

    /// When the next run timer is due (or its lease ends).
    pub async fn next_timer(&self) -> Result<Option<crate::clock::Millis>, EngineError> {
        Ok(self.ctx.store.next_due().await?)
    }

    /// The earliest time at which something is due: a timer, a date trigger or a cron schedule.
    pub async fn next_wakeup(&self) -> Result<Option<crate::clock::Millis>, EngineError> {
        let store = &self.ctx.store;
        let mut next = store.next_due().await?;
        let mut consider = |t: Option<i64>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: i64| n.min(t)));
            }
        };
        consider(store.date_triggers().await?.first().map(|d| d.due_at));
        for w in self.registry().scheduled() {
            consider(store.schedule_next(&w.name).await?);
        }
        Ok(next)
    }
}
