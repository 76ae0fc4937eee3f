//! Starting and stopping the real binary, and a small HTTP client for its API.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `mikawaya` binary, built once per test run.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "mikawaya-cli", "--bin", "mikawaya"])
            .current_dir(&root)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building mikawaya failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let target = if target.is_absolute() {
            target
        } else {
            root.join(target)
        };
        target.join("debug").join("mikawaya")
    })
}

/// A running engine process.
pub struct Engine {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// Standard error (logs), read after the process ends.
    log: PathBuf,
}

impl Engine {
    /// Starts `mikawaya serve` on the store `db` (a file, or `memory:`) with the workflows in
    /// `workflows` and extra arguments; its log goes beside `outbox`.
    pub fn start(
        workflows: &Path,
        db: impl AsRef<std::ffi::OsStr>,
        outbox: &Path,
        extra: &[String],
    ) -> Engine {
        let log = outbox.with_extension(format!(
            "log{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut child = Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--workflows")
            .arg(workflows)
            .arg("--db")
            .arg(db)
            .arg("--outbox")
            .arg(outbox)
            .args(extra)
            .env("MIKAWAYA_LOG", "info,sqlx=warn,mikawaya::trace=debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("mikawaya listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Engine { child, url, log }
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends a signal (`STOP`, `CONT`, `HUP`, …) without waiting for anything.
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{name}");
    }

    /// Sends SIGTERM and waits for the exit; returns the exit code and the log.
    pub fn terminate(mut self) -> (Option<i32>, String) {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (
                    status.code(),
                    std::fs::read_to_string(&self.log).unwrap_or_default(),
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the engine did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// POSTs raw JSON text to `/events`; returns status and body.
    pub async fn post_events(&self, body: &str) -> (u16, Value) {
        self.post("/events", body).await
    }

    /// POSTs raw JSON text to `path`; returns status and body.
    pub async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        self.post_with(path, body, &[]).await
    }

    /// POSTs raw JSON text to `path` with extra headers; returns status and body.
    pub async fn post_with(
        &self,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let resp = request.body(body.to_string()).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// `method path` with a JSON `body` and bearer `token`; the status and the JSON answer.
    pub async fn call(&self, method: &str, path: &str, token: &str, body: &str) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Runs `mikawaya ARGS --url … --token TOKEN` against this engine; it must succeed, and its
    /// standard output is JSON.
    pub fn cli(&self, args: &[&str], token: &str) -> Value {
        serde_json::from_str(&self.cli_output(args, Some(token))).unwrap()
    }

    /// Runs `mikawaya ARGS --url … [--token TOKEN]` against this engine; it must succeed. Its
    /// standard output.
    pub fn cli_output(&self, args: &[&str], token: Option<&str>) -> String {
        let mut command = std::process::Command::new(binary());
        command.args(args).args(["--url", &self.url]);
        if let Some(token) = token {
            command.args(["--token", token]);
        }
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "mikawaya {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The `/metrics` text (with a bearer token when the API needs one).
    pub async fn metrics_text(&self, token: Option<&str>) -> String {
        let mut request = reqwest::Client::new().get(format!("{}/metrics", self.url));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        request.send().await.unwrap().text().await.unwrap()
    }

    /// One series of `/metrics`.
    pub async fn metric(&self, name: &str, token: Option<&str>) -> u64 {
        let text = self.metrics_text(token).await;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
    }

    /// GETs a path as JSON.
    pub async fn get(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Polls `path` until `done` holds for its JSON, or panics after `secs` seconds.
    pub async fn wait_for(&self, path: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let v = self.get(path).await;
            if done(&v) {
                return v;
            }
            if started.elapsed() > Duration::from_secs(secs) {
                panic!(
                    "timed out waiting on {path}; last answer: {v:#}\nlog:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary folder with a `workflows/` folder holding the given files (names may hold a
/// folder, e.g. `events/crm.yaml`).
pub fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("workflows")).unwrap();
    for (name, text) in files {
        let path = dir.path().join("workflows").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Starts an engine in `dir` (workflows in `dir/workflows`, database `dir/e2e.db`).
pub fn start(dir: &tempfile::TempDir) -> Engine {
    start_with(dir, &[])
}

/// Like [`start`], with extra `serve` arguments.
pub fn start_with(dir: &tempfile::TempDir, extra: &[String]) -> Engine {
    Engine::start(
        &dir.path().join("workflows"),
        dir.path().join("e2e.db"),
        &dir.path().join("outbox"),
        extra,
    )
}

/// Starts an engine in `dir` on the in-memory store (`--db memory:`).
pub fn start_in_memory(dir: &tempfile::TempDir) -> Engine {
    let outbox = dir.path().join("outbox");
    Engine::start(&dir.path().join("workflows"), "memory:", &outbox, &[])
}

/// Runs of one workflow by status.
pub fn count(runs: &Value, status: &str) -> usize {
    runs.as_array()
        .map(|a| a.iter().filter(|r| r["status"] == status).count())
        .unwrap_or(0)
}

/// The PostgreSQL server the many-node tests use (`MIKAWAYA_TEST_POSTGRES`).
pub fn postgres_url() -> String {
    std::env::var("MIKAWAYA_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema of its own on the test database, dropped afterwards (with psql, when present).
pub struct Schema(pub String);

impl Drop for Schema {
    fn drop(&mut self) {
        Command::new("psql")
            .arg(postgres_url())
            .args([
                "-q",
                "-c",
                &format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0),
            ])
            .output()
            .ok();
    }
}

/// A `--db` URL naming a new schema (`<prefix>_<nanos>`), and the guard that drops it.
pub fn fresh_schema(prefix: &str) -> (String, Schema) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let schema = Schema(format!("{prefix}_{nanos}"));
    (format!("{}?schema={}", postgres_url(), schema.0), schema)
}
