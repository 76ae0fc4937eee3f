//! The event catalog at run time: read from `<workflows>/events/` with the workflows, and the
//! check intake applies to each event before it is stored (see [`mikawaya_dsl::catalog`]). The
//! holiday calendars of `<workflows>/holidays/` are read the same way.

use crate::event::{Event, EventError};
pub use mikawaya_dsl::calendar::{Holidays, HOLIDAYS_DIR};
use mikawaya_dsl::catalog::{Check, EventCatalog};
use mikawaya_dsl::Diagnostics;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The folder of catalog files inside a workflows folder.
pub const CATALOG_DIR: &str = "events";

/// The catalog files of the workflows folder `dir`: `events/*.yaml` (and `.yml`), sorted.
pub fn catalog_files(dir: &Path) -> Vec<PathBuf> {
    yaml_files(&dir.join(CATALOG_DIR))
}

/// The YAML files (`.yaml`, `.yml`) directly inside `dir`, sorted; none when it does not exist.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|x| {
                    x.eq_ignore_ascii_case("yaml") || x.eq_ignore_ascii_case("yml")
                })
        })
        .collect();
    files.sort();
    files
}

/// Why a catalog (of event types, of holidays) could not be built: each bad file's problems,
/// and files that cannot be read.
#[derive(Debug, Default)]
pub struct CatalogProblems {
    /// Files with problems, each with every problem.
    pub errors: Vec<Diagnostics>,
    /// Files that cannot be read.
    pub unreadable: Vec<String>,
}

/// Reads `paths` and builds something from their (name, text) with `build`; a file that cannot
/// be read fails the whole build, as a file with problems does.
pub fn build_from_files<T>(
    paths: Vec<PathBuf>,
    build: impl FnOnce(&[(String, String)]) -> Result<T, Vec<Diagnostics>>,
) -> Result<T, CatalogProblems> {
    let mut problems = CatalogProblems::default();
    let mut files = Vec::new();
    for path in paths {
        let name = path.to_string_lossy().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push((name, text)),
            Err(e) => problems
                .unreadable
                .push(format!("{name}: cannot read: {e}")),
        }
    }
    match build(&files) {
        Ok(built) if problems.unreadable.is_empty() => Ok(built),
        Ok(_) => Err(problems),
        Err(errors) => {
            problems.errors = errors;
            Err(problems)
        }
    }
}

/// Reads and checks the scores of the workflows folder `dir` (`scores/*.yaml`; none without
/// the folder) against the event catalog in force.
pub fn load_scores(
    dir: &Path,
    catalog: &EventCatalog,
) -> Result<mikawaya_dsl::scores::Scores, CatalogProblems> {
    let files = yaml_files(&dir.join(mikawaya_dsl::scores::SCORES_DIR));
    build_from_files(files, |files| {
        mikawaya_dsl::scores::Scores::from_files(files, catalog)
    })
}

/// What `workflows/scores`, `segments` and `models` declare.
#[derive(Debug, Default)]
pub struct Declarations {
    /// The scores.
    pub scores: mikawaya_dsl::scores::Scores,
    /// The segments and RFM settings.
    pub segments: mikawaya_dsl::segments::Segments,
    /// The prediction models.
    pub models: Vec<mikawaya_dsl::models::ModelDef>,
}

/// Reads and checks the scores, segments and models of the workflows folder `dir`; the
/// problems of all, when any has some.
pub fn load_knowledge(dir: &Path, catalog: &EventCatalog) -> Result<Declarations, CatalogProblems> {
    let mut problems = CatalogProblems::default();
    let mut keep = |p: CatalogProblems| {
        problems.errors.extend(p.errors);
        problems.unreadable.extend(p.unreadable);
    };
    let scores = load_scores(dir, catalog)
        .map_err(&mut keep)
        .unwrap_or_default();
    let segments = load_segments(dir).map_err(&mut keep).unwrap_or_default();
    let models = load_models(dir).map_err(&mut keep).unwrap_or_default();
    if problems.errors.is_empty() && problems.unreadable.is_empty() {
        Ok(Declarations {
            scores,
            segments,
            models,
        })
    } else {
        Err(problems)
    }
}

/// Reads and checks the prediction models of the workflows folder `dir` (`models/*.yaml`).
pub fn load_models(dir: &Path) -> Result<Vec<mikawaya_dsl::models::ModelDef>, CatalogProblems> {
    let files = yaml_files(&dir.join(mikawaya_dsl::models::MODELS_DIR));
    build_from_files(files, mikawaya_dsl::models::models_from_files)
}

/// Reads and checks the segments of the workflows folder `dir` (`segments/*.yaml`).
pub fn load_segments(dir: &Path) -> Result<mikawaya_dsl::segments::Segments, CatalogProblems> {
    let files = yaml_files(&dir.join(mikawaya_dsl::segments::SEGMENTS_DIR));
    build_from_files(files, mikawaya_dsl::segments::Segments::from_files)
}

/// Reads and builds the catalog of the workflows folder `dir` (empty without `events/`).
pub fn load_catalog(dir: &Path) -> Result<EventCatalog, CatalogProblems> {
    build_from_files(catalog_files(dir), EventCatalog::from_files)
}

/// Reads the holiday calendars of the workflows folder `dir` (`holidays/*.yaml`; none without
/// the folder).
pub fn load_holidays(dir: &Path) -> Result<Holidays, CatalogProblems> {
    build_from_files(yaml_files(&dir.join(HOLIDAYS_DIR)), Holidays::from_files)
}

/// Checks parsed events against `catalog`: a declared type's payload and customer attributes
/// must fit its declaration; with `strict`, an undeclared type is refused too. The first event
/// at fault refuses the request, naming its index and field.
pub fn check_events(
    catalog: &EventCatalog,
    strict: bool,
    events: &[Event],
) -> Result<(), EventError> {
    if catalog.is_empty() && !strict {
        return Ok(());
    }
    for (index, e) in events.iter().enumerate() {
        if catalog.get(&e.event_type).is_none() {
            if strict {
                return Err(EventError {
                    index,
                    field: "type".into(),
                    message: format!(
                        "`{}` is not declared in the event catalog (`{CATALOG_DIR}/*.yaml` in the workflows folder); declare it, or run without --strict-events",
                        e.event_type
                    ),
                });
            }
            continue;
        }
        let data = Value::Object(e.data.clone());
        let customer = Value::Object(e.customer.clone());
        if let Check::Invalid(problem) = catalog.check(&e.event_type, &data, &customer) {
            return Err(EventError {
                index,
                field: problem.field,
                message: problem.message,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_event;
    use serde_json::json;

    fn catalog() -> EventCatalog {
        let text = "cart.abandoned:\n  data:\n    cart: { total: number }\n".to_string();
        EventCatalog::from_files(&[("events/c.yaml".into(), text)]).unwrap()
    }

    fn event(i: usize, v: Value) -> Event {
        parse_event(i, v, 0).unwrap()
    }

    #[test]
    fn the_first_bad_event_is_named_with_its_field() {
        let good = event(
            0,
            json!({"id": "a", "type": "cart.abandoned", "data": {"cart": {"total": 5}}}),
        );
        let other = event(1, json!({"id": "b", "type": "lead.created"}));
        let bad = event(
            2,
            json!({"id": "c", "type": "cart.abandoned", "data": {"cart": {"total": "x"}}}),
        );
        assert_eq!(
            check_events(&catalog(), false, &[good.clone(), other.clone()]),
            Ok(())
        );
        let e = check_events(&catalog(), false, &[good.clone(), other.clone(), bad]).unwrap_err();
        assert_eq!((e.index, e.field.as_str()), (2, "data.cart.total"));
        assert_eq!(e.message, "expected a number, got \"x\"");
        let e = check_events(&catalog(), true, &[good, other]).unwrap_err();
        assert_eq!((e.index, e.field.as_str()), (1, "type"));
        assert!(e.message.contains("--strict-events"), "{}", e.message);
    }

    #[test]
    fn catalog_files_are_the_yaml_files_of_events() {
        let dir = tempfile::tempdir().unwrap();
        let events = dir.path().join(CATALOG_DIR);
        std::fs::create_dir(&events).unwrap();
        std::fs::write(events.join("b.yml"), "").unwrap();
        std::fs::write(events.join("a.yaml"), "x.y:\n  data: { n: number }\n").unwrap();
        std::fs::write(events.join("notes.md"), "").unwrap();
        let names: Vec<String> = catalog_files(dir.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["a.yaml", "b.yml"]);
        assert_eq!(load_catalog(dir.path()).unwrap().len(), 1);
        std::fs::write(events.join("b.yml"), "x.y:\n  data: { n: number }\n").unwrap();
        let problems = load_catalog(dir.path()).unwrap_err();
        assert!(problems.errors[0].to_plain().contains("already declared"));
    }
}
