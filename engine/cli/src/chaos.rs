//! `mikawaya chaos`: the deterministic simulator with crash points, over many seeds or one.

use clap::Args;
use mikawaya_engine::tools::chaos::runner::run_seeds;
use mikawaya_engine::tools::chaos::ChaosOptions;

/// Arguments of `mikawaya chaos`.
#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// Run this one seed (a failing seed's replay).
    #[arg(long, conflicts_with_all = ["seeds", "from"])]
    seed: Option<u64>,
    /// How many seeds to run.
    #[arg(long, default_value_t = 1000)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Scheduled steps per seed before the final drain.
    #[arg(long, default_value_t = ChaosOptions::default().steps)]
    steps: usize,
    /// Threads (default: the machine's cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Print what happened, step by step (with --seed).
    #[arg(long)]
    trace: bool,
}

/// Runs the seeds; exit code 1 when any seed broke an invariant.
pub fn run(args: ChaosArgs) -> anyhow::Result<i32> {
    let options = ChaosOptions {
        steps: args.steps,
        trace: args.trace && args.seed.is_some(),
    };
    let seeds = match args.seed {
        Some(seed) => seed..seed + 1,
        None => args.from..args.from + args.seeds,
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let summary = run_seeds(seeds, threads, &options)?;
    for outcome in summary.failures.iter().chain(&summary.traced) {
        for line in &outcome.trace {
            println!("{line}");
        }
    }
    print!("{}", summary.report());
    Ok(i32::from(!summary.failures.is_empty()))
}
