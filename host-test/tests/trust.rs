//! The built component against the defects "Trust" (issue 13) found, one test per class.
//! Real servers where one shows the defect (aiosmtpd, smtp-sink); a scripted peer for
//! the faults no real server produces on demand. Each of these failed against the
//! component before the fix (run them against another build with
//! `SMTP_TEST_COMPONENT=path/to/smtp_component.wasm`).

mod common;
use std::time::{Duration, Instant};

use common::*;
use host_test::servers::{Aiosmtpd, SmtpSink};
use smtp_host::{ClientOptions, Message, SaslMechanism, SmtpError, SmtpHost, Stderr};

/// A reply, as a step's bytes.
fn r(reply: &[u8]) -> Vec<u8> {
    reply.to_vec()
}

/// The greeting, then `hello` to the hello and 250 to `commands` more commands, then 354
/// to DATA, and the data read up to and including the CRLF.CRLF a strict receiver ends
/// it at.
fn through_data(hello: &[u8], commands: usize) -> Vec<Step> {
    let mut steps = vec![
        Step::Send(r(b"220 scripted\r\n")),
        Step::Reply("", r(hello)),
    ];
    for _ in 0..commands {
        steps.push(Step::Reply("", r(b"250 ok\r\n")));
    }
    steps.push(Step::Reply("DATA", r(b"354 go\r\n")));
    steps.push(Step::Data);
    steps
}

/// A peer on 127.0.0.1 that plays `steps` on its one connection.
fn peer(steps: Vec<Step>) -> ScriptPeer {
    ScriptPeer::start(steps).unwrap()
}

fn quick(timeout_ms: u32) -> smtp_host::Client {
    client_with(ClientOptions {
        timeout_ms: Some(timeout_ms),
        ..Default::default()
    })
}

#[test]
fn pipelined_bdat_then_a_hang_up_is_delivery_unknown() {
    // MAIL, RCPT and BDAT 6 LAST with the message in one write: read all, say nothing.
    let p = peer(vec![
        Step::Send(r(b"220 mx\r\n")),
        Step::Reply("EHLO", r(b"250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n")),
        Step::Reply("MAIL", vec![]),
        Step::Reply("RCPT", vec![]),
        Step::Reply("BDAT 6 LAST", vec![]),
        Step::Read(6),
    ]);
    let mut c = quick(5000);
    c.connect("127.0.0.1", Some(p.port)).unwrap().unwrap();
    let err = c
        .sendmail(
            "a@x.org",
            &strings(&["b@x.org"]),
            &bytes(b"hi\r\n\r\n"),
            &[],
            &[],
        )
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "delivery-unknown", "{err:?}");
}

#[test]
fn an_lmtp_stream_that_breaks_names_who_got_the_message() {
    let mut steps = through_data(b"250 lmtp\r\n", 3);
    steps.push(Step::Send(r(b"250 2.0.0 <a@x.org> delivered\r\n")));
    let p = peer(steps);
    let mut c = SmtpHost::shared()
        .unwrap()
        .lmtp_client(&ClientOptions::default(), Stderr::Capture)
        .unwrap();
    c.connect("127.0.0.1", Some(p.port)).unwrap().unwrap();
    let err = c
        .sendmail(
            "s@x.org",
            &strings(&["a@x.org", "b@x.org"]),
            &bytes(b"hi\r\n"),
            &[],
            &[],
        )
        .unwrap()
        .unwrap_err();
    match err {
        SmtpError::DeliveryUnknown(text) => {
            assert!(text.contains("delivered to: a@x.org"), "{text}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_trickled_reply_is_bounded_by_the_timeout() {
    let p = peer(vec![Step::Trickle(
        r(b"220 slowly but surely\r\n"),
        Duration::from_millis(300),
    )]);
    let mut c = quick(1000);
    let started = Instant::now();
    let result = c.connect("127.0.0.1", Some(p.port)).unwrap();
    let took = started.elapsed();
    assert_eq!(result.map(|r| r.code).map_err(|e| e.kind()), Err("timeout"));
    assert!(took < Duration::from_millis(1800), "{took:?}");
}

#[test]
fn a_bare_cr_can_never_end_the_data_early() {
    let mut steps = through_data(b"250 mx\r\n", 2);
    steps.extend([Step::Send(r(b"250 ok\r\n")), Step::Line]);
    let p = peer(steps);
    let mut c = quick(5000);
    c.connect("127.0.0.1", Some(p.port)).unwrap().unwrap();
    let msg = b"Subject: x\r\n\r\nbefore\r.\rMAIL FROM:<evil@x.org>\n.\nend\r\n";
    c.sendmail("a@x.org", &strings(&["b@x.org"]), &bytes(msg), &[], &[])
        .unwrap()
        .unwrap();
    c.close().unwrap();
    let wire = p.finish().data.concat();
    // Whether lines end at CR, LF or CRLF, no line of the data is a lone dot before
    // the real end.
    let body = &wire[..wire.len() - 3];
    for line in body.split(|&b| b == b'\r' || b == b'\n') {
        assert_ne!(line, b".", "{:?}", String::from_utf8_lossy(&wire));
    }
    assert!(!wire.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n'));
}

#[test]
fn an_address_cannot_carry_esmtp_parameters() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let err = c
        .sendmail(
            "a@x.org",
            &strings(&["victim@example.com> NOTIFY=SUCCESS ORCPT=rfc822;spy@evil.org"]),
            &bytes(b"hi\r\n"),
            &[],
            &[],
        )
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "invalid-argument", "{err:?}");
    assert!(!c.transcript().contains("NOTIFY"), "{}", c.transcript());
}

#[test]
fn bcc_never_leaks_with_cr_line_ends_or_a_from_line() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let messages: [&[u8]; 2] = [
        b"From: a@x.org\rTo: b@x.org\rBcc: hidden@x.org\rSubject: cr\r\rbody\r",
        b"From someone@x.org Mon Jan  1 00:00:00 2024\r\nFrom: a@x.org\r\nTo: b@x.org\r\nBcc: hidden@x.org\r\n\r\nbody\r\n",
    ];
    for msg in messages {
        c.send_message(msg, None, None, &[], &[]).unwrap().unwrap();
    }
    let stored = server.wait_messages(2);
    for m in stored {
        assert!(m.rcpt_tos().contains(&"hidden@x.org".to_string()));
        let text = String::from_utf8_lossy(&m.bytes).to_ascii_lowercase();
        assert!(!text.contains("bcc"), "{text}");
        assert!(!text.contains("hidden@"), "{text}");
    }
}

#[test]
fn a_reply_echoing_credentials_is_masked_in_results_and_transcript() {
    // Echoes the AUTH line the client sends ("\0u\0hunter2-secret" in base64).
    let p = peer(vec![
        Step::Send(r(b"220 mx\r\n")),
        Step::Reply("EHLO", r(b"250-mx\r\n250 AUTH PLAIN\r\n")),
        Step::Reply(
            "AUTH PLAIN AHUAaHVudGVyMi1zZWNyZXQ=",
            r(b"235 2.7.0 you sent AUTH PLAIN AHUAaHVudGVyMi1zZWNyZXQ= and the password is hunter2-secret\r\n"),
        ),
        Step::Line,
    ]);
    let mut c = quick(5000);
    c.set_debuglevel(1).unwrap();
    c.connect("127.0.0.1", Some(p.port)).unwrap().unwrap();
    let reply = c.login("u", "hunter2-secret", true).unwrap().unwrap();
    let b64 = "AHUAaHVudGVyMi1zZWNyZXQ="; // base64 of "\0u\0hunter2-secret"
    assert!(!reply.text.contains("hunter2"), "{}", reply.text);
    assert!(!reply.text.contains(b64), "{}", reply.text);
    let transcript = c.transcript();
    assert!(!transcript.contains("hunter2"), "{transcript}");
    assert!(!transcript.contains(b64), "{transcript}");
}

#[test]
fn login_answers_the_prompt_it_is_given() {
    // EHLO, then AUTH LOGIN answered with the Password: prompt first; the answers must
    // be "pw" and then "u" (a mismatch ends the script: the login fails).
    let p = peer(vec![
        Step::Send(r(b"220 mx\r\n")),
        Step::Reply("EHLO", r(b"250-mx\r\n250 AUTH LOGIN\r\n")),
        Step::Reply("AUTH LOGIN", r(b"334 UGFzc3dvcmQ6\r\n")), // Password:
        Step::Reply("cHc=\r\n", r(b"334 VXNlcm5hbWU6\r\n")),   // Username:
        Step::Reply("dQ==\r\n", r(b"235 ok\r\n")),
        Step::Line,
    ]);
    let mut c = quick(5000);
    c.connect("127.0.0.1", Some(p.port)).unwrap().unwrap();
    let reply = c
        .login_with(SaslMechanism::Login, "u", "pw", false)
        .unwrap();
    assert_eq!(reply.map(|r| r.code).map_err(|e| e.kind()), Ok(235));
}

#[test]
fn the_transcript_of_a_large_message_stays_small() {
    let sink = SmtpSink::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &sink.addr());
    // One 32 MiB line of control bytes: the old transcript joined the message and
    // escaped every byte into four (a 600 MiB line overflowed the guest's memory).
    let mut msg = b"Subject: big\r\n\r\n".to_vec();
    msg.resize(msg.len() + (32 << 20), 0x01);
    msg.extend_from_slice(b"\r\n");
    let before = c.peak_memory();
    c.sendmail(
        "a@x.org",
        &strings(&["b@x.org"]),
        &Message::Bytes(msg),
        &[],
        &[],
    )
    .unwrap()
    .unwrap();
    let grown = c.peak_memory() - before;
    assert!(grown < 80 << 20, "grew by {} MiB", grown >> 20);
    assert!(
        c.transcript().len() < 64 << 10,
        "{} bytes",
        c.transcript().len()
    );
}

#[test]
fn replies_with_no_command_waiting_are_never_taken_as_answers() {
    // One recipient, two verdicts: the second would answer the next command.
    let mut steps = through_data(b"250 lmtp\r\n", 2);
    steps.extend([
        Step::Send(r(b"250 2.0.0 delivered\r\n452 4.2.2 over quota\r\n")),
        Step::Reply("NOOP", r(b"250 2.0.0 noop ok\r\n")),
        Step::Line,
    ]);
    let p = peer(steps);
    let mut c = SmtpHost::shared()
        .unwrap()
        .lmtp_client(&ClientOptions::default(), Stderr::Capture)
        .unwrap();
    c.connect("127.0.0.1", Some(p.port)).unwrap().unwrap();
    let to = strings(&["a@x.org"]);
    c.sendmail("s@x.org", &to, &bytes(b"one\r\n"), &[], &[])
        .unwrap()
        .unwrap();
    // The stale 452 is not NOOP's answer: a protocol error that closes the connection.
    let noop = c.noop().unwrap();
    assert_eq!(
        noop.map(|r| r.code).map_err(|e| e.kind()),
        Err("malformed-reply")
    );
    assert!(!c.is_connected().unwrap());
}

#[test]
fn any_2xx_after_the_data_is_acceptance() {
    let mut steps = through_data(b"250 mx\r\n", 2);
    steps.extend([
        Step::Send(r(b"251 2.0.0 accepted, will forward\r\n")),
        Step::Reply("QUIT", r(b"221 bye\r\n")),
    ]);
    let p = peer(steps);
    let mut c = quick(5000);
    c.connect("127.0.0.1", Some(p.port)).unwrap().unwrap();
    let refused = c
        .sendmail(
            "a@x.org",
            &strings(&["b@x.org"]),
            &bytes(b"hi\r\n"),
            &[],
            &[],
        )
        .unwrap();
    assert_eq!(refused.map(|r| r.len()).map_err(|e| e.kind()), Ok(0));
}
