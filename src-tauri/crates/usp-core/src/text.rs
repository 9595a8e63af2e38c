//! Agent-written text made safe for logs: length-capped and escaped.
//!
//! Anything an agent sends (Endpoint IDs, reasons, error messages, event names) can be
//! megabytes long and can hold newlines that would forge log lines. [`for_log`] keeps the
//! first [`MAX_LOG_CHARS`] characters, escapes control characters, backslashes and
//! Unicode line and bidi controls as `\n`, `\u{202e}`..., and says how much was left out.

use std::fmt;

/// The most characters of one agent-written value that reach a log line.
pub const MAX_LOG_CHARS: usize = 200;

/// `s` as it may appear in a log line: at most [`MAX_LOG_CHARS`] characters, escaped, with
/// a note of how many bytes were left out. Formatting it never allocates more than the
/// capped text.
pub fn for_log(s: &str) -> ForLog<'_> {
    ForLog(s)
}

/// See [`for_log`].
#[derive(Clone, Copy)]
pub struct ForLog<'a>(&'a str);

fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

impl fmt::Display for ForLog<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, (i, c)) in self.0.char_indices().enumerate() {
            if n == MAX_LOG_CHARS {
                return write!(f, "…(+{} bytes)", self.0.len() - i);
            }
            if needs_escape(c) {
                match c {
                    '\n' => f.write_str("\\n")?,
                    '\r' => f.write_str("\\r")?,
                    '\t' => f.write_str("\\t")?,
                    '\\' => f.write_str("\\\\")?,
                    _ => write!(f, "\\u{{{:x}}}", c as u32)?,
                }
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ForLog<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// `s` capped for keeping in memory or error text (not escaped): at most `max` bytes, cut
/// at a character boundary, with `…` when cut.
pub fn capped(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_unchanged() {
        assert_eq!(for_log("proto::agent-1").to_string(), "proto::agent-1");
        assert_eq!(format!("{:?}", for_log("a b")), "\"a b\"");
    }

    #[test]
    fn control_characters_are_escaped() {
        let s = for_log("x\n2026-01-01 INFO forged\r\t\\\u{1b}[31m\u{202e}").to_string();
        assert_eq!(s, "x\\n2026-01-01 INFO forged\\r\\t\\\\\\u{1b}[31m\\u{202e}");
        assert!(!s.contains('\n') && !s.contains('\r'));
    }

    #[test]
    fn long_text_is_capped() {
        let long = "é".repeat(5 << 20);
        let s = for_log(&long).to_string();
        assert!(s.starts_with(&"é".repeat(MAX_LOG_CHARS)));
        assert!(s.ends_with(&format!("…(+{} bytes)", long.len() - 2 * MAX_LOG_CHARS)), "{s}");
        assert!(s.len() < 2 * MAX_LOG_CHARS + 32);
        let many_lines = "\n".repeat(10_000);
        assert_eq!(for_log(&many_lines).to_string().matches("\\n").count(), MAX_LOG_CHARS);
    }

    #[test]
    fn capped_cuts_at_a_char_boundary() {
        assert_eq!(capped("abc", 3), "abc");
        assert_eq!(capped("aéc", 2), "a…");
        assert_eq!(capped("abcdef", 3), "abc…");
    }
}
