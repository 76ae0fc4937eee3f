//! Many seeds at once: each thread runs its share on its own single-threaded Tokio runtime with
//! time paused, so every seed is deterministic and hung actions time out without waiting.

use super::{run_seed, write_workflows, ChaosOptions, SeedOutcome};
use std::ops::Range;
use std::time::{Duration, Instant};

/// What a batch of seeds found.
#[derive(Debug, Default)]
pub struct Summary {
    /// Seeds run.
    pub seeds: u64,
    /// Seeds that broke an invariant (at most the first 20 are kept).
    pub failures: Vec<SeedOutcome>,
    /// Seeds that passed with their trace kept (`--seed N --trace`).
    pub traced: Vec<SeedOutcome>,
    /// Events sent over all seeds.
    pub events: usize,
    /// Effects seen over all seeds.
    pub effects: usize,
    /// Crashes over all seeds.
    pub crashes: usize,
    /// Wall time.
    pub elapsed: Duration,
}

/// The one-line command that replays `seed` with its trace.
pub fn replay_command(seed: u64) -> String {
    format!("cargo run -p mikawaya-cli -- chaos --seed {seed} --trace")
}

/// Runs every seed of `seeds` on `threads` threads.
pub fn run_seeds(
    seeds: Range<u64>,
    threads: usize,
    options: &ChaosOptions,
) -> std::io::Result<Summary> {
    let dir = std::env::temp_dir().join(format!("mikawaya-chaos-{}", std::process::id()));
    write_workflows(&dir)?;
    let started = Instant::now();
    let threads = threads.max(1) as u64;
    let parts: Vec<Summary> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (dir, seeds) = (&dir, seeds.clone());
                scope.spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_time()
                        .start_paused(true)
                        .build()
                        .expect("a Tokio runtime");
                    let mut part = Summary::default();
                    for seed in seeds.skip(t as usize).step_by(threads as usize) {
                        let outcome = runtime.block_on(run_seed(seed, dir, options));
                        part.add(outcome);
                    }
                    part
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a simulator thread"))
            .collect()
    });
    let _ = std::fs::remove_dir_all(&dir);
    let mut summary = Summary::default();
    for part in parts {
        summary.seeds += part.seeds;
        summary.events += part.events;
        summary.effects += part.effects;
        summary.crashes += part.crashes;
        summary.failures.extend(part.failures);
        summary.traced.extend(part.traced);
    }
    summary.failures.sort_by_key(|f| f.seed);
    summary.failures.truncate(20);
    summary.elapsed = started.elapsed();
    Ok(summary)
}

impl Summary {
    fn add(&mut self, outcome: SeedOutcome) {
        self.seeds += 1;
        self.events += outcome.events;
        self.effects += outcome.effects;
        self.crashes += outcome.crashes;
        if outcome.violations.is_empty() {
            if !outcome.trace.is_empty() {
                self.traced.push(outcome);
            }
        } else if self.failures.len() < 20 {
            self.failures.push(outcome);
        }
    }

    /// A report: the totals, then each failing seed with its first violations and replay command.
    pub fn report(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut text = format!(
            "{} seeds in {:.1} s ({:.0} seeds/s): {} events, {} effects, {} crashes; {} failed\n",
            self.seeds,
            secs,
            self.seeds as f64 / secs,
            self.events,
            self.effects,
            self.crashes,
            self.failures.len()
        );
        for f in &self.failures {
            text.push_str(&format!("seed {} failed:\n", f.seed));
            for v in f.violations.iter().take(5) {
                text.push_str(&format!("  {v}\n"));
            }
            text.push_str(&format!("  replay: {}\n", replay_command(f.seed)));
        }
        text
    }
}
