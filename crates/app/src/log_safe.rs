//! User input inside log lines.
//!
//! A log line is evidence; a CR/LF in an identifier must not start a forged
//! line in the human log, and an ANSI escape must not repaint a terminal.
//! [`LogSafe`] writes control characters as `\r`, `\n`, `\u{1b}` and cuts
//! long input, so a value always stays inside its own field (the JSON
//! format escapes again, harmlessly).

use std::fmt;

/// Longest input written to a log line, in characters.
const MAX_CHARS: usize = 128;

/// Displays untrusted text with control characters escaped.
pub struct LogSafe<'a>(pub &'a str);

impl fmt::Display for LogSafe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, c) in self.0.chars().enumerate() {
            if n == MAX_CHARS {
                return f.write_str("…");
            }
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::LogSafe;

    #[test]
    fn control_characters_are_escaped_and_long_input_cut() {
        let shown = LogSafe("ann\r\nINFO forged\u{1b}[31m\u{2028}x\0").to_string();
        assert_eq!(shown, "ann\\r\\nINFO forged\\u{1b}[31m\\u{2028}x\\u{0}");
        assert!(!shown.chars().any(char::is_control));
        assert_eq!(LogSafe("résumé 用户").to_string(), "résumé 用户");
        let long = "a".repeat(500);
        assert_eq!(LogSafe(&long).to_string().chars().count(), 129);
    }
}
