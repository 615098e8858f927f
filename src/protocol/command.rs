//! Encoders for every command line. This is the one place that refuses a CR or LF in
//! what the caller gave, so nothing the caller passes can end a command early and
//! smuggle in another.

use crate::error::SmtpError;
use crate::protocol::address::quote_addr;

/// Which characters a command may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// ASCII only (the default).
    Ascii,
    /// UTF-8 (inside an SMTPUTF8 transaction).
    Utf8,
}

/// Refuses CR, LF and NUL in `value`, and non-ASCII unless `charset` allows it.
pub fn check_arg(what: &str, value: &str, charset: Charset) -> Result<(), SmtpError> {
    if value.bytes().any(|b| b == b'\r' || b == b'\n') {
        return Err(SmtpError::InvalidArgument(format!(
            "{what} contains a CR or LF: {value:?}"
        )));
    }
    if value.bytes().any(|b| b == 0) {
        return Err(SmtpError::InvalidArgument(format!(
            "{what} contains a NUL byte: {value:?}"
        )));
    }
    if charset == Charset::Ascii && !value.is_ascii() {
        return Err(SmtpError::InvalidArgument(format!(
            "{what} contains non-ASCII characters (they need SMTPUTF8): {value:?}"
        )));
    }
    Ok(())
}

/// `VERB` or `VERB args`, with the line end.
pub fn line(verb: &str, args: Option<&str>, charset: Charset) -> Result<Vec<u8>, SmtpError> {
    check_arg("command", verb, charset)?;
    let mut out = Vec::with_capacity(verb.len() + args.map_or(0, str::len) + 3);
    out.extend_from_slice(verb.as_bytes());
    if let Some(args) = args.filter(|a| !a.is_empty()) {
        check_arg("command argument", args, charset)?;
        out.push(b' ');
        out.extend_from_slice(args.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// `MAIL FROM:<sender>` followed by the options (each checked, space separated).
pub fn mail_from(sender: &str, options: &[String], charset: Charset) -> Result<Vec<u8>, SmtpError> {
    check_arg("sender address", sender, charset)?;
    address_command("MAIL FROM:", sender, options, charset)
}

/// `RCPT TO:<recipient>` followed by the options.
pub fn rcpt_to(
    recipient: &str,
    options: &[String],
    charset: Charset,
) -> Result<Vec<u8>, SmtpError> {
    check_arg("recipient address", recipient, charset)?;
    address_command("RCPT TO:", recipient, options, charset)
}

fn address_command(
    prefix: &str,
    addr: &str,
    options: &[String],
    charset: Charset,
) -> Result<Vec<u8>, SmtpError> {
    let mut args = quote_addr(addr)?;
    for opt in options {
        check_arg("ESMTP option", opt, charset)?;
        args.push(' ');
        args.push_str(opt);
    }
    let mut out = Vec::with_capacity(prefix.len() + args.len() + 2);
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(args.as_bytes());
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines() {
        assert_eq!(line("NOOP", None, Charset::Ascii).unwrap(), b"NOOP\r\n");
        assert_eq!(line("HELP", Some(""), Charset::Ascii).unwrap(), b"HELP\r\n");
        assert_eq!(
            line("VRFY", Some("a@b"), Charset::Ascii).unwrap(),
            b"VRFY a@b\r\n"
        );
    }

    #[test]
    fn crlf_and_nul_refused_everywhere() {
        for bad in ["a\r\nRCPT TO:<x@y>", "a\n", "a\rb", "a\0b"] {
            assert!(line(bad, None, Charset::Utf8).is_err());
            assert!(line("X", Some(bad), Charset::Utf8).is_err());
            assert!(mail_from(bad, &[], Charset::Utf8).is_err());
            assert!(rcpt_to("x@y", &[bad.to_string()], Charset::Utf8).is_err());
        }
    }

    #[test]
    fn non_ascii_needs_utf8() {
        assert!(mail_from("jörg@example.com", &[], Charset::Ascii).is_err());
        assert_eq!(
            mail_from("jörg@example.com", &["SMTPUTF8".into()], Charset::Utf8).unwrap(),
            "MAIL FROM:<jörg@example.com> SMTPUTF8\r\n".as_bytes()
        );
    }

    #[test]
    fn options_follow_the_address() {
        assert_eq!(
            mail_from(
                "a@b",
                &["SIZE=10".into(), "BODY=8BITMIME".into()],
                Charset::Ascii
            )
            .unwrap(),
            b"MAIL FROM:<a@b> SIZE=10 BODY=8BITMIME\r\n"
        );
        assert_eq!(
            rcpt_to("Bob <b@c>", &["NOTIFY=NEVER".into()], Charset::Ascii).unwrap(),
            b"RCPT TO:<b@c> NOTIFY=NEVER\r\n"
        );
    }

    /// ESMTP parameter injection: nothing in the address may end the `<…>` path or add
    /// parameters after it.
    #[test]
    fn esmtp_parameters_cannot_be_injected_through_the_address() {
        for bad in [
            "victim@example.com> NOTIFY=SUCCESS ORCPT=rfc822;x",
            "<a@b.c> SIZE=1",
            "Name <a@b.c> NOTIFY=NEVER",
            "a@b.c NOTIFY=NEVER",
            "<a@b.c",
            "<a<b@c.d>",
            "a b@c.d",
            "a\\ b@c.d",
            "a@b.c>",
            "\"a b@c.d",
        ] {
            assert!(mail_from(bad, &[], Charset::Ascii).is_err(), "{bad:?}");
            assert!(
                matches!(
                    rcpt_to(bad, &[], Charset::Ascii),
                    Err(SmtpError::InvalidArgument(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            rcpt_to("Bob <b@c.d> (the boss)", &[], Charset::Ascii).unwrap(),
            b"RCPT TO:<b@c.d>\r\n"
        );
        assert_eq!(
            rcpt_to("\"b o b\"@c.d", &[], Charset::Ascii).unwrap(),
            b"RCPT TO:<\"b o b\"@c.d>\r\n"
        );
    }
}
