//! Byte spans inside a source file and their line/column positions.

use serde::{Deserialize, Serialize};

/// A byte range `[start, end)` inside one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Span {
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset one past the last character.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start,
            end: end.max(start),
        }
    }

    /// The span shifted right by `by` bytes.
    pub fn shift(self, by: usize) -> Self {
        Span::new(self.start + by, self.end + by)
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True when the span covers nothing.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

impl From<pest::Span<'_>> for Span {
    fn from(s: pest::Span<'_>) -> Self {
        Span::new(s.start(), s.end())
    }
}

/// A 1-based line and column, as editors show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, PartialOrd, Ord)]
pub struct Pos {
    /// Line number, starting at 1.
    pub line: usize,
    /// Column number in characters, starting at 1.
    pub column: usize,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// The 1-based position of byte `offset` in `text` (clamped to the text).
pub fn position(text: &str, offset: usize) -> Pos {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    Pos {
        line,
        column: text[line_start..offset].chars().count() + 1,
    }
}

/// The byte offset of a 1-based line and 0-based character column in `text`.
pub fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    start + char_offset(&text[start..], col)
}

/// The byte offset of the `col`-th character of `rest` (its length when shorter).
fn char_offset(rest: &str, col: usize) -> usize {
    rest.char_indices().nth(col).map_or(rest.len(), |(i, _)| i)
}

/// Line starts of a text, computed once, so positions of many nodes cost a binary search each
/// instead of a scan from the start of the file (which made large files quadratic).
#[derive(Debug)]
pub struct LineIndex<'t> {
    text: &'t str,
    starts: Vec<usize>,
    ascii: bool,
}

impl<'t> LineIndex<'t> {
    /// Indexes `text`.
    pub fn new(text: &'t str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex {
            text,
            starts,
            ascii: text.is_ascii(),
        }
    }

    /// The 1-based line and column of a byte offset (as [`position`]).
    pub fn position(&self, offset: usize) -> Pos {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|s| *s <= offset);
        let start = self.starts[line - 1];
        let column = if self.ascii {
            offset - start
        } else {
            self.text[start..offset].chars().count()
        };
        Pos {
            line,
            column: column + 1,
        }
    }

    /// The byte offset of a 1-based line and 0-based character column (as [`offset_of`]).
    pub fn offset_of(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        if self.ascii {
            return (start + col).min(self.text.len());
        }
        start + char_offset(&self.text[start..], col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "ab\ncé d\n";
        assert_eq!(position(text, 0), Pos { line: 1, column: 1 });
        assert_eq!(position(text, 3), Pos { line: 2, column: 1 });
        let d = text.find('d').unwrap();
        assert_eq!(position(text, d), Pos { line: 2, column: 4 });
        assert_eq!(offset_of(text, 2, 3), d);
    }

    #[test]
    fn the_line_index_agrees_with_the_plain_functions() {
        for text in ["ab\ncé d\n\nxyz", "plain ascii\nlines\n", "", "\n\n"] {
            let index = LineIndex::new(text);
            for offset in 0..=text.len() {
                assert_eq!(
                    index.position(offset),
                    position(text, offset),
                    "{text:?} @{offset}"
                );
            }
            for line in 1..5 {
                for col in 0..6 {
                    assert_eq!(
                        index.offset_of(line, col),
                        offset_of(text, line, col),
                        "{text:?} {line}:{col}"
                    );
                }
            }
        }
    }
}
