//! `explain` and `replay`: what a rule did, and what a new rule would have done.

use anyhow::Context;
use mikawaya_dsl::expr::{parse_duration, Explanation};
use mikawaya_engine::clock::{Clock, SystemClock};
use mikawaya_engine::store::{EventLog, SqliteStore};
use mikawaya_engine::tools::replay::{deployed_version_file, replay as run_replay, ReplayReport};
use serde_json::Value;
use std::path::PathBuf;

/// Options of `replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The workflow file to try.
    #[arg(long)]
    pub workflow: PathBuf,
    /// The engine's database (its event history).
    #[arg(long, default_value = "mikawaya.db", env = "MIKAWAYA_DB")]
    pub db: PathBuf,
    /// How far back to replay.
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// Also replay the deployed version of the same workflow and show both.
    #[arg(long)]
    pub compare: bool,
    /// Runs to show as examples.
    #[arg(long, default_value_t = 5)]
    pub sample: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `mikawaya replay`.
pub async fn replay(args: ReplayArgs) -> anyhow::Result<i32> {
    let window = parse_duration(&args.since)
        .with_context(|| format!("`{}` is not a duration such as 30d", args.since))?;
    anyhow::ensure!(args.db.exists(), "no database at {}", args.db.display());
    let store = SqliteStore::open(&args.db).await?;
    let now = SystemClock.now_ms();
    let events = store.events_between(now - window, now, 1_000_000).await?;
    let candidate = run_replay(&args.workflow, &events, now, args.sample).await?;
    let deployed = if args.compare {
        let dir = std::env::temp_dir().join(format!("mikawaya-deployed-{}", uuid::Uuid::now_v7()));
        let file = deployed_version_file(&store, &candidate.workflow, &dir)
            .await?
            .with_context(|| {
                format!(
                    "no deployed version of `{}` in {}",
                    candidate.workflow,
                    args.db.display()
                )
            })?;
        let report = run_replay(&file, &events, now, args.sample).await;
        std::fs::remove_dir_all(&dir).ok();
        Some(report?)
    } else {
        None
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "candidate": candidate, "deployed": deployed })
            )?
        );
        return Ok(0);
    }
    print!("{}", render(&candidate, deployed.as_ref(), &args.since));
    Ok(0)
}

fn count_rows(
    title: &str,
    a: &std::collections::BTreeMap<String, usize>,
    b: Option<&std::collections::BTreeMap<String, usize>>,
) -> String {
    let mut keys: Vec<&String> = a
        .keys()
        .chain(b.into_iter().flat_map(|m| m.keys()))
        .collect();
    keys.sort();
    keys.dedup();
    let mut out = format!("{title}\n");
    for k in keys {
        let x = a.get(k).copied().unwrap_or(0);
        match b {
            Some(m) => out.push_str(&format!(
                "  {k:<40} {x:>8} {:>10}\n",
                m.get(k).copied().unwrap_or(0)
            )),
            None => out.push_str(&format!("  {k:<40} {x:>8}\n")),
        }
    }
    out
}

/// The report as text; with `deployed`, a second column.
pub fn render(c: &ReplayReport, deployed: Option<&ReplayReport>, since: &str) -> String {
    let mut out = format!(
        "replay of {} over the last {since}: {} event(s)\n",
        c.workflow, c.events
    );
    let head = match deployed {
        Some(d) => format!(
            "  {:<40} {:>8} {:>10}\n",
            "",
            "new",
            format!("deployed v{}", d.version)
        ),
        None => String::new(),
    };
    out.push_str(&head);
    let line = |label: &str, a: usize, b: Option<usize>| match b {
        Some(b) => format!("  {label:<40} {a:>8} {b:>10}\n"),
        None => format!("  {label:<40} {a:>8}\n"),
    };
    out.push_str(&line("runs started", c.runs, deployed.map(|d| d.runs)));
    out.push_str(&line(
        "customers enrolled",
        c.customers,
        deployed.map(|d| d.customers),
    ));
    out.push_str(&count_rows(
        "runs by status",
        &c.by_status,
        deployed.map(|d| &d.by_status),
    ));
    out.push_str(&count_rows(
        "actions that would run",
        &c.actions,
        deployed.map(|d| &d.actions),
    ));
    if !c.skipped.is_empty() || deployed.is_some_and(|d| !d.skipped.is_empty()) {
        out.push_str(&count_rows(
            "steps skipped by restraint",
            &c.skipped,
            deployed.map(|d| &d.skipped),
        ));
    }
    if !c.variants.is_empty() || deployed.is_some_and(|d| !d.variants.is_empty()) {
        out.push_str(&count_rows(
            "experiment variants entered",
            &c.variants,
            deployed.map(|d| &d.variants),
        ));
        out.push_str(&count_rows(
            "of those, converted in the window",
            &c.conversions,
            deployed.map(|d| &d.conversions),
        ));
    }
    out.push_str("sample runs (new version)\n");
    for s in &c.sample {
        out.push_str(&format!("  {s}\n"));
    }
    out
}

fn tree(x: &Explanation, depth: usize, out: &mut String) {
    let mark = if x.result { "✓" } else { "✗" };
    out.push_str(&format!(
        "{}{mark} {}   saw {}\n",
        "    ".repeat(depth + 2),
        x.expr,
        x.saw
    ));
    for p in &x.parts {
        tree(p, depth + 1, out);
    }
}

/// `mikawaya explain EVENT_ID`.
pub async fn explain(url: &str, token: Option<String>, event_id: &str) -> anyhow::Result<i32> {
    let mut req = reqwest::Client::new().get(format!("{url}/events/{event_id}/explain"));
    if let Some(t) = &token {
        req = req.bearer_auth(t);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("is the engine running at {url}?"))?;
    if !resp.status().is_success() {
        eprintln!(
            "{}: {}",
            resp.status(),
            resp.text().await.unwrap_or_default()
        );
        return Ok(1);
    }
    let x: Value = resp.json().await?;
    let mut out = format!(
        "event {} ({}, customer {})\n",
        event_id,
        x["event_type"].as_str().unwrap_or("?"),
        x["customer_id"].as_str().unwrap_or("-")
    );
    let workflows = x["workflows"].as_array().cloned().unwrap_or_default();
    if workflows.is_empty() {
        out.push_str("  no workflow listens to this event type\n");
    }
    for w in workflows {
        out.push_str(&format!(
            "  {} v{}: {}\n",
            w["workflow"].as_str().unwrap_or("?"),
            w["version"],
            w["summary"].as_str().unwrap_or("")
        ));
        if let Ok(cond) = serde_json::from_value::<Explanation>(w["condition"].clone()) {
            tree(&cond, 0, &mut out);
        }
        for s in w["skipped"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "      step {} skipped: {}\n",
                s[0].as_str().unwrap_or("?"),
                s[1].as_str().unwrap_or("")
            ));
        }
    }
    print!("{out}");
    Ok(0)
}
