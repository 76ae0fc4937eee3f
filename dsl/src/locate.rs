//! Positions of YAML nodes by path, read from yaml-rust2's marked events.
//!
//! serde_yaml turns a document into typed values but forgets where each value was written; the
//! locator keeps a light tree of positions so every later problem can point at its line and column.

use crate::span::{LineIndex, Span};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg<'a> {
    /// A mapping key.
    Key(&'a str),
    /// A sequence index.
    Index(usize),
}

#[derive(Debug, Default)]
struct LocNode {
    start: usize,
    quoted: bool,
    scalar_len: usize,
    entries: Vec<(String, usize, LocNode)>,
    items: Vec<LocNode>,
}

/// Positions of every node of a YAML document.
#[derive(Debug, Default)]
pub struct Locator {
    root: Option<LocNode>,
}

enum Frame {
    Map(LocNode, Option<(String, usize)>),
    Seq(LocNode),
}

struct Builder<'t> {
    lines: LineIndex<'t>,
    stack: Vec<Frame>,
    done: Option<LocNode>,
}

impl Builder<'_> {
    fn offset(&self, mark: Marker) -> usize {
        self.lines.offset_of(mark.line(), mark.col())
    }

    fn attach(&mut self, node: LocNode, key_text: Option<String>) {
        match self.stack.last_mut() {
            None => self.done = Some(node),
            Some(Frame::Seq(seq)) => seq.items.push(node),
            Some(Frame::Map(map, pending)) => match pending.take() {
                Some((key, key_at)) => map.entries.push((key, key_at, node)),
                None => {
                    if map.entries.is_empty() {
                        map.start = map.start.min(node.start);
                    }
                    *pending = Some((key_text.unwrap_or_default(), node.start));
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let start = self.offset(mark);
        match ev {
            Event::Scalar(value, style, ..) => {
                let quoted = matches!(
                    style,
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted
                );
                let node = LocNode {
                    start,
                    quoted,
                    scalar_len: value.len(),
                    ..Default::default()
                };
                self.attach(node, Some(value));
            }
            Event::MappingStart(..) => self.stack.push(Frame::Map(
                LocNode {
                    start,
                    ..Default::default()
                },
                None,
            )),
            Event::SequenceStart(..) => self.stack.push(Frame::Seq(LocNode {
                start,
                ..Default::default()
            })),
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(Frame::Map(node, _) | Frame::Seq(node)) = self.stack.pop() {
                    self.attach(node, None);
                }
            }
            Event::Alias(_) => self.attach(
                LocNode {
                    start,
                    ..Default::default()
                },
                None,
            ),
            _ => {}
        }
    }
}

impl Locator {
    /// Reads positions from `text`; on a syntax error the locator stays empty.
    pub fn new(text: &str) -> Locator {
        let mut builder = Builder {
            lines: LineIndex::new(text),
            stack: Vec::new(),
            done: None,
        };
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut builder, false).is_err() {
            return Locator::default();
        }
        Locator { root: builder.done }
    }

    fn find(&self, path: &[Seg<'_>]) -> Option<&LocNode> {
        let mut node = self.root.as_ref()?;
        for seg in path {
            node = match seg {
                Seg::Key(k) => node
                    .entries
                    .iter()
                    .find(|(key, ..)| key == k)
                    .map(|(_, _, n)| n)?,
                Seg::Index(i) => node.items.get(*i)?,
            };
        }
        Some(node)
    }

    /// The span of the value at `path`, or of the nearest ancestor that exists.
    pub fn span(&self, path: &[Seg<'_>]) -> Span {
        for len in (0..=path.len()).rev() {
            if let Some(n) = self.find(&path[..len]) {
                return Span::new(n.start, n.start + n.scalar_len.max(1));
            }
        }
        Span::new(0, 1)
    }

    /// The span of the key `key` in the mapping at `path` (for "unknown field" problems).
    pub fn key_span(&self, path: &[Seg<'_>], key: &str) -> Span {
        match self
            .find(path)
            .and_then(|n| n.entries.iter().find(|(k, ..)| k == key))
        {
            Some((k, at, _)) => Span::new(*at, at + k.len()),
            None => self.span(path),
        }
    }

    /// The byte offset where the text of the scalar at `path` begins (after an opening quote).
    pub fn text_offset(&self, path: &[Seg<'_>]) -> usize {
        match self.find(path) {
            Some(n) => n.start + usize::from(n.quoted),
            None => self.span(path).start,
        }
    }
}

/// The problem of a declaration file (`scores/`, `segments/`, `models/`) whose top-level `key`
/// names something an earlier file already declared: `what` says which and where, pointed at
/// the key's value.
pub fn declared_twice(
    file: &str,
    text: &str,
    key: &'static str,
    what: String,
) -> crate::diag::Diagnostics {
    let mut d = crate::diag::Diagnostics::new(file, text);
    let at = Locator::new(text).span(&[Seg::Key(key)]);
    d.push(crate::diag::Problem::new(key, at, what).hint(format!("declare each {key} once")));
    d.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::position;

    #[test]
    fn finds_keys_items_and_quoted_scalars() {
        let text =
            "workflow: x\nsteps:\n  - action: email.send\n    with:\n      to: \"{{ a }}\"\n";
        let loc = Locator::new(text);
        let to = [
            Seg::Key("steps"),
            Seg::Index(0),
            Seg::Key("with"),
            Seg::Key("to"),
        ];
        let span = loc.span(&to);
        assert_eq!(position(text, span.start).to_string(), "5:11");
        assert_eq!(&text[loc.text_offset(&to)..loc.text_offset(&to) + 2], "{{");
        let key = loc.key_span(&[Seg::Key("steps"), Seg::Index(0)], "with");
        assert_eq!(position(text, key.start).to_string(), "4:5");
        assert_eq!(
            position(text, loc.span(&[Seg::Key("steps"), Seg::Index(9)]).start).to_string(),
            "3:3"
        );
    }
}
