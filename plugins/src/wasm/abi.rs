//! ABI version 1 (module `mikawaya`): the import table a module may use, with signatures, and the
//! host functions behind it. Each checks the plugin's granted capabilities; a denied call returns
//! -1 instead of trapping, so the plugin can handle it.

use super::guest::{deny, http_error, json_bytes, read_guest, write_guest};
use super::state::HostState;
use serde_json::Value;
use std::time::Duration;
use wasmtime::{Caller, ExternType, Linker, ValType};

/// The functions a plugin may import from `mikawaya`, with their parameter and result types.
pub(super) const IMPORTS: &[(&str, &[ValType], &[ValType])] = &[
    ("log", &[ValType::I32, ValType::I32, ValType::I32], &[]),
    ("now_ms", &[], &[ValType::I64]),
    ("kv_get", &[ValType::I32, ValType::I32], &[ValType::I64]),
    (
        "kv_set",
        &[ValType::I32, ValType::I32, ValType::I32, ValType::I32],
        &[ValType::I32],
    ),
    ("secret_get", &[ValType::I32, ValType::I32], &[ValType::I64]),
    (
        "http_request",
        &[ValType::I32, ValType::I32],
        &[ValType::I64],
    ),
];

/// Whether an import or export has exactly these parameter and result types.
pub(super) fn sig_matches(ty: &ExternType, params: &[ValType], results: &[ValType]) -> bool {
    let ExternType::Func(f) = ty else {
        return false;
    };
    let same = |a: &mut dyn ExactSizeIterator<Item = ValType>, b: &[ValType]| {
        a.len() == b.len() && a.zip(b).all(|(x, y)| ValType::eq(&x, y))
    };
    same(&mut f.params(), params) && same(&mut f.results(), results)
}

fn text(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Option<String> {
    read_guest(caller, ptr, len).and_then(|b| String::from_utf8(b).ok())
}

/// Registers every host function in `linker`.
pub fn add_host_functions(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "mikawaya",
        "log",
        |mut caller: Caller<'_, HostState>, level: i32, ptr: i32, len: i32| {
            let message = text(&mut caller, ptr, len).unwrap_or_default();
            let plugin = caller.data().plugin.clone();
            match level {
                0 => tracing::debug!(%plugin, "{message}"),
                1 => tracing::info!(%plugin, "{message}"),
                2 => tracing::warn!(%plugin, "{message}"),
                _ => tracing::error!(%plugin, "{message}"),
            }
        },
    )?;
    linker.func_wrap(
        "mikawaya",
        "now_ms",
        |caller: Caller<'_, HostState>| -> i64 { (caller.data().shared.now_ms)() },
    )?;
    linker.func_wrap(
        "mikawaya",
        "kv_get",
        |mut caller: Caller<'_, HostState>, kp: i32, kl: i32| -> i64 {
            if !caller.data().caps.kv {
                deny(
                    &mut caller,
                    "kv_get denied: the plugin has no `kv` grant".into(),
                );
                return -1;
            }
            let Some(key) = text(&mut caller, kp, kl) else {
                return -2;
            };
            let (kv, rt, plugin) = (
                caller.data().shared.kv.clone(),
                caller.data().rt.clone(),
                caller.data().plugin.clone(),
            );
            match rt.block_on(kv.get(&plugin, &key)) {
                Ok(Some(v)) => write_guest(&mut caller, v.as_bytes()),
                Ok(None) => 0,
                Err(e) => {
                    deny(&mut caller, format!("kv_get failed: {e}"));
                    -2
                }
            }
        },
    )?;
    linker.func_wrap(
        "mikawaya",
        "kv_set",
        |mut caller: Caller<'_, HostState>, kp: i32, kl: i32, vp: i32, vl: i32| -> i32 {
            if !caller.data().caps.kv {
                deny(
                    &mut caller,
                    "kv_set denied: the plugin has no `kv` grant".into(),
                );
                return -1;
            }
            let (Some(key), Some(value)) = (text(&mut caller, kp, kl), text(&mut caller, vp, vl))
            else {
                return -2;
            };
            let (kv, rt, plugin) = (
                caller.data().shared.kv.clone(),
                caller.data().rt.clone(),
                caller.data().plugin.clone(),
            );
            match rt.block_on(kv.set(&plugin, &key, &value)) {
                Ok(()) => 0,
                Err(e) => {
                    deny(&mut caller, format!("kv_set failed: {e}"));
                    -2
                }
            }
        },
    )?;
    linker.func_wrap(
        "mikawaya",
        "secret_get",
        |mut caller: Caller<'_, HostState>, np: i32, nl: i32| -> i64 {
            let Some(name) = text(&mut caller, np, nl) else {
                return -2;
            };
            if !caller.data().caps.secrets.contains(&name) {
                deny(
                    &mut caller,
                    format!("secret_get denied: secret `{name}` is not granted"),
                );
                return -1;
            }
            match std::env::var(format!("MIKAWAYA_SECRET_{name}")) {
                Ok(v) => write_guest(&mut caller, v.as_bytes()),
                Err(_) => 0,
            }
        },
    )?;
    linker.func_wrap("mikawaya", "http_request", |mut caller: Caller<'_, HostState>, rp: i32, rl: i32| -> i64 {
        let Some(req) = text(&mut caller, rp, rl).and_then(|t| serde_json::from_str::<Value>(&t).ok()) else { return -2 };
        let url = req.get("url").and_then(Value::as_str).unwrap_or("").to_string();
        let host = reqwest::Url::parse(&url).ok().and_then(|u| u.host_str().map(String::from)).unwrap_or_default();
        if !caller.data().caps.http.contains(&host) {
            deny(&mut caller, format!("http_request denied: host `{host}` is not in the plugin's granted allow-list"));
            return -1;
        }
        let answer = perform(&caller, &req, &url);
        write_guest(&mut caller, &json_bytes(&answer))
    })?;
    Ok(())
}

/// Runs an allowed HTTP request (at most 10 s; the call's own deadline still applies).
fn perform(caller: &Caller<'_, HostState>, req: &Value, url: &str) -> Value {
    let method = req
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .parse()
        .unwrap_or(reqwest::Method::GET);
    let mut builder = caller
        .data()
        .shared
        .http
        .request(method, url)
        .timeout(Duration::from_secs(10));
    for (k, v) in req
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        builder = builder.header(k, v.as_str().unwrap_or_default());
    }
    if let Some(body) = req.get("body") {
        builder = builder.body(
            body.as_str()
                .map(String::from)
                .unwrap_or_else(|| body.to_string()),
        );
    }
    caller.data().rt.block_on(async move {
        match builder.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                serde_json::json!({ "status": status, "body": body })
            }
            Err(e) => http_error(e.to_string()),
        }
    })
}
