//! Expression text to a spanned syntax tree: a hand-written Pratt parser over [`super::lex`].
//!
//! Expressions used to go through pest like the rest of the text DSL; 80% of compiling 10,000
//! expressions was pest's generic machinery (issue 12's goal: within 1.5× of zen-expression). The
//! grammar in `grammar.pest` still defines the language (the text DSL uses it to find where an
//! expression ends) and `parse_reference.rs` checks both parsers agree on random input.
//!
//! Precedence, loosest first: `or`, `and`, prefix `not`, comparisons and `in`/`not in`/`contains`,
//! `+ -`, `* / %`, prefix `-`, postfix `[index]`. Binary operators associate to the left.

use super::lex::{Lexer, Tok, Token};
use super::literal::{parse_duration, unescape};
use crate::diag::Problem;
use crate::grammar::syntax_error;
use crate::span::Span;
use std::borrow::Cow;

/// Deepest nesting accepted; deeper input is rejected instead of overflowing the stack.
pub const MAX_DEPTH: usize = 64;

/// Most nested sub-expressions the parser descends into (brackets, prefix operators and operands
/// together): a bound on its stack use, far above any expression a person writes.
const MAX_FRAMES: usize = 256;

/// A syntax node with its span in the file; names and plain strings borrow the source text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ast<'a> {
    pub kind: AstKind<'a>,
    pub span: Span,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    Not,
    Neg,
}

/// Binary operators as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Contains,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// Syntax tree shapes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AstKind<'a> {
    Num(f64),
    Dur(i64),
    Str(Cow<'a, str>),
    Bool(bool),
    Null,
    Path(Vec<&'a str>),
    List(Vec<Ast<'a>>),
    Call(&'a str, Vec<Ast<'a>>),
    Unary(UnOp, Box<Ast<'a>>),
    Binary(BinOp, Box<Ast<'a>>, Box<Ast<'a>>),
    Index(Box<Ast<'a>>, Box<Ast<'a>>),
}

const PREC_NOT: u8 = 30;
const PREC_NEG: u8 = 70;
const PREC_INDEX: u8 = 80;

/// How tightly a token binds to the expression on its left; 0 when it cannot continue one.
fn left_binding(tok: Tok) -> u8 {
    match tok {
        Tok::Or => 10,
        Tok::And => 20,
        Tok::Eq | Tok::Ne | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge => 40,
        Tok::In | Tok::NotIn | Tok::Contains => 40,
        Tok::Plus | Tok::Minus => 50,
        Tok::Star | Tok::Slash | Tok::Percent => 60,
        Tok::LBracket => PREC_INDEX,
        _ => 0,
    }
}

fn bin_op(tok: Tok) -> BinOp {
    match tok {
        Tok::Or => BinOp::Or,
        Tok::And => BinOp::And,
        Tok::Eq => BinOp::Eq,
        Tok::Ne => BinOp::Ne,
        Tok::Lt => BinOp::Lt,
        Tok::Le => BinOp::Le,
        Tok::Gt => BinOp::Gt,
        Tok::Ge => BinOp::Ge,
        Tok::In => BinOp::In,
        Tok::NotIn => BinOp::NotIn,
        Tok::Contains => BinOp::Contains,
        Tok::Plus => BinOp::Add,
        Tok::Minus => BinOp::Sub,
        Tok::Star => BinOp::Mul,
        Tok::Slash => BinOp::Div,
        Tok::Percent => BinOp::Rem,
        other => unreachable!("not a binary operator: {other:?}"),
    }
}

/// What may follow a complete operand, for error messages (written out: they are needed only
/// on errors, so nothing is formatted on the way).
macro_rules! after_operand {
    ($($more:literal),*) => {
        concat!("`and`/`or`, a comparison, an operator", $(", ", $more),*)
    };
}

/// Parses a standalone expression; `offset` is where `text` starts in its file.
pub(crate) fn parse_expression(text: &str, offset: usize) -> Result<Ast<'_>, Problem> {
    check_nesting(text, offset)?;
    let mut lexer = Lexer::new(text);
    let tok = lexer.next_token();
    let mut parser = Parser {
        text,
        lexer,
        tok,
        offset,
        frames: 0,
    };
    let ast = parser.expr(0)?;
    parser.expect(Tok::End, after_operand!("end of input"))?;
    Ok(ast)
}

struct Parser<'a> {
    text: &'a str,
    lexer: Lexer<'a>,
    /// The current (not yet consumed) token.
    tok: Token,
    offset: usize,
    frames: usize,
}

impl<'a> Parser<'a> {
    fn advance(&mut self) -> Token {
        std::mem::replace(&mut self.tok, self.lexer.next_token())
    }

    fn slice(&self, t: Token) -> &'a str {
        &self.text[t.start..t.end]
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(start, end).shift(self.offset)
    }

    /// A syntax error at the current token.
    fn error(&self, expected: &str) -> Problem {
        let t = self.tok;
        let span = self.span(t.start, t.end.max(t.start + 1));
        match t.tok {
            Tok::Unterminated => {
                Problem::new("syntax", span, "syntax error: the string is not closed")
                    .hint("add the closing quote; write `\\\"` for a quote inside the string")
            }
            Tok::Reserved => syntax_error(
                span,
                &format!("{expected} (`{}` is a reserved word)", self.slice(t)),
            ),
            _ => syntax_error(span, expected),
        }
    }

    fn expect(&mut self, tok: Tok, expected: &str) -> Result<Token, Problem> {
        if self.tok.tok == tok {
            Ok(self.advance())
        } else {
            Err(self.error(expected))
        }
    }

    /// An expression whose operators bind tighter than `min_binding`.
    fn expr(&mut self, min_binding: u8) -> Result<Ast<'a>, Problem> {
        self.frames += 1;
        if self.frames > MAX_FRAMES {
            return Err(Problem::new(
                "too-deep",
                self.span(self.tok.start, self.tok.end),
                "too many nested operators",
            )
            .hint("simplify the expression"));
        }
        let mut lhs = self.operand()?;
        while min_binding < left_binding(self.tok.tok) {
            lhs = self.continue_from(lhs)?;
        }
        self.frames -= 1;
        Ok(lhs)
    }

    /// A prefix operator and its operand, or a primary.
    fn operand(&mut self) -> Result<Ast<'a>, Problem> {
        let start = self.tok.start;
        let op = match self.tok.tok {
            Tok::Not => (UnOp::Not, PREC_NOT),
            Tok::Minus => (UnOp::Neg, PREC_NEG),
            _ => return self.primary(),
        };
        self.advance();
        let rhs = self.expr(op.1 - 1)?;
        Ok(Ast {
            span: Span::new(start + self.offset, rhs.span.end),
            kind: AstKind::Unary(op.0, Box::new(rhs)),
        })
    }

    /// A binary operator or an index applied to `lhs`.
    fn continue_from(&mut self, lhs: Ast<'a>) -> Result<Ast<'a>, Problem> {
        let op = self.advance();
        if op.tok == Tok::LBracket {
            let index = self.expr(0)?;
            let close = self.expect(Tok::RBracket, after_operand!("`]`"))?;
            return Ok(Ast {
                span: Span::new(lhs.span.start, close.end + self.offset),
                kind: AstKind::Index(Box::new(lhs), Box::new(index)),
            });
        }
        let rhs = self.expr(left_binding(op.tok))?;
        Ok(Ast {
            span: Span::new(lhs.span.start, rhs.span.end),
            kind: AstKind::Binary(bin_op(op.tok), Box::new(lhs), Box::new(rhs)),
        })
    }

    fn primary(&mut self) -> Result<Ast<'a>, Problem> {
        let t = self.tok;
        let kind = match t.tok {
            Tok::LParen => {
                self.advance();
                let inner = self.expr(0)?;
                self.expect(Tok::RParen, after_operand!("`)`"))?;
                return Ok(inner);
            }
            Tok::LBracket => return self.list(),
            Tok::Num => AstKind::Num(self.slice(t).parse().unwrap_or(f64::NAN)),
            Tok::Dur => AstKind::Dur(parse_duration(self.slice(t)).unwrap_or(0)),
            Tok::Str => AstKind::Str(unescape(&self.text[t.start + 1..t.end - 1])),
            Tok::True => AstKind::Bool(true),
            Tok::False => AstKind::Bool(false),
            Tok::Null => AstKind::Null,
            Tok::Path => return self.path_or_call(),
            _ => return Err(self.error("an expression")),
        };
        self.advance();
        Ok(Ast {
            kind,
            span: self.span(t.start, t.end),
        })
    }

    fn path_or_call(&mut self) -> Result<Ast<'a>, Problem> {
        let name = self.advance();
        let text = self.slice(name);
        if self.tok.tok != Tok::LParen || text.contains('.') {
            return Ok(Ast {
                kind: AstKind::Path(text.split('.').collect()),
                span: self.span(name.start, name.end),
            });
        }
        self.advance();
        let args = self.comma_separated(Tok::RParen, false)?;
        let close = self.expect(Tok::RParen, after_operand!("`,`", "`)`"))?;
        Ok(Ast {
            kind: AstKind::Call(text, args),
            span: self.span(name.start, close.end),
        })
    }

    /// `[a, b, c]`, a trailing comma allowed.
    fn list(&mut self) -> Result<Ast<'a>, Problem> {
        let open = self.advance();
        let items = self.comma_separated(Tok::RBracket, true)?;
        let close = self.expect(Tok::RBracket, after_operand!("`,`", "`]`"))?;
        Ok(Ast {
            kind: AstKind::List(items),
            span: self.span(open.start, close.end),
        })
    }

    /// Expressions separated by commas, up to (not taking) `close`; a comma just before
    /// `close` only when `trailing` (lists allow one, calls do not).
    fn comma_separated(&mut self, close: Tok, trailing: bool) -> Result<Vec<Ast<'a>>, Problem> {
        let mut items = Vec::new();
        if self.tok.tok == close {
            return Ok(items);
        }
        loop {
            items.push(self.expr(0)?);
            if self.tok.tok != Tok::Comma {
                return Ok(items);
            }
            self.advance();
            if trailing && self.tok.tok == close {
                return Ok(items);
            }
        }
    }
}

/// Rejects nesting deeper than [`MAX_DEPTH`] before a recursive parser sees it.
pub(crate) fn check_nesting(text: &str, offset: usize) -> Result<(), Problem> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Problem::new(
                        "too-deep",
                        Span::new(i, i + 1).shift(offset),
                        format!("nesting deeper than {MAX_DEPTH} levels"),
                    )
                    .hint("split the expression or the steps into smaller parts"));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let mut run = 0usize;
    let mut longest = 0usize;
    for word in text.split_whitespace() {
        if word == "not" || word.chars().all(|c| c == '-' || c == '(') {
            run += word.len().max(1);
        } else {
            run = 0;
        }
        longest = longest.max(run);
    }
    if longest > MAX_DEPTH * 3 {
        return Err(Problem::new(
            "too-deep",
            Span::new(offset, offset + text.len()),
            "too many nested operators",
        )
        .hint("simplify the expression"));
    }
    Ok(())
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
