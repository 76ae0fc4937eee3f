//! The step graph as data (JSON nodes and edges for the web page), Mermaid and Graphviz DOT,
//! all read from the IR so the picture always matches the code.

use crate::expr::format_duration;
use crate::ir::{StepKind, Target, Trigger, Workflow};
use serde::Serialize;

/// A node of the drawn graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphNode {
    /// Node id: `trigger`, `end`, or a step id.
    pub id: String,
    /// `trigger`, `action`, `wait`, `branch`, `exit` or `end`.
    pub kind: &'static str,
    /// Short text for the box.
    pub label: String,
    /// Line in the source file, when the node is a step.
    pub line: Option<usize>,
}

/// An edge of the drawn graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphEdge {
    /// Source node id.
    pub from: String,
    /// Target node id.
    pub to: String,
    /// Edge label (`yes`, `no`, `event`, `timeout`), empty for plain sequence.
    pub label: String,
}

/// Nodes and edges of one workflow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Graph {
    /// Nodes, trigger first.
    pub nodes: Vec<GraphNode>,
    /// Edges.
    pub edges: Vec<GraphEdge>,
}

fn target_id(w: &Workflow, t: Target) -> String {
    match t {
        Target::Step(i) => w.steps[i].id.clone(),
        Target::End => "end".into(),
    }
}

/// A one-line description of the trigger.
pub fn trigger_label(t: &Trigger) -> String {
    match t {
        Trigger::Event {
            segment: Some(s),
            event,
        } => match event.as_str() {
            crate::segments::LEFT => format!("leaves segment {s}"),
            _ => format!("enters segment {s}"),
        },
        Trigger::Event { event, .. } => format!("event {event}"),
        Trigger::Schedule {
            cron,
            timezone,
            for_each,
        } => {
            let each = for_each
                .as_ref()
                .map(|f| format!(" for each {f}"))
                .unwrap_or_default();
            format!("schedule {cron} ({timezone}){each}")
        }
        Trigger::Date {
            date,
            offset_ms,
            from_event,
            ..
        } => {
            let dir = if *offset_ms < 0 { "before" } else { "after" };
            format!(
                "{} {dir} {} (from {from_event})",
                format_duration(offset_ms.abs()),
                date.source
            )
        }
    }
}

/// Builds the graph of `w`.
pub fn graph(w: &Workflow) -> Graph {
    let mut nodes = vec![GraphNode {
        id: "trigger".into(),
        kind: "trigger",
        label: trigger_label(&w.trigger),
        line: None,
    }];
    let mut edges = vec![];
    let mut edge = |from: &str, to: Target, label: &str| {
        edges.push(GraphEdge {
            from: from.to_string(),
            to: target_id(w, to),
            label: label.to_string(),
        });
    };
    edge(
        "trigger",
        w.start,
        w.when.as_ref().map(|c| c.source.as_str()).unwrap_or(""),
    );
    for s in &w.steps {
        let (kind, label) = match &s.kind {
            StepKind::Action {
                action, args, next, ..
            } => {
                edge(&s.id, *next, "");
                let keys: Vec<&str> = args.keys().map(String::as_str).take(3).collect();
                ("action", format!("{action}({})", keys.join(", ")))
            }
            StepKind::Wait {
                duration_ms,
                until,
                next,
                on_event,
                at,
            } => match (until, at) {
                (_, Some(moment)) => {
                    edge(&s.id, *next, "");
                    ("wait", format!("wait until {moment}"))
                }
                (Some(u), None) => {
                    edge(&s.id, *on_event, &u.event);
                    edge(&s.id, *next, "timeout");
                    let lookback = u
                        .lookback_ms
                        .map(|l| format!(" (lookback {})", format_duration(l)))
                        .unwrap_or_default();
                    let label = format!(
                        "wait {} for {}{lookback}",
                        format_duration(*duration_ms),
                        u.event
                    );
                    ("wait", label)
                }
                (None, None) => {
                    edge(&s.id, *next, "");
                    ("wait", format!("wait {}", format_duration(*duration_ms)))
                }
            },
            StepKind::Branch {
                condition,
                then,
                otherwise,
            } => {
                edge(&s.id, *then, "yes");
                edge(&s.id, *otherwise, "no");
                ("branch", format!("if {}", condition.source))
            }
            StepKind::Split {
                experiment,
                variants,
                ..
            } => {
                let total: u32 = variants.iter().map(|v| v.weight).sum();
                for v in variants {
                    let share = f64::from(v.weight) * 100.0 / f64::from(total.max(1));
                    edge(&s.id, v.start, &format!("{} {share:.0}%", v.name));
                }
                ("split", format!("split {experiment}"))
            }
            StepKind::Decide {
                inputs, rows, next, ..
            } => {
                edge(&s.id, *next, "");
                let columns: Vec<&str> = inputs.iter().map(|i| i.source.as_str()).collect();
                let label = format!("decide {} ({} rows)", columns.join(", "), rows.len());
                ("decide", label)
            }
            StepKind::Exit { reason } => ("exit", format!("exit: {reason}")),
        };
        nodes.push(GraphNode {
            id: s.id.clone(),
            kind,
            label,
            line: Some(s.pos.line),
        });
    }
    nodes.push(GraphNode {
        id: "end".into(),
        kind: "end",
        label: "end".into(),
        line: None,
    });
    Graph { nodes, edges }
}

fn quote(s: &str) -> String {
    s.replace('"', "'")
}

fn safe_id(id: &str) -> String {
    format!(
        "n_{}",
        id.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    )
}

/// The graph as a Mermaid flowchart.
pub fn mermaid(w: &Workflow) -> String {
    let g = graph(w);
    let mut out = String::from("flowchart TD\n");
    for n in &g.nodes {
        let (open, close) = match n.kind {
            "branch" => ("{", "}"),
            "trigger" | "end" | "exit" => ("([", "])"),
            "wait" => ("[/", "/]"),
            _ => ("[", "]"),
        };
        out.push_str(&format!(
            "  {}{open}\"{}\"{close}\n",
            safe_id(&n.id),
            quote(&n.label)
        ));
    }
    for e in &g.edges {
        let label = if e.label.is_empty() {
            String::new()
        } else {
            format!("|\"{}\"|", quote(&e.label))
        };
        out.push_str(&format!(
            "  {} -->{label} {}\n",
            safe_id(&e.from),
            safe_id(&e.to)
        ));
    }
    out
}

/// The graph in Graphviz DOT.
pub fn dot(w: &Workflow) -> String {
    let g = graph(w);
    let mut out = format!("digraph \"{}\" {{\n  rankdir=TB;\n", quote(&w.name));
    for n in &g.nodes {
        let shape = match n.kind {
            "branch" => "diamond",
            "trigger" | "end" | "exit" => "oval",
            "wait" => "parallelogram",
            _ => "box",
        };
        out.push_str(&format!(
            "  {} [shape={shape}, label=\"{}\"];\n",
            safe_id(&n.id),
            quote(&n.label)
        ));
    }
    for e in &g.edges {
        out.push_str(&format!(
            "  {} -> {} [label=\"{}\"];\n",
            safe_id(&e.from),
            safe_id(&e.to),
            quote(&e.label)
        ));
    }
    out.push_str("}\n");
    out
}
