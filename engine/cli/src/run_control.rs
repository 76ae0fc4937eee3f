//! `mikawaya cancel` and `mikawaya retry`: one run by id, or in bulk by a selection of one
//! workflow's runs (`POST /runs/{id}/cancel|retry`, `POST /runs/cancel|retry`; `runs:write`).

use crate::client::{print_response, request, Remote};
use anyhow::{bail, Context};
use serde_json::{json, Value};

/// `cancel` / `retry`.
#[derive(Debug, clap::Args)]
pub struct RunControlArgs {
    /// One run's id; without it, the runs the selection options pick.
    run: Option<String>,
    /// Every selected run belongs to this workflow (required for a bulk change).
    #[arg(long)]
    workflow: Option<String>,
    /// Only runs in this status (cancel: active or waiting; retry: failed).
    #[arg(long)]
    status: Option<String>,
    /// Only this customer's runs.
    #[arg(long)]
    customer: Option<String>,
    /// Only runs started at or after this instant (RFC 3339, e.g. 2026-11-01T00:00:00Z).
    #[arg(long)]
    since: Option<String>,
    /// Only runs started before this instant (RFC 3339).
    #[arg(long)]
    until: Option<String>,
    /// At most this many runs (the engine allows up to 10,000).
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// Why (cancel only), kept as each run's exit reason.
    #[arg(long)]
    reason: Option<String>,
    /// Only list the runs that would change.
    #[arg(long)]
    dry_run: bool,
    /// The engine to ask.
    #[command(flatten)]
    remote: Remote,
}

/// Which change.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    /// `cancel`.
    Cancel,
    /// `retry`.
    Retry,
}

/// Runs `cancel` or `retry`.
pub async fn run(change: Change, args: RunControlArgs) -> anyhow::Result<i32> {
    let verb = match change {
        Change::Cancel => "cancel",
        Change::Retry => "retry",
    };
    let base = args.remote.url.trim_end_matches('/');
    let (path, body) = match (&args.run, &args.workflow) {
        (Some(id), None) => {
            let body = args.reason.as_ref().map(|r| json!({ "reason": r }));
            (format!("/runs/{id}/{verb}"), body)
        }
        (None, Some(workflow)) => {
            let mut body = json!({ "workflow": workflow, "limit": args.limit, "dry_run": args.dry_run });
            let optional = [
                ("status", &args.status),
                ("customer", &args.customer),
                ("started_after", &args.since),
                ("started_before", &args.until),
                ("reason", &args.reason),
            ];
            for (key, value) in optional {
                if let Some(v) = value {
                    body[key] = Value::String(v.clone());
                }
            }
            (format!("/runs/{verb}"), Some(body))
        }
        (Some(_), Some(_)) => bail!("give a run id or --workflow with a selection, not both"),
        (None, None) => bail!("which runs? give a run id, or --workflow (with --status, --customer, --since, --until)"),
    };
    let mut req = request(
        reqwest::Method::POST,
        &format!("{base}{path}"),
        &args.remote.token,
    );
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("is the engine running at {base}?"))?;
    print_response(resp).await
}
