//! A push parser for SMTP replies: feed it bytes as they arrive, take complete replies
//! out, and it says "need more" (`Ok(None)`) in between. Every size is capped, so a
//! hostile server cannot make it hold more than a few hundred KiB.

use std::fmt;

use crate::error::SmtpError;

/// An RFC 3463 enhanced status code (`class.subject.detail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnhancedStatus {
    /// 2, 4 or 5.
    pub class: u8,
    /// The subject number.
    pub subject: u16,
    /// The detail number.
    pub detail: u16,
}

/// One complete reply: smtplib's `(code, message)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text of every line after the code, joined with "\n".
    pub text: String,
    /// The enhanced status code at the start of the text, if any.
    pub enhanced: Option<EnhancedStatus>,
}

impl Reply {
    /// Builds a reply from a code and its text, parsing an enhanced status code.
    pub fn new(code: u16, text: impl Into<String>) -> Reply {
        let text = text.into();
        let enhanced = parse_enhanced(code, &text);
        Reply {
            code,
            text,
            enhanced,
        }
    }

    /// True for 2xx replies.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

/// Reads `class.subject.detail` at the start of `text` when its class matches the code.
fn parse_enhanced(code: u16, text: &str) -> Option<EnhancedStatus> {
    let word = text.split(' ').next()?;
    let mut parts = word.split('.');
    let class: u8 = parse_digits(parts.next()?, 1)?.try_into().ok()?;
    let subject = parse_digits(parts.next()?, 3)?;
    let detail = parse_digits(parts.next()?, 3)?;
    if parts.next().is_some() || u16::from(class) != code / 100 || !matches!(class, 2 | 4 | 5) {
        return None;
    }
    Some(EnhancedStatus {
        class,
        subject,
        detail,
    })
}

fn parse_digits(s: &str, max_len: usize) -> Option<u16> {
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Caps on what one reply may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest line, without its line end (smtplib's `_MAXLINE` is 8192).
    pub max_line: usize,
    /// Most lines in one multiline reply.
    pub max_lines: usize,
    /// Most text bytes in one reply.
    pub max_text: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 8192,
            max_lines: 1000,
            max_text: 256 * 1024,
        }
    }
}

/// The lines of a multiline reply read so far.
#[derive(Debug)]
struct Partial {
    code: u16,
    text: String,
    lines: usize,
}

/// The push parser. See the module documentation.
#[derive(Debug, Default)]
pub struct ReplyParser {
    buf: Vec<u8>,
    pos: usize,
    partial: Option<Partial>,
    limits: Limits,
}

impl ReplyParser {
    /// A parser with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        ReplyParser {
            limits,
            ..Self::default()
        }
    }

    /// Appends bytes received from the server.
    pub fn feed(&mut self, data: &[u8]) {
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes received but not yet part of a returned reply (lines of an unfinished
    /// reply count as consumed).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Forgets everything received (after the connection closes).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.pos = 0;
        self.partial = None;
    }

    /// The next complete reply, `Ok(None)` when more bytes are needed, or an error when
    /// the bytes break the grammar or a limit. After an error the parser must be reset.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, SmtpError> {
        loop {
            let rest = self.buf.get(self.pos..).unwrap_or_default();
            let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
                if rest.len() > self.limits.max_line + 1 {
                    return Err(too_long(self.limits.max_line));
                }
                return Ok(None);
            };
            let mut line = rest.get(..lf).unwrap_or_default();
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            if line.len() > self.limits.max_line {
                return Err(too_long(self.limits.max_line));
            }
            let (code, last, text) = parse_line(line)?;
            let text = String::from_utf8_lossy(text);
            self.pos += lf + 1;
            let partial = match self.partial.take() {
                None => Partial {
                    code,
                    text: text.into_owned(),
                    lines: 1,
                },
                Some(mut p) => {
                    if p.code != code {
                        return Err(SmtpError::MalformedReply(format!(
                            "a multiline reply changed its code from {} to {}",
                            p.code, code
                        )));
                    }
                    p.text.push('\n');
                    p.text.push_str(&text);
                    p.lines += 1;
                    p
                }
            };
            if partial.lines > self.limits.max_lines {
                return Err(SmtpError::MalformedReply(format!(
                    "a reply of more than {} lines",
                    self.limits.max_lines
                )));
            }
            if partial.text.len() > self.limits.max_text {
                return Err(SmtpError::MalformedReply(format!(
                    "a reply of more than {} bytes",
                    self.limits.max_text
                )));
            }
            if last {
                return Ok(Some(Reply::new(partial.code, partial.text)));
            }
            self.partial = Some(partial);
        }
    }
}

fn too_long(max: usize) -> SmtpError {
    SmtpError::MalformedReply(format!("a reply line longer than {max} bytes"))
}

/// Splits one line (without its line end) into code, "is last line" and text.
fn parse_line(line: &[u8]) -> Result<(u16, bool, &[u8]), SmtpError> {
    let bad = || {
        let shown: String = String::from_utf8_lossy(line).chars().take(80).collect();
        SmtpError::MalformedReply(format!("not an SMTP reply line: {shown:?}"))
    };
    let digits = line.get(..3).ok_or_else(bad)?;
    let [d0, d1, d2] = [digits[0], digits[1], digits[2]];
    if !(b'2'..=b'5').contains(&d0) || !(b'0'..=b'5').contains(&d1) || !d2.is_ascii_digit() {
        return Err(bad());
    }
    let code = u16::from(d0 - b'0') * 100 + u16::from(d1 - b'0') * 10 + u16::from(d2 - b'0');
    match line.get(3) {
        None => Ok((code, true, &[])),
        Some(b' ') => Ok((code, true, line.get(4..).unwrap_or_default())),
        Some(b'-') => Ok((code, false, line.get(4..).unwrap_or_default())),
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Reply>, SmtpError> {
        let mut p = ReplyParser::new();
        p.feed(input);
        let mut out = Vec::new();
        while let Some(r) = p.next_reply()? {
            out.push(r);
        }
        Ok(out)
    }

    #[test]
    fn single_and_multiline() {
        let r = parse_all(b"220 mx ESMTP ready\r\n250-mx\r\n250-SIZE 100\r\n250 HELP\r\n").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0], Reply::new(220, "mx ESMTP ready"));
        assert_eq!(r[1].code, 250);
        assert_eq!(r[1].text, "mx\nSIZE 100\nHELP");
    }

    #[test]
    fn byte_at_a_time_says_need_more_until_the_end() {
        let input = b"250-first\r\n250 second\r\n";
        let mut p = ReplyParser::new();
        for (i, b) in input.iter().enumerate() {
            p.feed(&[*b]);
            let r = p.next_reply().unwrap();
            if i + 1 < input.len() {
                assert!(r.is_none(), "reply completed early at byte {i}");
            } else {
                assert_eq!(r.unwrap().text, "first\nsecond");
            }
        }
    }

    #[test]
    fn bare_lf_and_code_only_lines() {
        let r = parse_all(b"250\n354 go\n").unwrap();
        assert_eq!(r[0], Reply::new(250, ""));
        assert_eq!(r[1], Reply::new(354, "go"));
    }

    #[test]
    fn enhanced_status_codes() {
        let r = Reply::new(550, "5.1.1 <x@y>: Recipient address rejected");
        assert_eq!(
            r.enhanced,
            Some(EnhancedStatus {
                class: 5,
                subject: 1,
                detail: 1
            })
        );
        assert_eq!(Reply::new(250, "5.1.1 mismatch").enhanced, None);
        assert_eq!(Reply::new(250, "2.0.0").enhanced.unwrap().class, 2);
        assert_eq!(Reply::new(250, "2.0 nope").enhanced, None);
        assert_eq!(Reply::new(250, "Ok").enhanced, None);
    }

    #[test]
    fn malformed_lines_are_errors() {
        for bad in [
            &b"abc hello\r\n"[..],
            b"25\r\n",
            b"250x\r\n",
            b"650 out of range\r\n",
            b"190 out of range\r\n",
            b"\r\n",
        ] {
            assert!(
                matches!(parse_all(bad), Err(SmtpError::MalformedReply(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn codes_must_agree() {
        assert!(matches!(
            parse_all(b"250-a\r\n251 b\r\n"),
            Err(SmtpError::MalformedReply(_))
        ));
    }

    #[test]
    fn limits_hold_without_a_line_end() {
        let mut p = ReplyParser::new();
        let chunk = vec![b'2'; 4096];
        let mut failed = false;
        for _ in 0..10 {
            p.feed(&chunk);
            if p.next_reply().is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed);
        assert!(p.buffered() < 16 * 1024);
    }

    #[test]
    fn too_many_lines() {
        let mut p = ReplyParser::with_limits(Limits {
            max_lines: 3,
            ..Limits::default()
        });
        p.feed(b"250-a\r\n250-b\r\n250-c\r\n250-d\r\n250 e\r\n");
        assert!(p.next_reply().is_err());
    }

    #[test]
    fn buffered_counts_bytes_after_a_reply() {
        let mut p = ReplyParser::new();
        p.feed(b"220 go ahead\r\nXYZ");
        assert!(p.next_reply().unwrap().is_some());
        assert_eq!(p.buffered(), 3);
    }
}
