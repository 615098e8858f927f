//! `sendmail` against a real aiosmtpd that stores each message byte for byte.

mod common;
use common::*;
use host_test::servers::Aiosmtpd;
use smtp_host::SmtpError;

#[test]
fn text_message_reaches_both_recipients_byte_exact() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    // Lines that start with a dot, a lone LF, a lone CR and a CRLF.
    let msg = "Subject: dots\n\n.leading dot\n..two dots\n.\nlone cr\rcrlf\r\nlast line";
    let refused = c
        .sendmail(
            "a@example.com",
            &strings(&["b@example.com", "c@example.com"]),
            &text(msg),
            &[],
            &[],
        )
        .unwrap()
        .unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    let stored = server.wait_messages(1);
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].bytes,
        b"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nlone cr\r\ncrlf\r\nlast line\r\n"
    );
    assert_eq!(stored[0].mail_from(), "a@example.com");
    assert_eq!(stored[0].rcpt_tos(), ["b@example.com", "c@example.com"]);
}

#[test]
fn bytes_message_is_sent_unchanged_including_8bit() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let msg = b"Subject: bytes\r\nContent-Type: text/plain; charset=latin1\r\n\r\ncaf\xe9 \xff\x80\r\n.dot line\r\nno final newline";
    c.sendmail(
        "a@example.com",
        &strings(&["b@example.com"]),
        &bytes(msg),
        &[],
        &[],
    )
    .unwrap()
    .unwrap();
    let stored = server.wait_messages(1);
    // Only the final CRLF is added, as smtplib does.
    let mut expected = msg.to_vec();
    expected.extend_from_slice(b"\r\n");
    assert_eq!(stored[0].bytes, expected);
}

#[test]
fn text_with_non_ascii_is_refused_before_sending() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let err = c
        .sendmail(
            "a@example.com",
            &strings(&["b@example.com"]),
            &text("caf\u{e9}"),
            &[],
            &[],
        )
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "invalid-argument");
    // The session is still usable.
    c.sendmail(
        "a@example.com",
        &strings(&["b@example.com"]),
        &text("ok"),
        &[],
        &[],
    )
    .unwrap()
    .unwrap();
    assert_eq!(server.wait_messages(1).len(), 1);
}

#[test]
fn size_is_declared_when_advertised_and_options_pass_through() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let msg = b"Subject: size\r\n\r\n12345\r\n";
    c.sendmail(
        "a@example.com",
        &strings(&["b@example.com"]),
        &bytes(msg),
        &strings(&["BODY=8BITMIME"]),
        &[],
    )
    .unwrap()
    .unwrap();
    let stored = server.wait_messages(1);
    let opts: Vec<String> =
        serde_json::from_value(stored[0].envelope["mail_options"].clone()).unwrap();
    assert_eq!(
        opts,
        [format!("SIZE={}", msg.len()), "BODY=8BITMIME".to_string()]
    );
}

#[test]
fn one_refused_recipient_is_reported_and_the_others_get_the_mail() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let refused = c
        .sendmail(
            "a@example.com",
            &strings(&["b@example.com", "refuse-me@example.com", "c@example.com"]),
            &text("Subject: partial\n\nhello\n"),
            &[],
            &[],
        )
        .unwrap()
        .unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].recipient, "refuse-me@example.com");
    assert_eq!(refused[0].reply.code, 550);
    let es = refused[0].reply.enhanced_status.unwrap();
    assert_eq!((es.class, es.subject, es.detail), (5, 1, 1));
    let stored = server.wait_messages(1);
    assert_eq!(stored[0].rcpt_tos(), ["b@example.com", "c@example.com"]);
}

#[test]
fn all_recipients_refused_then_rset_keeps_the_session_usable() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let err = c
        .sendmail(
            "a@example.com",
            &strings(&["refuse-1@x.org", "refuse-2@x.org"]),
            &text("x"),
            &[],
            &[],
        )
        .unwrap()
        .unwrap_err();
    let SmtpError::RecipientsRefused(list) = err else {
        panic!("expected recipients-refused, got {err:?}")
    };
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|r| r.reply.code == 550));
    assert!(c.transcript().contains("send: RSET"));
    c.sendmail(
        "a@example.com",
        &strings(&["ok@x.org"]),
        &text("second"),
        &[],
        &[],
    )
    .unwrap()
    .unwrap();
    let stored = server.wait_messages(1);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].rcpt_tos(), ["ok@x.org"]);
}

#[test]
fn sender_refused_and_data_refused() {
    let server = Aiosmtpd::start(&[
        "--refuse-sender-prefix",
        "bad",
        "--refuse-data-prefix",
        "nodata",
    ])
    .unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let err = c
        .sendmail(
            "bad@example.com",
            &strings(&["b@example.com"]),
            &text("x"),
            &[],
            &[],
        )
        .unwrap()
        .unwrap_err();
    match err {
        SmtpError::SenderRefused(r) => {
            assert_eq!(r.sender, "bad@example.com");
            assert_eq!(r.reply.code, 553);
        }
        other => panic!("expected sender-refused, got {other:?}"),
    }
    let err = c
        .sendmail(
            "nodata@example.com",
            &strings(&["b@example.com"]),
            &text("x"),
            &[],
            &[],
        )
        .unwrap()
        .unwrap_err();
    match err {
        SmtpError::DataError(r) => assert_eq!(r.code, 554),
        other => panic!("expected data-error, got {other:?}"),
    }
    assert!(server.messages().is_empty());
    // Still usable after both.
    c.sendmail(
        "good@example.com",
        &strings(&["b@example.com"]),
        &text("x"),
        &[],
        &[],
    )
    .unwrap()
    .unwrap();
    assert_eq!(server.wait_messages(1).len(), 1);
}

#[test]
fn crlf_in_any_address_or_option_sends_nothing() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let cases: [(&str, Vec<String>, Vec<String>); 4] = [
        (
            "a@example.com\r\nRCPT TO:<evil@x.org>",
            strings(&["b@example.com"]),
            vec![],
        ),
        (
            "a@example.com",
            strings(&["b@example.com", "c@x.org\nDATA"]),
            vec![],
        ),
        (
            "a@example.com",
            strings(&["b@example.com"]),
            strings(&["BODY=8BITMIME\r\nRSET"]),
        ),
        ("a@example.com\0", strings(&["b@example.com"]), vec![]),
    ];
    for (from, to, opts) in cases {
        let err = c
            .sendmail(from, &to, &text("x"), &opts, &[])
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind(), "invalid-argument", "{from:?} {to:?} {opts:?}");
    }
    // Nothing reached the server: not even EHLO.
    assert!(!c.transcript().contains("send:"), "{}", c.transcript());
    assert!(server.messages().is_empty());
}

#[test]
fn smtputf8_needs_the_server_to_advertise_it() {
    let plain = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &plain.addr());
    let err = c
        .sendmail(
            "j\u{f6}rg@example.com",
            &strings(&["b@example.com"]),
            &text("x"),
            &strings(&["SMTPUTF8"]),
            &[],
        )
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "not-supported");
    // Without SMTPUTF8 a non-ASCII address is refused before anything is sent for it.
    let err = c
        .sendmail(
            "j\u{f6}rg@example.com",
            &strings(&["b@example.com"]),
            &text("x"),
            &[],
            &[],
        )
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "invalid-argument");

    let utf8 = Aiosmtpd::start(&["--smtputf8"]).unwrap();
    let mut c = client();
    connect(&mut c, &utf8.addr());
    c.sendmail(
        "j\u{f6}rg@b\u{fc}cher.example",
        &strings(&["\u{e9}l\u{e8}ve@example.com"]),
        &bytes("Subject: \u{fc}\r\n\r\nhi\r\n".as_bytes()),
        &strings(&["SMTPUTF8"]),
        &[],
    )
    .unwrap()
    .unwrap();
    let stored = utf8.wait_messages(1);
    assert_eq!(stored[0].mail_from(), "j\u{f6}rg@b\u{fc}cher.example");
    assert_eq!(stored[0].rcpt_tos(), ["\u{e9}l\u{e8}ve@example.com"]);
}

#[test]
fn many_messages_on_one_connection() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    for i in 0..20 {
        let msg = format!("Subject: {i}\r\n\r\nmessage {i}\r\n");
        c.sendmail(
            "a@example.com",
            &strings(&["b@example.com"]),
            &bytes(msg.as_bytes()),
            &[],
            &[],
        )
        .unwrap()
        .unwrap();
    }
    c.quit().unwrap().unwrap();
    let stored = server.wait_messages(20);
    assert_eq!(stored.len(), 20);
    for (i, m) in stored.iter().enumerate() {
        assert_eq!(
            m.bytes,
            format!("Subject: {i}\r\n\r\nmessage {i}\r\n").as_bytes()
        );
    }
    assert_eq!(c.transcript().matches("send: EHLO").count(), 1);
}

#[test]
fn a_large_message_crosses_in_64k_writes() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let mut msg = b"Subject: big\r\n\r\n".to_vec();
    for i in 0..40_000 {
        msg.extend_from_slice(
            format!(".line {i:06} of a message larger than one stream write\r\n").as_bytes(),
        );
    }
    assert!(msg.len() > 2_000_000);
    c.sendmail(
        "a@example.com",
        &strings(&["b@example.com"]),
        &bytes(&msg),
        &[],
        &[],
    )
    .unwrap()
    .unwrap();
    let stored = server.wait_messages(1);
    assert!(stored[0].bytes == msg, "large message differs");
}
