//! `mikawaya token create|list|revoke` (scoped API tokens) and `mikawaya audit` (who changed
//! what), through a running engine's API (an admin token, e.g. the bootstrap `--token`).

use crate::client::{print_response, request, Remote};
use anyhow::Context;
use serde_json::json;

/// `token …`.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    action: TokenAction,
    /// The engine to ask (a token with the scope the command needs).
    #[command(flatten)]
    remote: Remote,
}

#[derive(Debug, clap::Subcommand)]
enum TokenAction {
    /// Create a token; it is printed this once (only its hash is kept).
    Create {
        /// Who will hold it, e.g. `shop` (a-z, 0-9, `-`, `_`, `.`).
        #[arg(long)]
        name: String,
        /// What it may do (repeat): events:write, workflows:read, workflows:write, runs:read,
        /// runs:write, customers:read, consent:write, admin.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// List tokens: names, scopes, dates (never the tokens).
    List,
    /// Revoke a token: it is refused from the next request on.
    Revoke {
        /// Its name.
        name: String,
    },
}

/// `audit`: the latest changes made through the API, newest first.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Most entries.
    #[arg(long, default_value_t = 200)]
    limit: i64,
    /// The engine to ask (a token with the scope the command needs).
    #[command(flatten)]
    remote: Remote,
}

/// Prints the audit log.
pub async fn audit(args: AuditArgs) -> anyhow::Result<i32> {
    let path = format!("/audit?limit={}", args.limit);
    crate::client::get_print(
        args.remote.url.trim_end_matches('/'),
        args.remote.token,
        &path,
    )
    .await
}

/// Runs a `token` command.
pub async fn run(args: TokenArgs) -> anyhow::Result<i32> {
    let base = args.remote.url.trim_end_matches('/');
    let req = match &args.action {
        TokenAction::Create { name, scopes } => request(
            reqwest::Method::POST,
            &format!("{base}/tokens"),
            &args.remote.token,
        )
        .json(&json!({ "name": name, "scopes": scopes })),
        TokenAction::List => request(
            reqwest::Method::GET,
            &format!("{base}/tokens"),
            &args.remote.token,
        ),
        TokenAction::Revoke { name } => request(
            reqwest::Method::DELETE,
            &format!("{base}/tokens/{name}"),
            &args.remote.token,
        ),
    };
    let resp = req
        .send()
        .await
        .with_context(|| format!("is the engine running at {base}?"))?;
    print_response(resp).await
}
