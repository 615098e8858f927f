//! `send-message`: the envelope from the headers, Bcc stripped, Resent- blocks, and
//! SMTPUTF8 for international addresses, against aiosmtpd.

mod common;
use common::*;
use host_test::servers::Aiosmtpd;

#[test]
fn envelope_from_headers_and_no_bcc_in_the_bytes() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let msg = b"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>, \"Doe, Carol\" <carol@example.com>\r\nCc: dave@example.com (Dave)\r\nBcc: eve@example.com,\r\n frank@example.com\r\nSubject: headers\r\n\r\nbody\r\n";
    let refused = c.send_message(msg, None, None, &[], &[]).unwrap().unwrap();
    assert!(refused.is_empty());
    let stored = server.wait_messages(1);
    assert_eq!(stored[0].mail_from(), "alice@example.com");
    assert_eq!(
        stored[0].rcpt_tos(),
        [
            "bob@example.com",
            "carol@example.com",
            "eve@example.com",
            "frank@example.com",
            "dave@example.com"
        ]
    );
    assert_eq!(
        stored[0].bytes,
        b"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>, \"Doe, Carol\" <carol@example.com>\r\nCc: dave@example.com (Dave)\r\nSubject: headers\r\n\r\nbody\r\n"
    );
}

#[test]
fn given_addresses_win_and_bcc_is_still_stripped() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let msg = b"From: a@example.com\r\nTo: b@example.com\r\nBcc: c@example.com\r\n\r\nx\r\n";
    c.send_message(
        msg,
        Some("o@example.com"),
        Some(&strings(&["t@example.com"])),
        &[],
        &[],
    )
    .unwrap()
    .unwrap();
    let stored = server.wait_messages(1);
    assert_eq!(stored[0].mail_from(), "o@example.com");
    assert_eq!(stored[0].rcpt_tos(), ["t@example.com"]);
    assert_eq!(
        stored[0].bytes,
        b"From: a@example.com\r\nTo: b@example.com\r\n\r\nx\r\n"
    );
}

#[test]
fn resent_blocks() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let one = b"Resent-From: r@example.com\r\nResent-To: rt@example.com\r\nResent-Bcc: rb@example.com\r\nResent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nFrom: a@example.com\r\nTo: b@example.com\r\n\r\nx\r\n";
    c.send_message(one, None, None, &[], &[]).unwrap().unwrap();
    let stored = server.wait_messages(1);
    assert_eq!(stored[0].mail_from(), "r@example.com");
    assert_eq!(stored[0].rcpt_tos(), ["rt@example.com", "rb@example.com"]);
    assert!(!String::from_utf8_lossy(&stored[0].bytes).contains("Resent-Bcc"));

    let two = b"Resent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nResent-From: r@example.com\r\nResent-Date: Tue, 2 Jan 2024 00:00:00 +0000\r\nResent-From: s@example.com\r\nFrom: a@example.com\r\nTo: b@example.com\r\n\r\nx\r\n";
    let err = c
        .send_message(two, None, None, &[], &[])
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "invalid-argument");
    assert!(format!("{err:?}").contains("more than one 'Resent-' header block"));
    assert_eq!(c.transcript().matches("send: MAIL").count(), 1);
}

#[test]
fn international_addresses_need_smtputf8() {
    let msg = "From: J\u{f6}rg <j\u{f6}rg@b\u{fc}cher.example>\r\nTo: \u{e9}l\u{e8}ve@example.com\r\nSubject: =?utf-8?q?h=C3=A9?=\r\n\r\ncaf\u{e9}\r\n";
    let utf8 = Aiosmtpd::start(&["--smtputf8"]).unwrap();
    let mut c = client();
    connect(&mut c, &utf8.addr());
    c.send_message(msg.as_bytes(), None, None, &[], &[])
        .unwrap()
        .unwrap();
    let stored = utf8.wait_messages(1);
    assert_eq!(stored[0].rcpt_tos(), ["\u{e9}l\u{e8}ve@example.com"]);
    let opts = stored[0].envelope["mail_options"].to_string();
    assert!(
        opts.contains("SMTPUTF8") && opts.contains("BODY=8BITMIME"),
        "{opts}"
    );
    assert_eq!(stored[0].bytes, msg.as_bytes());

    let plain = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &plain.addr());
    let err = c
        .send_message(msg.as_bytes(), None, None, &[], &[])
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "not-supported", "{err:?}");
    assert!(!c.transcript().contains("send: MAIL"));
}
