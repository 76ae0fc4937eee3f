//! `mikawaya status`: whether a running engine keeps up, read from its `/metrics`: the backlog
//! against its bound, unmatched events, ready and executing runs, how late the earliest due
//! timer is, and the requests pushed back.

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
    Ok(i32::from(text.starts_with("pushing back")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "# HELP mikawaya_backlog x\n# TYPE mikawaya_backlog gauge\nmikawaya_backlog 70\nmikawaya_backlog_bound 100\nmikawaya_events_unmatched 50\nmikawaya_runs_ready 12\nmikawaya_runs_in_flight 8\nmikawaya_timer_lag_ms 1500\nmikawaya_events_pushed_back_total 0\nmikawaya_events_rate_limited_total 3\n";

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
