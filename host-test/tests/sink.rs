//! Refusals and disconnects from Postfix's `smtp-sink` fault options:
//! `-f` (5xx), `-r` (4xx), `-q` (drop without reply), `-Q` (421 and drop).

mod common;
use common::*;
use host_test::servers::SmtpSink;
use smtp_host::{Client, SmtpError};

fn send(c: &mut Client) -> Result<Vec<smtp_host::Refusal>, SmtpError> {
    c.sendmail(
        "a@example.com",
        &strings(&["b@example.com", "c@example.com"]),
        &text("Subject: sink\n\nhello\n"),
        &[],
        &[],
    )
    .expect("no trap")
}

fn connected(args: &[&str]) -> (SmtpSink, Client) {
    let sink = SmtpSink::start(args).unwrap();
    let mut c = client();
    connect(&mut c, &sink.addr());
    (sink, c)
}

#[test]
fn plain_sink_accepts() {
    let (_sink, mut c) = connected(&[]);
    assert!(send(&mut c).unwrap().is_empty());
    assert_eq!(c.quit().unwrap().unwrap().code, 221);
}

#[test]
fn hard_and_soft_rcpt_refusals_refuse_everyone() {
    for (flag, class) in [("-f", 5), ("-r", 4)] {
        let (_sink, mut c) = connected(&[flag, "rcpt"]);
        match send(&mut c) {
            Err(SmtpError::RecipientsRefused(list)) => {
                assert_eq!(list.len(), 2);
                assert!(list.iter().all(|r| r.reply.code / 100 == class), "{list:?}");
            }
            other => panic!("{flag}: expected recipients-refused, got {other:?}"),
        }
        assert!(c.is_connected().unwrap());
        assert_eq!(c.noop().unwrap().unwrap().code, 250);
    }
}

#[test]
fn sender_refused() {
    let (_sink, mut c) = connected(&["-f", "mail"]);
    match send(&mut c) {
        Err(SmtpError::SenderRefused(r)) => {
            assert_eq!(r.sender, "a@example.com");
            assert_eq!(r.reply.code / 100, 5);
        }
        other => panic!("expected sender-refused, got {other:?}"),
    }
}

#[test]
fn data_refused_at_data() {
    let (_sink, mut c) = connected(&["-f", "data"]);
    match send(&mut c) {
        Err(SmtpError::DataError(r)) => assert_eq!(r.code / 100, 5),
        other => panic!("expected data-error, got {other:?}"),
    }
    assert!(c.transcript().contains("send: RSET"));
}

#[test]
fn disconnect_at_rcpt_is_server_disconnected_and_close_still_works() {
    let (_sink, mut c) = connected(&["-q", "rcpt"]);
    let err = send(&mut c).unwrap_err();
    assert_eq!(err.kind(), "server-disconnected", "{err:?}");
    assert!(!c.is_connected().unwrap());
    c.close().unwrap();
    assert_eq!(c.quit().unwrap().unwrap_err().kind(), "server-disconnected");
    assert_eq!(c.noop().unwrap().unwrap_err().kind(), "server-disconnected");
}

#[test]
fn service_closing_421_at_mail_and_rcpt() {
    let (_sink, mut c) = connected(&["-Q", "mail"]);
    match send(&mut c) {
        Err(SmtpError::SenderRefused(r)) => assert_eq!(r.reply.code, 421),
        other => panic!("expected sender-refused 421, got {other:?}"),
    }
    assert!(!c.is_connected().unwrap());

    let (_sink, mut c) = connected(&["-Q", "rcpt"]);
    match send(&mut c) {
        Err(SmtpError::RecipientsRefused(list)) => {
            assert_eq!(list.len(), 1, "stops at the first 421");
            assert_eq!(list[0].reply.code, 421);
        }
        other => panic!("expected recipients-refused 421, got {other:?}"),
    }
    assert!(!c.is_connected().unwrap());
}

#[test]
fn drop_after_the_final_dot_is_delivery_unknown() {
    let (_sink, mut c) = connected(&["-q", "."]);
    let err = send(&mut c).unwrap_err();
    assert_eq!(err.kind(), "delivery-unknown", "{err:?}");
    assert!(!c.is_connected().unwrap());
}

#[test]
fn service_closing_after_the_final_dot_is_a_data_error() {
    let (_sink, mut c) = connected(&["-Q", "."]);
    match send(&mut c) {
        Err(SmtpError::DataError(r)) => assert_eq!(r.code, 421),
        other => panic!("expected data-error 421, got {other:?}"),
    }
    assert!(!c.is_connected().unwrap());
}

#[test]
fn helo_fallback_when_ehlo_is_refused() {
    let (_sink, mut c) = connected(&["-f", "ehlo"]);
    assert!(send(&mut c).unwrap().is_empty());
    assert!(!c.does_esmtp().unwrap());
    assert!(c.helo_resp().unwrap().is_some());
    let t = c.transcript();
    assert!(t.contains("send: EHLO") && t.contains("send: HELO"), "{t}");
    // No ESMTP options after HELO: no SIZE= on MAIL.
    assert!(t.contains("send: MAIL FROM:<a@example.com>\\r\\n"), "{t}");
}

#[test]
fn helo_error_when_both_are_refused() {
    let (_sink, mut c) = connected(&["-f", "ehlo,helo"]);
    match send(&mut c) {
        Err(SmtpError::HeloError(r)) => assert_eq!(r.code / 100, 5),
        other => panic!("expected helo-error, got {other:?}"),
    }
}

#[test]
fn refused_greeting_is_connect_error() {
    for flag in ["-f", "-Q"] {
        let sink = SmtpSink::start(&[flag, "connect"]).unwrap();
        let mut c = client();
        match c.connect(&sink.addr(), None).unwrap() {
            Err(SmtpError::ConnectError(r)) => assert_ne!(r.code, 220),
            other => panic!("{flag}: expected connect-error, got {other:?}"),
        }
        assert!(!c.is_connected().unwrap());
    }
}

#[test]
fn disconnect_at_ehlo() {
    let (_sink, mut c) = connected(&["-q", "ehlo"]);
    assert_eq!(
        c.ehlo(None).unwrap().unwrap_err().kind(),
        "server-disconnected"
    );
}
