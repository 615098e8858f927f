//! LMTP against Dovecot: every recipient's outcome after the data (carol is over
//! quota), an unknown user refused at RCPT, and the Unix-socket case.

mod common;
use common::dovecot_relaying;
use smtp_host::{Client, ClientOptions, Message, SmtpError, SmtpHost, Stderr};

fn lmtp_client() -> Client {
    let mut c = SmtpHost::shared()
        .unwrap()
        .lmtp_client(&ClientOptions::default(), Stderr::Capture)
        .unwrap();
    c.set_debuglevel(1).unwrap();
    c
}

/// Larger than carol's 1 KiB quota.
fn big_message() -> Message {
    let mut m =
        b"From: sender@example.com\r\nTo: alice@localhost\r\nSubject: lmtp\r\n\r\n".to_vec();
    for i in 0..100 {
        m.extend_from_slice(
            format!("line {i:03} of a message that does not fit carol's quota\r\n").as_bytes(),
        );
    }
    Message::Bytes(m)
}

#[test]
fn every_recipient_gets_its_own_outcome() {
    let (_pki, _relay, dovecot) = dovecot_relaying();
    let mut c = lmtp_client();
    c.connect("127.0.0.1", Some(dovecot.lmtp_port))
        .unwrap()
        .unwrap();
    let to: Vec<String> = [
        "alice@localhost",
        "bob@localhost",
        "carol@localhost",
        "nobody@localhost",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let refused = c
        .sendmail("sender@example.com", &to, &big_message(), &[], &[])
        .unwrap()
        .unwrap();
    let outcome: Vec<(String, u16)> = refused
        .iter()
        .map(|r| (r.recipient.clone(), r.reply.code))
        .collect();
    assert_eq!(
        outcome,
        [
            ("nobody@localhost".to_string(), 550),
            ("carol@localhost".to_string(), 552)
        ],
        "{refused:?}"
    );
    assert!(c.transcript().contains("send: LHLO"));
    assert_eq!(dovecot.delivered_to("alice"), 1);
    assert_eq!(dovecot.delivered_to("bob"), 1);
    assert_eq!(dovecot.delivered_to("carol"), 0);
    // The session stayed in step: another transaction works.
    let refused = c
        .sendmail(
            "sender@example.com",
            &to[..1],
            &Message::Text("Subject: 2\n\nsmall\n".into()),
            &[],
            &[],
        )
        .unwrap()
        .unwrap();
    assert!(refused.is_empty());
    assert_eq!(dovecot.delivered_to("alice"), 2);
}

#[test]
fn lmtp_data_returns_each_reply() {
    let (_pki, _relay, dovecot) = dovecot_relaying();
    let mut c = lmtp_client();
    c.connect("127.0.0.1", Some(dovecot.lmtp_port))
        .unwrap()
        .unwrap();
    c.ehlo(None).unwrap().unwrap();
    assert_eq!(
        c.mail("sender@example.com", &[]).unwrap().unwrap().code,
        250
    );
    assert_eq!(c.rcpt("carol@localhost", &[]).unwrap().unwrap().code, 250);
    assert_eq!(c.rcpt("bob@localhost", &[]).unwrap().unwrap().code, 250);
    let replies = c.lmtp_data(&big_message()).unwrap().unwrap();
    let got: Vec<(&str, u16)> = replies
        .iter()
        .map(|r| (r.recipient.as_str(), r.reply.code))
        .collect();
    assert_eq!(got, [("carol@localhost", 552), ("bob@localhost", 250)]);
}

#[test]
fn nobody_delivered_is_recipients_refused() {
    let (_pki, _relay, dovecot) = dovecot_relaying();
    let mut c = lmtp_client();
    c.connect("127.0.0.1", Some(dovecot.lmtp_port))
        .unwrap()
        .unwrap();
    match c
        .sendmail(
            "s@example.com",
            &["carol@localhost".to_string()],
            &big_message(),
            &[],
            &[],
        )
        .unwrap()
    {
        Err(SmtpError::RecipientsRefused(list)) => {
            assert_eq!(list.len(), 1);
            assert_eq!(list[0].reply.code, 552);
        }
        other => panic!("expected recipients-refused, got {other:?}"),
    }
}

#[test]
fn unix_socket_paths_are_not_supported() {
    let mut c = lmtp_client();
    let err = c
        .connect("/var/run/dovecot/lmtp", None)
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "not-supported", "{err:?}");
}
