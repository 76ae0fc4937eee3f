//! The `mikawaya` command line: argument parsing and the commands that need no server.

use crate::serve_args::ServeArgs;
use crate::{bench, chaos, client, insight, intel, plugin, run_control, status, tokens, validate};
use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use mikawaya_dsl::{compile_file, graph, schema};
use mikawaya_engine::serve::serve;
use std::path::PathBuf;

/// mikawaya: workflow automation for CRM.
#[derive(Debug, Parser)]
#[command(name = "mikawaya", version, about)]
pub struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    pub log_json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the engine: HTTP API, event intake, runs, schedules.
    Serve(Box<ServeArgs>),
    /// Check workflow files and print every problem with line and column.
    Validate {
        /// Files or folders (default: workflows/).
        paths: Vec<PathBuf>,
        /// A plugins folder whose actions workflows may use.
        #[arg(long, env = "MIKAWAYA_PLUGINS")]
        plugins: Option<PathBuf>,
    },
    /// Run the rule tests (`*.test.yaml`) on a simulated clock with recorded actions.
    Test {
        /// Test files or folders (default: workflows/).
        paths: Vec<PathBuf>,
    },
    /// Explain, for every workflow listening to an event's type, whether it fired and why not.
    Explain {
        /// The event id.
        event_id: String,
        /// The engine to ask.
        #[command(flatten)]
        remote: client::Remote,
    },
    /// Run a workflow file over the stored event history in a sandbox and report what it would do.
    Replay(insight::ReplayArgs),
    /// Check or try WASM plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Print a workflow's step graph.
    Graph {
        /// The workflow file.
        file: PathBuf,
        /// mermaid, dot or json.
        #[arg(long, default_value = "mermaid")]
        format: String,
    },
    /// Print the JSON Schema of the YAML form; with an event catalog in the workflows folder,
    /// its paths are offered as completions of the expression fields (`when`, `if`, `match`, …).
    Schema {
        /// The workflows folder whose `events/` catalog to read.
        #[arg(long, default_value = "workflows", env = "MIKAWAYA_WORKFLOWS")]
        workflows: PathBuf,
    },
    /// Send one event (or a JSON array of events) to a running engine.
    SendEvent {
        /// The event as JSON; `-` or nothing reads standard input.
        json: Option<String>,
        /// The engine to ask.
        #[command(flatten)]
        remote: client::Remote,
        /// Send as this signed source (`POST /sources/<name>/events`), signing the body with the
        /// secret in `MIKAWAYA_SOURCE_SECRET`.
        #[arg(long)]
        source: Option<String>,
        /// Publish to this NATS server's JetStream instead of calling the engine, each event
        /// to `<prefix>.<type>` with its id as `Nats-Msg-Id`.
        #[arg(long, env = "MIKAWAYA_NATS")]
        nats: Option<String>,
        /// The subject prefix for `--nats`.
        #[arg(long, default_value = "crm.events")]
        nats_prefix: String,
    },
    /// List runs, or show one run's timeline.
    Runs {
        /// A run id: show its timeline.
        id: Option<String>,
        /// Only this customer.
        #[arg(long)]
        customer: Option<String>,
        /// Only this workflow.
        #[arg(long)]
        workflow: Option<String>,
        /// Only this status (active, waiting, completed, exited, failed, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// The engine to ask.
        #[command(flatten)]
        remote: client::Remote,
    },
    /// List dead letters, or send one back for another try.
    DeadLetters {
        /// Retry this dead letter.
        #[arg(long)]
        retry: Option<i64>,
        /// The engine to ask.
        #[command(flatten)]
        remote: client::Remote,
    },
    /// Cancel a run, or in bulk a workflow's active and waiting runs picked by status, customer
    /// and start time.
    Cancel(run_control::RunControlArgs),
    /// Send a failed run back to its failed step, or in bulk a workflow's failed runs.
    Retry(run_control::RunControlArgs),
    /// Create, list and revoke scoped API tokens.
    Token(tokens::TokenArgs),
    /// Whether a running engine keeps up: backlog and its bound, timer lag, push-backs.
    Status(status::StatusArgs),
    /// Show the audit log: who changed what through the API.
    Audit(tokens::AuditArgs),
    /// List tasks created by `task.create`.
    Tasks {
        /// The engine to ask.
        #[command(flatten)]
        remote: client::Remote,
    },
    /// A customer's scores now, each with its latest changes: which event added which points.
    Scores {
        /// The customer id.
        customer: String,
        /// The engine to ask.
        #[command(flatten)]
        remote: client::Remote,
    },
    /// Experiments: per split variant, entries, conversions, rate and its 95% interval.
    Experiments {
        /// Only this workflow's.
        #[arg(long)]
        workflow: Option<String>,
        /// The engine to ask.
        #[command(flatten)]
        remote: client::Remote,
    },
    /// Measure durable event intake over HTTP (starts its own engine unless --url is given).
    Bench(bench::BenchArgs),
    /// Run the deterministic simulator with crash points over many seeds (or replay one).
    Chaos(chaos::ChaosArgs),
    /// Generate a year of CRM history (customers, carts, orders, newsletters, tickets,
    /// contracts, with planted churn): print it as JSON lines or `--send` it to an engine.
    DemoData(intel::DemoDataArgs),
    /// Train and list prediction models (`workflows/models/`).
    #[command(subcommand)]
    Model(intel::ModelCommand),
    /// A customer's predictions and the features behind each.
    Predict {
        /// The customer id.
        customer: String,
        /// The engine to ask.
        #[command(flatten)]
        remote: client::Remote,
    },
    /// The segments with their members at the last sweep; `--sweep` sweeps now.
    Segments {
        /// Sweep now (drifted memberships, RFM breakpoints).
        #[arg(long)]
        sweep: bool,
        /// The engine to ask.
        #[command(flatten)]
        remote: client::Remote,
    },
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Serve(args) => {
            serve(args.into_config()?).await?;
            Ok(0)
        }
        Command::Validate { paths, plugins } => validate::validate(paths, plugins),
        Command::Test { paths } => rule_tests(paths).await,
        Command::Plugin(cmd) => plugin::run(cmd).await,
        Command::Explain { event_id, remote } => {
            insight::explain(&remote.url, remote.token, &event_id).await
        }
        Command::Replay(args) => insight::replay(args).await,
        Command::Graph { file, format } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let w = compile_file(&file.to_string_lossy(), &text)
                .map_err(|d| anyhow::anyhow!("{}", d.render()))?;
            match format.as_str() {
                "mermaid" => print!("{}", graph::mermaid(&w)),
                "dot" => print!("{}", graph::dot(&w)),
                "json" => println!("{}", serde_json::to_string_pretty(&graph::graph(&w))?),
                other => bail!("unknown format `{other}`; use mermaid, dot or json"),
            }
            Ok(0)
        }
        Command::Schema { workflows } => {
            let catalog =
                mikawaya_engine::core::event_types::load_catalog(&workflows).map_err(|p| {
                    let errors = p.errors.iter().map(|d| d.to_plain());
                    anyhow::anyhow!(
                        "{}",
                        errors.chain(p.unreadable).collect::<Vec<_>>().join("\n")
                    )
                })?;
            println!("{}", schema::json_schema_with_paths(&catalog.paths()));
            Ok(0)
        }
        Command::SendEvent {
            json,
            nats: Some(nats),
            nats_prefix,
            ..
        } => {
            let body = client::read_body(json)?;
            let n = mikawaya_engine::nats::publish(&nats, &nats_prefix, &body).await?;
            println!("published {n} event(s) to {nats_prefix}.*");
            Ok(0)
        }
        Command::SendEvent {
            json,
            remote,
            source,
            ..
        } => client::send_event(&remote.url, remote.token, json, source).await,
        Command::Runs {
            id,
            customer,
            workflow,
            status,
            remote,
        } => client::runs(&remote.url, remote.token, id, customer, workflow, status).await,
        Command::DeadLetters { retry, remote } => {
            client::dead_letters(&remote.url, remote.token, retry).await
        }
        Command::Tasks { remote } => client::get_print(&remote.url, remote.token, "/tasks").await,
        Command::Scores { customer, remote } => {
            client::scores(&remote.url, remote.token, &customer).await
        }
        Command::Experiments { workflow, remote } => {
            client::experiments(&remote.url, remote.token, workflow).await
        }
        Command::Cancel(args) => run_control::run(run_control::Change::Cancel, args).await,
        Command::Retry(args) => run_control::run(run_control::Change::Retry, args).await,
        Command::Token(args) => tokens::run(args).await,
        Command::Audit(args) => tokens::audit(args).await,
        Command::Status(args) => status::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Chaos(args) => tokio::task::block_in_place(|| chaos::run(args)),
        Command::DemoData(args) => intel::demo_data(args).await,
        Command::Model(cmd) => intel::model(cmd).await,
        Command::Predict { customer, remote } => intel::predict(remote, &customer).await,
        Command::Segments { sweep, remote } => intel::segments(remote, sweep).await,
    }
}

async fn rule_tests(paths: Vec<PathBuf>) -> anyhow::Result<i32> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("workflows")]
    } else {
        paths
    };
    let files: Vec<PathBuf> = paths
        .iter()
        .flat_map(|p| mikawaya_engine::tools::ruletest::test_files(p))
        .collect();
    if files.is_empty() {
        anyhow::bail!("no *.test.yaml files found in {paths:?}");
    }
    let (mut passed, mut failed) = (0, 0);
    for f in &files {
        let result = mikawaya_engine::tools::ruletest::run_file(f).await;
        print!("{}", result.render());
        let (p, n) = result.counts();
        passed += p;
        failed += n;
    }
    println!("\n{passed} passed, {failed} failed");
    Ok(if failed > 0 { 1 } else { 0 })
}

/// Names of the built-in actions, for validation without a running engine.
pub fn builtin_action_names() -> Vec<String> {
    mikawaya_engine::core::actions::BUILTIN_ACTIONS
        .iter()
        .map(|s| s.to_string())
        .collect()
}
