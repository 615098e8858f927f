//! The debug transcript of `set-debuglevel`: level 1 writes every line sent and
//! received to stderr, level 2 puts a wall-clock timestamp (UTC) before each. What is
//! sent is logged bounded (a long line cut, many lines summarised), so that logging a
//! large message costs no more memory than a small one.

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

    /// Logs command lines sent, one entry per line, each line cut at [`LINE_CAP`]
    /// bytes but every line shown (they are the caller's own commands, however many
    /// recipients a pipelined batch has).
    pub fn sent(&self, bytes: &[u8]) {
        if self.enabled() {
            for entry in entries(&[bytes], usize::MAX) {
                self.write("send", &entry);
            }
        }
    }

    /// Logs message data sent as `parts`, without joining them, bounded as
    /// [`sent_entries`] says: the memory used depends on the caps, not on the message.
    pub fn sent_parts(&self, parts: &[&[u8]]) {
        if self.enabled() {
            for entry in sent_entries(parts) {
                self.write("send", &entry);
            }
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

/// Most bytes of one line shown in the transcript; the rest of the line is counted.
pub const LINE_CAP: usize = 1000;
/// Most lines logged for one send; the rest are summarised in one entry.
pub const LINES_CAP: usize = 100;

/// The transcript entries for `parts` sent one after the other: one per line (a line
/// ends after LF), read across the parts' boundaries without joining them. A line
/// longer than [`LINE_CAP`] bytes is shown cut, followed by ` ... (+N bytes)`; past
/// [`LINES_CAP`] lines the rest is one entry `... (K more lines, B bytes)`. What this
/// holds depends on the caps, not on the size of `parts`.
pub fn sent_entries(parts: &[&[u8]]) -> Vec<String> {
    entries(parts, LINES_CAP)
}

/// [`sent_entries`] with `lines_cap` instead of [`LINES_CAP`].
fn entries(parts: &[&[u8]], lines_cap: usize) -> Vec<String> {
    let mut t = Entries {
        lines_cap,
        ..Entries::default()
    };
    for part in parts {
        t.feed(part);
    }
    t.finish()
}

/// The state of [`sent_entries`].
#[derive(Default)]
struct Entries {
    /// Lines logged before the rest is summarised.
    lines_cap: usize,
    entries: Vec<String>,
    /// The current line, escaped, up to its first `LINE_CAP` bytes.
    shown: String,
    /// Bytes of the current line so far (shown or not).
    line_len: usize,
    /// Past the cap: complete lines, bytes, and whether a line is under way.
    more_lines: usize,
    more_bytes: usize,
    more_open: bool,
}

impl Entries {
    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.entries.len() >= self.lines_cap {
                self.more_bytes += bytes.len();
                self.more_lines += bytes.iter().filter(|&&b| b == b'\n').count();
                self.more_open = bytes.last() != Some(&b'\n');
                return;
            }
            let (line, ended) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => (bytes.get(..=i).unwrap_or(bytes), true),
                None => (bytes, false),
            };
            let room = LINE_CAP.saturating_sub(self.line_len);
            escape_into(&mut self.shown, line.get(..room).unwrap_or(line));
            self.line_len += line.len();
            if ended {
                self.end_line();
            }
            bytes = bytes.get(line.len()..).unwrap_or_default();
        }
    }

    fn end_line(&mut self) {
        let mut shown = std::mem::take(&mut self.shown);
        if self.line_len > LINE_CAP {
            shown.push_str(&format!(" ... (+{} bytes)", self.line_len - LINE_CAP));
        }
        self.entries.push(shown);
        self.line_len = 0;
    }

    fn finish(mut self) -> Vec<String> {
        if self.line_len > 0 {
            self.end_line();
        }
        if self.more_bytes > 0 {
            let lines = self.more_lines + usize::from(self.more_open);
            self.entries.push(format!(
                "... ({lines} more lines, {} bytes)",
                self.more_bytes
            ));
        }
        self.entries
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

/// Printable form of a line: CR and LF as `\r` `\n`, a backslash doubled, other
/// controls and 8-bit bytes as `\xNN`.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 4);
    escape_into(&mut out, bytes);
    out
}

/// [`escape`], appending to `out`.
fn escape_into(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
}

/// Printable form of text (a server's reply text, say) for a terminal: CR, LF and the
/// backslash as the sent lines show them, the other control characters (C0, DEL, and the
/// C1 controls U+0080 to U+009F, which include CSI) as `\xNN`, and the characters that
/// reorder or break lines on screen (bidi controls, U+2028, U+2029) as `\u{NNNN}`.
/// Other non-ASCII characters are kept.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{061c}' => {
                out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)));
            }
            c => out.push(c),
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

    /// A 50 MB line gives one entry of about 1000 escaped bytes, not 50 MB or more.
    #[test]
    fn a_huge_line_gives_a_bounded_entry() {
        let line = vec![b'x'; 50_000_000];
        let entries = sent_entries(&[b"abc", &line, b"\r\n"]);
        assert_eq!(entries.len(), 1);
        assert!(entries[0].len() < 1100, "{} bytes", entries[0].len());
        assert!(entries[0].starts_with("abcxxx"));
        assert!(
            entries[0].ends_with(&format!("x ... (+{} bytes)", 50_000_005 - 1000)),
            "{}",
            &entries[0][entries[0].len() - 40..]
        );
    }

    /// Past 100 lines in one call, the rest is one summary entry.
    #[test]
    fn many_lines_are_summarised() {
        let msg = "l\r\n".repeat(250) + "tail";
        let entries = sent_entries(&[msg.as_bytes()]);
        assert_eq!(entries.len(), 101);
        assert_eq!(entries[0], "l\\r\\n");
        assert_eq!(entries[100], "... (151 more lines, 454 bytes)");
    }

    /// Lines are found across part boundaries, as in the joined bytes, and `sent`
    /// gives what the old one-entry-per-line split did for short lines.
    #[test]
    fn parts_are_read_as_if_joined() {
        let joined = b"EHLO x\r\nMAIL FROM:<a@b>\r\n\r\nno end";
        let old: Vec<String> = joined
            .split_inclusive(|&b| b == b'\n')
            .map(escape)
            .collect();
        assert_eq!(sent_entries(&[joined]), old);
        assert_eq!(
            sent_entries(&[
                b"EHL",
                b"O x\r",
                b"\nMAIL FROM:<a",
                b"@b>\r\n\r\n",
                b"",
                b"no end"
            ]),
            old
        );
        assert!(sent_entries(&[]).is_empty());
        assert!(sent_entries(&[b""]).is_empty());
        // A line cut at the cap across parts; exactly the cap is not cut.
        let a = vec![b'a'; 600];
        let e = sent_entries(&[&a, &a, b"\n"]);
        assert_eq!(e, [format!("{} ... (+201 bytes)", "a".repeat(1000))]);
        let b = vec![b'a'; 999];
        let e = sent_entries(&[&b, b"\n", b"x"]);
        assert_eq!(e, [format!("{}\\n", "a".repeat(999)), "x".to_string()]);
        // Exactly 100 lines: no summary; a summary counts lines across parts.
        assert_eq!(sent_entries(&["a\n".repeat(100).as_bytes()]).len(), 100);
        let e = sent_entries(&["a\n".repeat(100).as_bytes(), b"b", b"c\nd"]);
        assert_eq!(e.last().unwrap(), "... (2 more lines, 4 bytes)");
    }

    #[test]
    fn text_escaping_for_terminals() {
        assert_eq!(escape_text("250 ok\r\n"), "250 ok\\r\\n");
        assert_eq!(escape_text("\u{1b}[31mred\u{7f}"), "\\x1b[31mred\\x7f");
        assert_eq!(escape_text("\u{9b}2J\u{85}"), "\\x9b2J\\x85");
        assert_eq!(
            escape_text("caf\u{e9} \\ \u{202e}x"),
            "caf\u{e9} \\\\ \\u{202e}x"
        );
        assert_eq!(escape_text("\t\0"), "\\x09\\x00");
    }
}
