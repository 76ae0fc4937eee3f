//! The flags of `mikawaya serve` (each also an environment variable), turned into the
//! library's [`ServeConfig`].

use mikawaya_engine::serve::ServeConfig;
use std::path::PathBuf;

/// Options of `serve` (each also an environment variable).
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Folder of workflow files (.yaml, .mkw).
    #[arg(long, default_value = "workflows", env = "MIKAWAYA_WORKFLOWS")]
    pub workflows: PathBuf,
    /// The store: a SQLite file (created if missing), `sqlite://FILE`, `postgres://HOST/DB`
    /// (many nodes on one database; `?schema=NAME` for a schema of its own), or `memory:`.
    #[arg(long, default_value = "mikawaya.db", env = "MIKAWAYA_DB")]
    pub db: String,
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080", env = "MIKAWAYA_LISTEN")]
    pub listen: String,
    /// Bearer token required by the API (none: open, for local use).
    #[arg(long, env = "MIKAWAYA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Read-only token: lists, runs, graphs and validation, but no changes.
    #[arg(long, env = "MIKAWAYA_READ_TOKEN", hide_env_values = true)]
    pub read_token: Option<String>,
    /// Events each token (and each signed source) may send per second, e.g. `1000/s` or `60/m`;
    /// over it the intake answers 429 with `Retry-After`. `off`: no limit.
    #[arg(long, default_value = "off", env = "MIKAWAYA_RATE_LIMIT")]
    pub rate_limit: String,
    /// Signed event sources: a YAML file naming each sending system and where its signing secret
    /// is (`shop: { secret_env: SHOP_SECRET }`); they post to `/sources/<name>/events`.
    #[arg(long, env = "MIKAWAYA_SOURCES")]
    pub sources: Option<PathBuf>,
    /// SMTP server, e.g. `smtp://user:pass@host:587?tls=required`; without it mail goes to --outbox.
    #[arg(long, env = "MIKAWAYA_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of emails.
    #[arg(
        long,
        default_value = "mikawaya <noreply@localhost>",
        env = "MIKAWAYA_MAIL_FROM"
    )]
    pub mail_from: String,
    /// Folder for .eml files when no SMTP server is set.
    #[arg(long, default_value = "outbox", env = "MIKAWAYA_OUTBOX")]
    pub outbox: PathBuf,
    /// Folder of email templates (default: `<workflows>/templates`).
    #[arg(long, env = "MIKAWAYA_TEMPLATES")]
    pub templates: Option<PathBuf>,
    /// Frequency caps on marketing messages per customer, comma-separated: `3/7d` (each channel),
    /// `marketing 5/7d` (all channels), `sms 1/1d calendar` (local days), `tag newsletter
    /// 2/30d` (steps with that `tag`), or `off`.
    #[arg(long, default_value = "3/7d", env = "MIKAWAYA_FREQUENCY_CAP")]
    pub frequency_cap: String,
    /// Calls in flight at once per action, across every node, e.g. `webhook=8, crm.update=2`
    /// (a CRM API's concurrent-request quota); a plugin may declare its own
    /// (`limits.concurrency`), which this overrides for the actions named. Calls over the limit
    /// wait in line, durably; a finished call wakes the next.
    #[arg(long, env = "MIKAWAYA_ACTION_CONCURRENCY")]
    pub action_concurrency: Option<String>,
    /// When marketing messages of workflows without their own window may go out, in each
    /// customer's time zone: `"weekdays 09:00-20:00 tz \"Asia/Tokyo\" holidays customer.country"`
    /// (as `send-window` in the DSL); none by default.
    #[arg(long, env = "MIKAWAYA_SEND_WINDOW")]
    pub send_window: Option<String>,
    /// A stable share of customers who get no marketing at all, e.g. `5%` (the global control
    /// group that measures what all marketing is worth); none by default.
    #[arg(long, env = "MIKAWAYA_GLOBAL_CONTROL")]
    pub global_control: Option<String>,
    /// URL customers reach the engine at, for unsubscribe links (default: the listen address).
    #[arg(long, env = "MIKAWAYA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Folder of WASM plugins (each a folder with `plugin.yaml`).
    #[arg(long, env = "MIKAWAYA_PLUGINS")]
    pub plugins: Option<PathBuf>,
    /// The operator's grants file: which capabilities each plugin may use (none: nothing granted).
    #[arg(long, env = "MIKAWAYA_PLUGIN_GRANTS")]
    pub plugin_grants: Option<PathBuf>,
    /// Where compiled plugins are cached.
    #[arg(long, default_value = ".mikawaya-cache", env = "MIKAWAYA_PLUGIN_CACHE")]
    pub plugin_cache: PathBuf,
    /// Do not reload when workflow or plugin files change (SIGHUP still reloads).
    #[arg(long)]
    pub no_watch: bool,
    /// Most bytes of JSON one action's output may keep in its run; more is truncated and marked.
    #[arg(long, default_value_t = 65_536, env = "MIKAWAYA_MAX_STEP_OUTPUT")]
    pub max_step_output: usize,
    /// Work not yet done (events not matched, runs ready or executing) at which `POST /events`
    /// answers 503 with `Retry-After` instead of letting the backlog grow.
    #[arg(long, default_value_t = 100_000, env = "MIKAWAYA_MAX_BACKLOG")]
    pub max_backlog: u64,
    /// Refuse events whose type the event catalog (`<workflows>/events/*.yaml`) does not
    /// declare; by default only declared types are checked.
    #[arg(long, env = "MIKAWAYA_STRICT_EVENTS")]
    pub strict_events: bool,
    /// Runs executing at once.
    #[arg(long, default_value_t = 512, env = "MIKAWAYA_MAX_IN_FLIGHT")]
    pub max_in_flight: usize,
    /// Seconds a node keeps a run it executes to itself; a node that dies (or stalls) gives its
    /// runs up after this, to any other node. Longer than the slowest action call.
    #[arg(long, default_value_t = 60, env = "MIKAWAYA_LEASE_SECONDS")]
    pub lease_seconds: u32,
    /// Also take events from this NATS server's JetStream, e.g. `nats://127.0.0.1:4222`; every
    /// node joins one durable pull consumer.
    #[arg(long, env = "MIKAWAYA_NATS")]
    pub nats: Option<String>,
    /// The JetStream stream (created if missing).
    #[arg(long, default_value = "MIKAWAYA_EVENTS", env = "MIKAWAYA_NATS_STREAM")]
    pub nats_stream: String,
    /// The subjects taken from the stream.
    #[arg(long, default_value = "crm.events.>", env = "MIKAWAYA_NATS_SUBJECT")]
    pub nats_subject: String,
    /// Seconds between segment sweeps (membership drifting with time, RFM breakpoints); 0
    /// turns them off.
    #[arg(long, default_value_t = 3600, env = "MIKAWAYA_SEGMENT_SWEEP_SECONDS")]
    pub segment_sweep_seconds: u64,
    /// The durable consumer the nodes share.
    #[arg(long, default_value = "mikawaya", env = "MIKAWAYA_NATS_CONSUMER")]
    pub nats_consumer: String,
}

impl ServeArgs {
    /// The library's configuration (a malformed `--rate-limit` is refused with the forms taken).
    pub fn into_config(self) -> anyhow::Result<ServeConfig> {
        Ok(ServeConfig {
            workflows: self.workflows,
            db: self.db,
            listen: self.listen,
            token: self.token,
            read_token: self.read_token,
            sources: self.sources,
            rate_limit: mikawaya_engine::core::limits::parse_rate(&self.rate_limit)
                .map_err(anyhow::Error::msg)?,
            smtp_url: self.smtp_url,
            mail_from: self.mail_from,
            outbox: self.outbox,
            templates: self.templates,
            frequency_cap: self.frequency_cap,
            action_concurrency: self.action_concurrency,
            send_window: self.send_window,
            global_control: self.global_control,
            public_url: self.public_url,
            plugins: self.plugins,
            plugin_grants: self.plugin_grants,
            plugin_cache: self.plugin_cache,
            no_watch: self.no_watch,
            max_step_output: self.max_step_output,
            max_backlog: self.max_backlog,
            strict_events: self.strict_events,
            max_in_flight: self.max_in_flight,
            lease_ms: i64::from(self.lease_seconds.max(1)) * 1000,
            segment_sweep: (self.segment_sweep_seconds > 0)
                .then(|| std::time::Duration::from_secs(self.segment_sweep_seconds)),
            nats: self.nats.map(|url| mikawaya_engine::nats::NatsSource {
                url,
                stream: self.nats_stream,
                subject: self.nats_subject,
                consumer: self.nats_consumer,
            }),
        })
    }
}
