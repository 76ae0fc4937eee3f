//! serde_yaml's error messages as problems: the position suffix dropped, a hint for the common
//! mistakes, and "did you mean" for a misspelled field.

use crate::diag::Problem;
use crate::span::Span;

/// `text` read as a `T`, or the Diagnostics of `file` with serde's problem at its position.
pub(crate) fn read_yaml<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<T, crate::Diagnostics> {
    serde_yaml::from_str(text).map_err(|e| {
        let mut diags = crate::Diagnostics::new(file, text);
        let at = e.location().map(|l| l.index()).unwrap_or(0);
        diags.push(serde_problem(&e.to_string(), Span::new(at, at + 1)));
        diags.finish()
    })
}

/// A problem from a serde message, with a hint for the common mistakes.
pub(crate) fn serde_problem(message: &str, span: Span) -> Problem {
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_string();
    if let Some(suggestion) = did_you_mean(&message) {
        return Problem::new("yaml", span, message).hint(suggestion);
    }
    let hint = if message.contains("unknown field") {
        "remove or rename the field; the expected fields are listed above (see also the JSON Schema: `mikawaya schema`)"
    } else if message.contains("missing field") {
        "add the field"
    } else if message.contains("invalid type") {
        "check the value's kind: a text, a number, a list or a mapping"
    } else {
        "check the YAML syntax (indentation, colons, quotes)"
    };
    Problem::new("yaml", span, message).hint(hint)
}

/// For serde's "unknown field `tirgger`, expected one of `workflow`, `trigger`, …": the closest
/// expected field, as a hint (`did you mean `trigger`?`).
pub(super) fn did_you_mean(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, expected) = rest.split_once('`')?;
    let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let best = crate::expr::closest(field, names.iter().copied())?;
    Some(format!("did you mean `{best}`?"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_misspelled_key_suggests_the_field_it_resembles() {
        let yaml = "workflow: w\nversion: 1\ntirgger: { event: a.b }\nsteps:\n  - action: log\n";
        let d = crate::compile_file("w.yaml", yaml).unwrap_err();
        let p = &d.problems[0];
        assert!(
            p.message.contains("unknown field `tirgger`"),
            "{}",
            p.message
        );
        assert_eq!(p.hint.as_deref(), Some("did you mean `trigger`?"));
        let yaml = "workflow: w\nversion: 1\ntrigger: { event: a.b }\nsteps:\n  - acton: log\n";
        let d = crate::compile_file("w.yaml", yaml).unwrap_err();
        let step = d
            .problems
            .iter()
            .find(|p| p.message.contains("`acton`"))
            .expect("reported");
        let hint = step.hint.clone().unwrap_or_default();
        assert!(hint.starts_with("did you mean `action`?"), "{hint}");
    }
}
