//! The deterministic simulator with crash points (`mikawaya chaos`). One seed drives the whole
//! engine — intake, matching, the executor, restraint, actions — on the in-memory store and a
//! manual clock through a random schedule: events (some sent twice), consent and suppression
//! changes, clock jumps, concurrent matcher and executor batches, actions that fail, hang or
//! half-succeed, and crashes before or after any store or action call, after which the engine
//! restarts from the store (what a real process keeps across a crash). At the end the world
//! drains with faults off and [`checks`] holds the invariants; effects are checked as they
//! happen ([`actions`]). Everything random comes from the seed, so a failing seed replays.

pub mod actions;
pub mod checks;
pub mod events;
pub mod faults;
pub mod runner;
pub mod world;

use crate::clock::{to_time, Clock, ManualClock};
use crate::core::caps::{CapRule, CapScope, CapSpan, Caps};
use crate::core::{Engine, EngineConfig, EngineError};
use crate::event::parse_event;
use crate::store::{MemoryStore, Store};
use events::{address, any_customer, EventMaker};
use faults::{CrashPoint, CrashingStore, Faults};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use world::{SentEvent, World};

/// The simulator's workflows, written to a folder for the engine to load.
pub const WORKFLOW_FILES: [(&str, &str); 3] = [
    ("sim-cart.yaml", include_str!("workflows/sim-cart.yaml")),
    ("sim-ticket.yaml", include_str!("workflows/sim-ticket.yaml")),
    ("sim-news.yaml", include_str!("workflows/sim-news.yaml")),
];

/// A rolling frequency cap per customer and channel, as the simulation checks it.
#[derive(Debug, Clone, Copy)]
pub struct SimCap {
    /// Messages allowed in the window.
    pub max: u32,
    /// Window length.
    pub window_ms: i64,
}

impl SimCap {
    /// The engine's rule for it.
    pub fn caps(self) -> Caps {
        Caps::one(CapRule {
            scope: CapScope::EachChannel,
            max: self.max,
            span: CapSpan::Rolling(self.window_ms),
        })
    }
}

/// The frequency cap the simulation holds the engine to.
pub const CAP: SimCap = SimCap {
    max: 2,
    window_ms: 3 * 24 * 3_600_000,
};

/// Settings of a simulation.
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    /// Scheduled steps before the drain.
    pub steps: usize,
    /// Keep a line per step and effect (for replaying one seed).
    pub trace: bool,
}

impl Default for ChaosOptions {
    fn default() -> Self {
        ChaosOptions {
            steps: 80,
            trace: false,
        }
    }
}

/// What one seed did and found.
#[derive(Debug, Default)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// Distinct events sent.
    pub events: usize,
    /// Effects the outside world saw.
    pub effects: usize,
    /// Crashes (each followed by a restart).
    pub crashes: usize,
    /// Broken invariants; empty when the seed passed.
    pub violations: Vec<String>,
    /// The trace, when asked for.
    pub trace: Vec<String>,
}

/// Writes the simulator's workflows into `dir`.
pub fn write_workflows(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in WORKFLOW_FILES {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

/// A request from the outside world, retried by its sender until the engine acknowledges it.
#[derive(Debug, Clone)]
enum Request {
    Events(Vec<SentEvent>),
    Consent(&'static str, bool),
    Suppress(String, bool),
}

/// One engine process over the surviving store.
struct Process {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    faults: Arc<Faults>,
}

/// One simulation: the surviving store, the clock and the world.
struct Sim<'a> {
    world: Arc<World>,
    truth: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    workflows: &'a Path,
}

impl Sim<'_> {
    async fn boot(&self) -> Result<Process, String> {
        let faults = Faults::new();
        let store: Arc<dyn Store> =
            Arc::new(CrashingStore::new(self.truth.clone(), faults.clone()));
        store.release_leases().await.map_err(|e| e.to_string())?;
        let clock: Arc<dyn Clock> = self.clock.clone();
        let actions = actions::sim_actions(&self.world, &faults, &self.truth, &self.clock);
        let config = EngineConfig {
            workflows_dir: self.workflows.to_path_buf(),
            action_timeout: Duration::from_secs(10),
            frequency_caps: CAP.caps(),
            batch: 1 + self.world.rng.below(6) as i64,
            secret: "simulation".into(),
            ..EngineConfig::default()
        };
        let engine = Engine::new(store.clone(), clock, actions, config, None);
        let report = engine.reload().await.map_err(|e| e.to_string())?;
        if !report.errors.is_empty() || !report.problems.is_empty() {
            return Err(format!("the simulator's workflows do not load: {report:?}"));
        }
        Ok(Process {
            engine,
            store,
            faults,
        })
    }

    /// Sends a request; `false` when the process crashed before acknowledging it.
    async fn request(&self, p: &Process, request: &Request) -> bool {
        let now = self.clock.now_ms();
        let done = match request {
            Request::Events(events) => {
                let parsed: Vec<_> = events
                    .iter()
                    .map(|e| {
                        parse_event(0, e.body.clone(), now)
                            .expect("the simulator's events are valid")
                    })
                    .collect();
                p.store.insert_events(&parsed, now).await.map(drop)
            }
            Request::Consent(customer, granted) => {
                p.store
                    .set_consent(customer, "email", *granted, "simulator", now)
                    .await
            }
            Request::Suppress(address, true) => p.store.suppress(address, "bounced", now).await,
            Request::Suppress(address, false) => p.store.unsuppress(address).await.map(drop),
        };
        self.world.note(format!(
            "request {request:?}: {}",
            if done.is_ok() { "ok" } else { "lost" }
        ));
        done.is_ok()
    }

    /// One random step of the schedule.
    async fn step(&self, p: &Process, senders: &mut Senders) -> Result<(), EngineError> {
        let rng = &self.world.rng;
        match rng.below(100) {
            0..=24 => self.send_events(p, senders).await,
            25..=36 => {
                let matched = p.engine.process_events().await?;
                self.world.note(format!("matched {matched} event(s)"));
            }
            37..=44 => self.match_pipelined(p, senders).await?,
            45..=66 => {
                let executed = p.engine.process_due().await?;
                self.world.note(format!("executed {executed} timer(s)"));
            }
            67..=74 => {
                // The serve loops at once, with a second executor (as on a second node) that
                // claims a little later, when slow actions may have let leases run out.
                let pause = rng.below(12);
                let later = async {
                    for _ in 0..pause {
                        tokio::task::yield_now().await;
                    }
                    p.engine.process_due().await
                };
                let (matched, executed, again) =
                    tokio::join!(p.engine.process_events(), p.engine.process_due(), later);
                let done = (matched?, executed?, again?);
                self.world
                    .note(format!("matched, executed, executed at once: {done:?}"));
            }
            75..=84 => {
                let jump = *rng.pick(&[
                    1_000,
                    30_000,
                    300_000,
                    3_600_000,
                    6 * 3_600_000,
                    86_400_000,
                    3 * 86_400_000,
                ]);
                self.clock.advance(jump);
                self.world.note(format!("clock +{jump} ms"));
            }
            85..=92 => {
                let request = if rng.chance(70) {
                    Request::Consent(any_customer(rng), rng.chance(60))
                } else {
                    Request::Suppress(address(any_customer(rng)), rng.chance(50))
                };
                if !self.request(p, &request).await {
                    senders.unacked.push(request);
                }
            }
            _ => {
                let point = if rng.chance(50) {
                    CrashPoint::Before
                } else {
                    CrashPoint::After
                };
                let ahead = rng.below(30);
                self.world
                    .note(format!("crash armed {ahead} operations ahead, {point:?}"));
                p.faults.arm(ahead, point);
            }
        }
        Ok(())
    }

    /// Sends one to four events, now and then one sent before (a client's retry).
    async fn send_events(&self, p: &Process, senders: &mut Senders) {
        let rng = &self.world.rng;
        let mut batch = vec![];
        for _ in 0..=rng.below(3) {
            if !senders.sent.is_empty() && rng.chance(10) {
                batch.push(rng.pick(&senders.sent).clone());
            } else {
                let event = senders.maker.next(rng);
                senders.sent.push(event.clone());
                batch.push(event);
            }
        }
        let request = Request::Events(batch);
        if !self.request(p, &request).await {
            senders.unacked.push(request);
        }
    }

    /// The serving matcher's pipeline (`Engine::match_continuously`): a batch is matched, more
    /// events arrive, and the next batch is matched while the first one commits, seeing its
    /// customer changes, enrollments and started runs only through the carry; then it commits.
    async fn match_pipelined(&self, p: &Process, senders: &mut Senders) -> Result<(), EngineError> {
        let mut carry = crate::core::carry::Carry::default();
        let first = p.engine.prepare_events(&mut carry).await?;
        self.send_events(p, senders).await;
        let Some(first) = first else {
            self.world.note("pipelined: nothing to match".into());
            return Ok(());
        };
        let number = first.number();
        let (committed, second) = tokio::join!(
            p.engine.commit_events(first),
            p.engine.prepare_events(&mut carry)
        );
        let first_count = committed?;
        carry.committed(number);
        let second_count = match second? {
            Some(second) => p.engine.commit_events(second).await?,
            None => 0,
        };
        self.world.note(format!(
            "pipelined: matched {first_count} then {second_count} event(s)"
        ));
        Ok(())
    }

    /// Restarts after a crash and re-sends what was not acknowledged.
    async fn restart(&self, unacked: &mut Vec<Request>) -> Result<Process, String> {
        self.world.note("crash: restart from the store".into());
        let p = self.boot().await?;
        for request in std::mem::take(unacked) {
            if !self.request(&p, &request).await {
                return Err("a fresh process lost a request".into());
            }
        }
        Ok(p)
    }

    /// Runs everything due, jumping the clock from one due time to the next, until no work is
    /// left (or a bound is hit, which is a violation: work that never settles).
    async fn drain(&self, p: &Process) {
        for _ in 0..5_000 {
            if let Err(e) = p.engine.run_until_idle().await {
                return self
                    .world
                    .violation(format!("the engine failed while draining: {e}"));
            }
            match p.engine.next_wakeup().await {
                Ok(None) => return,
                Ok(Some(next)) => self.clock.set(to_time(next.max(self.clock.now_ms() + 1))),
                Err(e) => return self.world.violation(format!("next wakeup failed: {e}")),
            }
        }
        self.world
            .violation("work did not settle within 5,000 wakeups".into());
    }
}

/// The simulated clients: the events they make, every event sent, and the requests not
/// acknowledged yet (re-sent after a crash).
#[derive(Default)]
struct Senders {
    maker: EventMaker,
    sent: Vec<SentEvent>,
    unacked: Vec<Request>,
}

/// Runs one seed with the simulator's workflows in `workflows` (see [`write_workflows`]).
/// Needs a Tokio runtime with time paused, so hung actions meet their timeout at once.
pub async fn run_seed(seed: u64, workflows: &Path, options: &ChaosOptions) -> SeedOutcome {
    let start = chrono::DateTime::from_timestamp(1_790_000_000, 0).expect("a valid start");
    let sim = Sim {
        world: Arc::new(World::new(seed, options.trace)),
        truth: Arc::new(MemoryStore::new()),
        clock: Arc::new(ManualClock::seeded(start, seed)),
        workflows,
    };
    let mut outcome = SeedOutcome {
        seed,
        ..SeedOutcome::default()
    };
    let mut senders = Senders::default();
    let result = async {
        let mut p = sim.boot().await?;
        for _ in 0..options.steps {
            let result = sim.step(&p, &mut senders).await;
            if p.faults.is_dead() {
                outcome.crashes += 1;
                p = sim.restart(&mut senders.unacked).await?;
            } else if let Err(e) = result {
                sim.world
                    .violation(format!("the engine failed without a crash: {e}"));
            }
        }
        sim.world.failures.store(false, Ordering::SeqCst);
        let p = sim.restart(&mut senders.unacked).await?;
        sim.drain(&p).await;
        Ok::<(), String>(())
    }
    .await;
    if let Err(e) = result {
        sim.world.violation(e);
    }
    checks::check_end(&sim.world, &*sim.truth, &senders.sent, CAP).await;
    outcome.events = senders.sent.len();
    outcome.effects = sim.world.effects.lock().expect("effects").len();
    outcome.violations = sim.world.violations.lock().expect("violations").clone();
    outcome.trace = sim.world.trace.lock().expect("trace").clone();
    outcome
}
