//! Regression tests of the session's promises, one per defect class, over the in-memory
//! model server (`crate::testing::peer`). The generated matrix in `crate::testing`
//! covers every position; these pin the cases named in the README.

use crate::client::{Client, ClientOptions};
use crate::error::SmtpError;
use crate::testing::peer::{Answer, Fault, Pair, ServerConfig, PASSWORD, SECOND, USER};

const TIMEOUT_MS: u32 = 5_000;

fn client(pair: &Pair, lmtp: bool) -> Client<Pair> {
    let options = ClientOptions {
        timeout_ms: Some(TIMEOUT_MS),
        ..ClientOptions::default()
    };
    let mut c = if lmtp {
        Client::lmtp(pair.clone(), options)
    } else {
        Client::new(pair.clone(), options)
    };
    c.connect("127.0.0.1", Some(25)).unwrap();
    c
}

fn to(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The reply number of the first reply answering `answer` in a fault-free run.
fn position(cfg: &ServerConfig, lmtp: bool, answer: Answer) -> usize {
    let pair = Pair::new(cfg.clone());
    let mut c = client(&pair, lmtp);
    let _ = c.sendmail(
        "s@x.org",
        &to(&["a@x.org", "b@x.org"]),
        b"hi\r\n".to_vec(),
        &[],
        &[],
    );
    let answers = pair.server.borrow().answers.clone();
    answers.iter().position(|a| *a == answer).unwrap()
}

#[test]
fn pipelined_bdat_then_hang_up_before_any_reply_is_delivery_unknown() {
    let mut cfg = ServerConfig {
        extensions: to(&["PIPELINING", "CHUNKING"]),
        ..ServerConfig::default()
    };
    cfg.fault = Some((position(&cfg, false, Answer::Mail), Fault::HangUp));
    let pair = Pair::new(cfg);
    let mut c = client(&pair, false);
    let result = c.sendmail("s@x.org", &to(&["a@x.org"]), b"hi\r\n".to_vec(), &[], &[]);
    assert!(
        matches!(result, Err(SmtpError::DeliveryUnknown(_))),
        "{result:?}"
    );
}

#[test]
fn lmtp_stream_breaking_after_a_delivery_names_the_delivered() {
    let mut cfg = ServerConfig {
        lmtp: true,
        extensions: to(&["PIPELINING"]),
        ..ServerConfig::default()
    };
    cfg.fault = Some((
        position(&cfg, true, Answer::Message("b@x.org".into())),
        Fault::HangUp,
    ));
    let pair = Pair::new(cfg);
    let mut c = client(&pair, true);
    let result = c.sendmail(
        "s@x.org",
        &to(&["a@x.org", "b@x.org"]),
        b"hi\r\n".to_vec(),
        &[],
        &[],
    );
    match result {
        Err(SmtpError::DeliveryUnknown(text)) => {
            assert!(text.contains("delivered to: a@x.org"), "{text}");
            assert!(text.contains("no verdict for: b@x.org"), "{text}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_trickled_reply_ends_at_the_timeout_not_per_byte() {
    let cfg = ServerConfig {
        fault: Some((0, Fault::Trickle)),
        ..ServerConfig::default()
    };
    let pair = Pair::new(cfg);
    let mut c = Client::new(
        pair.clone(),
        ClientOptions {
            timeout_ms: Some(TIMEOUT_MS),
            ..ClientOptions::default()
        },
    );
    let result = c.connect("127.0.0.1", None);
    assert!(matches!(result, Err(SmtpError::Timeout(_))), "{result:?}");
    // The greeting is 25 bytes, one a second: a timeout restarted by every byte would
    // have read it whole after 25 s.
    assert_eq!(pair.time(), u64::from(TIMEOUT_MS) * 1_000_000);
    assert!(pair.time() < 25 * SECOND);
}

#[test]
fn any_2xx_after_the_data_is_acceptance() {
    for extensions in [vec![], to(&["PIPELINING", "CHUNKING"])] {
        let pair = Pair::new(ServerConfig {
            extensions,
            accept_code: Some(251),
            ..ServerConfig::default()
        });
        let mut c = client(&pair, false);
        let refused = c
            .sendmail("s@x.org", &to(&["a@x.org"]), b"hi\r\n".to_vec(), &[], &[])
            .unwrap();
        assert!(refused.is_empty());
    }
}

#[test]
fn a_reply_echoing_the_password_is_masked() {
    let pair = Pair::new(ServerConfig {
        extensions: to(&["AUTH PLAIN LOGIN"]),
        // AHVzZXIAc2VjcmV0LXB3 is the base64 of the PLAIN response.
        auth_ok_text: Some(format!(
            "2.7.0 welcome {USER}, your password is {PASSWORD} (AHVzZXIAc2VjcmV0LXB3)"
        )),
        ..ServerConfig::default()
    });
    let mut c = client(&pair, false);
    let reply = c.login(USER, PASSWORD, true).unwrap();
    assert!(!reply.text.contains(PASSWORD), "{}", reply.text);
    assert!(
        !reply.text.contains("AHVzZXIAc2VjcmV0LXB3"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("welcome user"), "{}", reply.text);
}

#[test]
fn extra_lmtp_replies_are_never_read_as_the_next_transactions() {
    let mut cfg = ServerConfig {
        lmtp: true,
        ..ServerConfig::default()
    };
    cfg.fault = Some((
        position(&cfg, true, Answer::Message("b@x.org".into())),
        Fault::Extra,
    ));
    let pair = Pair::new(cfg);
    let mut c = client(&pair, true);
    let first = c.sendmail(
        "s@x.org",
        &to(&["a@x.org", "b@x.org"]),
        b"hi\r\n".to_vec(),
        &[],
        &[],
    );
    assert!(
        matches!(first, Err(SmtpError::DeliveryUnknown(_))),
        "{first:?}"
    );
    assert!(!c.is_connected());
    let second = c.sendmail("s@x.org", &to(&["a@x.org"]), b"hi\r\n".to_vec(), &[], &[]);
    assert!(second.is_err());
}

#[test]
fn a_peer_that_stops_reading_the_body_times_out_and_nothing_was_sent() {
    let pair = Pair::new(ServerConfig::default());
    pair.server.borrow_mut().stop_reading_data = true;
    let mut c = client(&pair, false);
    let started = pair.time();
    let result = c.sendmail("s@x.org", &to(&["a@x.org"]), b"hi\r\n".to_vec(), &[], &[]);
    assert!(matches!(result, Err(SmtpError::Timeout(_))), "{result:?}");
    assert!(pair.time() - started <= u64::from(TIMEOUT_MS) * 1_000_000);
    assert!(pair.server.borrow().deliveries.is_empty());
}

#[test]
fn calls_without_a_connection_say_so() {
    let pair = Pair::new(ServerConfig::default());
    let mut c = Client::new(pair, ClientOptions::default());
    assert!(matches!(
        c.docmd("NOOP", None),
        Err(SmtpError::ServerDisconnected(_))
    ));
    assert!(matches!(
        c.sendmail("a@x.org", &to(&["b@x.org"]), Vec::new(), &[], &[]),
        Err(SmtpError::ServerDisconnected(_))
    ));
}

#[test]
fn a_timeout_of_zero_is_an_invalid_argument() {
    let pair = Pair::new(ServerConfig::default());
    let mut c = Client::new(
        pair,
        ClientOptions {
            timeout_ms: Some(0),
            ..ClientOptions::default()
        },
    );
    assert!(matches!(
        c.connect("127.0.0.1", None),
        Err(SmtpError::InvalidArgument(_))
    ));
}

/// PIPELINING with CHUNKING: a pipelined `BDAT n LAST` in cleartext, DATA once the
/// connection is encrypted (over TLS, Postfix answers MAIL and RCPT in a write before
/// the BDAT reply, which then waits for a delayed ACK). The model peer speaks no TLS,
/// so the session is told the connection is encrypted, as the TLS paths tell it.
#[test]
fn bdat_in_cleartext_data_over_tls() {
    for tls in [false, true] {
        let cfg = ServerConfig {
            extensions: to(&["PIPELINING", "CHUNKING"]),
            ..ServerConfig::default()
        };
        let pair = Pair::new(cfg);
        let mut c = client(&pair, false);
        c.session_mut().set_encrypted(tls);
        let refused = c
            .sendmail("s@x.org", &to(&["a@x.org"]), b"hi\r\n".to_vec(), &[], &[])
            .unwrap();
        assert!(refused.is_empty());
        let answers = pair.server.borrow().answers.clone();
        assert_eq!(answers.contains(&Answer::Data), tls, "{answers:?}");
    }
}

proptest::proptest! {
    /// The timeout's seconds read as `f64`'s `Display` writes them (the text of the
    /// reply-timeout error did not change when the float formatting went).
    #[test]
    fn seconds_are_written_as_f64_writes_them(ns in 0u64..1_000_000_000_000_000) {
        proptest::prop_assert_eq!(super::seconds(ns), format!("{}", ns as f64 / 1e9));
    }
}

#[test]
fn seconds_of_round_and_fractional_timeouts() {
    assert_eq!(super::seconds(0), "0");
    assert_eq!(super::seconds(30_000_000_000), "30");
    assert_eq!(super::seconds(500_000_000), "0.5");
    assert_eq!(super::seconds(1_250_000_000), "1.25");
    assert_eq!(super::seconds(1), "0.000000001");
}
