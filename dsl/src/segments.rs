//! Segments: named groups of customers, each declared as a condition on the customer
//! (`workflows/segments/*.yaml`), one per file:
//!
//! ```yaml
//! segment: at-risk
//! description: Bought twice or more this year, nothing for two months.
//! when: count(order.placed, 365d) >= 2 and days_since(last(order.placed)) > 60
//! ```
//!
//! The condition may read the customer's attributes, scores (`customer.score.lead`), RFM
//! quintiles (`customer.rfm.r`) and aggregates of their event history (`count`, `sum`, `last`).
//! One optional file declares how RFM is computed instead of a segment:
//!
//! ```yaml
//! rfm: { event: order.placed, amount: total, window: 365d }
//! ```
//!
//! Without it RFM reads `order.placed` events, their `total`, over 365 days.

use crate::diag::{Diagnostics, Problem};
use crate::expr::{parse_duration, AggKind, Aggregate, Env, Expr, Root};
use crate::locate::{declared_twice, Locator, Seg};
use serde::{Deserialize, Serialize};

/// The folder of segment files inside a workflows folder.
pub const SEGMENTS_DIR: &str = "segments";
/// The event type of a customer entering a segment (`event.segment` names it).
pub const ENTERED: &str = "segment.entered";
/// The event type of a customer leaving a segment.
pub const LEFT: &str = "segment.left";

/// The event type of `on: enter` or `on: leave` in a segment trigger.
pub fn edge_event(on: &str) -> Option<&'static str> {
    match on {
        "enter" => Some(ENTERED),
        "leave" => Some(LEFT),
        _ => None,
    }
}

/// A segment file as written (or the RFM settings).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentFile {
    segment: Option<String>,
    #[serde(default)]
    description: Option<String>,
    when: Option<String>,
    rfm: Option<RfmFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RfmFile {
    event: String,
    amount: String,
    #[serde(default)]
    window: Option<String>,
}

/// How RFM quintiles are computed: from which events, which amount, over which window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RfmConfig {
    /// The purchase event type.
    pub event: String,
    /// Its field holding the amount spent.
    pub amount: String,
    /// Frequency and monetary value count this far back, in milliseconds.
    pub window_ms: i64,
}

impl Default for RfmConfig {
    fn default() -> Self {
        RfmConfig {
            event: "order.placed".into(),
            amount: "total".into(),
            window_ms: 365 * 86_400_000,
        }
    }
}

impl RfmConfig {
    /// Recency, frequency and monetary value as aggregates of the history.
    pub fn aggregates(&self) -> [Aggregate; 3] {
        let of = |kind, field: Option<&str>, window_ms| Aggregate {
            kind,
            event_type: self.event.as_str().into(),
            field: field.map(Into::into),
            window_ms,
        };
        [
            of(AggKind::Last, None, None),
            of(AggKind::Count, None, Some(self.window_ms)),
            of(AggKind::Sum, Some(&self.amount), Some(self.window_ms)),
        ]
    }
}

/// A checked segment.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentDef {
    /// The name (`customer.segments` lists it; triggers name it).
    pub name: String,
    /// Free text for people.
    pub description: Option<String>,
    /// Who belongs.
    pub condition: Expr,
    /// The file declaring it.
    pub file: String,
}

/// The segments in force and the RFM settings.
#[derive(Debug, Clone, Default)]
pub struct Segments {
    defs: Vec<SegmentDef>,
    /// How RFM is computed (the default when no file says).
    pub rfm: RfmConfig,
}

/// Whether `name` can name a segment: lowercase letters, digits, `-` and `_`.
pub fn valid_segment_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

enum Parsed {
    Segment(SegmentDef),
    Rfm(RfmConfig),
}

fn parse_file(file: &str, text: &str) -> Result<Parsed, Diagnostics> {
    let doc: SegmentFile = crate::yaml::read_yaml(file, text)?;
    let mut diags = Diagnostics::new(file, text);
    let loc = Locator::new(text);
    let problem = |key: &str, message: String, hint: &str| {
        Problem::new("segment", loc.span(&[Seg::Key(key)]), message).hint(hint)
    };
    if let Some(rfm) = doc.rfm {
        let window_ms = match rfm.window.as_deref() {
            None => RfmConfig::default().window_ms,
            Some(w) => parse_duration(w).filter(|ms| *ms > 0).unwrap_or_else(|| {
                diags.push(problem(
                    "rfm",
                    format!("`{w}` is not a duration"),
                    "write the window as a duration, e.g. `365d`",
                ));
                0
            }),
        };
        if doc.segment.is_some() || doc.when.is_some() {
            diags.push(problem(
                "rfm",
                "a file declares either a segment or the RFM settings".into(),
                "move `rfm:` into a file of its own",
            ));
        }
        return match diags.is_empty() {
            true => Ok(Parsed::Rfm(RfmConfig {
                event: rfm.event,
                amount: rfm.amount,
                window_ms,
            })),
            false => Err(diags.finish()),
        };
    }
    let (Some(name), Some(when)) = (doc.segment, doc.when) else {
        diags.push(problem(
            "segment",
            "a segment needs `segment` (its name) and `when` (who belongs)".into(),
            "e.g. `segment: at-risk` and `when: days_since(last(order.placed)) > 60`",
        ));
        return Err(diags.finish());
    };
    if !valid_segment_name(&name) {
        diags.push(problem(
            "segment",
            format!("`{name}` cannot name a segment"),
            "use lowercase letters, digits, `-` and `_`, starting with a letter (`at-risk`, `vip`)",
        ));
    }
    let at = loc.span(&[Seg::Key("when")]).start;
    let quoted = usize::from(text[at..].starts_with(['"', '\'']));
    let mut problems = Vec::new();
    let condition = Expr::compile_at(&when, at + quoted, &Env::default(), &mut problems);
    if let Some(c) = condition.as_ref().filter(|c| c.node.reads(Root::Event)) {
        problems.push(
            Problem::new("segment", loc.span(&[Seg::Key("when")]), format!("`{c}` reads `event`: a segment is about the customer, whatever event came last"))
                .hint("count the events instead: `count(order.placed, 30d) >= 1`"),
        );
    }
    problems.into_iter().for_each(|p| diags.push(p));
    match condition {
        Some(condition) if diags.is_empty() => Ok(Parsed::Segment(SegmentDef {
            name,
            description: doc.description,
            condition,
            file: file.to_string(),
        })),
        _ => Err(diags.finish()),
    }
}

impl Segments {
    /// Builds the segments from `(file, text)` pairs; every file with a problem is reported (a
    /// segment declared twice, or RFM settings twice, is one).
    pub fn from_files(files: &[(String, String)]) -> Result<Segments, Vec<Diagnostics>> {
        let mut segments = Segments::default();
        let mut rfm_file: Option<&str> = None;
        let mut failed = Vec::new();
        for (file, text) in files {
            let twice = |what: String, key| declared_twice(file, text, key, what);
            match parse_file(file, text) {
                Ok(Parsed::Segment(def)) => match segments.get(&def.name) {
                    Some(first) => failed.push(twice(
                        format!(
                            "segment `{}` is already declared in {}",
                            def.name, first.file
                        ),
                        "segment",
                    )),
                    None => segments.defs.push(def),
                },
                Ok(Parsed::Rfm(rfm)) => match rfm_file {
                    Some(first) => failed.push(twice(
                        format!("the RFM settings are already declared in {first}"),
                        "rfm",
                    )),
                    None => {
                        rfm_file = Some(file);
                        segments.rfm = rfm;
                    }
                },
                Err(d) => failed.push(d),
            }
        }
        if failed.is_empty() {
            Ok(segments)
        } else {
            Err(failed)
        }
    }

    /// The segment called `name`.
    pub fn get(&self, name: &str) -> Option<&SegmentDef> {
        self.defs.iter().find(|d| d.name == name)
    }

    /// Every segment, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &SegmentDef> {
        self.defs.iter()
    }

    /// True when no segment is declared.
    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    /// Every history aggregate the segments read, RFM's included.
    pub fn aggregates(&self) -> Vec<Aggregate> {
        let mut out = Vec::new();
        for d in &self.defs {
            d.condition.node.aggregates(&mut out);
        }
        let mut all: Vec<Aggregate> = out.into_iter().cloned().collect();
        all.extend(self.rfm.aggregates());
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn segments_and_rfm_settings_are_read_with_their_aggregates() {
        let s = Segments::from_files(&files(&[
            ("segments/at-risk.yaml", "segment: at-risk\ndescription: drifting\nwhen: count(order.placed, 365d) >= 2 and days_since(last(order.placed)) > 60\n"),
            ("segments/vip.yaml", "segment: vip\nwhen: \"sum(order.placed.total, 365d) > 1000 or customer.tier == 'gold'\"\n"),
            ("segments/rfm.yaml", "rfm: { event: purchase.done, amount: amount, window: 180d }\n"),
        ]))
        .unwrap();
        assert_eq!(
            s.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
            ["at-risk", "vip"]
        );
        assert_eq!(s.rfm.event, "purchase.done");
        assert_eq!(s.rfm.window_ms, 180 * 86_400_000);
        let texts: Vec<String> = s.aggregates().iter().map(|a| a.to_string()).collect();
        assert!(
            texts.contains(&"count(order.placed, 365d)".to_string()),
            "{texts:?}"
        );
        assert!(texts.contains(&"sum(order.placed.total, 365d)".to_string()));
        assert!(texts.contains(&"sum(purchase.done.amount, 180d)".to_string()));
    }

    #[test]
    fn problems_point_at_line_and_column() {
        let err = Segments::from_files(&files(&[(
            "segments/bad.yaml",
            "segment: bad\nwhen: count(order.placed) > 1\n",
        )]))
        .unwrap_err();
        let text = err[0].to_string();
        assert!(text.contains("segments/bad.yaml:2:7"), "{text}");
        assert!(text.contains("window"), "{text}");
        for (yaml, needle) in [
            (
                "segment: Bad Name\nwhen: customer.vip\n",
                "cannot name a segment",
            ),
            ("segment: x\nwhen: event.total > 3\n", "reads `event`"),
            ("segment: x\n", "needs `segment`"),
            (
                "segment: x\nwhen: customer.vip\nrfm: { event: a.b, amount: c }\n",
                "either a segment",
            ),
        ] {
            let err = Segments::from_files(&files(&[("s.yaml", yaml)])).unwrap_err();
            assert!(err[0].to_string().contains(needle), "{yaml}: {}", err[0]);
        }
        let twice = Segments::from_files(&files(&[
            ("a.yaml", "segment: x\nwhen: customer.vip\n"),
            ("b.yaml", "segment: x\nwhen: customer.vip\n"),
        ]))
        .unwrap_err();
        assert!(twice[0].to_string().contains("already declared in a.yaml"));
    }
}
