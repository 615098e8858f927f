//! PIPELINING (RFC 2920) and CHUNKING (RFC 3030): the commands of a transaction go out
//! in one write when the server allows it, with every outcome as without it; BDAT
//! carries the message when advertised. Against a private Postfix (both), smtp-sink
//! (PIPELINING only) and aiosmtpd (neither).

mod common;
use std::time::{Duration, Instant};

use common::*;
use host_test::servers::{Aiosmtpd, SmtpSink};

const MSG: &[u8] = b"Subject: chunked\r\n\r\n.a dot line stays as it is in BDAT\r\ncaf\xe9\r\n";

/// The transcript lines that were sent or received, in order.
fn lines(t: &str) -> Vec<String> {
    t.lines()
        .filter(|l| l.starts_with("send:") || l.starts_with("reply:"))
        .map(String::from)
        .collect()
}

/// Index of the first line starting with `prefix`.
fn first(lines: &[String], prefix: &str) -> usize {
    lines
        .iter()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in {lines:#?}"))
}

#[test]
fn postfix_gets_mail_rcpt_and_bdat_in_one_write() {
    let (_pki, store, postfix) = postfix_relaying();
    let mut c = client();
    c.connect("127.0.0.1", Some(postfix.smtp_port))
        .unwrap()
        .unwrap();
    let to = strings(&["b@example.com", "c@example.com"]);
    assert!(c
        .sendmail("a@example.com", &to, &bytes(MSG), &[], &[])
        .unwrap()
        .unwrap()
        .is_empty());
    c.quit().unwrap().unwrap();
    let l = lines(&c.transcript());
    let mail = first(&l, "send: MAIL");
    let bdat = first(&l, "send: BDAT");
    assert!(!l.iter().any(|x| x.starts_with("send: DATA")));
    // Nothing was read between MAIL and BDAT: one write.
    assert!(
        l[mail..bdat].iter().all(|x| x.starts_with("send:")),
        "{l:#?}"
    );
    assert_eq!(bdat - mail, 3);
    // Postfix counted a BDAT command, and the bytes arrived unchanged (no dot-stuffing).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !postfix.log().contains("bdat=1") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(postfix.log().contains("bdat=1"), "{}", postfix.log());
    let stored = store.wait_messages(1);
    assert!(
        stored[0].bytes.ends_with(MSG),
        "{:?}",
        String::from_utf8_lossy(&stored[0].bytes)
    );
}

#[test]
fn hundred_recipients_three_refused_with_pipelining() {
    let (_pki, store, postfix) = postfix_relaying();
    let mut c = client();
    c.connect("127.0.0.1", Some(postfix.smtp_port))
        .unwrap()
        .unwrap();
    let to: Vec<String> = (0..100)
        .map(|i| match i {
            7 | 50 | 99 => format!("refuse-{i}@example.com"),
            _ => format!("user{i}@example.com"),
        })
        .collect();
    let refused = c
        .sendmail("a@example.com", &to, &bytes(MSG), &[], &[])
        .unwrap()
        .unwrap();
    let names: Vec<&str> = refused.iter().map(|r| r.recipient.as_str()).collect();
    assert_eq!(
        names,
        [
            "refuse-7@example.com",
            "refuse-50@example.com",
            "refuse-99@example.com"
        ]
    );
    assert!(refused.iter().all(|r| r.reply.code == 550));
    let l = lines(&c.transcript());
    let mail = first(&l, "send: MAIL");
    let bdat = first(&l, "send: BDAT");
    assert_eq!(bdat - mail, 101, "MAIL, 100 RCPT and BDAT in one write");
    // Postfix relays to aiosmtpd in batches; all 97 arrive.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while Instant::now() < deadline {
        got = store
            .messages()
            .iter()
            .flat_map(|m| m.rcpt_tos())
            .collect::<Vec<_>>();
        if got.len() >= 97 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    got.sort();
    let mut want: Vec<String> = to
        .iter()
        .filter(|a| !a.starts_with("refuse"))
        .cloned()
        .collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn pipelined_refusals_keep_their_meaning() {
    let (_pki, _store, postfix) = postfix_relaying();
    let mut c = client();
    c.connect("127.0.0.1", Some(postfix.smtp_port))
        .unwrap()
        .unwrap();
    let all_refused = strings(&["refuse-1@example.com", "refuse-2@example.com"]);
    let err = c
        .sendmail("a@example.com", &all_refused, &bytes(MSG), &[], &[])
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "recipients-refused");
    // In step afterwards: a good transaction on the same connection.
    let ok = c
        .sendmail(
            "a@example.com",
            &strings(&["b@example.com"]),
            &bytes(MSG),
            &[],
            &[],
        )
        .unwrap();
    assert!(ok.unwrap().is_empty());
}

#[test]
fn smtp_sink_pipelines_mail_rcpt_and_data() {
    let sink = SmtpSink::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &sink.addr());
    let to = strings(&["b@example.com", "c@example.com"]);
    for _ in 0..3 {
        assert!(c
            .sendmail("a@example.com", &to, &bytes(MSG), &[], &[])
            .unwrap()
            .unwrap()
            .is_empty());
    }
    let l = lines(&c.transcript());
    let mail = first(&l, "send: MAIL");
    let data = first(&l, "send: DATA");
    assert_eq!(data - mail, 3);
    assert!(
        l[mail..=data].iter().all(|x| x.starts_with("send:")),
        "{l:#?}"
    );
}

#[test]
fn lockstep_without_pipelining() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    c.sendmail(
        "a@example.com",
        &strings(&["b@example.com"]),
        &bytes(MSG),
        &[],
        &[],
    )
    .unwrap()
    .unwrap();
    let l = lines(&c.transcript());
    let mail = first(&l, "send: MAIL");
    assert!(l[mail + 1].starts_with("reply: 250"), "{l:#?}");
    // aiosmtpd stores after unstuffing: the DATA path kept the bytes exact.
    assert_eq!(server.wait_messages(1)[0].bytes, MSG);
}
