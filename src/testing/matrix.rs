//! The generated fault matrix: every mode × every reply position × every fault, each
//! run against the in-memory model server on a virtual clock. For each case it checks
//! the result kind against the rules below, and the promises that hold whatever the
//! kind: never `Sent` unless the server accepted the message with an intact reply;
//! never an ordinary failure once the server may have the message (`delivery-unknown`,
//! naming the LMTP recipients already delivered); `delivery-unknown` only once the whole
//! message was written; no call held longer than the timeout.
//!
//! The expected kind, by fault, where the reply at position k answers command C:
//! - hang-up, silence, trickled, garbled or over-long reply: `delivery-unknown` when
//!   the client had written the whole message by then (C is the verdict, or MAIL/RCPT
//!   under PIPELINING+CHUNKING, where the message rides in the same write); otherwise
//!   `server-disconnected`, `timeout` or `malformed-reply` at the call waiting for C.
//! - 421, 451, 554 instead of the reply: what smtplib reports for that command (greeting
//!   `connect-error`, AUTH `authentication-error`, STARTTLS `response`, MAIL
//!   `sender-refused`, DATA and the SMTP verdict `data-error`, RCPT a refusal in the
//!   list or `recipients-refused` for 421); a refused EHLO falls back to HELO and
//!   goes on without extensions.
//! - an extra reply: found before the next write, or at a verdict that came among
//!   other awaited replies: `malformed-reply`, or `delivery-unknown` once the whole
//!   message was written. A refusal read from a pipelined batch found out of step is
//!   not trusted (it may have answered another command).

use super::peer::{Answer, Fault, Pair, ServerConfig, Verdict, PASSWORD, SECOND, USER};
use crate::client::{Client, ClientOptions};
use crate::error::{Refusal, SmtpError};
use crate::protocol::data;
use crate::tls_config::TlsSettings;

const TIMEOUT_S: u64 = 5;

/// One way to use the client.
#[derive(Debug, Clone, Copy)]
struct Mode {
    name: &'static str,
    lmtp: bool,
    extensions: &'static [&'static str],
    login: bool,
    starttls: bool,
}

const MODES: &[Mode] = &[
    Mode {
        name: "lockstep",
        lmtp: false,
        extensions: &["SIZE 10000000", "8BITMIME"],
        login: false,
        starttls: false,
    },
    Mode {
        name: "pipelining",
        lmtp: false,
        extensions: &["PIPELINING", "SIZE 10000000"],
        login: false,
        starttls: false,
    },
    Mode {
        name: "chunking",
        lmtp: false,
        extensions: &["CHUNKING"],
        login: false,
        starttls: false,
    },
    Mode {
        name: "pipelining+chunking",
        lmtp: false,
        extensions: &["PIPELINING", "CHUNKING"],
        login: false,
        starttls: false,
    },
    Mode {
        name: "lmtp",
        lmtp: true,
        extensions: &[],
        login: false,
        starttls: false,
    },
    Mode {
        name: "lmtp+pipelining",
        lmtp: true,
        extensions: &["PIPELINING"],
        login: false,
        starttls: false,
    },
    Mode {
        name: "lmtp+pipelining+chunking",
        lmtp: true,
        extensions: &["PIPELINING", "CHUNKING"],
        login: false,
        starttls: false,
    },
    Mode {
        name: "auth-plain",
        lmtp: false,
        extensions: &["AUTH PLAIN", "PIPELINING"],
        login: true,
        starttls: false,
    },
    Mode {
        name: "auth-login",
        lmtp: false,
        extensions: &["AUTH LOGIN"],
        login: true,
        starttls: false,
    },
    Mode {
        name: "starttls",
        lmtp: false,
        extensions: &["STARTTLS", "PIPELINING"],
        login: false,
        starttls: true,
    },
];

const FROM: &str = "s@x.org";
const TO: [&str; 3] = ["a@x.org", "b@x.org", "c@x.org"];

fn message() -> Vec<u8> {
    b"Subject: matrix\r\n\r\n.leading dot\r\nbody\r\n".to_vec()
}

/// What one run did.
#[derive(Debug)]
struct Run {
    /// The first call that failed (or "quit" / "none"), and its kind or outcome.
    failed_at: &'static str,
    kind: String,
    send: Option<Result<Vec<Refusal>, SmtpError>>,
    elapsed: u64,
    pair: Pair,
}

fn run(mode: Mode, fault: Option<(usize, Fault)>) -> Run {
    let cfg = ServerConfig {
        lmtp: mode.lmtp,
        extensions: mode.extensions.iter().map(|e| e.to_string()).collect(),
        refuse_rcpt: vec!["b@x.org".into()],
        refuse_after_data: if mode.lmtp {
            vec!["c@x.org".into()]
        } else {
            Vec::new()
        },
        fault,
        ..ServerConfig::default()
    };
    let pair = Pair::new(cfg);
    let options = ClientOptions {
        timeout_ms: Some((TIMEOUT_S * 1000) as u32),
        ..ClientOptions::default()
    };
    let mut client = if mode.lmtp {
        Client::lmtp(pair.clone(), options)
    } else {
        Client::new(pair.clone(), options)
    };
    let to: Vec<String> = TO.iter().map(|s| s.to_string()).collect();
    let mut send = None;
    let (failed_at, kind) = (|| {
        if let Err(e) = client.connect("127.0.0.1", Some(2525)) {
            return ("connect", e.kind().to_string());
        }
        if mode.starttls {
            if let Err(e) = client.starttls(&TlsSettings::default()) {
                return ("starttls", e.kind().to_string());
            }
        }
        if mode.login {
            if let Err(e) = client.login(USER, PASSWORD, true) {
                return ("login", e.kind().to_string());
            }
        }
        let result = client.sendmail(FROM, &to, message(), &[], &[]);
        send = Some(result.clone());
        if let Err(e) = result {
            return ("sendmail", e.kind().to_string());
        }
        match client.quit() {
            Err(e) => ("quit", e.kind().to_string()),
            Ok(reply) => ("none", format!("quit {}", reply.code)),
        }
    })();
    // Still a usable client afterwards.
    client.close();
    assert!(!client.is_connected());
    assert!(client.quit().is_err());
    let elapsed = pair.time();
    Run {
        failed_at,
        kind,
        send,
        elapsed,
        pair,
    }
}

/// Whether the message had been written whole when the reply answering `answer` was due.
fn message_out_before(mode: Mode, answer: &Answer) -> bool {
    let batched = mode.extensions.contains(&"PIPELINING") && mode.extensions.contains(&"CHUNKING");
    match answer {
        Answer::Message(_) => true,
        Answer::Mail | Answer::Rcpt(_) => batched,
        _ => false,
    }
}

/// The call waiting for a reply to `answer`.
fn call_for(mode: Mode, answer: &Answer) -> &'static str {
    match answer {
        Answer::Greeting => "connect",
        Answer::StartTls => "starttls",
        Answer::Auth | Answer::Challenge => "login",
        Answer::Ehlo | Answer::Helo if mode.starttls => "starttls",
        Answer::Ehlo | Answer::Helo if mode.login => "login",
        Answer::Quit => "quit",
        _ => "sendmail",
    }
}

/// The kind a lost, silent, slow or garbled reply gives.
fn lost(fault: Fault) -> &'static str {
    match fault {
        Fault::HangUp => "server-disconnected",
        Fault::BadRecord => "tls",
        Fault::Silence | Fault::Trickle => "timeout",
        _ => "malformed-reply",
    }
}

/// The fault-free outcome of each mode.
fn clean(mode: Mode) -> (&'static str, &'static str) {
    if mode.starttls {
        // The model speaks no TLS: the handshake meets a closed connection.
        ("starttls", "tls")
    } else {
        ("none", "quit 221")
    }
}

/// The expected (call, kind), or None where only the promises are checked.
fn expected(mode: Mode, answer: &Answer, fault: Fault) -> Option<(&'static str, String)> {
    let call = call_for(mode, answer);
    let clean_kind = clean(mode);
    let clean_kind = (clean_kind.0, clean_kind.1.to_string());
    match fault {
        Fault::HangUp
        | Fault::Silence
        | Fault::Trickle
        | Fault::Malformed
        | Fault::OverLong
        | Fault::BadRecord => {
            if *answer == Answer::Quit {
                return Some(("quit", lost(fault).to_string()));
            }
            if message_out_before(mode, answer) {
                return Some(("sendmail", "delivery-unknown".into()));
            }
            Some((call, lost(fault).to_string()))
        }
        Fault::Extra => {
            if *answer == Answer::Quit {
                return Some(clean_kind);
            }
            if *answer == Answer::StartTls {
                return Some(("starttls", "tls".into()));
            }
            match answer {
                Answer::Challenge => Some(("login", "malformed-reply".into())),
                Answer::Greeting | Answer::Ehlo | Answer::Auth => {
                    // The next command finds a reply nobody asked for.
                    let next = if mode.starttls {
                        "starttls"
                    } else if mode.login && *answer != Answer::Auth {
                        "login"
                    } else {
                        "sendmail"
                    };
                    Some((next, "malformed-reply".into()))
                }
                Answer::Message(_) if mode.lmtp => Some(("sendmail", "delivery-unknown".into())),
                Answer::Message(_) if message_out_before(mode, &Answer::Mail) => {
                    // The verdict came among other awaited replies: it may have shifted.
                    Some(("sendmail", "delivery-unknown".into()))
                }
                Answer::Message(_) => Some(("quit", "malformed-reply".into())),
                _ if message_out_before(mode, &Answer::Mail) => {
                    Some(("sendmail", "delivery-unknown".into()))
                }
                _ => Some(("sendmail", "malformed-reply".into())),
            }
        }
        Fault::Closing421 | Fault::Transient | Fault::Permanent => {
            let is_421 = fault == Fault::Closing421;
            let kind = match answer {
                Answer::Greeting => return Some(("connect", "connect-error".into())),
                Answer::Ehlo if is_421 => return Some((call, "server-disconnected".into())),
                Answer::Ehlo if mode.login || mode.starttls => "not-supported",
                Answer::Ehlo => return Some(("none", "quit 221".into())),
                Answer::StartTls => "response",
                Answer::Auth | Answer::Challenge => "authentication-error",
                Answer::Mail => "sender-refused",
                Answer::Rcpt(_) if is_421 => "recipients-refused",
                // For LMTP, c is refused after the data: with a refused too, nobody is left.
                Answer::Rcpt(r) if mode.lmtp && r == "a@x.org" => "recipients-refused",
                Answer::Rcpt(_) => return Some(clean_kind),
                Answer::Data => "data-error",
                Answer::Message(rcpt) if mode.lmtp => {
                    if rcpt == "a@x.org" {
                        if is_421 {
                            "delivery-unknown"
                        } else {
                            "recipients-refused"
                        }
                    } else if is_421 {
                        // Delivered to a; the server closed after its 421 for c.
                        return Some(("quit", "server-disconnected".into()));
                    } else {
                        return Some(clean_kind);
                    }
                }
                Answer::Message(_) => "data-error",
                Answer::Quit => return Some(("none", format!("quit {}", fault_code(fault)))),
                _ => return None,
            };
            Some((call, kind.to_string()))
        }
    }
}

fn fault_code(fault: Fault) -> u16 {
    match fault {
        Fault::Closing421 => 421,
        Fault::Transient => 451,
        _ => 554,
    }
}

/// The promises that hold whatever the fault.
fn check_promises(case: &str, run: &Run) {
    let server = run.pair.server.borrow();
    assert!(
        run.elapsed <= TIMEOUT_S * SECOND,
        "{case}: took {} virtual ms, more than the timeout",
        run.elapsed / 1_000_000
    );
    let Some(send) = &run.send else {
        assert!(server.deliveries.is_empty(), "{case}: a message went out");
        return;
    };
    let may_have_it = |v: Verdict| v != Verdict::Refused;
    match send {
        Ok(refused) => {
            // Never reported sent unless the server accepted it, with an intact reply.
            assert!(
                server
                    .deliveries
                    .iter()
                    .any(|d| d.verdict == Verdict::Accepted),
                "{case}: reported sent, but no intact acceptance: {:?}",
                server.deliveries
            );
            for d in &server.deliveries {
                if may_have_it(d.verdict) {
                    assert!(
                        !refused.iter().any(|r| r.recipient == d.recipient),
                        "{case}: {} reported refused, but the server may have delivered it",
                        d.recipient
                    );
                }
                assert_eq!(d.data, message(), "{case}: the message arrived changed");
            }
        }
        Err(SmtpError::DeliveryUnknown(text)) => {
            let mut wire_has_message = false;
            let msg = message();
            for whole in [data::encode_body(&msg), data::bdat_last(&msg)] {
                wire_has_message |= server.wire.windows(whole.len()).any(|w| w == whole);
            }
            assert!(
                wire_has_message,
                "{case}: delivery-unknown, but the message was never written whole"
            );
            // For LMTP, whoever the text names as delivered got an intact 2xx.
            if let Some(named) = text.split("delivered to: ").nth(1) {
                let named = named.split(';').next().unwrap_or_default();
                for rcpt in named.split(", ").filter(|r| *r != "none") {
                    assert!(
                        server
                            .deliveries
                            .iter()
                            .any(|d| d.recipient == rcpt && d.verdict == Verdict::Accepted),
                        "{case}: {rcpt} named as delivered in {text:?}"
                    );
                }
            }
        }
        Err(e) => {
            // Nothing the server may have accepted is reported as a plain failure.
            for d in &server.deliveries {
                assert!(
                    !may_have_it(d.verdict),
                    "{case}: {} ({:?}) reported as {e:?}",
                    d.recipient,
                    d.verdict
                );
            }
        }
    }
}

#[test]
fn fault_matrix() {
    let mut cases = 0;
    let mut exact = 0;
    let mut table = String::new();
    for &mode in MODES {
        let base = run(mode, None);
        let clean_outcome = clean(mode);
        assert_eq!(
            (base.failed_at, base.kind.as_str()),
            clean_outcome,
            "{}: the fault-free run",
            mode.name
        );
        check_promises(mode.name, &base);
        let answers = base.pair.server.borrow().answers.clone();
        for (position, answer) in answers.iter().enumerate() {
            for fault in Fault::ALL {
                let case = format!("{} / reply {position} ({answer:?}) / {fault:?}", mode.name);
                let run = run(mode, Some((position, fault)));
                cases += 1;
                check_promises(&case, &run);
                table.push_str(&format!("{case}: {} {}\n", run.failed_at, run.kind));
                if let Some((call, kind)) = expected(mode, answer, fault) {
                    exact += 1;
                    assert_eq!(
                        (run.failed_at, run.kind.as_str()),
                        (call, kind.as_str()),
                        "{case}"
                    );
                }
            }
        }
    }
    println!("{table}");
    println!("fault matrix: {cases} cases, {exact} with an exact expected kind");
    assert!(cases > 300, "only {cases} cases");
}
