//! The header block of an RFC 5322 message: fields with their byte ranges (so a field
//! can be cut out exactly) and unfolded values.

/// One header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name as written.
    pub name: String,
    /// The value with folding removed (the line end before white space dropped), not
    /// trimmed of inner white space.
    pub value: String,
    /// Byte range of the whole field in the message: its first line through the line
    /// end (CRLF, CR or LF) of its last continuation line.
    pub range: std::ops::Range<usize>,
}

impl Field {
    /// Whether the field is named `name` (case is ignored).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// The header block as Python's `email` feedparser reads it: the fields, and the lines
/// in the block that are not fields and are not sent (as smtplib's generator drops
/// them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Block {
    /// The fields, in order.
    pub fields: Vec<Field>,
    /// Byte ranges (with their line ends) of the lines skipped as not fields: a first
    /// line starting `From ` (the mbox envelope line), a later `From ` line that is not
    /// the block's last, a line starting with `:`, and a continuation line that follows
    /// no field (at the start, or after another skipped line). They are disjoint from
    /// the fields' ranges.
    pub skipped: Vec<std::ops::Range<usize>>,
}

/// The end of the line's content and the end of the line (after its CRLF, CR or LF)
/// for the line that starts at `pos`.
fn line_at(msg: &[u8], pos: usize) -> (usize, usize) {
    let rest = msg.get(pos..).unwrap_or_default();
    match rest.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(i) if rest.get(i..i + 2) == Some(b"\r\n") => (pos + i, pos + i + 2),
        Some(i) => (pos + i, pos + i + 1),
        None => (msg.len(), msg.len()),
    }
}

/// Reads the header block as Python's `email` feedparser does. A line ends at CRLF, CR
/// or LF. The block ends at the first empty line, or before the first line that is
/// neither a field (`name:` with a name of printable ASCII) nor a continuation (it
/// starts the body). A first line starting `From ` is the mbox envelope line, not a
/// header; see [`Block::skipped`] for the other lines that are not fields.
pub fn parse_block(msg: &[u8]) -> Block {
    let mut block = Block::default();
    // Whether the last line read was a `From ` line after the first: if the block ends
    // right after it, it belongs to the body (as in the feedparser).
    let mut last_was_from = false;
    // Whether a continuation line continues the last field (no line skipped since).
    let mut in_field = false;
    let mut pos = 0;
    while pos < msg.len() {
        let (content_end, end) = line_at(msg, pos);
        let content = msg.get(pos..content_end).unwrap_or_default();
        if content.is_empty() {
            break;
        }
        let from_line = content.starts_with(b"From ");
        if from_line || content.first() == Some(&b':') {
            block.skipped.push(pos..end);
            last_was_from = from_line && pos != 0;
            in_field = false;
            pos = end;
            continue;
        }
        if matches!(content.first(), Some(b' ' | b'\t')) {
            match block.fields.last_mut().filter(|_| in_field) {
                Some(field) => {
                    field.value.push_str(&String::from_utf8_lossy(content));
                    field.range.end = end;
                }
                None => block.skipped.push(pos..end),
            }
        } else {
            let name = content
                .iter()
                .position(|&b| b == b':')
                .and_then(|colon| content.get(..colon))
                .filter(|name| name.iter().all(|&b| b.is_ascii_graphic()));
            let Some(name) = name else {
                break;
            };
            block.fields.push(Field {
                name: String::from_utf8_lossy(name).into_owned(),
                value: String::from_utf8_lossy(content.get(name.len() + 1..).unwrap_or_default())
                    .into_owned(),
                range: pos..end,
            });
            in_field = true;
        }
        last_was_from = false;
        pos = end;
    }
    if last_was_from {
        block.skipped.pop();
    }
    block
}

/// The fields of the header block (see [`parse_block`]).
pub fn parse(msg: &[u8]) -> Vec<Field> {
    parse_block(msg).fields
}

/// `msg` without the fields for which `drop` is true.
pub fn without(msg: &[u8], fields: &[Field], drop: impl Fn(&Field) -> bool) -> Vec<u8> {
    let ranges: Vec<_> = fields
        .iter()
        .filter(|f| drop(f))
        .map(|f| f.range.clone())
        .collect();
    cut(msg, ranges)
}

/// `msg` without the bytes in `ranges` (in any order; they may overlap or nest).
pub fn cut(msg: &[u8], mut ranges: Vec<std::ops::Range<usize>>) -> Vec<u8> {
    ranges.sort_by_key(|r| r.start);
    let mut out = Vec::with_capacity(msg.len());
    let mut pos = 0;
    for range in ranges {
        if range.start > pos {
            out.extend_from_slice(msg.get(pos..range.start).unwrap_or_default());
        }
        pos = pos.max(range.end);
    }
    out.extend_from_slice(msg.get(pos..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_folding_and_ranges() {
        let msg =
            b"From: a@b.c\r\nTo: x@y.z,\r\n  w@v.u\r\nSubject: hi\r\n\r\nBody: not a header\r\n";
        let f = parse(msg);
        assert_eq!(f.len(), 3);
        assert_eq!(f[1].name, "To");
        assert_eq!(f[1].value, " x@y.z,  w@v.u");
        assert_eq!(&msg[f[1].range.clone()], b"To: x@y.z,\r\n  w@v.u\r\n");
        assert!(f[2].is("subject"));
    }

    #[test]
    fn bare_lf_and_no_body() {
        let f = parse(b"A: 1\nB: 2");
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].value, " 2");
    }

    #[test]
    fn a_non_header_line_ends_the_block() {
        assert_eq!(parse(b"A: 1\r\nnot a header\r\nB: 2\r\n").len(), 1);
        assert!(parse(b" leading continuation\r\n").is_empty());
    }

    /// Lines the feedparser skips as defects (not ending the block), as it does; a
    /// continuation after one continues nothing.
    #[test]
    fn defect_lines_are_skipped_not_the_end() {
        let msg = b" lead\nA: 1\n cont\n: no name\nFrom x\n more\nB: 2\nFrom last\n\nbody";
        let b = parse_block(msg);
        let names: Vec<_> = b.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
        assert_eq!(b.fields[0].value, " 1 cont");
        assert_eq!(&msg[b.fields[0].range.clone()], b"A: 1\n cont\n");
        let skipped: Vec<_> = b.skipped.iter().map(|r| &msg[r.clone()]).collect();
        assert_eq!(
            skipped,
            [&b" lead\n"[..], b": no name\n", b"From x\n", b" more\n"]
        );
        let mut all = b.skipped.clone();
        all.push(b.fields[0].range.clone());
        assert_eq!(cut(msg, all), b"B: 2\nFrom last\n\nbody");
        assert_eq!(cut(b"abcdef", vec![3..5, 1..2, 1..4]), b"af");
    }

    #[test]
    fn cutting_fields_out() {
        let msg = b"From: a\r\nBcc: x,\r\n y\r\nTo: b\r\nbcc: z\r\n\r\nbody\r\nBcc: kept\r\n";
        let f = parse(msg);
        let out = without(msg, &f, |f| f.is("bcc"));
        assert_eq!(out, b"From: a\r\nTo: b\r\n\r\nbody\r\nBcc: kept\r\n");
    }

    /// A line ends at CRLF, CR or LF, as in Python's email parser, and each field's
    /// range covers its own line ends exactly.
    #[test]
    fn every_line_end_ends_a_line() {
        let msg = b"A: 1\rB: 2,\r 3\nC: 4\r\n\rbody: x\r";
        let f = parse(msg);
        assert_eq!(f.len(), 3, "{f:?}");
        assert_eq!(&msg[f[0].range.clone()], b"A: 1\r");
        assert_eq!(&msg[f[1].range.clone()], b"B: 2,\r 3\n");
        assert_eq!(f[1].value, " 2, 3");
        assert_eq!(&msg[f[2].range.clone()], b"C: 4\r\n");
        let out = without(msg, &f, |f| f.is("b"));
        assert_eq!(out, b"A: 1\rC: 4\r\n\rbody: x\r");
    }

    /// A first line `From ` (an mbox envelope line) is not a header and does not end the
    /// header block.
    #[test]
    fn a_leading_from_line_is_skipped() {
        let msg = b"From a@b Mon Jan  1 00:00:00 2024\nTo: x\nBcc: y\n\n";
        let f = parse(msg);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[1].is("bcc"));
    }
}
