//! Commands of customer intelligence: `demo-data` (a generated CRM history, printed or sent),
//! `model train|list`, `predict CUSTOMER`, `segments [--sweep]`.

use crate::client::{get_json, print_response, request, Remote};
use anyhow::Context;
use clap::{Args, Subcommand};
use mikawaya_engine::tools::demo_data::{generate, json_lines, DemoOptions};
use serde_json::Value;

/// `demo-data`.
#[derive(Debug, Args)]
pub struct DemoDataArgs {
    /// How many customers.
    #[arg(long, default_value_t = 2000)]
    pub customers: usize,
    /// Days of history, ending now.
    #[arg(long, default_value_t = 365)]
    pub days: i64,
    /// The random seed (the same seed gives the same history).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Send the events to the engine (`POST /events`, in batches) instead of printing them as
    /// JSON lines.
    #[arg(long)]
    pub send: bool,
    /// The engine to send to.
    #[command(flatten)]
    pub remote: Remote,
}

/// Events per request when sending.
const SEND_BATCH: usize = 500;

/// Generates the history; prints it or sends it.
pub async fn demo_data(args: DemoDataArgs) -> anyhow::Result<i32> {
    let demo = generate(&DemoOptions {
        customers: args.customers,
        days: args.days,
        seed: args.seed,
        end: chrono::Utc::now().timestamp_millis(),
    });
    if !args.send {
        print!("{}", json_lines(&demo.events));
        return Ok(0);
    }
    let url = &args.remote.url;
    for (n, chunk) in demo.events.chunks(SEND_BATCH).enumerate() {
        let body: Vec<Value> = chunk.iter().map(|e| e.to_json()).collect();
        loop {
            let resp = request(
                reqwest::Method::POST,
                &format!("{url}/events"),
                &args.remote.token,
            )
            .json(&body)
            .send()
            .await
            .with_context(|| format!("is the engine running at {url}?"))?;
            // The engine pushes back while its backlog is full: wait and send again.
            if resp.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                continue;
            }
            if !resp.status().is_success() {
                eprintln!("batch {n}:");
                return print_response(resp).await;
            }
            break;
        }
    }
    println!(
        "sent {} events of {} customers ({} planted churners) to {url}",
        demo.events.len(),
        args.customers,
        demo.churners.len()
    );
    Ok(0)
}

/// `model …`.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Train a declared model on the stored history and print its held-out evaluation.
    Train {
        /// The model (`workflows/models/NAME.yaml`).
        name: String,
        /// The engine.
        #[command(flatten)]
        remote: Remote,
    },
    /// The declared models and their trained versions.
    List {
        /// The engine.
        #[command(flatten)]
        remote: Remote,
    },
}

/// Runs a `model` command.
pub async fn model(cmd: ModelCommand) -> anyhow::Result<i32> {
    match cmd {
        ModelCommand::Train { name, remote } => {
            let path = format!("/models/{name}/train");
            let post = reqwest::Method::POST;
            match crate::client::call_json(post, &remote.url, &remote.token, &path, &[]).await? {
                Ok(t) => {
                    print_evaluation(&t);
                    Ok(0)
                }
                Err(code) => Ok(code),
            }
        }
        ModelCommand::List { remote } => {
            crate::client::get_print(&remote.url, remote.token, "/models").await
        }
    }
}

fn print_evaluation(t: &Value) {
    let e = &t["evaluation"];
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    println!(
        "model {} version {}: trained on {} customers, {} held out ({:.0}% positive)",
        t["name"].as_str().unwrap_or("-"),
        t["version"],
        e["train_rows"],
        e["test_rows"],
        100.0 * f(&e["positive_rate"])
    );
    println!(
        "AUC {:.3} (baseline, `{}` alone: {:.3}), Brier {:.3}",
        f(&e["auc"]),
        e["baseline_feature"].as_str().unwrap_or("-"),
        f(&e["baseline_auc"]),
        f(&e["brier"])
    );
    println!("calibration  customers  predicted  observed");
    for b in e["calibration"].as_array().into_iter().flatten() {
        println!(
            "             {:>9}  {:>8.1}%  {:>7.1}%",
            b["customers"],
            100.0 * f(&b["predicted"]),
            100.0 * f(&b["observed"])
        );
    }
}

/// `predict CUSTOMER`: each model's chance and the features behind it.
pub async fn predict(remote: Remote, customer: &str) -> anyhow::Result<i32> {
    let path = format!("/customers/{customer}/predictions");
    let found: Vec<Value> = match get_json(&remote.url, &remote.token, &path, &[]).await? {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    if found.is_empty() {
        println!("no trained model: run `mikawaya model train NAME` first");
    }
    for p in &found {
        println!(
            "{} (version {}): {:.1}%",
            p["model"].as_str().unwrap_or("-"),
            p["version"],
            100.0 * p["chance"].as_f64().unwrap_or(0.0)
        );
        for c in p["because"].as_array().into_iter().flatten().take(5) {
            println!(
                "  {:<20} = {:>10}  {:>+7.3}",
                c["feature"].as_str().unwrap_or("-"),
                c["value"],
                c["contribution"].as_f64().unwrap_or(0.0)
            );
        }
    }
    Ok(0)
}

/// `segments [--sweep]`.
pub async fn segments(remote: Remote, sweep: bool) -> anyhow::Result<i32> {
    let (method, path) = match sweep {
        true => (reqwest::Method::POST, "/segments/sweep"),
        false => (reqwest::Method::GET, "/segments"),
    };
    crate::client::call_print(method, &remote.url, remote.token, path).await
}
