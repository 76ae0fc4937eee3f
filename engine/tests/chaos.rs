//! The deterministic simulator with crash points over many seeds. `MIKAWAYA_CHAOS_SEEDS` (default
//! 300; CI runs 10,000) and `MIKAWAYA_CHAOS_FROM` choose the seeds; a failure prints each failing
//! seed with the command that replays it.

use mikawaya_engine::tools::chaos::runner::run_seeds;
use mikawaya_engine::tools::chaos::{run_seed, write_workflows, ChaosOptions};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn every_seed_holds_every_invariant() {
    let count = env_u64("MIKAWAYA_CHAOS_SEEDS", 300);
    let from = env_u64("MIKAWAYA_CHAOS_FROM", 0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let summary = run_seeds(from..from + count, threads, &ChaosOptions::default()).unwrap();
    println!("{}", summary.report());
    assert_eq!(summary.seeds, count);
    assert!(
        summary.crashes > 0 && summary.effects > 0,
        "{}",
        summary.report()
    );
    assert!(summary.failures.is_empty(), "{}", summary.report());
}

#[test]
fn a_seed_replays_exactly() {
    let dir = tempfile::tempdir().unwrap();
    write_workflows(dir.path()).unwrap();
    let options = ChaosOptions {
        trace: true,
        ..ChaosOptions::default()
    };
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    };
    let first = runtime().block_on(run_seed(42, dir.path(), &options));
    let second = runtime().block_on(run_seed(42, dir.path(), &options));
    assert!(first.trace.iter().any(|l| l.starts_with("effect ")));
    assert_eq!(first.trace, second.trace);
    let other = runtime().block_on(run_seed(43, dir.path(), &options));
    assert_ne!(first.trace, other.trace);
}
