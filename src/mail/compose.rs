//! A [`Mail`] into RFC 5322 bytes (the encodings in [`super::mime`]): RFC 2047 encoded
//! words for non-ASCII header text, RFC 2231 file names, quoted-printable or base64 as
//! fits each part, multipart/alternative, /related (inline parts with the HTML) and
//! /mixed nested as mail clients expect. Every input is checked first: a bad one is
//! `InvalidArgument`, never a broken message. Bcc is never written.

use super::mime;
use super::{dkim, Attachment, Mail, Mailbox};
use crate::error::SmtpError;

/// The longest line RFC 5322 2.1.1 allows, without its CRLF.
pub const MAX_LINE: usize = 998;

/// Fields the mailer writes itself, refused among the extra headers.
const RESERVED: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "dkim-signature",
];

fn bad(what: impl Into<String>) -> SmtpError {
    SmtpError::InvalidArgument(what.into())
}

fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\t')
}

/// An addr-spec the message and the envelope can both carry: `local@domain`, no white
/// space, controls or the characters that delimit addresses.
pub fn check_address(what: &str, address: &str) -> Result<(), SmtpError> {
    let refuse = |why: &str| Err(bad(format!("{what} address {address:?} {why}")));
    if address.is_empty() {
        return refuse("is empty");
    }
    if address.len() > 320 {
        return refuse("is too long");
    }
    if address
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "<>()[],;:\\\"".contains(c))
    {
        return refuse("holds white space, a control character or one of <>()[],;:\\\"");
    }
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(()),
        _ => refuse("is not local@domain"),
    }
}

fn check_mailbox(what: &str, m: &Mailbox) -> Result<(), SmtpError> {
    check_address(what, &m.address)?;
    if let Some(name) = &m.name {
        if has_control(name) {
            return Err(bad(format!(
                "{what} display name {name:?} holds a control character"
            )));
        }
    }
    Ok(())
}

/// A message id without `<>`: `left@right`, printable ASCII, no white space.
fn check_id(what: &str, id: &str) -> Result<(), SmtpError> {
    let ok = id.len() <= 250
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>()[],;\\\"".contains(&b))
        && id
            .split_once('@')
            .is_some_and(|(l, r)| !l.is_empty() && !r.is_empty());
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "{what} {id:?} is not a message id (left@right, without <>)"
        )))
    }
}

/// A header field name: printable ASCII without `:` (RFC 5322 ftext).
fn check_header_name(name: &str) -> Result<(), SmtpError> {
    let ok = !name.is_empty()
        && name.len() <= 76
        && name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
    if !ok {
        return Err(bad(format!("{name:?} is not a header field name")));
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED.contains(&lower.as_str()) || lower.starts_with("content-") {
        return Err(bad(format!(
            "header {name:?} is written by the mailer itself; use the mail's own field"
        )));
    }
    Ok(())
}

/// A MIME type `type/subtype` of token characters (RFC 2045 5.1), without parameters.
fn check_content_type(ct: &str) -> Result<(), SmtpError> {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
    };
    match ct.split_once('/') {
        Some((t, s)) if token(t) && token(s) => Ok(()),
        _ => Err(bad(format!("{ct:?} is not a MIME type (type/subtype)"))),
    }
}

/// A mailbox as it goes in an address field: `phrase <addr>` or `addr`.
fn address(m: &Mailbox) -> String {
    match m.name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => format!("{} <{}>", mime::phrase(name), m.address),
        None => m.address.clone(),
    }
}

fn addresses(list: &[Mailbox]) -> Vec<String> {
    list.iter().map(address).collect()
}

/// Checks every part of `mail` that goes into the bytes or the envelope.
pub fn check(mail: &Mail) -> Result<(), SmtpError> {
    check_mailbox("From", &mail.from)?;
    if let Some(sender) = &mail.sender {
        check_mailbox("Sender", sender)?;
    }
    for (what, list) in [
        ("To", &mail.to),
        ("Cc", &mail.cc),
        ("Bcc", &mail.bcc),
        ("Reply-To", &mail.reply_to),
    ] {
        for m in list {
            check_mailbox(what, m)?;
        }
    }
    if mail.to.is_empty() && mail.cc.is_empty() && mail.bcc.is_empty() {
        return Err(bad("the mail has no recipients (to, cc or bcc)"));
    }
    if has_control(&mail.subject) {
        return Err(bad("the subject holds a control character (CR, LF, ...)"));
    }
    if let Some(id) = &mail.message_id {
        check_id("Message-ID", id)?;
    }
    for id in mail.in_reply_to.iter() {
        check_id("In-Reply-To", id)?;
    }
    for id in mail.references.iter() {
        check_id("References", id)?;
    }
    for h in &mail.headers {
        check_header_name(&h.name)?;
        if has_control(&h.value) {
            return Err(bad(format!(
                "header {:?}: the value holds a control character",
                h.name
            )));
        }
    }
    for a in &mail.attachments {
        check_content_type(&a.content_type)?;
        if a.filename.is_empty() || has_control(&a.filename) {
            return Err(bad(format!(
                "attachment file name {:?} is empty or holds a control character",
                a.filename
            )));
        }
        if let Some(cid) = &a.content_id {
            check_id("Content-ID", cid)?;
        }
    }
    if let Some(date) = mail.date {
        // Years 0 to 9999: what the Date field can say.
        if !(-62_167_219_200..=253_402_300_799).contains(&date) {
            return Err(bad(format!("date {date} is outside the years 0 to 9999")));
        }
    }
    Ok(())
}

/// 128 random bits as hex, from the system's random source (wasi:random in the
/// component).
fn random_hex() -> Result<String, SmtpError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SmtpError::Io("no random source for the Message-ID".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A random Message-ID at the domain of `from`.
fn generate_message_id(from: &str) -> Result<String, SmtpError> {
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| d.is_ascii())
        .unwrap_or("localhost");
    Ok(format!("{}@{domain}", random_hex()?))
}

/// One MIME entity: its header fields (with CRLFs) and its body.
struct Part {
    headers: String,
    body: String,
}

fn text_part(subtype: &str, text: &str) -> Part {
    let (encoding, body) = mime::text_body(text);
    Part {
        headers: format!(
            "Content-Type: text/{subtype}; charset=\"utf-8\"\r\nContent-Transfer-Encoding: {encoding}\r\n"
        ),
        body,
    }
}

fn file_part(a: &Attachment, inline: bool) -> Part {
    let disposition = if inline { "inline" } else { "attachment" };
    let mut headers = format!(
        "Content-Type: {}{}\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: {disposition}{}\r\n",
        a.content_type.to_ascii_lowercase(),
        mime::parameter("name", &a.filename),
        mime::parameter("filename", &a.filename),
    );
    if let Some(cid) = &a.content_id {
        headers.push_str(&format!("Content-ID: <{cid}>\r\n"));
    }
    Part {
        headers,
        body: mime::base64_lines(&a.content),
    }
}

fn multipart(subtype: &str, parts: Vec<Part>) -> Result<Part, SmtpError> {
    let boundary = format!("=_{}", random_hex()?);
    // The CRLF before each delimiter belongs to the delimiter (RFC 2046 5.1.1), so a
    // body's own last line end is kept by writing one more, and a body without one
    // stays without.
    let mut body = String::new();
    for part in parts {
        body.push_str(&format!(
            "--{boundary}\r\n{}\r\n{}\r\n",
            part.headers, part.body
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    Ok(Part {
        headers: format!("Content-Type: multipart/{subtype};\r\n boundary=\"{boundary}\"\r\n"),
        body,
    })
}

/// The MIME tree: alternative(text, related(html, inline...)), then mixed with the
/// attachments. Inline parts without an HTML body are attached.
fn body(mail: &Mail) -> Result<Part, SmtpError> {
    let has_html = mail.html.is_some();
    let (inline, attached): (Vec<&Attachment>, Vec<&Attachment>) = mail
        .attachments
        .iter()
        .partition(|a| a.content_id.is_some() && has_html);
    let html = match mail.html.as_deref() {
        None => None,
        Some(h) if inline.is_empty() => Some(text_part("html", h)),
        Some(h) => {
            let mut parts = vec![text_part("html", h)];
            parts.extend(inline.iter().map(|a| file_part(a, true)));
            Some(multipart("related", parts)?)
        }
    };
    let text = mail.text.as_deref().map(|t| text_part("plain", t));
    let main = match (text, html) {
        (Some(t), Some(h)) => Some(multipart("alternative", vec![t, h])?),
        (Some(one), None) | (None, Some(one)) => Some(one),
        (None, None) => None,
    };
    if attached.is_empty() {
        return Ok(main.unwrap_or_else(|| text_part("plain", "")));
    }
    let mut parts: Vec<Part> = main.into_iter().collect();
    parts.extend(attached.iter().map(|a| file_part(a, false)));
    multipart("mixed", parts)
}

/// The seconds since the epoch now, when the platform has a wall clock.
pub fn now_secs() -> Option<u64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// `mail` as RFC 5322 bytes (CRLF line ends, no Bcc), DKIM-signed when its options ask.
pub fn compose(mail: &Mail) -> Result<Vec<u8>, SmtpError> {
    check(mail)?;
    let message_id = match &mail.message_id {
        Some(id) => id.clone(),
        None => generate_message_id(&mail.from.address)?,
    };
    let date = match mail.date {
        Some(secs) => secs,
        None => now_secs().and_then(|s| i64::try_from(s).ok()).unwrap_or(0),
    };
    let mut head = mime::address_field("From", &[address(&mail.from)]);
    if let Some(sender) = &mail.sender {
        head.push_str(&mime::address_field("Sender", &[address(sender)]));
    }
    for (name, list) in [
        ("To", &mail.to),
        ("Cc", &mail.cc),
        ("Reply-To", &mail.reply_to),
    ] {
        if !list.is_empty() {
            head.push_str(&mime::address_field(name, &addresses(list)));
        }
    }
    head.push_str(&mime::unstructured("Subject", &mail.subject));
    head.push_str(&format!("Date: {}\r\n", mime::date(date)));
    head.push_str(&mime::id_field("Message-ID", &[message_id]));
    if !mail.in_reply_to.is_empty() {
        head.push_str(&mime::id_field("In-Reply-To", &mail.in_reply_to));
    }
    if !mail.references.is_empty() {
        head.push_str(&mime::id_field("References", &mail.references));
    }
    for h in &mail.headers {
        head.push_str(&mime::unstructured(&h.name, &h.value));
    }
    head.push_str("MIME-Version: 1.0\r\n");
    let part = body(mail)?;
    head.push_str(&part.headers);
    head.push_str("\r\n");
    head.push_str(&part.body);
    let bytes = head.into_bytes();
    if let Some(line) = bytes
        .split(|&b| b == b'\n')
        .find(|l| l.strip_suffix(b"\r").unwrap_or(l).len() > MAX_LINE)
    {
        return Err(bad(format!(
            "a header line would be {} bytes, over RFC 5322's 998",
            line.len()
        )));
    }
    match &mail.options.dkim {
        Some(d) => dkim::sign(&bytes, d, now_secs()),
        None => Ok(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::Header;

    fn mb(address: &str) -> Mailbox {
        Mailbox {
            name: None,
            address: address.into(),
        }
    }

    fn simple() -> Mail {
        Mail {
            from: Mailbox {
                name: Some("Jörg Müller".into()),
                address: "joerg@example.com".into(),
            },
            to: vec![mb("a@example.org")],
            bcc: vec![mb("hidden@example.net")],
            subject: "Grüße 🚀".into(),
            text: Some("Hallo\nWelt\n".into()),
            date: Some(1_700_000_000),
            message_id: Some("1@example.com".into()),
            ..Mail::default()
        }
    }

    fn headers_of(bytes: &[u8]) -> String {
        let text = String::from_utf8_lossy(bytes);
        text.split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn encodes_non_ascii_headers_and_drops_bcc() {
        let bytes = compose(&simple()).unwrap();
        assert!(bytes.is_ascii(), "{}", String::from_utf8_lossy(&bytes));
        let head = headers_of(&bytes);
        assert!(head.contains("Subject: =?utf-8?B?"), "{head}");
        assert!(!head.to_ascii_lowercase().contains("bcc"), "{head}");
        assert!(!String::from_utf8_lossy(&bytes).contains("hidden@"));
        assert!(head.contains("Message-ID: <1@example.com>"), "{head}");
        assert!(
            head.contains("Date: Tue, 14 Nov 2023 22:13:20 +0000"),
            "{head}"
        );
        // Every line ends with CRLF.
        assert!(!bytes.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
    }

    #[test]
    fn envelope_has_bcc_once() {
        let mut m = simple();
        m.cc = vec![mb("a@example.org"), mb("c@example.org")];
        assert_eq!(
            m.envelope_to(),
            ["a@example.org", "c@example.org", "hidden@example.net"]
        );
    }

    #[test]
    fn structure_alternative_related_mixed() {
        let mut m = simple();
        m.html = Some("<p><img src=\"cid:logo@x\"></p>".into());
        m.attachments = vec![
            Attachment {
                filename: "logo.png".into(),
                content_type: "image/png".into(),
                content: vec![0x89, b'P', b'N', b'G'],
                content_id: Some("logo@x".into()),
            },
            Attachment {
                filename: "Bericht für März.pdf".into(),
                content_type: "application/pdf".into(),
                content: vec![0, 1, 2, 255],
                content_id: None,
            },
        ];
        let text = String::from_utf8(compose(&m).unwrap()).unwrap();
        let mixed = text.find("multipart/mixed").unwrap();
        let alt = text.find("multipart/alternative").unwrap();
        let related = text.find("multipart/related").unwrap();
        assert!(mixed < alt && alt < related, "{text}");
        assert!(
            text.contains("filename*=utf-8''") || text.contains("filename*=UTF-8''"),
            "{text}"
        );
        assert!(text.contains("Content-ID: <logo@x>"), "{text}");
    }

    #[test]
    fn generated_ids_are_random_at_the_senders_domain() {
        let mut m = simple();
        m.message_id = None;
        let a = headers_of(&compose(&m).unwrap());
        let b = headers_of(&compose(&m).unwrap());
        let id = |h: &str| {
            h.lines()
                .find(|l| l.starts_with("Message-ID:"))
                .unwrap()
                .to_string()
        };
        assert_ne!(id(&a), id(&b));
        assert!(id(&a).ends_with("@example.com>"), "{a}");
    }

    #[test]
    fn bad_inputs_are_invalid_arguments() {
        type Case = Box<dyn Fn(&mut Mail)>;
        let cases: Vec<Case> = vec![
            Box::new(|m| m.from.address = "no-at".into()),
            Box::new(|m| m.from.address = "a@b> NOTIFY=x".into()),
            Box::new(|m| m.to[0].address = "a\r\n@b".into()),
            Box::new(|m| m.subject = "a\r\nBcc: x@y".into()),
            Box::new(|m| m.from.name = Some("x\ny".into())),
            Box::new(|m| {
                m.to.clear();
                m.bcc.clear()
            }),
            Box::new(|m| m.message_id = Some("<x@y>".into())),
            Box::new(|m| m.references = vec!["no at".into()]),
            Box::new(|m| {
                m.headers = vec![Header {
                    name: "Bcc".into(),
                    value: "x@y".into(),
                }]
            }),
            Box::new(|m| {
                m.headers = vec![Header {
                    name: "X Bad".into(),
                    value: "v".into(),
                }]
            }),
            Box::new(|m| {
                m.headers = vec![Header {
                    name: "X-Ok".into(),
                    value: "v\r\nInjected: 1".into(),
                }]
            }),
            Box::new(|m| {
                m.attachments = vec![Attachment {
                    filename: "a.bin".into(),
                    content_type: "not a type".into(),
                    content: vec![],
                    content_id: None,
                }]
            }),
            Box::new(|m| m.date = Some(i64::MAX)),
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut m = simple();
            case(&mut m);
            assert!(
                matches!(compose(&m), Err(SmtpError::InvalidArgument(_))),
                "case {i}: {:?}",
                compose(&m).map(|b| String::from_utf8_lossy(&b).into_owned())
            );
        }
    }

    #[test]
    fn long_lines_are_encoded_under_998() {
        let mut m = simple();
        m.text = Some("x".repeat(5000));
        m.headers = vec![Header {
            name: "X-Long".into(),
            value: "x".repeat(2000),
        }];
        let bytes = compose(&m).unwrap();
        assert!(bytes
            .split(|&b| b == b'\n')
            .all(|l| l.len() <= MAX_LINE + 1));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Any input gives bytes with short CRLF lines and no Bcc, or InvalidArgument.
        #[test]
        fn compose_never_panics(subject in ".{0,120}", name in proptest::option::of(".{0,40}"),
                                text in proptest::option::of(".{0,300}"), html in proptest::option::of(".{0,200}"),
                                header in ".{0,80}", local in "[a-z.+=-]{1,20}",
                                file in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut m = simple();
            m.subject = subject;
            m.from.name = name;
            m.text = text;
            m.html = html;
            m.to[0].address = format!("{local}@example.org");
            m.headers = vec![Header { name: "X-Test".into(), value: header }];
            m.attachments = vec![Attachment { filename: "f.bin".into(), content_type: "application/octet-stream".into(), content: file, content_id: None }];
            match compose(&m) {
                Ok(bytes) => {
                    proptest::prop_assert!(bytes.split(|&b| b == b'\n').all(|l| l.len() <= MAX_LINE + 1));
                    proptest::prop_assert!(!String::from_utf8_lossy(&bytes).contains("hidden@example.net"));
                }
                Err(e) => proptest::prop_assert!(matches!(e, SmtpError::InvalidArgument(_))),
            }
        }
    }
}
