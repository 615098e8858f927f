//! The MIME encodings a composed message needs, written here because mail-builder
//! (the crate tried first) costs 89 KB of the component once optimized, more than the
//! size budget has left: RFC 2047 encoded words, header folding, RFC 2231 parameters,
//! quoted-printable and base64 bodies, multipart framing. Each function makes lines of
//! at most 78 characters where it can and never more than 998.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

/// The line length headers are folded to, and the limit of an encoded word's line.
const FOLD: usize = 76;

/// Bytes of UTF-8 per RFC 2047 B word: 45 bytes are 60 base64 characters, 72 with
/// `=?utf-8?B?` and `?=`.
const WORD_BYTES: usize = 45;

/// Whether `s` may go in a header as it is: printable ASCII and tabs/spaces only.
fn is_plain(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

/// RFC 2047 B encoded words for `s`, split at character boundaries, joined by
/// `CRLF SP` (a decoder joins adjacent encoded words without the space between).
pub fn encoded_words(s: &str) -> String {
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        let next = i + c.len_utf8();
        if next - start > WORD_BYTES && end > start {
            words.push(&s[start..end]);
            start = end;
        }
        end = next;
    }
    if end > start || words.is_empty() {
        words.push(&s[start..end]);
    }
    words
        .iter()
        .map(|w| format!("=?utf-8?B?{}?=", BASE64.encode(w.as_bytes())))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// One header field `Name: value` with its CRLF, the value folded at spaces (at most
/// [`FOLD`] columns where words allow). Non-ASCII values, and values with a word too
/// long to fold, are RFC 2047-encoded.
pub fn unstructured(name: &str, value: &str) -> String {
    let longest_word = value.split([' ', '\t']).map(str::len).max().unwrap_or(0);
    if !is_plain(value) || longest_word + name.len() + 2 > FOLD {
        if value.is_empty() {
            return format!("{name}: \r\n");
        }
        return format!("{name}: {}\r\n", encoded_words(value));
    }
    let words: Vec<&str> = value.split(' ').filter(|w| !w.is_empty()).collect();
    fold(name, &words, " ")
}

/// `Name: ` and `items` joined by `sep`, a line break before an item that would pass
/// [`FOLD`] columns.
fn fold(name: &str, items: &[&str], sep: &str) -> String {
    let mut out = format!("{name}:");
    let mut column = out.len();
    for (i, item) in items.iter().enumerate() {
        let lead = if i == 0 { " " } else { sep };
        if i > 0 && column + lead.len() + item.len() > FOLD {
            out.push_str(lead.trim_end_matches(' '));
            out.push_str("\r\n ");
            column = 1;
        } else {
            out.push_str(lead);
            column += lead.len();
        }
        out.push_str(item);
        column += item.len();
    }
    out.push_str("\r\n");
    out
}

/// RFC 5322 atext (for a display name that can go unquoted).
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// A display name as a phrase: atoms as they are, other ASCII as a quoted string,
/// non-ASCII as encoded words.
pub fn phrase(name: &str) -> String {
    if !is_plain(name) {
        return encoded_words(name);
    }
    if name
        .split(' ')
        .all(|w| !w.is_empty() && w.bytes().all(is_atext))
    {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `Name: a, b, c` for mailboxes already written as `phrase <addr>` or `addr`, folded
/// after commas.
pub fn address_field(name: &str, mailboxes: &[String]) -> String {
    let items: Vec<&str> = mailboxes.iter().map(String::as_str).collect();
    fold(name, &items, ", ")
}

/// `Name: <a> <b>` for message ids (without `<>`), folded between ids.
pub fn id_field(name: &str, ids: &[String]) -> String {
    let items: Vec<String> = ids.iter().map(|id| format!("<{id}>")).collect();
    let items: Vec<&str> = items.iter().map(String::as_str).collect();
    fold(name, &items, " ")
}

/// A MIME parameter `; name="value"`, or RFC 2231 `name*0*=utf-8''...` continuations
/// for non-ASCII or long values, each piece on a line of its own.
pub fn parameter(name: &str, value: &str) -> String {
    let quotable = is_plain(value) && value.len() <= 60 && !value.contains(['"', '\\']);
    if quotable {
        return format!(";\r\n {name}=\"{value}\"");
    }
    let mut encoded = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    // Pieces of at most 48 characters, never splitting a %XX triple.
    let mut pieces = Vec::new();
    let mut rest = encoded.as_str();
    while !rest.is_empty() {
        let mut cut = rest.len().min(48);
        while cut < rest.len() && rest.as_bytes().get(cut.saturating_sub(1)) == Some(&b'%')
            || cut < rest.len() && rest.as_bytes().get(cut.saturating_sub(2)) == Some(&b'%')
        {
            cut -= 1;
        }
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    if pieces.len() == 1 {
        return format!(";\r\n {name}*=utf-8''{}", pieces[0]);
    }
    let mut out = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        let charset = if i == 0 { "utf-8''" } else { "" };
        out.push_str(&format!(";\r\n {name}*{i}*={charset}{piece}"));
    }
    out
}

/// `text` with every line end (CRLF, CR, LF) as CRLF.
pub fn crlf_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\r\n");
            }
            '\n' => out.push_str("\r\n"),
            c => out.push(c),
        }
    }
    out
}

/// How a text body goes: 7bit when it is ASCII with short lines, base64 when most of
/// it is not ASCII, quoted-printable otherwise.
pub fn text_body(text: &str) -> (&'static str, String) {
    let text = crlf_text(text);
    let long_line = text.split("\r\n").any(|l| l.len() > FOLD);
    let controls = text
        .bytes()
        .any(|b| b < b' ' && b != b'\r' && b != b'\n' && b != b'\t' || b == 0x7f);
    if text.is_ascii() && !long_line && !controls {
        let mut body = text;
        if !body.ends_with("\r\n") {
            body.push_str("\r\n");
        }
        return ("7bit", body);
    }
    let non_ascii = text.bytes().filter(|b| !b.is_ascii()).count();
    if non_ascii * 2 > text.len() {
        return ("base64", base64_lines(text.as_bytes()));
    }
    ("quoted-printable", quoted_printable(&text))
}

/// Base64 in lines of 76 characters, each with CRLF.
pub fn base64_lines(bytes: &[u8]) -> String {
    let encoded = BASE64.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38 + 2);
    for chunk in encoded.as_bytes().chunks(FOLD) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

/// RFC 2045 6.7 quoted-printable of CRLF text: CRLF stays a hard line break, lines are
/// cut with soft breaks (`=`) at 76 characters, white space before a line end encoded.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 11 / 10);
    for line in text.split("\r\n") {
        let bytes = line.as_bytes();
        let mut column = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let literal =
                (b'!'..=b'~').contains(&b) && b != b'=' || (b == b' ' || b == b'\t') && !last;
            let piece_len = if literal { 1 } else { 3 };
            // Keep room for a soft break's `=`.
            if column + piece_len > FOLD - 1 {
                out.push_str("=\r\n");
                column = 0;
            }
            if literal {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("={b:02X}"));
            }
            column += piece_len;
        }
        out.push_str("\r\n");
    }
    // `split` gives one more (empty) piece after a final CRLF: drop its line end.
    if text.ends_with("\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

/// An RFC 5322 date in UTC for `secs` since the epoch (years 0 to 9999), such as
/// `Tue, 14 Nov 2023 22:13:20 +0000`.
pub fn date(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = DAYS
        .get(usize::try_from(days.rem_euclid(7)).unwrap_or(0))
        .copied()
        .unwrap_or("Thu");
    let month_name = MONTHS
        .get(usize::try_from(month - 1).unwrap_or(0))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{weekday}, {day:02} {month_name} {year:04} {:02}:{:02}:{:02} +0000",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_split_at_characters() {
        let s = "Grüße 🚀 ".repeat(10);
        let e = encoded_words(&s);
        for line in e.split("\r\n") {
            assert!(line.len() <= FOLD, "{line}");
        }
        let decoded: String = e
            .split("\r\n ")
            .map(|w| {
                let b64 = w.trim_start_matches("=?utf-8?B?").trim_end_matches("?=");
                String::from_utf8(BASE64.decode(b64).unwrap()).unwrap()
            })
            .collect();
        assert_eq!(decoded, s);
    }

    #[test]
    fn unstructured_folds_or_encodes() {
        assert_eq!(unstructured("Subject", "hi there"), "Subject: hi there\r\n");
        let long = "word ".repeat(30);
        let f = unstructured("Subject", long.trim());
        assert!(f.lines().all(|l| l.len() <= FOLD), "{f}");
        assert!(unstructured("Subject", "Grüße").starts_with("Subject: =?utf-8?B?"));
        let huge = unstructured("X", &"x".repeat(2000));
        assert!(huge.lines().all(|l| l.len() <= FOLD), "{huge}");
    }

    #[test]
    fn dates() {
        assert_eq!(date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(date(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 +0000");
        assert_eq!(date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(date(-86_400), "Wed, 31 Dec 1969 00:00:00 +0000");
    }

    #[test]
    fn phrases() {
        assert_eq!(phrase("Jane Doe"), "Jane Doe");
        assert_eq!(phrase("Doe, Jane"), "\"Doe, Jane\"");
        assert_eq!(phrase("a \"b\""), "\"a \\\"b\\\"\"");
        assert!(phrase("Jörg").starts_with("=?utf-8?B?"));
    }

    #[test]
    fn parameters() {
        assert_eq!(parameter("filename", "a.pdf"), ";\r\n filename=\"a.pdf\"");
        assert_eq!(
            parameter("filename", "März.pdf"),
            ";\r\n filename*=utf-8''M%C3%A4rz.pdf"
        );
        let long = parameter("filename", &"é".repeat(40));
        assert!(long.contains("filename*0*=utf-8''") && long.contains("filename*1*="));
        assert!(long.split("\r\n").all(|l| l.len() <= FOLD));
    }

    #[test]
    fn quoted_printable_rules() {
        assert_eq!(quoted_printable("a=b \r\nc"), "a=3Db=20\r\nc\r\n");
        let long = quoted_printable(&"ü".repeat(100));
        assert!(long.lines().all(|l| l.len() <= FOLD));
        assert_eq!(text_body("plain\n").0, "7bit");
        assert_eq!(text_body("Grüße\n").0, "quoted-printable");
        assert_eq!(text_body("日本語のテキスト").0, "base64");
    }

    proptest::proptest! {
        #[test]
        fn lines_stay_short(s in ".{0,300}") {
            for out in [unstructured("Subject", &s), parameter("filename", &s), quoted_printable(&crlf_text(&s)), encoded_words(&s)] {
                for line in out.split("\r\n") {
                    proptest::prop_assert!(line.len() <= 998, "{:?}", line);
                }
            }
        }
    }
}
