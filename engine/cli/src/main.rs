//! The `mikawaya` binary: parse arguments, set up logging, hand over to the library.

mod args;
mod bench;
mod chaos;
mod client;
mod insight;
mod intel;
mod log_writer;
mod plugin;
mod run_control;
mod serve_args;
mod status;
mod tokens;
mod validate;

use args::{run, Cli, Command};
use clap::Parser;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of the system allocator: the engine allocates and frees many small JSON
/// values per run, and glibc's malloc and free were a quarter of the executor's instructions
/// (callgrind, `bench --until completed`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // The server logs its work; one-shot commands only warn, so their output stays readable.
    // The simulator's crashes make the engine log errors by design: keep them out of its report.
    let default = match cli.command {
        Command::Serve(_) => "info,sqlx=warn",
        Command::Chaos(_) => "off",
        _ => "warn",
    };
    let filter =
        EnvFilter::try_from_env("MIKAWAYA_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    if cli.log_json {
        builder.with_writer(std::io::stderr).json().init();
    } else {
        builder
            .with_writer(log_writer::EscapedStderr { ansi })
            .init();
    }
    match run(cli).await {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
