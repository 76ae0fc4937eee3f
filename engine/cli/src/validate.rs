//! `mikawaya validate`: compile rule files, check clashes, and render every email template
//! against its sample (templates named by workflows must exist).

use mikawaya_dsl::ir::{Arg, StepKind};
use mikawaya_dsl::{check, compile_source_with, Syntax, Workflow};
use mikawaya_engine::core::event_types;
use mikawaya_plugins::builtin::templates::MailTemplates;
use mikawaya_plugins::wasm::manifest::read_manifest;
use mikawaya_plugins::wasm::manifests_in;
use std::path::PathBuf;

/// Validates files and folders (default `workflows/`), knowing the actions of the built-ins and
/// of the plugins in `plugins` (read from their manifests); returns the exit code.
pub fn validate(paths: Vec<PathBuf>, plugins: Option<PathBuf>) -> anyhow::Result<i32> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("workflows")]
    } else {
        paths
    };
    let mut files = Vec::new();
    let mut template_dirs = Vec::new();
    let mut catalog_dirs = Vec::new();
    for p in paths {
        if p.is_dir() {
            catalog_dirs.push(p.clone());
            files.extend(mikawaya_engine::core::loader::rule_files(&p));
            if p.join("templates").is_dir() {
                template_dirs.push(p.join("templates"));
            }
        } else {
            files.push(p);
        }
    }
    let mut actions = crate::args::builtin_action_names();
    for manifest in plugins.iter().flat_map(|dir| manifests_in(dir)) {
        let m = read_manifest(&manifest).map_err(anyhow::Error::msg)?;
        actions.extend(m.actions.into_iter().map(|a| a.name));
    }
    let catalog = check::Catalog {
        actions: Some(actions),
        events: event_catalog(&catalog_dirs).map(std::sync::Arc::new),
        holidays: holiday_calendars(&catalog_dirs).map(std::sync::Arc::new),
    };
    let (mut ok, mut failed) = (Vec::new(), 0);
    for f in &files {
        let name = f.to_string_lossy().to_string();
        // An unreadable file (missing, not UTF-8) is a problem of that file: report it, go on.
        let text = match std::fs::read_to_string(f) {
            Ok(text) => text,
            Err(e) => {
                failed += 1;
                let why = if e.kind() == std::io::ErrorKind::InvalidData {
                    "is not UTF-8 text; save it as UTF-8".to_string()
                } else {
                    format!("cannot be read: {e}")
                };
                eprintln!("error {name}: {why}");
                continue;
            }
        };
        let syntax = Syntax::of_file(&name).unwrap_or(Syntax::Yaml);
        match compile_source_with(&name, &text, syntax, &catalog) {
            Ok(w) => {
                println!(
                    "ok    {name}: {} v{} ({} steps)",
                    w.name,
                    w.version,
                    w.steps.len()
                );
                ok.push(w);
            }
            Err(d) => {
                failed += 1;
                eprint!("{}", d.render());
            }
        }
    }
    for c in check::clashes(&ok) {
        failed += 1;
        eprintln!(
            "error: workflow `{}` version {} is defined in {}",
            c.name,
            c.version,
            c.files.join(" and ")
        );
    }
    for dir in &template_dirs {
        let templates = MailTemplates::new(dir);
        let problems = templates.check();
        for p in &problems {
            eprintln!("error: {p}");
        }
        let names = templates.names();
        let missing: Vec<String> = ok
            .iter()
            .flat_map(used_templates)
            .filter(|(_, t)| !names.contains(t))
            .map(|(w, t)| {
                format!(
                    "{w} uses email template `{t}`, which {} does not have",
                    dir.display()
                )
            })
            .collect();
        for m in &missing {
            eprintln!("error: {m}");
        }
        failed += problems.len() + missing.len();
        println!(
            "ok    {}: {} template(s) rendered against their samples",
            dir.display(),
            names.len()
        );
    }
    for dir in &catalog_dirs {
        failed += check_catalog(dir);
    }
    println!("{} file(s) checked, {} problem(s)", files.len(), failed);
    Ok(if failed > 0 { 1 } else { 0 })
}

/// The event catalog of the given workflows folders together, when it has no problem (its
/// problems are reported by [`check_catalog`]).
fn event_catalog(dirs: &[PathBuf]) -> Option<mikawaya_dsl::catalog::EventCatalog> {
    let files = read_all(dirs.iter().flat_map(|d| event_types::catalog_files(d)))?;
    mikawaya_dsl::catalog::EventCatalog::from_files(&files).ok()
}

/// The holiday calendars of the given workflows folders together, when they have no problem.
fn holiday_calendars(dirs: &[PathBuf]) -> Option<event_types::Holidays> {
    let files = read_all(
        dirs.iter()
            .flat_map(|d| event_types::yaml_files(&d.join(event_types::HOLIDAYS_DIR))),
    )?;
    event_types::Holidays::from_files(&files).ok()
}

/// (name, text) of every file, or `None` when one cannot be read.
fn read_all(paths: impl Iterator<Item = PathBuf>) -> Option<Vec<(String, String)>> {
    paths
        .map(|p| {
            Some((
                p.to_string_lossy().to_string(),
                std::fs::read_to_string(&p).ok()?,
            ))
        })
        .collect()
}

/// Checks the event catalog (`events/*.yaml`) and the holiday calendars (`holidays/*.yaml`) of
/// the workflows folder `dir`; their problems count.
fn check_catalog(dir: &std::path::Path) -> usize {
    use event_types::{catalog_files, load_catalog, load_holidays};
    let mut problems = 0;
    if !catalog_files(dir).is_empty() {
        problems += report_folder(
            dir.join(event_types::CATALOG_DIR),
            load_catalog(dir).map(|c| format!("{} event type(s) declared", c.len())),
        );
    }
    let names = |list: Vec<&str>| list.into_iter().map(String::from).collect::<Vec<_>>();
    problems += check_declared(dir, event_types::HOLIDAYS_DIR, "holiday calendars", || {
        load_holidays(dir).map(|h| names(h.names().collect()))
    });
    problems += check_declared(dir, mikawaya_dsl::scores::SCORES_DIR, "scores", || {
        // Checked against the folder's catalog when it has no problem (reported above).
        let catalog = event_catalog(&[dir.to_path_buf()]).unwrap_or_default();
        event_types::load_scores(dir, &catalog)
            .map(|s| names(s.iter().map(|d| d.name.as_str()).collect()))
    });
    problems += check_declared(
        dir,
        mikawaya_dsl::segments::SEGMENTS_DIR,
        "segments",
        || {
            event_types::load_segments(dir)
                .map(|s| names(s.iter().map(|d| d.name.as_str()).collect()))
        },
    );
    problems += check_declared(dir, mikawaya_dsl::models::MODELS_DIR, "models", || {
        event_types::load_models(dir).map(|m| names(m.iter().map(|d| d.name.as_str()).collect()))
    });
    problems
}

/// Reports the declarations folder `sub` of `dir` when it holds files: `label` and the names
/// `read` found, or its problems (counted).
fn check_declared(
    dir: &std::path::Path,
    sub: &str,
    label: &str,
    read: impl FnOnce() -> Result<Vec<String>, event_types::CatalogProblems>,
) -> usize {
    let folder = dir.join(sub);
    if event_types::yaml_files(&folder).is_empty() {
        return 0;
    }
    report_folder(folder, read().map(|n| format!("{label} {}", n.join(", "))))
}

/// Prints how a folder of catalog files read (`ok` and a summary, or every problem); returns
/// the number of problems.
fn report_folder(folder: PathBuf, read: Result<String, event_types::CatalogProblems>) -> usize {
    match read {
        Ok(summary) => {
            println!("ok    {}: {summary}", folder.display());
            0
        }
        Err(problems) => {
            for d in &problems.errors {
                eprint!("{}", d.render());
            }
            for u in &problems.unreadable {
                eprintln!("error {u}");
            }
            let count: usize = problems.errors.iter().map(|d| d.problems.len()).sum();
            count + problems.unreadable.len()
        }
    }
}

/// `(workflow file, template name)` for every `email.send` step with a literal template.
fn used_templates(w: &Workflow) -> Vec<(String, String)> {
    w.steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Action { action, args, .. } if action == "email.send" => match args
                .get("template")
            {
                Some(Arg::Value(serde_json::Value::String(t))) => Some((w.file.clone(), t.clone())),
                _ => None,
            },
            _ => None,
        })
        .collect()
}
