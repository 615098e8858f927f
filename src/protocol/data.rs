//! The message data of DATA and BDAT. For DATA: every line end sent as CRLF (RFC 5321
//! §2.3.8, against SMTP smuggling), dot-stuffing and the final `CRLF.CRLF`, in one pass
//! over the message; BDAT sends the bytes exactly.

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
/// them. Following RFC 5321 §2.3.8 (a bare CR or LF must not be sent), every bare CR
/// and every bare LF in `msg` is sent as CRLF; then a dot is doubled at the start of
/// every line (the beginning and after every CRLF); then CRLF is added unless the body
/// already ends with one, and `.CRLF`. Normalising rather than stuffing only after LF
/// (as smtplib does) stops SMTP smuggling: with a bare CR or LF left in, a receiver
/// that takes it as a line end could find a line `.` inside the message and run the
/// rest as commands. The pieces borrow `msg`, so a large message is not copied; the
/// only pieces added are `\n` after a bare CR, `\r` before a bare LF, and the dots.
pub fn body_parts(msg: &[u8]) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(4);
    fn push<'a>(parts: &mut Vec<&'a [u8]>, run: Option<&'a [u8]>, added: &'static [u8]) {
        if let Some(run) = run.filter(|r| !r.is_empty()) {
            parts.push(run);
        }
        if !added.is_empty() {
            parts.push(added);
        }
    }
    // Bytes from `start` on are not in `parts` yet; `line` is where the current line
    // starts.
    let mut start = 0;
    let mut line = 0;
    loop {
        if msg.get(line) == Some(&b'.') {
            push(&mut parts, msg.get(start..line), b".");
            start = line;
        }
        let Some(end) = find_line_end(msg, line) else {
            break;
        };
        match (msg.get(end), msg.get(end + 1)) {
            // CRLF: nothing to do (the common case).
            (Some(b'\r'), Some(b'\n')) => line = end + 2,
            // A bare CR: add the LF.
            (Some(b'\r'), _) => {
                push(&mut parts, msg.get(start..end + 1), b"\n");
                start = end + 1;
                line = end + 1;
            }
            // A bare LF (the CR of a CRLF would have been found first): add the CR.
            _ => {
                push(&mut parts, msg.get(start..end), b"\r");
                start = end;
                line = end + 1;
            }
        }
    }
    push(&mut parts, msg.get(start..), b"");
    // Dots are only ever added at line starts and line ends only made whole, so the body
    // ends with CRLF exactly when `msg` ends with a CR or LF.
    parts.push(if matches!(msg.last(), Some(b'\r' | b'\n')) {
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

/// [`encode_body`] for a message that arrives in pieces (a streamed body): feed each
/// piece to [`DotStuffer::push`] as it comes and call [`DotStuffer::finish`] at the end;
/// the output joined is exactly `encode_body` of the pieces joined, however the message
/// was split (a CRLF, a bare CR or a dot at a line start may straddle two pieces). Holds
/// two flags between pieces, never the message.
#[derive(Debug, Clone)]
pub struct DotStuffer {
    /// The next byte starts a line (true before the first byte).
    line_start: bool,
    /// The last byte seen was a CR already sent as CRLF: an LF right after it is its own.
    after_cr: bool,
    /// The last byte seen was a CR or an LF (so the body already ends with CRLF).
    ends_eol: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        DotStuffer {
            line_start: true,
            after_cr: false,
            ends_eol: false,
        }
    }
}

impl DotStuffer {
    /// Appends the wire form of `piece` to `out`: line ends as CRLF, dots doubled at
    /// line starts.
    pub fn push(&mut self, piece: &[u8], out: &mut Vec<u8>) {
        let Some(&last) = piece.last() else {
            return;
        };
        let mut i = 0;
        if self.after_cr && piece.first() == Some(&b'\n') {
            i = 1;
        }
        self.after_cr = false;
        while let Some(&b) = piece.get(i) {
            if self.line_start && b == b'.' {
                out.push(b'.');
            }
            self.line_start = false;
            let Some(end) = find_line_end(piece, i) else {
                out.extend_from_slice(piece.get(i..).unwrap_or_default());
                break;
            };
            out.extend_from_slice(piece.get(i..end).unwrap_or_default());
            out.extend_from_slice(b"\r\n");
            self.line_start = true;
            i = match (piece.get(end), piece.get(end + 1)) {
                (Some(b'\r'), Some(b'\n')) => end + 2,
                (Some(b'\r'), None) => {
                    self.after_cr = true;
                    end + 1
                }
                _ => end + 1,
            };
        }
        self.ends_eol = last == b'\r' || last == b'\n';
    }

    /// Appends the end of the data: CRLF unless the body ended with a line end, then
    /// `.CRLF`.
    pub fn finish(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.ends_eol {
            b".\r\n"
        } else {
            b"\r\n.\r\n"
        });
    }
}

/// The BDAT framing of a message that arrives in pieces: each piece goes as one
/// `BDAT n` chunk exactly as it is, and the last as `BDAT n LAST` with CRLF added when
/// the message does not end with one (as [`bdat_last_parts`] does for a whole message).
#[derive(Debug, Clone, Default)]
pub struct BdatFramer {
    /// The message so far ends with CRLF.
    ends_crlf: bool,
    /// The message so far ends with CR.
    ends_cr: bool,
}

impl BdatFramer {
    /// One chunk: its `BDAT` line and its bytes (with the final CRLF on the last chunk
    /// when the message needs it), ready to write.
    pub fn chunk(&mut self, piece: &[u8], last: bool) -> Vec<u8> {
        if let Some(&end) = piece.last() {
            self.ends_crlf = if piece.len() >= 2 {
                piece.ends_with(b"\r\n")
            } else {
                self.ends_cr && end == b'\n'
            };
            self.ends_cr = end == b'\r';
        }
        let crlf: &[u8] = if last && !self.ends_crlf {
            b"\r\n"
        } else {
            b""
        };
        let len = piece.len() + crlf.len();
        let head = if last {
            format!("BDAT {len} LAST\r\n")
        } else {
            format!("BDAT {len}\r\n")
        };
        let mut out = Vec::with_capacity(head.len() + len);
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(crlf);
        out
    }
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

/// The index of the first CR or LF in `msg` at or after `from`. Looks at eight bytes at
/// a time, since a message is mostly bytes that are neither.
fn find_line_end(msg: &[u8], from: usize) -> Option<usize> {
    let rest = msg.get(from..)?;
    let mut done = 0;
    for chunk in rest.chunks_exact(8) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let word = u64::from_le_bytes(bytes);
        let hits = bytes_equal(word, b'\r') | bytes_equal(word, b'\n');
        if hits != 0 {
            return Some(from + done + (hits.trailing_zeros() / 8) as usize);
        }
        done += 8;
    }
    rest.get(done..)?
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .map(|i| from + done + i)
}

/// The whole message as one CHUNKING chunk (RFC 3030), as pieces to send in order:
/// `BDAT n LAST`, then the bytes exactly as they are, with CRLF added unless they end
/// with one. No dot-stuffing and no line-end normalisation: the chunk is delimited by
/// its length, so it has no end marker that a bare CR or LF could fake.
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
        assert_eq!(encode_body(b"x\n.y"), b"x\r\n..y\r\n.\r\n");
    }

    #[test]
    fn final_crlf_added_once() {
        assert_eq!(encode_body(b""), b"\r\n.\r\n");
        assert_eq!(encode_body(b"a\r\n"), b"a\r\n.\r\n");
        assert_eq!(encode_body(b"a"), b"a\r\n.\r\n");
        assert_eq!(encode_body(b"a\n"), b"a\r\n.\r\n");
        assert_eq!(encode_body(b"a\r"), b"a\r\n.\r\n");
    }

    #[test]
    fn bdat_chunks_are_not_stuffed() {
        assert_eq!(bdat_last(b".a\r\n"), b"BDAT 4 LAST\r\n.a\r\n");
        assert_eq!(bdat_last(b"x"), b"BDAT 3 LAST\r\nx\r\n");
        assert_eq!(bdat_last(b""), b"BDAT 2 LAST\r\n\r\n");
    }

    /// The word-at-a-time search finds exactly what a byte-by-byte one does, at every
    /// alignment and across word boundaries, and the encoder gives what a byte-by-byte
    /// one does.
    #[test]
    fn line_ends_match_a_byte_by_byte_search() {
        fn slow_encode(msg: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            let mut line_start = true;
            let mut i = 0;
            while i < msg.len() {
                let b = msg[i];
                if line_start && b == b'.' {
                    out.push(b'.');
                }
                line_start = false;
                match b {
                    b'\r' | b'\n' => {
                        out.extend_from_slice(b"\r\n");
                        if b == b'\r' && msg.get(i + 1) == Some(&b'\n') {
                            i += 1;
                        }
                        line_start = true;
                    }
                    _ => out.push(b),
                }
                i += 1;
            }
            if !out.ends_with(b"\r\n") {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b".\r\n");
            out
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..200 {
            for _ in 0..20 {
                let msg: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        [b'.', b'\n', b'\r', b'x', 0x8a, 0x8d, 0xae, 0x0b][(seed % 8) as usize]
                    })
                    .collect();
                for from in 0..=msg.len() {
                    let slow = (from..msg.len()).find(|&i| msg[i] == b'\r' || msg[i] == b'\n');
                    assert_eq!(find_line_end(&msg, from), slow, "{msg:?} from {from}");
                }
                assert_eq!(encode_body(&msg), slow_encode(&msg), "{msg:?}");
            }
        }
    }

    /// The common case (CRLF line ends, no dot at a line start) is sent as `msg` itself
    /// and the final `.CRLF`: no pieces added.
    #[test]
    fn crlf_messages_are_not_split() {
        let msg = b"From: a@b.c\r\nSubject: x.y\r\n\r\nbody. text\r\n";
        assert_eq!(body_parts(msg), [&msg[..], b".\r\n"]);
        assert_eq!(find_line_end(msg, 100), None);
    }

    /// SMTP smuggling: a bare CR before a dot must not give a receiver that ends lines
    /// at a bare CR a line `.` (the end of data) with the rest read as commands.
    #[test]
    fn bare_cr_and_lf_are_sent_as_crlf_before_dot_stuffing() {
        assert_eq!(
            encode_body(b"a\r.\r\nRSET\r\n"),
            b"a\r\n..\r\nRSET\r\n.\r\n"
        );
        assert_eq!(
            encode_body(b"a\n.\nMAIL FROM:<x@y>\r"),
            b"a\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n"
        );
        assert_eq!(encode_body(b"\r\r\n\n."), b"\r\n\r\n\r\n..\r\n.\r\n");
    }

    #[test]
    fn eight_bit_bytes_pass_through() {
        assert_eq!(encode_body(b"\xe9\xff\x00"), b"\xe9\xff\x00\r\n.\r\n");
    }
}

/// Property tests: what four kinds of receiver read from the wire bytes. Each receiver
/// is written byte by byte, so that it is plainly right.
#[cfg(test)]
mod receivers {
    use super::*;
    use proptest::prelude::*;

    /// Where a receiver ends a line.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Eol {
        /// Only at CRLF (RFC 5321).
        Strict,
        /// At CRLF and at a bare CR.
        Cr,
        /// At CRLF and at a bare LF.
        Lf,
        /// At CRLF, a bare CR and a bare LF.
        Any,
    }

    const ALL: [Eol; 4] = [Eol::Strict, Eol::Cr, Eol::Lf, Eol::Any];

    /// The next line of `buf` as (content, line end), or `None` when no line end is
    /// found.
    fn next_line(buf: &[u8], eol: Eol) -> Option<(&[u8], &[u8])> {
        let mut i = 0;
        while i < buf.len() {
            let b = buf[i];
            let next = buf.get(i + 1).copied();
            if b == b'\r' && next == Some(b'\n') {
                return Some((&buf[..i], &buf[i..i + 2]));
            }
            if b == b'\r' && matches!(eol, Eol::Cr | Eol::Any) {
                return Some((&buf[..i], &buf[i..i + 1]));
            }
            if b == b'\n' && matches!(eol, Eol::Lf | Eol::Any) {
                return Some((&buf[..i], &buf[i..i + 1]));
            }
            i += 1;
        }
        None
    }

    /// A DATA receiver: the message it stores (dot-stuffing removed, line ends as
    /// received) and what follows the end of data, or `None` if it finds no end.
    fn read_data(wire: &[u8], eol: Eol) -> Option<(Vec<u8>, &[u8])> {
        let mut data = Vec::new();
        let mut rest = wire;
        loop {
            let (content, end) = next_line(rest, eol)?;
            rest = &rest[content.len() + end.len()..];
            if content == b"." {
                return Some((data, rest));
            }
            data.extend_from_slice(content.strip_prefix(b".").unwrap_or(content));
            data.extend_from_slice(end);
        }
    }

    /// A BDAT receiver: reads the command line, then the chunk by its length; gives the
    /// chunk and what follows it.
    fn read_bdat(wire: &[u8], eol: Eol) -> Option<(Vec<u8>, &[u8])> {
        let (command, end) = next_line(wire, eol)?;
        let command = std::str::from_utf8(command).ok()?;
        let len: usize = command
            .strip_prefix("BDAT ")?
            .strip_suffix(" LAST")?
            .parse()
            .ok()?;
        let rest = &wire[command.len() + end.len()..];
        let chunk = rest.get(..len)?;
        Some((chunk.to_vec(), &rest[len..]))
    }

    /// The message as a DATA receiver must store it: every line end (CRLF, bare CR,
    /// bare LF) as CRLF, and ending with CRLF.
    fn normalised(msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < msg.len() {
            match msg[i] {
                b'\r' => {
                    out.extend_from_slice(b"\r\n");
                    if msg.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                }
                b'\n' => out.extend_from_slice(b"\r\n"),
                b => out.push(b),
            }
            i += 1;
        }
        if !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    const TRAILER: &[u8] = b"QUIT\r\n";

    /// The command after the message must be read as that command, whole.
    fn trailer_is_quit(rest: &[u8], eol: Eol) -> bool {
        next_line(rest, eol) == Some((b"QUIT", b"\r\n")) && rest == TRAILER
    }

    fn check_data(msg: &[u8]) -> Result<(), TestCaseError> {
        let mut wire = encode_body(msg);
        prop_assert_eq!(&wire, &body_parts(msg).concat());
        wire.extend_from_slice(TRAILER);
        let expected = normalised(msg);
        for eol in ALL {
            let read = read_data(&wire, eol);
            prop_assert!(read.is_some(), "{:?}: no end of data in {:?}", eol, wire);
            let Some((data, rest)) = read else {
                continue;
            };
            prop_assert_eq!(&data, &expected, "{:?} receiver, wire {:?}", eol, wire);
            prop_assert!(
                trailer_is_quit(rest, eol),
                "{:?}: after the data {:?}",
                eol,
                rest
            );
        }
        Ok(())
    }

    fn check_bdat(msg: &[u8]) -> Result<(), TestCaseError> {
        let mut wire = bdat_last(msg);
        wire.extend_from_slice(TRAILER);
        let mut expected = msg.to_vec();
        if !expected.ends_with(b"\r\n") {
            expected.extend_from_slice(b"\r\n");
        }
        for eol in ALL {
            let read = read_bdat(&wire, eol);
            prop_assert!(read.is_some(), "{:?}: no chunk in {:?}", eol, wire);
            let Some((chunk, rest)) = read else {
                continue;
            };
            prop_assert_eq!(&chunk, &expected, "{:?} receiver, wire {:?}", eol, wire);
            prop_assert!(
                trailer_is_quit(rest, eol),
                "{:?}: after the chunk {:?}",
                eol,
                rest
            );
        }
        Ok(())
    }

    /// Bytes biased towards the ones that matter: `.`, CR, LF, and some others.
    fn risky_bytes() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            4 => Just(b'.'),
            4 => Just(b'\r'),
            4 => Just(b'\n'),
            2 => Just(b'x'),
            1 => Just(b' '),
            1 => 0x80u8..=0xff,
            1 => any::<u8>(),
        ];
        prop::collection::vec(byte, 0..64)
    }

    /// Text biased the same way, with some non-ASCII (which text mode refuses).
    fn risky_text() -> impl Strategy<Value = String> {
        let c = prop_oneof![
            4 => Just('.'),
            4 => Just('\r'),
            4 => Just('\n'),
            2 => Just('x'),
            1 => Just('\u{e9}'),
            1 => any::<char>(),
        ];
        prop_oneof![
            prop::collection::vec(c, 0..64).prop_map(|v| v.into_iter().collect()),
            any::<String>(),
            "[ -~\r\n]{0,80}",
        ]
    }

    proptest! {
        // No regression files: they would land outside src/.
        #![proptest_config(ProptestConfig {
            cases: 2000,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn data_bytes_mode_is_read_exactly(msg in risky_bytes()) {
            check_data(&msg)?;
        }

        #[test]
        fn data_bytes_mode_is_read_exactly_any_bytes(msg in prop::collection::vec(any::<u8>(), 0..300)) {
            check_data(&msg)?;
        }

        #[test]
        fn data_text_mode_is_read_exactly(text in risky_text()) {
            match text_to_bytes(&text) {
                Ok(msg) => check_data(&msg)?,
                Err(_) => prop_assert!(!text.is_ascii()),
            }
        }

        #[test]
        fn bdat_bytes_mode_is_read_exactly(msg in risky_bytes()) {
            check_bdat(&msg)?;
        }

        #[test]
        fn bdat_text_mode_is_read_exactly(text in risky_text()) {
            match text_to_bytes(&text) {
                Ok(msg) => check_bdat(&msg)?,
                Err(_) => prop_assert!(!text.is_ascii()),
            }
        }
    }
}

/// Streamed bodies: chunked encoding equals whole-message encoding for any split.
#[cfg(test)]
mod streamed {
    use super::*;
    use proptest::prelude::*;

    fn stuffed(pieces: &[&[u8]]) -> Vec<u8> {
        let mut s = DotStuffer::default();
        let mut out = Vec::new();
        for p in pieces {
            s.push(p, &mut out);
        }
        s.finish(&mut out);
        out
    }

    fn framed(pieces: &[&[u8]]) -> (Vec<u8>, bool) {
        // The chunks' payloads joined, and whether every chunk but the last is plain.
        let mut f = BdatFramer::default();
        let mut payload = Vec::new();
        let mut ok = true;
        for (i, p) in pieces.iter().enumerate() {
            let last = i + 1 == pieces.len();
            let chunk = f.chunk(p, last);
            let head_end = chunk.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
            let head = std::str::from_utf8(&chunk[..head_end]).unwrap();
            let body = &chunk[head_end..];
            ok &= head == format!("BDAT {}{}\r\n", body.len(), if last { " LAST" } else { "" });
            payload.extend_from_slice(body);
        }
        (payload, ok)
    }

    #[test]
    fn splits_inside_crlf_and_before_dots() {
        assert_eq!(stuffed(&[b"a\r", b"\n.b"]), encode_body(b"a\r\n.b"));
        assert_eq!(stuffed(&[b"a\r", b".b"]), encode_body(b"a\r.b"));
        assert_eq!(
            stuffed(&[b"a\r", b"", b"\n", b".", b"\r\n"]),
            b"a\r\n..\r\n.\r\n"
        );
        assert_eq!(stuffed(&[]), encode_body(b""));
        assert_eq!(stuffed(&[b"", b""]), b"\r\n.\r\n");
        assert_eq!(stuffed(&[b".", b"."]), encode_body(b".."));
    }

    #[test]
    fn bdat_chunks_add_crlf_only_at_the_end() {
        let mut f = BdatFramer::default();
        assert_eq!(f.chunk(b"a\r", false), b"BDAT 2\r\na\r");
        assert_eq!(f.chunk(b"\n", true), b"BDAT 1 LAST\r\n\n");
        let mut f = BdatFramer::default();
        assert_eq!(f.chunk(b".x", false), b"BDAT 2\r\n.x");
        assert_eq!(f.chunk(b"", true), b"BDAT 2 LAST\r\n\r\n");
        let mut f = BdatFramer::default();
        assert_eq!(f.chunk(b"x\r\n", false), b"BDAT 3\r\nx\r\n");
        assert_eq!(f.chunk(b"", true), b"BDAT 0 LAST\r\n");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// However the message is cut, the DATA pieces join to `encode_body` and the
        /// BDAT payloads join to `bdat_last`'s.
        #[test]
        fn chunked_equals_whole(
            msg in proptest::collection::vec(prop_oneof![
                Just(b'.'), Just(b'\r'), Just(b'\n'), Just(b'x'), any::<u8>()
            ], 0..300),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(msg.len() + 1)).collect();
            points.sort_unstable();
            let mut pieces: Vec<&[u8]> = Vec::new();
            let mut from = 0;
            for p in points {
                pieces.push(&msg[from..p]);
                from = p;
            }
            pieces.push(&msg[from..]);
            prop_assert_eq!(stuffed(&pieces), encode_body(&msg));
            let (payload, heads_ok) = framed(&pieces);
            prop_assert!(heads_ok);
            let whole = bdat_last(&msg);
            let head_end = whole.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
            prop_assert_eq!(payload, whole[head_end..].to_vec());
        }
    }
}
