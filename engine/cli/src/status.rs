//! `mikawaya status`: whether a running engine keeps up, read from its `/metrics`: the backlog
//! against its bound, unmatched events, ready and executing runs, how late the earliest due
//! timer is, and the requests pushed back; on PostgreSQL also the nodes sharing the database
//! (`/nodes`): which are alive, which matches events, how many runs each holds.

use crate::client::{request, Remote};
use anyhow::{bail, Context};
use std::collections::HashMap;

/// `status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The engine to ask (a token with the scope the command needs).
    #[command(flatten)]
    remote: Remote,
}

/// The series of a Prometheus text page, by name (unlabelled ones only).
fn series(text: &str) -> HashMap<&str, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.split_once(' ')?;
            Some((name, value.trim().parse().ok()?))
        })
        .collect()
}

/// The summary printed for `text`.
fn summary(text: &str) -> anyhow::Result<String> {
    let m = series(text);
    let get = |name: &str| {
        m.get(format!("mikawaya_{name}").as_str())
            .copied()
            .with_context(|| format!("the engine's /metrics has no mikawaya_{name}"))
    };
    let (backlog, bound) = (get("backlog")?, get("backlog_bound")?);
    let state = if backlog >= bound {
        "pushing back: new events get 503 until the backlog shrinks"
    } else if backlog >= bound / 2.0 {
        "behind: the backlog is past half its bound"
    } else {
        "keeping up"
    };
    Ok(format!(
        "{state}\nbacklog            {backlog} of {bound}\nevents unmatched   {}\nruns ready         {}\nruns executing     {}\ntimer lag          {} ms\npushed back (503)  {}\nrate limited (429) {}\n",
        get("events_unmatched")?,
        get("runs_ready")?,
        get("runs_in_flight")?,
        get("timer_lag_ms")?,
        get("events_pushed_back_total")?,
        get("events_rate_limited_total")?,
    ))
}

/// One node of `GET /nodes` (the fields `status` shows).
#[derive(Debug, serde::Deserialize)]
struct Node {
    id: String,
    silent_ms: i64,
    alive: bool,
    matcher: bool,
    runs_leased: i64,
}

/// The nodes sharing the database, one line each; nothing for a single SQLite node.
fn node_lines(nodes: &[Node]) -> String {
    if nodes.is_empty() {
        return String::new();
    }
    let alive = nodes.iter().filter(|n| n.alive).count();
    let mut text = format!("nodes              {alive} alive of {}\n", nodes.len());
    for n in nodes {
        let state = if n.alive { "alive" } else { "silent" };
        let role = if n.matcher { ", matching events" } else { "" };
        text += &format!(
            "  {:<32} {state:<6} heartbeat {:.1} s ago, {} run(s) leased{role}\n",
            n.id,
            n.silent_ms as f64 / 1000.0,
            n.runs_leased
        );
    }
    text
}

/// Prints the status; exit code 1 while the engine pushes back.
pub async fn run(args: StatusArgs) -> anyhow::Result<i32> {
    let base = args.remote.url.trim_end_matches('/');
    let resp = request(
        reqwest::Method::GET,
        &format!("{base}/metrics"),
        &args.remote.token,
    )
    .send()
    .await
    .with_context(|| format!("is the engine running at {base}?"))?;
    if !resp.status().is_success() {
        bail!("{base}/metrics answered {} (a token with runs:read is needed: --token or MIKAWAYA_TOKEN)", resp.status());
    }
    let text = summary(&resp.text().await?)?;
    print!("{text}");
    let nodes = request(
        reqwest::Method::GET,
        &format!("{base}/nodes"),
        &args.remote.token,
    )
    .send()
    .await?
    .error_for_status()?
    .json::<Vec<Node>>()
    .await?;
    print!("{}", node_lines(&nodes));
    Ok(i32::from(text.starts_with("pushing back")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "# HELP mikawaya_backlog x\n# TYPE mikawaya_backlog gauge\nmikawaya_backlog 70\nmikawaya_backlog_bound 100\nmikawaya_events_unmatched 50\nmikawaya_runs_ready 12\nmikawaya_runs_in_flight 8\nmikawaya_timer_lag_ms 1500\nmikawaya_events_pushed_back_total 0\nmikawaya_events_rate_limited_total 3\n";

    #[test]
    fn nodes_are_listed_with_their_state_and_role() {
        assert_eq!(node_lines(&[]), "", "one SQLite node lists none");
        let node = |id: &str, silent_ms, alive, matcher, runs_leased| Node {
            id: id.into(),
            silent_ms,
            alive,
            matcher,
            runs_leased,
        };
        let text = node_lines(&[
            node("a-1", 1_200, true, true, 12),
            node("b-2", 41_000, false, false, 0),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "nodes              1 alive of 2");
        assert!(
            lines[1].contains("a-1") && lines[1].contains("alive"),
            "{text}"
        );
        assert!(
            lines[1].ends_with("heartbeat 1.2 s ago, 12 run(s) leased, matching events"),
            "{text}"
        );
        assert!(
            lines[2].contains("silent") && lines[2].contains("41.0 s ago"),
            "{text}"
        );
        assert!(!lines[2].contains("matching"), "{text}");
    }

    #[test]
    fn the_summary_says_whether_the_engine_keeps_up() {
        let text = summary(PAGE).unwrap();
        assert!(text.starts_with("behind"), "{text}");
        assert!(text.contains("backlog            70 of 100"), "{text}");
        assert!(text.contains("timer lag          1500 ms"), "{text}");
        let full = PAGE.replace("mikawaya_backlog 70", "mikawaya_backlog 100");
        assert!(summary(&full).unwrap().starts_with("pushing back"));
        let calm = PAGE.replace("mikawaya_backlog 70", "mikawaya_backlog 3");
        assert!(summary(&calm).unwrap().starts_with("keeping up"));
        let missing = summary("mikawaya_backlog 1\n").unwrap_err().to_string();
        assert!(missing.contains("mikawaya_backlog_bound"), "{missing}");
    }
}
