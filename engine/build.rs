//! Keeps the web page the binary embeds current (issue "visual rule builder"): `engine/web/dist`
//! is built by `engine/web/build.sh` (npm and vite, from `package-lock.json`), and rust-embed
//! takes it into release binaries at compile time. Before, `cargo build --release` run before
//! the page was built left a binary without it, and building the page afterwards did not
//! re-embed it (cargo saw nothing change). Now cargo watches the page's sources and the built
//! bundle: when a source is newer than the bundle (or there is none) this script builds it,
//! and a bundle built by hand makes cargo embed it again.
//!
//! Without npm the build goes on with a warning (the engine and its API work without the page);
//! `MIKAWAYA_SKIP_WEB_BUILD=1` skips building the page on purpose.

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

/// What the bundle is built from.
const SOURCES: [&str; 6] = [
    "web/src",
    "web/index.html",
    "web/package.json",
    "web/package-lock.json",
    "web/vite.config.js",
    "web/build.sh",
];

/// The newest modification time under `path` (a file, or a folder searched recursively).
fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .flatten()
        .filter_map(|entry| newest(&entry.path()))
        .max()
}

fn main() {
    println!("cargo:rerun-if-env-changed=MIKAWAYA_SKIP_WEB_BUILD");
    for source in SOURCES {
        println!("cargo:rerun-if-changed={source}");
    }
    println!("cargo:rerun-if-changed=web/dist");
    let sources = SOURCES.iter().filter_map(|s| newest(Path::new(s))).max();
    let built = newest(Path::new("web/dist/index.html"));
    let stale = match (built, sources) {
        (None, _) => true,
        (Some(built), Some(sources)) => built < sources,
        (Some(_), None) => false,
    };
    if !stale {
        return;
    }
    if std::env::var_os("MIKAWAYA_SKIP_WEB_BUILD").is_some() {
        println!("cargo:warning=the web page is not built (MIKAWAYA_SKIP_WEB_BUILD): this binary serves the API without it");
        return;
    }
    let npm = Command::new("npm").arg("--version").output();
    if !npm.is_ok_and(|o| o.status.success()) {
        println!("cargo:warning=npm not found: the web page is missing or out of date in this build; install Node.js and npm (or run engine/web/build.sh) and build again");
        return;
    }
    let out = Command::new("bash")
        .arg("web/build.sh")
        .output()
        .expect("bash runs");
    if !out.status.success() {
        panic!(
            "building the web page (engine/web/build.sh) failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
