//! The `mikawaya` command line: argument parsing and the commands that need no server.

use crate::serve::{serve, ServeOptions};
use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use mikawaya_dsl::{compile_file, graph, schema};
use mikawaya_plugins::builtin::EmailConfig;
use std::path::PathBuf;
use std::time::Duration;

pub mod bench;
mod client;

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
    Serve {
        /// Folder of workflow files (.yaml, .mkw).
        #[arg(long, default_value = "workflows", env = "MIKAWAYA_WORKFLOWS")]
        workflows: PathBuf,
        /// SQLite database file (created if missing).
        #[arg(long, default_value = "mikawaya.db", env = "MIKAWAYA_DB")]
        db: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", env = "MIKAWAYA_LISTEN")]
        listen: String,
        /// Bearer token required by the API (none: open, for local use).
        #[arg(long, env = "MIKAWAYA_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// SMTP server, e.g. `smtp://user:pass@host:587?tls=required`; without it mail goes to --outbox.
        #[arg(long, env = "MIKAWAYA_SMTP_URL", hide_env_values = true)]
        smtp_url: Option<String>,
        /// Sender of emails.
        #[arg(
            long,
            default_value = "mikawaya <noreply@localhost>",
            env = "MIKAWAYA_MAIL_FROM"
        )]
        mail_from: String,
        /// Folder for .eml files when no SMTP server is set.
        #[arg(long, default_value = "outbox", env = "MIKAWAYA_OUTBOX")]
        outbox: PathBuf,
        /// Do not reload when workflow files change (SIGHUP still reloads).
        #[arg(long)]
        no_watch: bool,
    },
    /// Check workflow files and print every problem with line and column.
    Validate {
        /// Files or folders (default: workflows/).
        paths: Vec<PathBuf>,
    },
    /// Print a workflow's step graph.
    Graph {
        /// The workflow file.
        file: PathBuf,
        /// mermaid, dot or json.
        #[arg(long, default_value = "mermaid")]
        format: String,
    },
    /// Print the JSON Schema of the YAML form.
    Schema,
    /// Send one event (or a JSON array of events) to a running engine.
    SendEvent {
        /// The event as JSON; `-` or nothing reads standard input.
        json: Option<String>,
        /// Engine URL.
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "MIKAWAYA_URL")]
        url: String,
        /// Bearer token.
        #[arg(long, env = "MIKAWAYA_TOKEN", hide_env_values = true)]
        token: Option<String>,
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
        /// Only this status (active, waiting, completed, exited, failed).
        #[arg(long)]
        status: Option<String>,
        /// Engine URL.
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "MIKAWAYA_URL")]
        url: String,
        /// Bearer token.
        #[arg(long, env = "MIKAWAYA_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// List dead letters, or send one back for another try.
    DeadLetters {
        /// Retry this dead letter.
        #[arg(long)]
        retry: Option<i64>,
        /// Engine URL.
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "MIKAWAYA_URL")]
        url: String,
        /// Bearer token.
        #[arg(long, env = "MIKAWAYA_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// List tasks created by `task.create`.
    Tasks {
        /// Engine URL.
        #[arg(long, default_value = "http://127.0.0.1:8080", env = "MIKAWAYA_URL")]
        url: String,
        /// Bearer token.
        #[arg(long, env = "MIKAWAYA_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Measure durable event intake over HTTP (starts its own engine unless --url is given).
    Bench(bench::BenchArgs),
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Serve {
            workflows,
            db,
            listen,
            token,
            smtp_url,
            mail_from,
            outbox,
            no_watch,
        } => {
            let email = EmailConfig {
                smtp_url,
                outbox,
                from: mail_from,
                timeout: Duration::from_secs(30),
            };
            serve(ServeOptions {
                workflows,
                db,
                listen,
                token,
                email,
                watch: !no_watch,
            })
            .await?;
            Ok(0)
        }
        Command::Validate { paths } => validate(paths),
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
        Command::Schema => {
            println!("{}", schema::json_schema());
            Ok(0)
        }
        Command::SendEvent { json, url, token } => client::send_event(&url, token, json).await,
        Command::Runs {
            id,
            customer,
            workflow,
            status,
            url,
            token,
        } => client::runs(&url, token, id, customer, workflow, status).await,
        Command::DeadLetters { retry, url, token } => {
            client::dead_letters(&url, token, retry).await
        }
        Command::Tasks { url, token } => client::get_print(&url, token, "/tasks").await,
        Command::Bench(args) => bench::run(args).await,
    }
}

fn validate(paths: Vec<PathBuf>) -> anyhow::Result<i32> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("workflows")]
    } else {
        paths
    };
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            files.extend(crate::loader::rule_files(&p));
        } else {
            files.push(p);
        }
    }
    let catalog = mikawaya_dsl::check::Catalog {
        actions: Some(builtin_action_names()),
    };
    let (mut ok, mut failed) = (Vec::new(), 0);
    for f in &files {
        let name = f.to_string_lossy().to_string();
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {name}"))?;
        let syntax = mikawaya_dsl::Syntax::of_file(&name).unwrap_or(mikawaya_dsl::Syntax::Yaml);
        match mikawaya_dsl::compile_source_with(&name, &text, syntax, &catalog) {
            Ok(w) => {
                println!(
                    "ok    {name}: {} v{} ({} steps)",
                    w.name,
                    w.version,
                    w.steps.len()
                );
                ok.push(w);
            }
            Err(d) => {
                failed += 1;
                eprint!("{}", d.render());
            }
        }
    }
    for c in mikawaya_dsl::check::clashes(&ok) {
        failed += 1;
        eprintln!(
            "error: workflow `{}` version {} is defined in {}",
            c.name,
            c.version,
            c.files.join(" and ")
        );
    }
    println!("{} file(s) checked, {} with errors", files.len(), failed);
    Ok(if failed > 0 { 1 } else { 0 })
}

/// Names of the built-in actions, for validation without a running engine.
pub fn builtin_action_names() -> Vec<String> {
    ["log", "webhook", "email.send", "task.create"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}
