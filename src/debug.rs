//! The debug transcript of `set-debuglevel`: level 1 writes every line sent and
//! received to stderr, level 2 puts a wall-clock timestamp (UTC) before each.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes the transcript at the chosen level.
#[derive(Debug, Default, Clone, Copy)]
pub struct DebugLog {
    level: u8,
}

impl DebugLog {
    /// Sets the level (0 silent, 1 lines, 2 lines with timestamps).
    pub fn set_level(&mut self, level: u8) {
        self.level = level;
    }

    /// Whether anything is written.
    pub fn enabled(&self) -> bool {
        self.level > 0
    }

    /// Logs bytes sent, one entry per line.
    pub fn sent(&self, bytes: &[u8]) {
        if self.enabled() {
            for line in bytes.split_inclusive(|&b| b == b'\n') {
                self.write("send", &escape(line));
            }
        }
    }

    /// Logs the parts of one write as [`DebugLog::sent`] would log them joined.
    pub fn sent_parts(&self, parts: &[&[u8]]) {
        if self.enabled() {
            self.sent(&parts.concat());
        }
    }

    /// Logs a complete reply, one entry per line as the server sent it.
    pub fn received(&self, code: u16, text: &str) {
        if self.enabled() {
            let mut lines = text.split('\n').peekable();
            while let Some(line) = lines.next() {
                let sep = if lines.peek().is_some() { '-' } else { ' ' };
                self.write("reply", &format!("{code}{sep}{}", escape(line.as_bytes())));
            }
        }
    }

    /// Logs a note of the client's own (connecting, closing).
    pub fn note(&self, what: &str) {
        if self.enabled() {
            self.write("info", what);
        }
    }

    fn write(&self, tag: &str, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = if self.level >= 2 {
            writeln!(err, "{} {tag}: {text}", timestamp())
        } else {
            writeln!(err, "{tag}: {text}")
        };
    }
}

/// `HH:MM:SS.ffffff` of the wall clock, in UTC.
fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        now.subsec_micros()
    )
}

/// Printable form of a line: CR and LF as `\r` `\n`, other controls and 8-bit bytes as
/// `\xNN`.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 4);
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls() {
        assert_eq!(escape(b"EHLO x\r\n"), "EHLO x\\r\\n");
        assert_eq!(escape(b"\xe9\t"), "\\xe9\\x09");
    }

    #[test]
    fn timestamp_shape() {
        let t = timestamp();
        assert_eq!(t.len(), 15);
        assert_eq!(&t[2..3], ":");
    }
}
