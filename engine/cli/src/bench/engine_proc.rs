//! The engine `bench` measures when no `--url` is given: `mikawaya serve` in a child process on a
//! fresh database in a temporary folder, with the benchmark's workflows.

use anyhow::{bail, Context};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// An engine child process and its folder (both removed by [`EngineProc::stop`]).
pub struct EngineProc {
    /// Its base URL.
    pub url: String,
    child: tokio::process::Child,
    dir: PathBuf,
}

/// The benchmark workflows: `bench-0` posts every `cart.abandoned` event of a customer with email
/// consent and a cart of 50 or more to `sink`; `bench-1` … `bench-{count-1}` listen to the same
/// event with conditions that never hold, so they cost matching time and start nothing. With
/// `customer_in_step` the webhook also sends `customer.tier`, so executing a run reads its customer.
pub fn workflows(sink: &str, count: usize, customer_in_step: bool) -> Vec<(String, String)> {
    let extra = if customer_in_step {
        ", tier: customer.tier"
    } else {
        ""
    };
    (0..count.max(1))
        .map(|i| {
            let when = if i == 0 {
                "event.cart.total >= 50 and customer.consent.email".to_string()
            } else {
                format!("event.cart.total >= 50 and event.cart.region == \"region-{i}\"")
            };
            let text = format!(
                "workflow \"bench-{i}\" version 1\non event cart.abandoned\nwhen {when}\nre-enroll always\n\ndo webhook(url: \"{sink}\", event: event.id{extra})\n"
            );
            (format!("bench-{i}.mkw"), text)
        })
        .collect()
}

/// 10 scores and 20 segments over the benchmark's `cart.abandoned` events (`--intel`): each
/// event adds points to every score and is kept in the history digest, and every segment is
/// evaluated again.
pub fn intel_files() -> Vec<(String, String)> {
    let conditions = [
        "count(cart.abandoned, 30d) >= 3",
        "sum(cart.abandoned.value, 365d) >= 500",
        "days_since(last(cart.abandoned)) > 60",
        "customer.score.s0 >= 50 and customer.consent.email",
        "count(cart.abandoned, 1d) == 0 and count(cart.abandoned, 365d) >= 2",
    ];
    let scores = (0..10).map(|i| {
        let text = format!("score: s{i}\nhalf_life: 14d\nmax: 100\npoints:\n  cart.abandoned where event.cart.total > 50: 3\n  cart.abandoned: 1\n");
        (format!("scores/s{i}.yaml"), text)
    });
    let segments = (0..20).map(|i| {
        let text = format!(
            "segment: g{i}\nwhen: {}\n",
            conditions[i % conditions.len()]
        );
        (format!("segments/g{i}.yaml"), text)
    });
    scores.chain(segments).collect()
}

/// `count` generated workflows for the start-up measurement: 50 event types, an entry
/// condition, a wait and two actions each.
pub fn many_workflows(count: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| {
            let text = format!(
                "workflow \"w{i}\" version 1\non event e{}.happened\nwhen event.total >= {i}\nre-enroll after 30d\n\ndo log(message: \"w{i} for {{{{ customer.id }}}}\")\nwait 1d\ndo webhook(url: \"http://127.0.0.1:9/w{i}\", total: event.total)\n",
                i % 50
            );
            (format!("w{i}.mkw"), text)
        })
        .collect()
}

/// Starts `mikawaya serve` with `workflows` (file name, text) on a new database.
pub async fn start(workflows: &[(String, String)]) -> anyhow::Result<EngineProc> {
    start_in(prepare(workflows)?).await
}

/// A new temporary folder holding `workflows` (file name, text) in its `workflows` folder.
pub fn prepare(workflows: &[(String, String)]) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("mikawaya-bench-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(dir.join("workflows"))?;
    for (name, text) in workflows {
        let path = dir.join("workflows").join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(dir)
}

/// Starts `nodes` engines with `workflows` on one store: `db` (a PostgreSQL URL, each run of
/// the benchmark in a new schema of it), or a new SQLite file.
pub async fn start_nodes(
    workflows: &[(String, String)],
    db: Option<&str>,
    nodes: usize,
) -> anyhow::Result<Vec<EngineProc>> {
    let dir = prepare(workflows)?;
    let db = match db {
        Some(url) => {
            let joiner = if url.contains('?') { '&' } else { '?' };
            format!(
                "{url}{joiner}schema=bench_{}",
                uuid::Uuid::now_v7().simple()
            )
        }
        None => dir.join("bench.db").display().to_string(),
    };
    let mut started = Vec::new();
    for _ in 0..nodes.max(1) {
        started.push(start_on(dir.clone(), &db).await?);
    }
    Ok(started)
}

/// Starts `mikawaya serve` in `dir` (its `workflows` folder and `bench.db`).
pub async fn start_in(dir: PathBuf) -> anyhow::Result<EngineProc> {
    let db = dir.join("bench.db").display().to_string();
    start_on(dir, &db).await
}

/// Starts `mikawaya serve` with the workflows of `dir` on the store `db`.
async fn start_on(dir: PathBuf, db: &str) -> anyhow::Result<EngineProc> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--listen", "127.0.0.1:0", "--no-watch"])
        .arg("--db")
        .arg(db)
        .arg("--workflows")
        .arg(dir.join("workflows"))
        .env("MIKAWAYA_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting the engine")?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await??
        .unwrap_or_default();
    let Some(url) = line.strip_prefix("mikawaya listening on ") else {
        bail!("engine did not start: {line}")
    };
    Ok(EngineProc {
        url: url.trim().to_string(),
        child,
        dir,
    })
}

impl EngineProc {
    /// The process id (for `ps`/`perf` while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the engine (SIGKILL) and starts it again on the same database and workflows.
    pub async fn restart(mut self) -> anyhow::Result<EngineProc> {
        self.child.start_kill().ok();
        self.child.wait().await.ok();
        start_in(self.dir.clone()).await
    }

    /// Stops the engine (SIGKILL) and keeps its folder.
    pub async fn stop_keeping(mut self) {
        self.child.start_kill().ok();
        self.child.wait().await.ok();
    }

    /// Stops the engine and removes its folder.
    pub async fn stop(mut self) {
        self.child.start_kill().ok();
        self.child.wait().await.ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benchmark_workflows_compile_and_only_the_first_can_start_runs() {
        let files = workflows("http://127.0.0.1:9/hook", 3, true);
        assert_eq!(files.len(), 3);
        for (name, text) in &files {
            let w = mikawaya_dsl::compile_file(name, text)
                .unwrap_or_else(|e| panic!("{name} does not compile: {e:?}\n{text}"));
            assert_eq!(format!("{}.mkw", w.name), *name);
        }
        assert!(files[0].1.contains("customer.consent.email"));
        assert!(files[2].1.contains("region-2"));
        for (name, text) in many_workflows(3) {
            mikawaya_dsl::compile_file(&name, &text)
                .unwrap_or_else(|e| panic!("{name} does not compile: {e:?}\n{text}"));
        }
    }
}
