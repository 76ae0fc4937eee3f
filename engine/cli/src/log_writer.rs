//! Text logs that data cannot forge: every control character a logged value carries (a newline in
//! an event id, a carriage return, a terminal escape) is written escaped, so one event is always
//! one line. JSON logs escape by themselves.

use std::io::{self, Write};
use tracing_subscriber::fmt::MakeWriter;

/// Standard error, with control characters escaped (ESC kept when the logger colours output).
#[derive(Debug, Clone, Copy)]
pub struct EscapedStderr {
    /// Whether the logger writes ANSI colours (their escape sequences are the logger's own).
    pub ansi: bool,
}

impl<'a> MakeWriter<'a> for EscapedStderr {
    type Writer = Escaped;

    fn make_writer(&'a self) -> Escaped {
        Escaped { ansi: self.ansi }
    }
}

/// One write of a formatted event.
pub struct Escaped {
    ansi: bool,
}

impl Write for Escaped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stderr().write_all(escape(&String::from_utf8_lossy(buf), self.ansi).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// `text` with its control characters escaped, except one final newline (and ESC with `ansi`).
pub fn escape(text: &str, ansi: bool) -> String {
    let (body, end) = match text.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (text, ""),
    };
    let mut out = String::with_capacity(text.len());
    for c in body.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push('\t'),
            '\x1b' if ansi => out.push(c),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push_str(end);
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn a_newline_in_logged_data_cannot_forge_a_log_line() {
        let line = "INFO log: lead x\nERROR forged: admin logged in\r\x1b[2J\n";
        let out = escape(line, false);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert_eq!(
            out,
            "INFO log: lead x\\nERROR forged: admin logged in\\r\\u{1b}[2J\n"
        );
        assert!(
            escape("\x1b[32mINFO\x1b[0m ok\n", true).starts_with("\x1b[32m"),
            "colours stay"
        );
    }
}
