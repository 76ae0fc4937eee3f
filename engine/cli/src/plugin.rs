//! `mikawaya plugin check|call`: for plugin authors, without a running engine.

use anyhow::Context;
use mikawaya_plugins::wasm::manifest::{read_grants, read_manifest, Grants};
use mikawaya_plugins::wasm::{load_dir, MemoryKv, WasmAction, WasmHost};
use mikawaya_plugins::{Action, ActionContext};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// Plugin commands.
#[derive(Debug, clap::Subcommand)]
pub enum PluginCommand {
    /// Validate manifests and their modules (exports, imports, limits).
    Check {
        /// `plugin.yaml` files.
        manifests: Vec<PathBuf>,
    },
    /// Run one action call and print its result.
    Call {
        /// The action, e.g. `route.assign`.
        action: String,
        /// Folder of plugins.
        #[arg(long, default_value = "plugins/examples")]
        plugins: PathBuf,
        /// Grants file (default: grant each plugin what it asks for, as an author would).
        #[arg(long)]
        grants: Option<PathBuf>,
        /// The input JSON.
        #[arg(long, default_value = "{}")]
        input: String,
    },
}

fn host() -> anyhow::Result<WasmHost> {
    WasmHost::new(
        None,
        Arc::new(MemoryKv::default()),
        Arc::new(|| chrono::Utc::now().timestamp_millis()),
    )
    .map_err(anyhow::Error::msg)
}

/// Runs a plugin command.
pub async fn run(cmd: PluginCommand) -> anyhow::Result<i32> {
    match cmd {
        PluginCommand::Check { manifests } => {
            let host = host()?;
            let mut failed = 0;
            for m in &manifests {
                match host.load(m, &Grants::new()) {
                    Ok(p) => {
                        let actions: Vec<&str> =
                            p.manifest.actions.iter().map(|a| a.name.as_str()).collect();
                        let asks = &p.manifest.capabilities;
                        println!(
                            "ok    {}: {} {} exports {} (asks kv: {}, http: {:?}, secrets: {:?}; limits {} ms, {} MiB)",
                            m.display(), p.manifest.name, p.manifest.version, actions.join(", "), asks.kv, asks.http, asks.secrets, p.manifest.limits.timeout_ms, p.manifest.limits.memory_mb
                        );
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("error {e}");
                    }
                }
            }
            Ok(if failed > 0 { 1 } else { 0 })
        }
        PluginCommand::Call {
            action,
            plugins,
            grants,
            input,
        } => {
            let input: Value = serde_json::from_str(&input).context("--input is not JSON")?;
            let grants = match grants {
                Some(g) => read_grants(Some(&g)).map_err(anyhow::Error::msg)?,
                None => mikawaya_plugins::wasm::manifests_in(&plugins)
                    .iter()
                    .filter_map(|m| read_manifest(m).ok())
                    .map(|m| (m.name.clone(), m.capabilities.clone()))
                    .collect(),
            };
            let host = host()?;
            let set = load_dir(&host, &plugins, &grants);
            for e in &set.errors {
                eprintln!("warning: {e}");
            }
            let found = set
                .plugins
                .iter()
                .flat_map(WasmAction::all)
                .find(|a| a.name() == action);
            let Some(found) = found else {
                anyhow::bail!("no plugin in {} exports `{action}`", plugins.display())
            };
            let ctx = ActionContext::standalone("cli", "1");
            let started = std::time::Instant::now();
            match found.call(input, &ctx).await {
                Ok(out) => {
                    println!("{}", serde_json::to_string_pretty(&out)?);
                    eprintln!("ok in {:?}", started.elapsed());
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(1)
                }
            }
        }
    }
}
