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
        let answer = perform(&mut caller, &req, &url);
        write_guest(&mut caller, &json_bytes(&answer))
    })?;
    Ok(())
}

/// Most redirects an HTTP request follows.
const MAX_REDIRECTS: usize = 5;

/// Runs an allowed HTTP request within the call's deadline (and at most 10 s), following
/// redirects only to hosts the plugin is granted. Running into the deadline marks the call as
/// timed out, so it fails as retryable, like a plugin that ran out of time computing.
fn perform(caller: &mut Caller<'_, HostState>, req: &Value, url: &str) -> Value {
    let mut method: reqwest::Method = req
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .parse()
        .unwrap_or(reqwest::Method::GET);
    let mut body = req.get("body").map(|b| {
        b.as_str()
            .map(String::from)
            .unwrap_or_else(|| b.to_string())
    });
    let headers: Vec<(String, String)> = req
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let mut url = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let left = caller
            .data()
            .deadline
            .saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            caller.data_mut().timed_out = true;
            return http_error("the plugin's time ran out before the request".into());
        }
        let mut builder = caller
            .data()
            .shared
            .http
            .request(method.clone(), &url)
            .timeout(left.min(Duration::from_secs(10)));
        for (k, v) in &headers {
            builder = builder.header(k, v);
        }
        if let Some(b) = &body {
            builder = builder.body(b.clone());
        }
        let answer = caller.data().rt.block_on(async move {
            let resp = builder.send().await?;
            let status = resp.status();
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(String::from);
            let text = resp.text().await?;
            Ok::<_, reqwest::Error>((status, location, text))
        });
        let (status, location, text) = match answer {
            Ok(a) => a,
            Err(e) => {
                if e.is_timeout() {
                    caller.data_mut().timed_out = true;
                }
                return http_error(e.to_string());
            }
        };
        let Some(next) = status
            .is_redirection()
            .then_some(location)
            .flatten()
            .and_then(|l| reqwest::Url::parse(&url).ok()?.join(&l).ok())
        else {
            return serde_json::json!({ "status": status.as_u16(), "body": text });
        };
        let host = next.host_str().unwrap_or_default().to_string();
        if !caller.data().caps.http.contains(&host) {
            let message = format!("http_request denied: a redirect leads to host `{host}`, which is not in the plugin's granted allow-list");
            deny(caller, message.clone());
            return http_error(message);
        }
        if !matches!(status.as_u16(), 307 | 308) {
            method = reqwest::Method::GET;
            body = None;
        }
        url = next.to_string();
    }
    http_error(format!("more than {MAX_REDIRECTS} redirects"))
}
