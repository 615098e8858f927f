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

/// What goes on the wire after DATA's 354, as pieces to send in order without joining
/// them: `msg` with a dot doubled at the start of every line (a line starts at the
/// beginning and after every LF, as in smtplib), CRLF added unless it already ends with
/// one, then `.CRLF`. The pieces borrow `msg`, so a large message is not copied.
pub fn body_parts(msg: &[u8]) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(4);
    let mut start = 0;
    for_each_dot_line(msg, |at| {
        if let Some(run) = msg.get(start..at).filter(|r| !r.is_empty()) {
            parts.push(run);
        }
        parts.push(b".");
        start = at;
    });
    if let Some(run) = msg.get(start..).filter(|r| !r.is_empty()) {
        parts.push(run);
    }
    // Dots are only ever added before a dot, so the end of `msg` is the end of the body.
    parts.push(if msg.ends_with(b"\r\n") {
        b".\r\n"
    } else {
        b"\r\n.\r\n"
    });
    parts
}

/// [`body_parts`] joined: the whole DATA body in one buffer.
pub fn encode_body(msg: &[u8]) -> Vec<u8> {
    body_parts(msg).concat()
}

/// Ones in the low bit of every byte of a word.
const LOW: u64 = 0x0101_0101_0101_0101;
/// Ones in the high bit of every byte of a word.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of every byte of `word` that equals `byte` (exactly: no false hits).
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (LOW * u64::from(byte));
    !(((x & !HIGH) + !HIGH) | x) & HIGH
}

/// Calls `f` with the index of every dot that starts a line of `msg`, in order: index 0
/// when `msg` starts with a dot, and i + 1 for every LF at i followed by a dot. Looks at
/// eight bytes at a time, since a message is mostly lines that need nothing.
fn for_each_dot_line(msg: &[u8], mut f: impl FnMut(usize)) {
    // The high bit of byte 0 is set when the byte before the word is a line end (or
    // the word starts the message).
    let mut line_start = 0x80u64;
    let mut base = 0;
    let mut words = msg.chunks_exact(8);
    for chunk in &mut words {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let word = u64::from_le_bytes(bytes);
        let dots = bytes_equal(word, b'.');
        if dots == 0 {
            // The common case: only whether the word's last byte ends a line matters.
            line_start = if word >> 56 == u64::from(b'\n') {
                0x80
            } else {
                0
            };
            base += 8;
            continue;
        }
        let lf = bytes_equal(word, b'\n');
        let mut hits = ((lf << 8) | line_start) & dots;
        line_start = lf >> 56;
        while hits != 0 {
            f(base + (hits.trailing_zeros() / 8) as usize);
            hits &= hits - 1;
        }
        base += 8;
    }
    let mut after_lf = line_start != 0;
    for (i, &b) in words.remainder().iter().enumerate() {
        if after_lf && b == b'.' {
            f(base + i);
        }
        after_lf = b == b'\n';
    }
}

/// The whole message as one CHUNKING chunk (RFC 3030), as pieces to send in order:
/// `BDAT n LAST`, then the bytes as they are (no dot-stuffing), with CRLF added unless
/// they end with one, as for DATA.
pub fn bdat_last_parts(msg: &[u8]) -> (Vec<u8>, [&[u8]; 2]) {
    let crlf: &[u8] = if msg.ends_with(b"\r\n") { b"" } else { b"\r\n" };
    let len = msg.len() + crlf.len();
    (format!("BDAT {len} LAST\r\n").into_bytes(), [msg, crlf])
}

/// [`bdat_last_parts`] joined.
pub fn bdat_last(msg: &[u8]) -> Vec<u8> {
    let (head, [body, crlf]) = bdat_last_parts(msg);
    [head.as_slice(), body, crlf].concat()
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

    /// The word-at-a-time search finds exactly what a byte-by-byte one does, at every
    /// alignment and across word boundaries.
    #[test]
    fn dot_lines_match_a_byte_by_byte_search() {
        fn slow(msg: &[u8]) -> Vec<usize> {
            (0..msg.len())
                .filter(|&i| msg[i] == b'.' && (i == 0 || msg[i - 1] == b'\n'))
                .collect()
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..200 {
            for _ in 0..20 {
                let msg: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        [b'.', b'\n', b'\r', b'x', 0x8a, 0xae, 0x2f, 0x0b][(seed % 8) as usize]
                    })
                    .collect();
                let mut found = Vec::new();
                for_each_dot_line(&msg, |i| found.push(i));
                assert_eq!(found, slow(&msg), "{msg:?}");
                let mut stuffed = Vec::new();
                for (i, &b) in msg.iter().enumerate() {
                    if b == b'.' && (i == 0 || msg[i - 1] == b'\n') {
                        stuffed.push(b'.');
                    }
                    stuffed.push(b);
                }
                if !stuffed.ends_with(b"\r\n") {
                    stuffed.extend_from_slice(b"\r\n");
                }
                stuffed.extend_from_slice(b".\r\n");
                assert_eq!(encode_body(&msg), stuffed, "{msg:?}");
            }
        }
    }

    #[test]
    fn eight_bit_bytes_pass_through() {
        assert_eq!(encode_body(b"\xe9\xff\x00"), b"\xe9\xff\x00\r\n.\r\n");
    }
}
