//! The message data of DATA: line-ending normalisation for text, dot-stuffing and the
//! final `CRLF.CRLF`, each in one pass over the message.

use crate::error::SmtpError;

/// Text messages: refuses non-ASCII (smtplib encodes text as ASCII) and turns every
/// lone CR and lone LF into CRLF.
pub fn text_to_bytes(text: &str) -> Result<Vec<u8>, SmtpError> {
    if !text.is_ascii() {
        return Err(SmtpError::InvalidArgument(
            "message text contains non-ASCII characters; send it as bytes".into(),
        ));
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32 + 2);
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            _ => {
                // Copy the run up to the next line end in one go.
                let run = bytes
                    .get(i..)
                    .unwrap_or_default()
                    .iter()
                    .position(|&c| c == b'\r' || c == b'\n')
                    .unwrap_or(bytes.len() - i);
                out.extend_from_slice(bytes.get(i..i + run).unwrap_or_default());
                i += run;
                continue;
            }
        }
        i += 1;
    }
    Ok(out)
}

/// What goes on the wire after DATA's 354: `msg` with a dot doubled at the start of
/// every line (a line starts at the beginning and after every LF, as in smtplib), CRLF
/// added unless it already ends with one, then `.CRLF`.
pub fn encode_body(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + msg.len() / 64 + 8);
    let mut at_line_start = true;
    let mut rest = msg;
    while !rest.is_empty() {
        if at_line_start && rest.first() == Some(&b'.') {
            out.push(b'.');
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => {
                let (line, tail) = rest.split_at(lf + 1);
                out.extend_from_slice(line);
                rest = tail;
                at_line_start = true;
            }
            None => {
                out.extend_from_slice(rest);
                rest = &[];
            }
        }
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The whole message as one CHUNKING chunk (RFC 3030): `BDAT n LAST`, then the bytes
/// as they are (no dot-stuffing), with CRLF added unless they end with one, as for DATA.
pub fn bdat_last(msg: &[u8]) -> Vec<u8> {
    let needs_crlf = !msg.ends_with(b"\r\n");
    let len = msg.len() + if needs_crlf { 2 } else { 0 };
    let mut out = Vec::with_capacity(len + 32);
    out.extend_from_slice(format!("BDAT {len} LAST\r\n").as_bytes());
    out.extend_from_slice(msg);
    if needs_crlf {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eols_become_crlf() {
        assert_eq!(text_to_bytes("a\nb\rc\r\nd").unwrap(), b"a\r\nb\r\nc\r\nd");
        assert_eq!(text_to_bytes("\r\r\n\n").unwrap(), b"\r\n\r\n\r\n");
        assert_eq!(text_to_bytes("").unwrap(), b"");
        assert!(matches!(
            text_to_bytes("caf\u{e9}"),
            Err(SmtpError::InvalidArgument(_))
        ));
    }

    #[test]
    fn dots_are_stuffed_at_every_line_start() {
        assert_eq!(
            encode_body(b".a\r\n.\r\nb.c\r\n..d"),
            b"..a\r\n..\r\nb.c\r\n...d\r\n.\r\n"
        );
        assert_eq!(encode_body(b"x\n.y"), b"x\n..y\r\n.\r\n");
    }

    #[test]
    fn final_crlf_added_once() {
        assert_eq!(encode_body(b""), b"\r\n.\r\n");
        assert_eq!(encode_body(b"a\r\n"), b"a\r\n.\r\n");
        assert_eq!(encode_body(b"a"), b"a\r\n.\r\n");
        assert_eq!(encode_body(b"a\n"), b"a\n\r\n.\r\n");
    }

    #[test]
    fn bdat_chunks_are_not_stuffed() {
        assert_eq!(bdat_last(b".a\r\n"), b"BDAT 4 LAST\r\n.a\r\n");
        assert_eq!(bdat_last(b"x"), b"BDAT 3 LAST\r\nx\r\n");
        assert_eq!(bdat_last(b""), b"BDAT 2 LAST\r\n\r\n");
    }

    #[test]
    fn eight_bit_bytes_pass_through() {
        assert_eq!(encode_body(b"\xe9\xff\x00"), b"\xe9\xff\x00\r\n.\r\n");
    }
}
