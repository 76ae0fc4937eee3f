//! `mikawaya serve`: wires the store, the engine, the HTTP server and the background loops, and
//! shuts them down in order on SIGTERM / Ctrl-C (stop intake, finish in-flight steps, exit).

use crate::api::{router, AppState};
use crate::clock::Clock;
use crate::clock::SystemClock;
use crate::core::actions::default_actions;
use crate::core::intake::Intake;
use crate::core::loader::rule_files;
use crate::core::plugins::{Plugins, StoreKv};
use crate::core::restraint::new_secret;
use crate::core::{Engine, EngineConfig};
use crate::store::open as open_store;
use anyhow::Context;
use mikawaya_plugins::builtin::EmailConfig;
use mikawaya_plugins::wasm::{manifests_in, WasmHost};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// What `mikawaya serve` is given (the command line fills it from flags and the environment).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Folder of workflow files (.yaml, .mkw).
    pub workflows: PathBuf,
    /// The store: a SQLite file path, `sqlite://FILE` or `memory:` (see [`crate::store::open`]).
    pub db: String,
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// Bearer token required by the API (none: open, for local use).
    pub token: Option<String>,
    /// Read-only token: lists, runs, graphs and validation, but no changes.
    pub read_token: Option<String>,
    /// Events per second each token and signed source may send (`None`: no limit).
    pub rate_limit: Option<u32>,
    /// The signed sources file (see [`crate::core::sources::Sources::load`]).
    pub sources: Option<PathBuf>,
    /// SMTP server; without it mail goes to `outbox`.
    pub smtp_url: Option<String>,
    /// Sender of emails.
    pub mail_from: String,
    /// Folder for .eml files when no SMTP server is set.
    pub outbox: PathBuf,
    /// Folder of email templates (default: `<workflows>/templates`).
    pub templates: Option<PathBuf>,
    /// Calls in flight at once per action, across nodes: `webhook=8, crm.update=2`.
    pub action_concurrency: Option<String>,
    /// The frequency caps, e.g. `3/7d, sms 1/1d calendar, tag newsletter 2/30d`, or `off`
    /// ([`crate::core::caps`]).
    pub frequency_cap: String,
    /// The send window of workflows without their own, as `send-window` in the DSL.
    pub send_window: Option<String>,
    /// The global control group's share, e.g. `5%`.
    pub global_control: Option<String>,
    /// URL customers reach the engine at, for unsubscribe links (default: the listen address).
    pub public_url: Option<String>,
    /// Folder of WASM plugins (each a folder with `plugin.yaml`).
    pub plugins: Option<PathBuf>,
    /// The operator's grants file.
    pub plugin_grants: Option<PathBuf>,
    /// Where compiled plugins are cached.
    pub plugin_cache: PathBuf,
    /// Do not reload when workflow or plugin files change (SIGHUP still reloads).
    pub no_watch: bool,
    /// Most bytes of JSON one action's output may keep in its run.
    pub max_step_output: usize,
    /// Backlog at which the intake pushes back (see [`EngineConfig::max_backlog`]).
    pub max_backlog: u64,
    /// Refuse undeclared event types (see [`EngineConfig::strict_events`]).
    pub strict_events: bool,
    /// Runs executing at once.
    pub max_in_flight: usize,
    /// How long a run's timer stays leased to the node executing it (see
    /// [`EngineConfig::lease_ms`]).
    pub lease_ms: i64,
    /// A NATS JetStream stream to take events from, besides HTTP.
    pub nats: Option<crate::nats::NatsSource>,
    /// How often segments are swept for drift with time and RFM recomputed (`None`: never).
    pub segment_sweep: Option<Duration>,
}

impl ServeConfig {
    /// The email settings these options describe.
    pub fn email(&self) -> EmailConfig {
        EmailConfig {
            smtp_url: self.smtp_url.clone(),
            outbox: self.outbox.clone(),
            from: self.mail_from.clone(),
            timeout: Duration::from_secs(30),
            templates: self
                .templates
                .clone()
                .unwrap_or_else(|| self.workflows.join("templates")),
        }
    }
}

/// Runs the engine until SIGTERM or Ctrl-C.
pub async fn serve(opts: ServeConfig) -> anyhow::Result<()> {
    let store = open_store(&opts.db)
        .await
        .with_context(|| format!("opening the store {}", opts.db))?;
    let released = store.release_leases().await?;
    let unmatched = store.pending_count().await?;
    if released > 0 {
        tracing::warn!(
            runs = released,
            "resuming runs that a previous process was executing when it stopped"
        );
    }
    let stored_tokens = store.tokens().await?;
    let sources = match &opts.sources {
        Some(path) => crate::core::sources::Sources::load(path).map_err(anyhow::Error::msg)?,
        None => Default::default(),
    };
    let clock = Arc::new(SystemClock);
    let actions =
        default_actions(store.clone(), clock.clone(), &opts.email()).map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .with_context(|| format!("listening on {}", opts.listen))?;
    let addr = listener.local_addr()?;
    let config = EngineConfig {
        workflows_dir: opts.workflows.clone(),
        frequency_caps: opts
            .frequency_cap
            .parse()
            .map_err(|e| anyhow::anyhow!("--frequency-cap: {e}"))?,
        action_concurrency: parse_concurrency(opts.action_concurrency.as_deref().unwrap_or(""))
            .map_err(|e| anyhow::anyhow!("--action-concurrency: {e}"))?,
        global_control: opts
            .global_control
            .as_deref()
            .map(parse_percent)
            .transpose()?,
        send_window: match &opts.send_window {
            Some(text) => mikawaya_dsl::calendar::parse_send_window(text)
                .map_err(|e| anyhow::anyhow!("--send-window: {e}"))?,
            None => None,
        },
        max_output_bytes: opts.max_step_output,
        max_backlog: opts.max_backlog,
        strict_events: opts.strict_events,
        max_in_flight: opts.max_in_flight,
        lease_ms: opts.lease_ms,
        public_url: opts
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}")),
        secret: store
            .setting_or_init("unsubscribe_secret", &new_secret())
            .await?,
        ..EngineConfig::default()
    };
    let plugins = match &opts.plugins {
        Some(dir) => {
            let now: Arc<dyn Fn() -> i64 + Send + Sync> = {
                let c = clock.clone();
                Arc::new(move || c.now_ms())
            };
            // The key that signs compiled plugins lives in the database, not in the cache folder.
            let cache_key = store
                .setting_or_init("plugin_cache_key", &new_secret())
                .await?;
            let host = WasmHost::new(
                Some(opts.plugin_cache.clone()),
                Arc::new(StoreKv(store.clone() as Arc<dyn crate::store::PluginKv>)),
                now,
            )
            .map_err(anyhow::Error::msg)?
            .with_cache_key(cache_key.as_bytes());
            Some(Arc::new(Plugins::new(
                host,
                dir.clone(),
                opts.plugin_grants.clone(),
            )))
        }
        None => None,
    };
    let engine = Engine::new(store.clone(), clock, actions, config, plugins);
    // Another node's new events and runs wake this one's loops at once (PostgreSQL's NOTIFY).
    let woken = Arc::downgrade(&engine);
    store.on_remote_work(Arc::new(move || {
        if let Some(engine) = woken.upgrade() {
            engine.wake();
        }
    }));
    engine.metrics().events_unmatched.inc_by(unmatched as i64);
    engine.reload().await?;
    engine.restore_knowledge().await?;

    let (intake, writer) = Intake::start(engine.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    // Inputs besides HTTP stop with the HTTP server, before the intake's writer drains.
    let (inputs_stop, inputs_stopped) = watch::channel(false);
    let nats = opts.nats.clone().map(|source| {
        tokio::spawn(crate::nats::consume(
            engine.clone(),
            intake.clone(),
            source,
            inputs_stopped.clone(),
        ))
    });
    let loops = vec![
        tokio::spawn(event_loop(engine.clone(), stop_rx.clone())),
        tokio::spawn(timer_loop(engine.clone(), stop_rx.clone())),
        tokio::spawn(schedule_loop(engine.clone(), stop_rx.clone())),
        tokio::spawn(reload_loop(engine.clone(), stop_rx.clone(), !opts.no_watch)),
    ];
    let mut loops = loops;
    if let Some(every) = opts.segment_sweep {
        loops.push(tokio::spawn(sweep_loop(
            engine.clone(),
            stop_rx.clone(),
            every,
        )));
    }

    println!("mikawaya listening on http://{addr}");
    tracing::info!(%addr, db = %opts.db, "serving");
    let app = router(AppState {
        engine: engine.clone(),
        intake,
        access: Arc::new(crate::core::access::Access::new(
            opts.token.clone(),
            opts.read_token.clone(),
            &stored_tokens,
        )),
        sources: Arc::new(sources),
        limits: Arc::new(crate::core::limits::IntakeLimits::new(opts.rate_limit)),
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;

    tracing::info!("stopping: intake closed, finishing in-flight work");
    inputs_stop.send(true).ok();
    if let Some(nats) = nats {
        nats.await.ok();
    }
    writer.await.ok();
    stop_tx.send(true).ok();
    for l in loops {
        l.await.ok();
    }
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Matches stored events until told to stop ([`Engine::match_continuously`]).
async fn event_loop(engine: Arc<Engine>, stop: watch::Receiver<bool>) {
    engine.match_continuously(stop).await
}

async fn timer_loop(engine: Arc<Engine>, stop: watch::Receiver<bool>) {
    engine.execute_continuously(stop).await
}

async fn schedule_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = engine.process_schedules().await {
            tracing::error!("schedules: {e}");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Sweeps segments every `every` (the first a little after the start), while segments are
/// declared or RFM has buyers to rank.
async fn sweep_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>, every: Duration) {
    let mut wait = every.min(Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        wait = every;
        match engine.scheduled_sweep(every).await {
            Ok(Some(r)) => tracing::info!(
                customers = r.customers,
                rechecks = r.rechecks,
                "segment sweep"
            ),
            Ok(None) => tracing::debug!("segment sweep: another node's turn"),
            Err(e) => tracing::error!("segment sweep: {e}"),
        }
    }
}

/// A cheap fingerprint of the workflows folder (rule files and the event catalog) and the
/// plugins: names, sizes and modification times.
fn folder_stamp(engine: &Engine) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let dir = &engine.config().workflows_dir;
    let mut files = rule_files(dir);
    files.extend(crate::core::event_types::catalog_files(dir));
    for folder in [
        crate::core::event_types::HOLIDAYS_DIR,
        mikawaya_dsl::scores::SCORES_DIR,
        mikawaya_dsl::segments::SEGMENTS_DIR,
        mikawaya_dsl::models::MODELS_DIR,
    ] {
        files.extend(crate::core::event_types::yaml_files(&dir.join(folder)));
    }
    if let Some(p) = engine.plugins() {
        for manifest in manifests_in(p.dir()) {
            if let Some(dir) = manifest.parent() {
                files.extend(
                    std::fs::read_dir(dir)
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|e| e.path())
                        .filter(|f| f.is_file()),
                );
            }
        }
    }
    files
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p).ok();
            let (len, modified) = meta
                .map(|m| (m.len(), m.modified().ok()))
                .unwrap_or((0, None));
            (p, len, modified)
        })
        .collect()
}

async fn reload_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>, watch_files: bool) {
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut stamp = folder_stamp(&engine);
    loop {
        #[cfg(unix)]
        let hangup = async {
            match hup.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<()>();
        let signalled = tokio::select! {
            _ = hangup => true,
            _ = tokio::time::sleep(Duration::from_secs(2)) => false,
            _ = stop.changed() => return,
        };
        let now = folder_stamp(&engine);
        if signalled || (watch_files && now != stamp) {
            stamp = now;
            engine.reload_plugins();
            // Audited like a reload through the API; the actor says what noticed the change.
            let actor = if signalled { "sighup" } else { "file-watcher" };
            let audited = match engine.reload().await {
                Ok(report) => {
                    let active = serde_json::json!({ "active": report.active });
                    engine
                        .audit(actor, "workflows.reloaded", "workflows", active)
                        .await
                }
                Err(e) => {
                    tracing::error!("reload failed: {e}");
                    Ok(())
                }
            };
            if let Err(e) = audited {
                tracing::error!("recording the reload in the audit log: {e}");
            }
        }
    }
}

/// `5%` (or `5`) as a percentage from 0 to 100.
fn parse_percent(text: &str) -> anyhow::Result<f64> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => {
            anyhow::bail!("--global-control: `{text}` is not a share of customers; write e.g. `5%`")
        }
    }
}

/// Reads `webhook=8, crm.update=2`: calls in flight at once per action.
pub fn parse_concurrency(text: &str) -> Result<std::collections::BTreeMap<String, u32>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (action, max) = part.split_once('=').ok_or_else(|| {
                format!("`{part}`: write <action>=<calls at once>, e.g. `webhook=8`")
            })?;
            match max.trim().parse::<u32>() {
                Ok(max) if max > 0 => Ok((action.trim().to_string(), max)),
                _ => Err(format!(
                    "`{part}`: the limit must be a whole number of at least 1"
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn action_concurrency_reads_pairs_and_refuses_nonsense() {
        let limits = super::parse_concurrency("webhook=8, crm.update = 2").unwrap();
        assert_eq!(limits.get("webhook"), Some(&8));
        assert_eq!(limits.get("crm.update"), Some(&2));
        assert!(super::parse_concurrency("").unwrap().is_empty());
        for bad in ["webhook", "webhook=0", "webhook=many"] {
            let e = super::parse_concurrency(bad).unwrap_err();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
    }
}
