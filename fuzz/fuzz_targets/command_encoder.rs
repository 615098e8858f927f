//! No caller input can put a CR or LF on the wire except the command's own line end.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smtp_component::protocol::command::{self, Charset};

fn one_line(encoded: &[u8]) {
    let body = encoded.strip_suffix(b"\r\n").expect("ends with CRLF");
    assert!(!body.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0), "{encoded:?}");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\u{1f}');
    let a = parts.next().unwrap_or_default();
    let b = parts.next().unwrap_or_default();
    let c = parts.next().unwrap_or_default().to_string();
    for charset in [Charset::Ascii, Charset::Utf8] {
        if let Ok(line) = command::line(a, Some(b), charset) {
            one_line(&line);
        }
        if let Ok(line) = command::mail_from(a, &[c.clone()], charset) {
            one_line(&line);
        }
        if let Ok(line) = command::rcpt_to(b, &[c.clone()], charset) {
            one_line(&line);
        }
    }
});
