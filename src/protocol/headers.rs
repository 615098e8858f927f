//! The header block of an RFC 5322 message: fields with their byte ranges (so a field
//! can be cut out exactly) and unfolded values.

/// One header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name as written.
    pub name: String,
    /// The value with folding removed (CRLF before white space dropped), not trimmed of
    /// inner white space.
    pub value: String,
    /// Byte range of the whole field in the message: its first line through the line
    /// end of its last continuation line.
    pub range: std::ops::Range<usize>,
}

impl Field {
    /// Whether the field is named `name` (case is ignored).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// The fields before the first empty line (or before the first line that is neither a
/// field nor a continuation, which starts the body as in Python's email parser).
pub fn parse(msg: &[u8]) -> Vec<Field> {
    let mut fields: Vec<Field> = Vec::new();
    let mut pos = 0;
    while pos < msg.len() {
        let rest = msg.get(pos..).unwrap_or_default();
        let line_len = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = rest.get(..line_len).unwrap_or_default();
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            break;
        }
        let end = pos + line_len;
        if matches!(content.first(), Some(b' ' | b'\t')) {
            match fields.last_mut() {
                Some(field) => {
                    field.value.push_str(&String::from_utf8_lossy(content));
                    field.range.end = end;
                }
                None => break,
            }
        } else {
            let Some(colon) = content.iter().position(|&b| b == b':') else {
                break;
            };
            let name = content.get(..colon).unwrap_or_default();
            if name.is_empty() || !name.iter().all(|&b| b.is_ascii_graphic()) {
                break;
            }
            fields.push(Field {
                name: String::from_utf8_lossy(name).into_owned(),
                value: String::from_utf8_lossy(content.get(colon + 1..).unwrap_or_default())
                    .into_owned(),
                range: pos..end,
            });
        }
        pos = end;
    }
    fields
}

/// `msg` without the fields for which `drop` is true.
pub fn without(msg: &[u8], fields: &[Field], drop: impl Fn(&Field) -> bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    let mut pos = 0;
    for field in fields.iter().filter(|f| drop(f)) {
        out.extend_from_slice(msg.get(pos..field.range.start).unwrap_or_default());
        pos = field.range.end;
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

    #[test]
    fn cutting_fields_out() {
        let msg = b"From: a\r\nBcc: x,\r\n y\r\nTo: b\r\nbcc: z\r\n\r\nbody\r\nBcc: kept\r\n";
        let f = parse(msg);
        let out = without(msg, &f, |f| f.is("bcc"));
        assert_eq!(out, b"From: a\r\nTo: b\r\n\r\nbody\r\nBcc: kept\r\n");
    }
}
