//! `send-message`'s envelope, from the message's own headers as smtplib's
//! `send_message` takes it: the sender from Sender, else From; the recipients from To,
//! Cc and Bcc; the Resent-* block instead when there is exactly one; Bcc and Resent-Bcc
//! removed from the bytes sent.

use crate::error::SmtpError;
use crate::protocol::address;
use crate::protocol::headers::{self, Field};

/// What `send-message` sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub to: Vec<String>,
    /// The message without its Bcc and Resent-Bcc fields, its mbox `From ` line and the
    /// other lines of the header block that are not fields.
    pub bytes: Vec<u8>,
}

/// Works out the envelope: `from` and `to` when given, otherwise from the headers.
/// More than one Resent- block (counted by Resent-Date, as smtplib does) is an
/// `InvalidArgument`, since the newest cannot be told for certain.
pub fn prepare(
    msg: &[u8],
    from: Option<&str>,
    to: Option<&[String]>,
) -> Result<Prepared, SmtpError> {
    let block = headers::parse_block(msg);
    let fields = &block.fields;
    let resent_blocks = fields.iter().filter(|f| f.is("resent-date")).count();
    let prefix = match resent_blocks {
        0 => "",
        1 => "resent-",
        _ => {
            return Err(SmtpError::InvalidArgument(
                "message has more than one 'Resent-' header block".into(),
            ))
        }
    };
    let named = |name: &str| -> Vec<&Field> {
        let full = format!("{prefix}{name}");
        fields.iter().filter(|f| f.is(&full)).collect()
    };
    let from = match from {
        Some(f) => f.to_string(),
        None => {
            let field = named("sender")
                .into_iter()
                .next()
                .or_else(|| named("from").into_iter().next())
                .ok_or_else(|| {
                    SmtpError::InvalidArgument(format!(
                        "no from-addr given and the message has no {prefix}Sender or {prefix}From header"
                    ))
                })?;
            address::parse_list(&field.value)
                .into_iter()
                .next()
                .map(|m| m.addr)
                .unwrap_or_default()
        }
    };
    let to = match to {
        Some(t) => t.to_vec(),
        None => ["to", "bcc", "cc"]
            .iter()
            .flat_map(|name| named(name))
            .flat_map(|field| address::parse_list(&field.value))
            .map(|m| m.addr)
            .collect(),
    };
    if to.is_empty() {
        return Err(SmtpError::InvalidArgument(
            "no recipients: none given and none in the To, Cc or Bcc headers".into(),
        ));
    }
    // The Bcc fields and the lines that are not fields (the mbox `From ` line), which
    // smtplib's generator (unixfrom=False) does not send either.
    let cuts = fields
        .iter()
        .filter(|f| f.is("bcc") || f.is("resent-bcc"))
        .map(|f| f.range.clone())
        .chain(block.skipped.iter().cloned())
        .collect();
    let bytes = headers::cut(msg, cuts);
    Ok(Prepared { from, to, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_from_the_headers_and_bcc_removed() {
        let msg = b"From: Alice <a@x.org>\r\nTo: b@x.org, \"Bee, C\" <c@x.org>\r\nCc: d@x.org\r\nBcc: hidden@x.org,\r\n e@x.org\r\nSubject: s\r\n\r\nbody\r\n";
        let p = prepare(msg, None, None).unwrap();
        assert_eq!(p.from, "a@x.org");
        assert_eq!(
            p.to,
            ["b@x.org", "c@x.org", "hidden@x.org", "e@x.org", "d@x.org"]
        );
        assert_eq!(
            p.bytes,
            b"From: Alice <a@x.org>\r\nTo: b@x.org, \"Bee, C\" <c@x.org>\r\nCc: d@x.org\r\nSubject: s\r\n\r\nbody\r\n"
        );
    }

    #[test]
    fn sender_wins_over_from_and_arguments_win_over_headers() {
        let msg = b"From: a@x.org\r\nSender: s@x.org\r\nTo: b@x.org\r\n\r\n";
        assert_eq!(prepare(msg, None, None).unwrap().from, "s@x.org");
        let p = prepare(msg, Some("o@x.org"), Some(&["t@x.org".to_string()])).unwrap();
        assert_eq!(
            (p.from.as_str(), p.to.as_slice()),
            ("o@x.org", &["t@x.org".to_string()][..])
        );
    }

    #[test]
    fn one_resent_block_is_used() {
        let msg = b"Resent-From: r@x.org\r\nResent-To: rt@x.org\r\nResent-Bcc: rb@x.org\r\nResent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: a@x.org\r\nTo: b@x.org\r\nBcc: c@x.org\r\n\r\n";
        let p = prepare(msg, None, None).unwrap();
        assert_eq!(p.from, "r@x.org");
        assert_eq!(p.to, ["rt@x.org", "rb@x.org"]);
        assert!(!String::from_utf8_lossy(&p.bytes)
            .to_ascii_lowercase()
            .contains("bcc"));
    }

    #[test]
    fn two_resent_blocks_are_an_error() {
        let msg = b"Resent-Date: a\r\nResent-From: x@y.z\r\nResent-Date: b\r\nResent-From: w@y.z\r\nFrom: a@x.org\r\nTo: b@x.org\r\n\r\n";
        assert!(
            matches!(prepare(msg, None, None), Err(SmtpError::InvalidArgument(m)) if m.contains("more than one"))
        );
    }

    #[test]
    fn missing_parts() {
        assert!(prepare(b"To: b@x.org\r\n\r\n", None, None).is_err());
        assert!(prepare(b"From: a@x.org\r\n\r\n", None, None).is_err());
        assert!(prepare(
            b"From: a@x.org\r\nTo: undisclosed-recipients:;\r\n\r\n",
            None,
            None
        )
        .is_err());
    }

    /// Bcc must be found and cut whatever the line ends, and after an mbox `From ` line
    /// (which is not sent either).
    #[test]
    fn bcc_found_and_cut_with_any_line_ends_and_a_from_line() {
        let cases: [&[u8]; 8] = [
            b"From: a@x.org\rTo: b@x.org\rBcc: c@x.org,\r d@x.org\r\rbody\r",
            b"From: a@x.org\nTo: b@x.org\nBcc: c@x.org,\n d@x.org\n\nbody\n",
            b"From: a@x.org\r\nTo: b@x.org\r\nBcc: c@x.org,\r\n d@x.org\r\n\r\nbody\r\n",
            b"From: a@x.org\r\nTo: b@x.org\rBcc: c@x.org,\n d@x.org\r\n\rbody",
            b"From sender@x.org Mon Jan  1 00:00:00 2024\nFrom: a@x.org\nTo: b@x.org\nBcc: c@x.org, d@x.org\n\nbody\n",
            b"From sender@x.org Mon Jan  1 00:00:00 2024\r\nFrom: a@x.org\r\nTo: b@x.org\r\nbcc: c@x.org\r\nBCC: d@x.org\r\n\r\n",
            b"From sender@x.org Mon Jan  1 00:00:00 2024\rFrom: a@x.org\rBcc: c@x.org\rTo: b@x.org\rBcc: d@x.org",
            b"From: a@x.org\nTo: b@x.org\rResent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nResent-From: a@x.org\nResent-To: b@x.org\rResent-Bcc: c@x.org,\r\td@x.org\n\nbody",
        ];
        for msg in cases {
            let p = prepare(msg, None, None).unwrap();
            assert_eq!(p.from, "a@x.org", "{msg:?}");
            assert_eq!(p.to, ["b@x.org", "c@x.org", "d@x.org"], "{msg:?}");
            let sent = String::from_utf8_lossy(&p.bytes).to_ascii_lowercase();
            assert!(!sent.contains("bcc"), "{msg:?} sent {sent:?}");
            assert!(!sent.contains("from sender"), "{msg:?} sent {sent:?}");
            assert!(sent.starts_with("from: a@x.org"), "{msg:?} sent {sent:?}");
        }
    }
}
