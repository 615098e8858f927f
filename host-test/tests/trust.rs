//! The built component against the defects "Trust" (issue 13) found, one test per class.
//! Real servers where one shows the defect (aiosmtpd, smtp-sink); a scripted peer for
//! the faults no real server produces on demand. Each of these failed against the
//! component before the fix (run them against another build with
//! `SMTP_TEST_COMPONENT=path/to/smtp_component.wasm`).

mod common;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use host_test::servers::{Aiosmtpd, SmtpSink};
use smtp_host::{ClientOptions, Message, SaslMechanism, SmtpError, SmtpHost, Stderr};

/// One scripted connection: what the peer writes and reads, in order.
struct Script {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Script {
    /// Writes `bytes`.
    fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).unwrap();
    }

    /// Reads one command line.
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l
    }

    /// Reads a command line before each of `replies`, and answers it with that reply.
    fn answer(&mut self, replies: &[&[u8]]) {
        for reply in replies {
            self.line();
            self.send(reply);
        }
    }

    /// The greeting, then a reply to the hello and to `commands` more commands, then
    /// 354 to DATA, and the data up to and including the CRLF.CRLF a strict receiver
    /// ends it at.
    fn through_data(&mut self, hello: &[u8], commands: usize) -> Vec<u8> {
        self.send(b"220 scripted\r\n");
        self.answer(&[hello]);
        for _ in 0..commands {
            self.answer(&[b"250 ok\r\n"]);
        }
        self.answer(&[b"354 go\r\n"]);
        let mut got = Vec::new();
        while !got.ends_with(b"\r\n.\r\n") {
            let mut byte = [0u8; 1];
            if self.r.read(&mut byte).unwrap_or(0) == 0 {
                break;
            }
            got.push(byte[0]);
        }
        got
    }
}

/// A peer on 127.0.0.1 that runs `script` on its one connection.
fn peer(script: impl FnOnce(Script) + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        script(Script {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        });
    });
    port
}

fn quick(timeout_ms: u32) -> smtp_host::Client {
    client_with(ClientOptions {
        timeout_ms: Some(timeout_ms),
        ..Default::default()
    })
}

#[test]
fn pipelined_bdat_then_a_hang_up_is_delivery_unknown() {
    let port = peer(|mut p| {
        p.send(b"220 mx\r\n");
        p.answer(&[b"250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"]);
        // MAIL, RCPT and BDAT 6 LAST with the message in one write: read all, say nothing.
        for _ in 0..3 {
            p.line();
        }
        let mut body = [0u8; 6];
        p.r.read_exact(&mut body).unwrap();
    });
    let mut c = quick(5000);
    c.connect("127.0.0.1", Some(port)).unwrap().unwrap();
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
    let port = peer(|mut p| {
        p.through_data(b"250 lmtp\r\n", 3);
        p.send(b"250 2.0.0 <a@x.org> delivered\r\n");
    });
    let mut c = SmtpHost::shared()
        .unwrap()
        .lmtp_client(&ClientOptions::default(), Stderr::Capture)
        .unwrap();
    c.connect("127.0.0.1", Some(port)).unwrap().unwrap();
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
    let port = peer(|mut p| {
        for b in b"220 slowly but surely\r\n" {
            if p.w.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let mut c = quick(1000);
    let started = Instant::now();
    let result = c.connect("127.0.0.1", Some(port)).unwrap();
    let took = started.elapsed();
    assert_eq!(result.map(|r| r.code).map_err(|e| e.kind()), Err("timeout"));
    assert!(took < Duration::from_millis(1800), "{took:?}");
}

#[test]
fn a_bare_cr_can_never_end_the_data_early() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let port = peer(move |mut p| {
        *log.lock().unwrap() = p.through_data(b"250 mx\r\n", 2);
        p.send(b"250 ok\r\n");
        p.line();
    });
    let mut c = quick(5000);
    c.connect("127.0.0.1", Some(port)).unwrap().unwrap();
    let msg = b"Subject: x\r\n\r\nbefore\r.\rMAIL FROM:<evil@x.org>\n.\nend\r\n";
    c.sendmail("a@x.org", &strings(&["b@x.org"]), &bytes(msg), &[], &[])
        .unwrap()
        .unwrap();
    let wire = seen.lock().unwrap().clone();
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
    let port = peer(|mut p| {
        p.send(b"220 mx\r\n");
        p.answer(&[b"250-mx\r\n250 AUTH PLAIN\r\n"]);
        let auth = p.line();
        let echo = format!(
            "235 2.7.0 you sent {} and the password is hunter2-secret\r\n",
            auth.trim()
        );
        p.send(echo.as_bytes());
        p.line();
    });
    let mut c = quick(5000);
    c.set_debuglevel(1).unwrap();
    c.connect("127.0.0.1", Some(port)).unwrap().unwrap();
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
    let port = peer(|mut p| {
        p.send(b"220 mx\r\n");
        // EHLO, then AUTH LOGIN answered with the Password: prompt first.
        p.answer(&[b"250-mx\r\n250 AUTH LOGIN\r\n", b"334 UGFzc3dvcmQ6\r\n"]);
        let pw = p.line();
        p.send(b"334 VXNlcm5hbWU6\r\n"); // Username:
        let user = p.line();
        let ok = pw.trim() == "cHc=" && user.trim() == "dQ=="; // "pw", "u"
        p.send(if ok { b"235 ok\r\n" } else { b"535 no\r\n" });
        p.line();
    });
    let mut c = quick(5000);
    c.connect("127.0.0.1", Some(port)).unwrap().unwrap();
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
    let port = peer(|mut p| {
        p.through_data(b"250 lmtp\r\n", 2);
        // One recipient, two verdicts: the second would answer the next command.
        p.send(b"250 2.0.0 delivered\r\n452 4.2.2 over quota\r\n");
        p.answer(&[b"250 2.0.0 noop ok\r\n"]);
        p.line();
    });
    let mut c = SmtpHost::shared()
        .unwrap()
        .lmtp_client(&ClientOptions::default(), Stderr::Capture)
        .unwrap();
    c.connect("127.0.0.1", Some(port)).unwrap().unwrap();
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
    let port = peer(|mut p| {
        p.through_data(b"250 mx\r\n", 2);
        p.send(b"251 2.0.0 accepted, will forward\r\n");
        p.answer(&[b"221 bye\r\n"]);
    });
    let mut c = quick(5000);
    c.connect("127.0.0.1", Some(port)).unwrap().unwrap();
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
