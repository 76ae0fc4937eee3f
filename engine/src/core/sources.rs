//! Signed event sources: each sending system (a shop, a help desk) has a name and a shared
//! secret, and signs every request body with a timestamp, Stripe's scheme:
//! `Mikawaya-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. A request
//! is accepted only if one of its `v1` values matches one of the source's secrets (several
//! secrets let a source rotate without downtime) and `t` is within the tolerance of now, so a
//! captured request cannot be replayed later; within the window a replay is a duplicate event id,
//! which the intake ignores anyway. Pure: the API reads the header and the clock.

use crate::clock::Millis;
use hmac::{Hmac, Mac};
use mikawaya_dsl::expr::parse_duration;
use serde::Deserialize;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::path::Path;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Mikawaya-Signature";

/// How far the signature's time may be from now by default: five minutes.
pub const DEFAULT_TOLERANCE_MS: i64 = 5 * 60_000;

/// One sending system.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its name, recorded on every event it sends (`event.source`).
    pub name: String,
    /// The secrets it may sign with (more than one while rotating).
    secrets: Vec<String>,
    /// How far a signature's time may be from now.
    pub tolerance_ms: i64,
}

/// Why a signed request was refused; each message says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature header.
    #[error("the request has no `Mikawaya-Signature` header; sign the body as `t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" with the source's secret>`")]
    Missing,
    /// The header cannot be read.
    #[error(
        "`Mikawaya-Signature` is malformed ({0}); expected `t=<unix seconds>,v1=<64 hex digits>`"
    )]
    Malformed(String),
    /// The timestamp is outside the tolerance.
    #[error("the signature's time is {age_s} s from the engine's clock (tolerance {tolerance_s} s): a stale or replayed request, or a sender's clock that is off; sign the request again when sending it")]
    Stale {
        /// Seconds between the signature's time and now.
        age_s: i64,
        /// The tolerance in seconds.
        tolerance_s: i64,
    },
    /// No `v1` matches any secret.
    #[error("no `v1` signature matches: sign exactly the bytes sent, as \"<t>.<body>\", with this source's secret")]
    Mismatch,
}

impl Source {
    /// A source named `name` with `secrets`.
    pub fn new(name: &str, secrets: Vec<String>, tolerance_ms: i64) -> Self {
        Source {
            name: name.into(),
            secrets,
            tolerance_ms,
        }
    }

    /// Checks `header` (the value of [`SIGNATURE_HEADER`]) for `body` at `now`.
    pub fn verify(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: Millis,
    ) -> Result<(), SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let (t, signatures) = parse_header(header)?;
        let age_s = now / 1000 - t;
        if age_s.abs() * 1000 > self.tolerance_ms {
            return Err(SignatureError::Stale {
                age_s,
                tolerance_s: self.tolerance_ms / 1000,
            });
        }
        let signed = signed_payload(t, body);
        // `verify_slice` compares in constant time: response times reveal nothing of the secret.
        let matches = self.secrets.iter().any(|secret| {
            signatures.iter().any(|sig| {
                let mut mac = mac(secret);
                mac.update(&signed);
                mac.verify_slice(sig).is_ok()
            })
        });
        if matches {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// The header value signing `body` at `t` (unix seconds) with `secret`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(&signed_payload(t, body));
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn mac(secret: &str) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length")
}

fn signed_payload(t: i64, body: &[u8]) -> Vec<u8> {
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    signed
}

/// `t` and the `v1` signatures of a header; other schemes are ignored (room for a `v2`).
fn parse_header(header: &str) -> Result<(i64, Vec<Vec<u8>>), SignatureError> {
    let (mut t, mut signatures) = (None, Vec::new());
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or_else(|| SignatureError::Malformed(format!("`{}` has no `=`", part.trim())))?;
        match key {
            "t" => {
                let secs = value.parse::<i64>().map_err(|_| {
                    SignatureError::Malformed(format!("`t={value}` is not unix seconds"))
                })?;
                t = Some(secs);
            }
            "v1" => signatures.push(hex::decode(value).map_err(|_| {
                SignatureError::Malformed(format!("`v1={value}` is not hexadecimal"))
            })?),
            _ => {}
        }
    }
    let t = t.ok_or_else(|| SignatureError::Malformed("no `t=`".into()))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no `v1=`".into()));
    }
    Ok((t, signatures))
}

/// The sources file (`--sources`): per source name, where its secret is and the tolerance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceEntry {
    /// An environment variable holding the secret.
    secret_env: Option<String>,
    /// A file holding the secret, or several (one per line) while rotating.
    secret_file: Option<String>,
    /// How far a signature's time may be from now, e.g. `5m`.
    tolerance: Option<String>,
}

/// The signed sources, by name.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    by_name: BTreeMap<String, Source>,
}

impl Sources {
    /// The sources of the YAML file at `path`, their secrets read from the environment or
    /// files it names (never from the file itself, which tends to end up in version control).
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read sources file {}: {e}", path.display()))?;
        Self::parse(&text, &|name| std::env::var(name).ok(), &|file| {
            std::fs::read_to_string(file).map_err(|e| e.to_string())
        })
        .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses the sources file, looking secrets up with `env` and `read`.
    pub fn parse(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        read: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<Self, String> {
        let entries: BTreeMap<String, SourceEntry> = serde_yaml::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!("{}:{}: ", l.line(), l.column()))
                .unwrap_or_default();
            format!("{at}{e}; each source is `name: {{ secret_env: VAR }}` or `name: {{ secret_file: PATH }}`, with an optional `tolerance: 5m`")
        })?;
        let mut by_name = BTreeMap::new();
        for (name, entry) in entries {
            let secrets: Vec<String> = match (&entry.secret_env, &entry.secret_file) {
                (Some(var), None) => env(var).map(|s| vec![s]).ok_or_else(|| {
                    format!("source `{name}`: environment variable `{var}` is not set")
                })?,
                (None, Some(file)) => read(file)
                    .map_err(|e| format!("source `{name}`: cannot read secret file `{file}`: {e}"))?
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect(),
                _ => {
                    return Err(format!(
                        "source `{name}`: give exactly one of `secret_env` and `secret_file`"
                    ))
                }
            };
            if secrets.iter().any(|s| s.len() < 16) || secrets.is_empty() {
                return Err(format!(
                    "source `{name}`: a secret must have at least 16 characters (e.g. `openssl rand -hex 32`)"
                ));
            }
            let tolerance_ms = match &entry.tolerance {
                None => DEFAULT_TOLERANCE_MS,
                Some(t) => parse_duration(t).filter(|ms| *ms > 0).ok_or_else(|| {
                    format!("source `{name}`: tolerance `{t}` is not a duration such as `5m`")
                })?,
            };
            by_name.insert(name.clone(), Source::new(&name, secrets, tolerance_ms));
        }
        Ok(Sources { by_name })
    }

    /// The source `name`, if configured.
    pub fn get(&self, name: &str) -> Option<&Source> {
        self.by_name.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123";
    const NOW: Millis = 1_800_000_000_000;

    fn shop() -> Source {
        Source::new("shop", vec![SECRET.into()], DEFAULT_TOLERANCE_MS)
    }

    #[test]
    fn a_signature_made_by_sign_verifies_and_any_change_breaks_it() {
        let body = br#"{"id":"o-1","type":"order.placed"}"#;
        let header = sign(SECRET, NOW / 1000, body);
        assert_eq!(shop().verify(Some(&header), body, NOW), Ok(()));
        let tampered = br#"{"id":"o-2","type":"order.placed"}"#;
        assert_eq!(
            shop().verify(Some(&header), tampered, NOW),
            Err(SignatureError::Mismatch)
        );
        let other = sign("another-secret-of-length", NOW / 1000, body);
        assert_eq!(
            shop().verify(Some(&other), body, NOW),
            Err(SignatureError::Mismatch)
        );
        // The signed time is part of the signature: moving `t` alone breaks it.
        let moved = header.replace(
            &format!("t={}", NOW / 1000),
            &format!("t={}", NOW / 1000 + 1),
        );
        assert_eq!(
            shop().verify(Some(&moved), body, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_signature_outside_the_tolerance_is_refused_either_way() {
        let body = b"{}";
        let t = NOW / 1000;
        let at = |offset_s: i64| shop().verify(Some(&sign(SECRET, t + offset_s, body)), body, NOW);
        assert_eq!(at(-300), Ok(()));
        assert_eq!(at(299), Ok(()));
        assert_eq!(
            at(-301),
            Err(SignatureError::Stale {
                age_s: 301,
                tolerance_s: 300
            })
        );
        assert!(matches!(at(3600), Err(SignatureError::Stale { .. })));
    }

    #[test]
    fn rotation_and_several_signatures_and_malformed_headers() {
        let body = b"[]";
        let t = NOW / 1000;
        let rotating = Source::new(
            "shop",
            vec!["old-secret-0123456789".into(), SECRET.into()],
            DEFAULT_TOLERANCE_MS,
        );
        assert_eq!(
            rotating.verify(Some(&sign(SECRET, t, body)), body, NOW),
            Ok(())
        );
        // A sender signing with both secrets while rotating: one `v1` that matches is enough.
        let both = format!(
            "{},v1={}",
            sign("not-the-secret-at-all", t, body),
            sign(SECRET, t, body).split("v1=").nth(1).unwrap()
        );
        assert_eq!(shop().verify(Some(&both), body, NOW), Ok(()));
        assert_eq!(shop().verify(None, body, NOW), Err(SignatureError::Missing));
        for bad in [
            "v1=00",
            "t=abc,v1=00",
            &format!("t={t}"),
            &format!("t={t},v1=zz"),
            "garbage",
        ] {
            assert!(
                matches!(
                    shop().verify(Some(bad), body, NOW),
                    Err(SignatureError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_sources_file_reads_secrets_from_the_environment_or_a_file() {
        let env = |name: &str| (name == "SHOP_SECRET").then(|| SECRET.to_string());
        let read = |file: &str| match file {
            "/secrets/desk" => Ok(format!("{SECRET}\n\nnext-secret-0123456789\n")),
            _ => Err("no such file".to_string()),
        };
        let text = "shop: { secret_env: SHOP_SECRET }\ndesk:\n  secret_file: /secrets/desk\n  tolerance: 1m\n";
        let sources = Sources::parse(text, &env, &read).unwrap();
        assert_eq!(sources.get("desk").unwrap().tolerance_ms, 60_000);
        assert_eq!(sources.get("desk").unwrap().secrets.len(), 2);
        assert_eq!(
            sources.get("shop").unwrap().tolerance_ms,
            DEFAULT_TOLERANCE_MS
        );

        let refused = |text: &str| Sources::parse(text, &env, &read).unwrap_err();
        assert!(refused("shop: { secret_env: NOT_SET }").contains("`NOT_SET` is not set"));
        assert!(refused("shop: { secret_file: /nope }").contains("cannot read secret file"));
        assert!(refused("shop: { secret: inline }").contains("unknown field"));
        assert!(refused("shop: {}").contains("exactly one of"));
        assert!(
            refused("shop: { secret_env: SHOP_SECRET, tolerance: soon }")
                .contains("not a duration")
        );
        let short = |_: &str| Some("short".to_string());
        let e = Sources::parse("shop: { secret_env: X }", &short, &read).unwrap_err();
        assert!(e.contains("at least 16 characters"), "{e}");
        assert!(
            refused("shop: [").starts_with("1:"),
            "{}",
            refused("shop: [")
        );
    }
}
