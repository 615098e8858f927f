//! The fault matrix: the scripted peer (host-test's `peer::fault`) hangs up, says 421,
//! goes silent or stops reading at each stage of a session. Every case must give its
//! error kind, within the timeout, in bounded memory, without a trap, and leave a
//! client that still accepts `close` and `quit`.
//!
//! | stage      | hang up             | 421                  | silence / stop reading |
//! |------------|---------------------|----------------------|------------------------|
//! | greeting   | server-disconnected | connect-error        | timeout                |
//! | EHLO       | server-disconnected | server-disconnected  | timeout                |
//! | AUTH       | server-disconnected | authentication-error | timeout                |
//! | MAIL       | server-disconnected | sender-refused       | timeout                |
//! | 2nd RCPT   | server-disconnected | recipients-refused   | timeout                |
//! | DATA       | server-disconnected | data-error           | timeout                |
//! | mid-body   | server-disconnected | —                    | timeout (stops reading)|
//! | after dot  | delivery-unknown    | data-error           | delivery-unknown       |
//! | QUIT       | server-disconnected | (the 421 reply)      | timeout                |

mod common;
use std::time::{Duration, Instant};

use common::*;
use host_test::peer::fault::{self, Fault, Stage};
use host_test::peer::ScriptPeer;
use smtp_host::{Client, ClientOptions, Message};

const TIMEOUT_MS: u32 = 1000;

/// What happened: the operation that failed (or "ok") and the error kind.
fn run(stage: Stage, fault: Fault) -> (&'static str, String, Client) {
    let server = ScriptPeer::start(fault::script(stage, fault, 3)).unwrap();
    let mut c = client_with(ClientOptions {
        timeout_ms: Some(TIMEOUT_MS),
        ..Default::default()
    });
    // 16 MiB (more than the socket buffers hold) for the mid-body faults, in lines.
    let lines = if stage == Stage::MidBody {
        16 << 14
    } else {
        16
    };
    let mut msg = b"Subject: fault\r\n\r\n".to_vec();
    for _ in 0..lines {
        msg.extend_from_slice(&[b'x'; 62]);
        msg.extend_from_slice(b"\r\n");
    }
    let msg = Message::Bytes(msg);
    if stage == Stage::MidBody {
        // A transcript of 16 MiB of body lines would be the slowest part of the test.
        c.set_debuglevel(0).unwrap();
    }
    let to = strings(&["a@x.org", "b@x.org", "c@x.org"]);

    let started = Instant::now();
    let within = |op: &str| {
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(u64::from(TIMEOUT_MS) * 3 + 1500),
            "{stage:?}/{fault:?}: {op} took {took:?}"
        );
    };
    let outcome = (|| {
        if let Err(e) = c.connect("127.0.0.1", Some(server.port)).expect("no trap") {
            return ("connect", e.kind().to_string());
        }
        if stage == Stage::Auth {
            if let Err(e) = c.login("user", "pass", true).expect("no trap") {
                return ("login", e.kind().to_string());
            }
        }
        if let Err(e) = c.sendmail("s@x.org", &to, &msg, &[], &[]).expect("no trap") {
            return ("sendmail", e.kind().to_string());
        }
        match c.quit().expect("no trap") {
            Err(e) => ("quit", e.kind().to_string()),
            Ok(reply) => ("quit", format!("reply {}", reply.code)),
        }
    })();
    within(outcome.0);
    // Still a usable client: close and quit answer (quit with an error: not connected).
    c.close().expect("no trap");
    assert_eq!(
        c.quit().expect("no trap").unwrap_err().kind(),
        "server-disconnected"
    );
    let limit = if stage == Stage::MidBody {
        64 << 20
    } else {
        8 << 20
    };
    assert!(
        c.peak_memory() < limit,
        "{stage:?}/{fault:?}: peak {} bytes",
        c.peak_memory()
    );
    (outcome.0, outcome.1, c)
}

fn expect(stage: Stage, cases: &[(Fault, &str, &str)]) {
    for &(fault, op, kind) in cases {
        let (got_op, got_kind, c) = run(stage, fault);
        assert_eq!(
            (got_op, got_kind.as_str()),
            (op, kind),
            "{stage:?}/{fault:?}\n{}",
            c.transcript()
        );
    }
}

#[test]
fn at_the_greeting() {
    expect(
        Stage::Greeting,
        &[
            (Fault::Disconnect, "connect", "server-disconnected"),
            (Fault::Reply421, "connect", "connect-error"),
            (Fault::Silence, "connect", "timeout"),
        ],
    );
}

#[test]
fn at_ehlo() {
    expect(
        Stage::Ehlo,
        &[
            (Fault::Disconnect, "sendmail", "server-disconnected"),
            (Fault::Reply421, "sendmail", "server-disconnected"),
            (Fault::Silence, "sendmail", "timeout"),
        ],
    );
}

#[test]
fn at_auth() {
    expect(
        Stage::Auth,
        &[
            (Fault::Disconnect, "login", "server-disconnected"),
            (Fault::Reply421, "login", "authentication-error"),
            (Fault::Silence, "login", "timeout"),
        ],
    );
}

#[test]
fn at_mail() {
    expect(
        Stage::Mail,
        &[
            (Fault::Disconnect, "sendmail", "server-disconnected"),
            (Fault::Reply421, "sendmail", "sender-refused"),
            (Fault::Silence, "sendmail", "timeout"),
        ],
    );
}

#[test]
fn at_the_second_rcpt() {
    expect(
        Stage::Rcpt(1),
        &[
            (Fault::Disconnect, "sendmail", "server-disconnected"),
            (Fault::Reply421, "sendmail", "recipients-refused"),
            (Fault::Silence, "sendmail", "timeout"),
        ],
    );
}

#[test]
fn at_data() {
    expect(
        Stage::Data,
        &[
            (Fault::Disconnect, "sendmail", "server-disconnected"),
            (Fault::Reply421, "sendmail", "data-error"),
            (Fault::Silence, "sendmail", "timeout"),
        ],
    );
}

#[test]
fn in_the_middle_of_the_body() {
    expect(
        Stage::MidBody,
        &[
            (Fault::Disconnect, "sendmail", "server-disconnected"),
            (Fault::StopReading, "sendmail", "timeout"),
        ],
    );
}

#[test]
fn after_the_final_dot() {
    expect(
        Stage::AfterDot,
        &[
            (Fault::Disconnect, "sendmail", "delivery-unknown"),
            (Fault::Reply421, "sendmail", "data-error"),
            (Fault::Silence, "sendmail", "delivery-unknown"),
        ],
    );
}

#[test]
fn at_quit() {
    expect(
        Stage::Quit,
        &[
            (Fault::Disconnect, "quit", "server-disconnected"),
            (Fault::Reply421, "quit", "reply 421"),
            (Fault::Silence, "quit", "timeout"),
        ],
    );
}
