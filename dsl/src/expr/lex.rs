//! Expression text to tokens, by hand: one pass over the bytes, no allocation.
//!
//! It accepts exactly the tokens of `grammar.pest`'s expression rules (the text DSL still uses
//! that grammar to find where an expression ends, and the differential tests in
//! `parse_reference.rs` hold the two to the same language). Whitespace is ` \t\r\n`; `#` starts a
//! comment up to the end of the line.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    /// `12` or `1.5`.
    Num,
    /// `30d`, `500ms` (digits directly followed by a unit).
    Dur,
    /// A quoted string, quotes included in the span.
    Str,
    /// A name with optional `.segment`s: `event.cart.total`.
    Path,
    /// `true`
    True,
    /// `false`
    False,
    /// `null`
    Null,
    /// `not`
    Not,
    /// `not in` (the words separated by whitespace only).
    NotIn,
    /// `and`
    And,
    /// `or`
    Or,
    /// `in`
    In,
    /// `contains`
    Contains,
    /// A word the language reserves (`if`, `wait`, `do`, ...): never a name.
    Reserved,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// A string without its closing quote.
    Unterminated,
    /// A character no token starts with.
    Unknown,
    /// The end of the text.
    End,
}

/// A token and its byte range in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

/// The words that are never names (the grammar's `keyword` rule).
const RESERVED: &[&str] = &[
    "do", "wait", "if", "else", "exit", "when", "on", "goal", "as", "retry", "until", "match",
    "timeout", "where",
];

/// Duration units, as `grammar.pest`'s `duration` rule lists them.
const UNITS: &[&str] = &["ms", "s", "m", "h", "d", "w"];

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits expression text into tokens on demand.
pub(crate) struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Lexer {
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    fn peek_byte(&self, at: usize) -> Option<u8> {
        self.bytes.get(at).copied()
    }

    fn skip_trivia(&mut self) {
        while let Some(b) = self.peek_byte(self.pos) {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'#' => {
                    while self.peek_byte(self.pos).is_some_and(|b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn run_of(&self, from: usize, pred: impl Fn(u8) -> bool) -> usize {
        let mut end = from;
        while self.peek_byte(end).is_some_and(&pred) {
            end += 1;
        }
        end
    }

    /// The next token; [`Tok::End`] (repeatedly) at the end of the text.
    pub fn next_token(&mut self) -> Token {
        self.skip_trivia();
        let start = self.pos;
        let Some(b) = self.peek_byte(start) else {
            return Token {
                tok: Tok::End,
                start,
                end: start,
            };
        };
        let (tok, end) = match b {
            b'0'..=b'9' => self.number(start),
            b'"' | b'\'' => self.string(start, b),
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => self.word(start),
            _ => self.punct(start, b),
        };
        self.pos = end;
        Token { tok, start, end }
    }

    fn number(&self, start: usize) -> (Tok, usize) {
        let digits_end = self.run_of(start, |b| b.is_ascii_digit());
        let word_end = self.run_of(digits_end, is_ident_char);
        let unit = &self.bytes[digits_end..word_end];
        if UNITS.iter().any(|u| u.as_bytes() == unit) {
            return (Tok::Dur, word_end);
        }
        let fraction = self.peek_byte(digits_end) == Some(b'.')
            && self
                .peek_byte(digits_end + 1)
                .is_some_and(|b| b.is_ascii_digit());
        if fraction {
            (
                Tok::Num,
                self.run_of(digits_end + 1, |b| b.is_ascii_digit()),
            )
        } else {
            (Tok::Num, digits_end)
        }
    }

    fn string(&self, start: usize, quote: u8) -> (Tok, usize) {
        let mut at = start + 1;
        while let Some(b) = self.peek_byte(at) {
            match b {
                b'\\' if at + 1 < self.bytes.len() => at += 2,
                b'\\' => break,
                b if b == quote => return (Tok::Str, at + 1),
                _ => at += 1,
            }
        }
        (Tok::Unterminated, self.bytes.len())
    }

    fn word(&self, start: usize) -> (Tok, usize) {
        let end = self.run_of(start, is_ident_char);
        let tok = match &self.bytes[start..end] {
            b"true" => Tok::True,
            b"false" => Tok::False,
            b"null" => Tok::Null,
            b"and" => Tok::And,
            b"or" => Tok::Or,
            b"in" => Tok::In,
            b"contains" => Tok::Contains,
            b"not" => return self.not_or_not_in(end),
            w if RESERVED.iter().any(|r| r.as_bytes() == w) => Tok::Reserved,
            _ => return (Tok::Path, self.segments(end)),
        };
        (tok, end)
    }

    /// `not`, or `not in` when only whitespace (no comment) separates the words.
    fn not_or_not_in(&self, not_end: usize) -> (Tok, usize) {
        let gap_end = self.run_of(not_end, |b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
        let in_end = gap_end + 2;
        let is_in = gap_end > not_end
            && self.bytes.get(gap_end..in_end) == Some(b"in")
            && !self.peek_byte(in_end).is_some_and(is_ident_char);
        if is_in {
            (Tok::NotIn, in_end)
        } else {
            (Tok::Not, not_end)
        }
    }

    /// Extends a name over `.segment`s written without spaces.
    fn segments(&self, mut end: usize) -> usize {
        while self.peek_byte(end) == Some(b'.')
            && self.peek_byte(end + 1).is_some_and(is_ident_char)
        {
            end = self.run_of(end + 1, is_ident_char);
        }
        end
    }

    fn punct(&self, start: usize, b: u8) -> (Tok, usize) {
        let next = self.peek_byte(start + 1);
        let two = |tok| (tok, start + 2);
        let one = |tok| (tok, start + 1);
        match (b, next) {
            (b'=', Some(b'=')) => two(Tok::Eq),
            (b'!', Some(b'=')) => two(Tok::Ne),
            (b'<', Some(b'=')) => two(Tok::Le),
            (b'>', Some(b'=')) => two(Tok::Ge),
            (b'<', _) => one(Tok::Lt),
            (b'>', _) => one(Tok::Gt),
            (b'(', _) => one(Tok::LParen),
            (b')', _) => one(Tok::RParen),
            (b'[', _) => one(Tok::LBracket),
            (b']', _) => one(Tok::RBracket),
            (b',', _) => one(Tok::Comma),
            (b'+', _) => one(Tok::Plus),
            (b'-', _) => one(Tok::Minus),
            (b'*', _) => one(Tok::Star),
            (b'/', _) => one(Tok::Slash),
            (b'%', _) => one(Tok::Percent),
            _ => {
                let width = std::str::from_utf8(&self.bytes[start..])
                    .ok()
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8);
                (Tok::Unknown, start + width)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Tok, &str)> {
        let mut lexer = Lexer::new(text);
        let mut out = Vec::new();
        loop {
            let t = lexer.next_token();
            if t.tok == Tok::End {
                return out;
            }
            out.push((t.tok, &text[t.start..t.end]));
        }
    }

    #[test]
    fn durations_need_a_whole_unit_after_the_digits() {
        assert_eq!(kinds("30d 500ms"), [(Tok::Dur, "30d"), (Tok::Dur, "500ms")]);
        assert_eq!(kinds("30dx"), [(Tok::Num, "30"), (Tok::Path, "dx")]);
        assert_eq!(kinds("1.5d"), [(Tok::Num, "1.5"), (Tok::Path, "d")]);
        assert_eq!(kinds("1."), [(Tok::Num, "1"), (Tok::Unknown, ".")]);
    }

    #[test]
    fn paths_take_segments_only_without_spaces() {
        assert_eq!(kinds("a.b.0"), [(Tok::Path, "a.b.0")]);
        assert_eq!(
            kinds("a .b"),
            [(Tok::Path, "a"), (Tok::Unknown, "."), (Tok::Path, "b")]
        );
        assert_eq!(kinds("order.and"), [(Tok::Path, "order.and")]);
    }

    #[test]
    fn keywords_are_whole_words_and_not_in_needs_plain_whitespace() {
        assert_eq!(kinds("android"), [(Tok::Path, "android")]);
        assert_eq!(kinds("not \n in"), [(Tok::NotIn, "not \n in")]);
        assert_eq!(kinds("not in_x"), [(Tok::Not, "not"), (Tok::Path, "in_x")]);
        assert_eq!(kinds("not # c\nin"), [(Tok::Not, "not"), (Tok::In, "in")]);
        assert_eq!(kinds("wait"), [(Tok::Reserved, "wait")]);
    }

    #[test]
    fn strings_keep_escaped_quotes_and_report_a_missing_end() {
        assert_eq!(kinds(r#""a\"b""#), [(Tok::Str, r#""a\"b""#)]);
        assert_eq!(kinds("'abc"), [(Tok::Unterminated, "'abc")]);
        assert_eq!(kinds("é"), [(Tok::Unknown, "é")]);
    }
}
