//! Email templates (minijinja): one folder per template under the templates directory, holding
//! `subject.txt`, `text.txt` and optionally `html.html`. Rendering is strict: a missing variable is
//! an error, never an empty email. `sample.json` beside them is the context `check` renders with.

use minijinja::{path_loader, Environment, UndefinedBehavior};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The roots a template may use.
pub const TEMPLATE_ROOTS: &[&str] = &["customer", "event", "run", "steps", "vars"];

/// A rendered email.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain text part.
    pub text: String,
    /// HTML part, if the template has one.
    pub html: Option<String>,
}

/// The templates of one directory, compiled once and cached.
pub struct MailTemplates {
    env: Environment<'static>,
    dir: PathBuf,
}

impl MailTemplates {
    /// Templates under `dir` (loaded on first use).
    pub fn new(dir: &Path) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_loader(path_loader(dir));
        MailTemplates {
            env,
            dir: dir.to_path_buf(),
        }
    }

    fn part(&self, name: &str, file: &str, context: &Value) -> Result<Option<String>, String> {
        let path = format!("{name}/{file}");
        match self.env.get_template(&path) {
            Ok(t) => t
                .render(context)
                .map(Some)
                .map_err(|e| format!("template `{path}`: {e:#}")),
            Err(e) if e.kind() == minijinja::ErrorKind::TemplateNotFound => Ok(None),
            Err(e) => Err(format!("template `{path}`: {e:#}")),
        }
    }

    /// Renders template `name` with `context` (`customer`, `event`, `run`, `steps`, `vars`).
    pub fn render(&self, name: &str, context: &Value) -> Result<Rendered, String> {
        if name.contains("..") || name.contains('/') {
            return Err(format!("`{name}` is not a template name"));
        }
        let missing = || {
            format!(
                "template `{name}` needs {}/subject.txt and {}/text.txt in {}",
                name,
                name,
                self.dir.display()
            )
        };
        let subject = self
            .part(name, "subject.txt", context)?
            .ok_or_else(missing)?;
        let text = self.part(name, "text.txt", context)?.ok_or_else(missing)?;
        let html = self.part(name, "html.html", context)?;
        Ok(Rendered {
            subject: subject.trim().to_string(),
            text,
            html,
        })
    }

    /// Template names (folders) in the directory.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Renders every template against its `sample.json` (or a generic sample) and checks that it
    /// only uses known roots; returns one message per problem.
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for name in self.names() {
            for file in ["subject.txt", "text.txt", "html.html"] {
                if let Ok(t) = self.env.get_template(&format!("{name}/{file}")) {
                    for var in t.undeclared_variables(false) {
                        if !TEMPLATE_ROOTS.contains(&var.as_str()) {
                            problems.push(format!("template `{name}/{file}` uses unknown variable `{var}`; use one of {}", TEMPLATE_ROOTS.join(", ")));
                        }
                    }
                }
            }
            let sample_path = self.dir.join(&name).join("sample.json");
            let sample = match std::fs::read_to_string(&sample_path) {
                Ok(text) => match serde_json::from_str(&text) {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(format!("{}: not JSON: {e}", sample_path.display()));
                        continue;
                    }
                },
                Err(_) => generic_sample(),
            };
            if let Err(e) = self.render(&name, &sample) {
                problems.push(format!("{e} (rendered with {})", sample_path.display()));
            }
        }
        problems
    }
}

/// A context with the usual fields, for templates that ship no sample.
fn generic_sample() -> Value {
    json!({
        "customer": {"id": "c-1", "email": "ada@example.com", "first_name": "Ada"},
        "event": {"id": "e-1", "type": "sample"},
        "run": {"id": "r-1", "workflow": "sample", "version": 1},
        "steps": {},
        "vars": {}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    #[test]
    fn renders_parts_and_refuses_missing_variables() {
        let dir = dir_with(&[
            ("hi/subject.txt", "Hello {{ customer.first_name }}\n"),
            ("hi/text.txt", "Code {{ vars.coupon }}"),
            ("bad/subject.txt", "{{ customer.nickname }}"),
            ("bad/text.txt", "x"),
        ]);
        let t = MailTemplates::new(dir.path());
        let ctx = json!({"customer": {"first_name": "Ada"}, "vars": {"coupon": "SAVE10"}});
        assert_eq!(
            t.render("hi", &ctx).unwrap(),
            Rendered {
                subject: "Hello Ada".into(),
                text: "Code SAVE10".into(),
                html: None
            }
        );
        let err = t.render("bad", &ctx).unwrap_err();
        assert!(
            err.contains("bad/subject.txt") && err.contains("undefined"),
            "{err}"
        );
        assert!(t
            .render("nope", &ctx)
            .unwrap_err()
            .contains("needs nope/subject.txt"));
        assert!(t.render("../etc", &ctx).is_err());
    }

    #[test]
    fn check_reports_unknown_roots_and_sample_failures() {
        let dir = dir_with(&[
            ("a/subject.txt", "{{ cart.total }}"),
            ("a/text.txt", "x"),
            ("b/subject.txt", "{{ event.order.id }}"),
            ("b/text.txt", "x"),
            ("b/sample.json", r#"{"event": {"order": {"id": 7}}}"#),
        ]);
        let problems = MailTemplates::new(dir.path()).check();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("unknown variable `cart`"));
        assert!(problems[1].contains("a/subject.txt"));
    }
}
