//! The low-level methods (EHLO bookkeeping, NOOP, RSET, HELP, VRFY, EXPN, docmd, MAIL,
//! RCPT, DATA, QUIT) against a real aiosmtpd, and the debug transcript.

mod common;
use common::*;
use host_test::servers::Aiosmtpd;
use smtp_host::SmtpError;

#[test]
fn ehlo_records_the_extensions() {
    let server = Aiosmtpd::start(&["--data-size-limit", "1000000", "--smtputf8"]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    assert!(!c.does_esmtp().unwrap());
    assert_eq!(c.ehlo_resp().unwrap(), None);
    let reply = c.ehlo(Some("client.example")).unwrap().unwrap();
    assert_eq!(reply.code, 250);
    assert!(c.does_esmtp().unwrap());
    assert!(c.has_extn("SIZE").unwrap() && c.has_extn("size").unwrap());
    assert!(c.has_extn("smtputf8").unwrap());
    assert!(!c.has_extn("starttls").unwrap());
    let features = c.esmtp_features().unwrap();
    let size = features.iter().find(|f| f.name == "size").unwrap();
    assert_eq!(size.params, "1000000");
    assert_eq!(c.ehlo_resp().unwrap().unwrap(), reply.text);
    assert!(c.transcript().contains("send: EHLO client.example\\r\\n"));
    // Already answered: no second EHLO.
    c.ehlo_or_helo_if_needed().unwrap().unwrap();
    assert_eq!(c.transcript().matches("send: EHLO").count(), 1);
}

#[test]
fn helo_then_no_esmtp() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client_with(smtp_host::ClientOptions {
        local_hostname: Some("me.example".into()),
        ..Default::default()
    });
    connect(&mut c, &server.addr());
    assert_eq!(c.helo(None).unwrap().unwrap().code, 250);
    assert!(c.transcript().contains("send: HELO me.example\\r\\n"));
    assert!(c.helo_resp().unwrap().is_some());
    assert!(!c.does_esmtp().unwrap());
    c.ehlo_or_helo_if_needed().unwrap().unwrap();
    assert!(!c.transcript().contains("send: EHLO"));
}

#[test]
fn simple_commands() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    assert_eq!(c.noop().unwrap().unwrap().code, 250);
    assert_eq!(c.rset().unwrap().unwrap().code, 250);
    let help = c.help(None).unwrap().unwrap();
    assert_eq!(help.code, 250);
    assert!(help.text.contains("Supported commands"), "{help:?}");
    assert_eq!(c.help(Some("NOOP")).unwrap().unwrap().code, 250);
    assert_eq!(c.verify("someone@example.com").unwrap().unwrap().code, 252);
    assert_eq!(c.expn("list@example.com").unwrap().unwrap().code, 502);
    assert_eq!(c.docmd("NOOP", None).unwrap().unwrap().code, 250);
    assert_eq!(c.docmd("BOGUS", Some("x")).unwrap().unwrap().code, 500);
    assert_eq!(
        c.docmd("NOOP", Some("a\r\nQUIT"))
            .unwrap()
            .unwrap_err()
            .kind(),
        "invalid-argument"
    );
    assert_eq!(
        c.verify("a\nb").unwrap().unwrap_err().kind(),
        "invalid-argument"
    );
    assert_eq!(c.quit().unwrap().unwrap().code, 221);
    assert!(!c.is_connected().unwrap());
}

#[test]
fn mail_rcpt_data_by_hand() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    c.ehlo(None).unwrap().unwrap();
    assert_eq!(c.mail("a@example.com", &[]).unwrap().unwrap().code, 250);
    assert_eq!(c.rcpt("b@example.com", &[]).unwrap().unwrap().code, 250);
    // mail and rcpt return refusals as replies, not errors.
    assert_eq!(
        c.rcpt("refuse-x@example.com", &[]).unwrap().unwrap().code,
        550
    );
    let reply = c.data(&text("Subject: by hand\n\n.x\n")).unwrap().unwrap();
    assert_eq!(reply.code, 250);
    let stored = server.wait_messages(1);
    assert_eq!(stored[0].bytes, b"Subject: by hand\r\n\r\n.x\r\n");
    assert_eq!(stored[0].rcpt_tos(), ["b@example.com"]);
    // DATA without a transaction: the server's 503 is a data-error.
    match c.data(&text("x")).unwrap() {
        Err(SmtpError::DataError(r)) => assert_eq!(r.code, 503),
        other => panic!("expected data-error, got {other:?}"),
    }
    // SMTPUTF8 on MAIL when the server lacks it.
    assert_eq!(
        c.mail("a@example.com", &strings(&["SMTPUTF8"]))
            .unwrap()
            .unwrap_err()
            .kind(),
        "not-supported"
    );
}

#[test]
fn every_method_before_connect_is_server_disconnected() {
    let mut c = client();
    assert!(!c.is_connected().unwrap());
    for err in [
        c.noop().unwrap().unwrap_err(),
        c.ehlo(None).unwrap().unwrap_err(),
        c.helo(None).unwrap().unwrap_err(),
        c.rset().unwrap().unwrap_err(),
        c.quit().unwrap().unwrap_err(),
        c.mail("a@b", &[]).unwrap().unwrap_err(),
        c.data(&text("x")).unwrap().unwrap_err(),
        c.sendmail("a@b", &strings(&["c@d"]), &text("x"), &[], &[])
            .unwrap()
            .unwrap_err(),
    ] {
        assert_eq!(err.kind(), "server-disconnected", "{err:?}");
    }
    c.close().unwrap();
    assert_eq!(
        c.sendmail("a@b", &[], &text("x"), &[], &[])
            .unwrap()
            .unwrap_err()
            .kind(),
        "invalid-argument"
    );
}

#[test]
fn reconnect_starts_a_new_session() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    c.sendmail("a@b.c", &strings(&["d@e.f"]), &text("1"), &[], &[])
        .unwrap()
        .unwrap();
    c.quit().unwrap().unwrap();
    assert_eq!(c.ehlo_resp().unwrap(), None);
    connect(&mut c, &server.addr());
    c.sendmail("a@b.c", &strings(&["d@e.f"]), &text("2"), &[], &[])
        .unwrap()
        .unwrap();
    assert_eq!(c.transcript().matches("send: EHLO").count(), 2);
    assert_eq!(server.wait_messages(2).len(), 2);
}

#[test]
fn debug_levels() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    c.set_debuglevel(0).unwrap();
    connect(&mut c, &server.addr());
    c.noop().unwrap().unwrap();
    assert_eq!(c.transcript(), "");
    c.set_debuglevel(1).unwrap();
    c.noop().unwrap().unwrap();
    let t = c.transcript();
    assert!(
        t.contains("send: NOOP\\r\\n") && t.contains("reply: 250 "),
        "{t}"
    );
    c.set_debuglevel(2).unwrap();
    c.rset().unwrap().unwrap();
    let line = c
        .transcript()
        .lines()
        .find(|l| l.ends_with("send: RSET\\r\\n"))
        .map(String::from)
        .unwrap();
    // "HH:MM:SS.ffffff send: RSET\r\n"
    let stamp = &line[..15];
    assert!(
        stamp.as_bytes()[2] == b':' && stamp.as_bytes()[5] == b':' && stamp.as_bytes()[8] == b'.',
        "{line}"
    );
}
