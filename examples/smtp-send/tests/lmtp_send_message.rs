//! `smtp-send --send-message` (the envelope from the headers) against aiosmtpd, and
//! `smtp-send --lmtp` against Dovecot's LMTP (carol is over quota after the data).

mod common;
use common::run;
use common::servers::{Aiosmtpd, Dovecot};

/// Writes `bytes` to a file in `dir`; returns its path.
fn message_file(dir: &tempfile::TempDir, bytes: &[u8]) -> String {
    let path = dir.path().join("m.eml");
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

/// Nothing was stored, after giving the server time to write anything it would.
fn assert_nothing_stored(server: &Aiosmtpd) {
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(server.messages().is_empty());
}

#[test]
fn send_message_takes_the_envelope_from_the_headers_without_bcc() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = message_file(
        &dir,
        b"From: Alice <alice@example.com>\r\nTo: bob@example.com\r\n\
          Cc: carol@example.com\r\nBcc: dave@example.com\r\nSubject: headers\r\n\r\nbody\r\n",
    );
    let addr = server.addr();
    let (code, json) = run(&["--server", &addr, "--send-message", "--message", &file]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["ok"], true);
    assert_eq!(json["sent"], 1);
    assert_eq!(json["refused"], serde_json::json!([]));
    let stored = server.wait_messages(1);
    assert_eq!(stored[0].mail_from(), "alice@example.com");
    assert_eq!(
        stored[0].rcpt_tos(),
        ["bob@example.com", "dave@example.com", "carol@example.com"]
    );
    let text = String::from_utf8_lossy(&stored[0].bytes);
    assert!(!text.to_ascii_lowercase().contains("bcc"), "{text}");
    assert!(text.contains("Cc: carol@example.com\r\n"), "{text}");
}

#[test]
fn send_message_with_given_from_and_to_overrides_the_headers() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = message_file(
        &dir,
        b"From: a@example.com\r\nTo: b@example.com\r\nBcc: c@example.com\r\n\r\nx\r\n",
    );
    let addr = server.addr();
    let (code, json) = run(&[
        "--server",
        &addr,
        "--send-message",
        "--message",
        &file,
        "--from",
        "o@example.com",
        "--to",
        "t@example.com",
        "--count",
        "2",
    ]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["sent"], 2);
    let stored = server.wait_messages(2);
    for s in &stored {
        assert_eq!(s.mail_from(), "o@example.com");
        assert_eq!(s.rcpt_tos(), ["t@example.com"]);
        assert_eq!(
            s.bytes,
            b"From: a@example.com\r\nTo: b@example.com\r\n\r\nx\r\n"
        );
    }
}

#[test]
fn two_resent_blocks_are_invalid_argument() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = message_file(
        &dir,
        b"Resent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nResent-From: r@example.com\r\n\
          Resent-Date: Tue, 2 Jan 2024 00:00:00 +0000\r\nResent-From: s@example.com\r\n\
          From: a@example.com\r\nTo: b@example.com\r\n\r\nx\r\n",
    );
    let addr = server.addr();
    let (code, json) = run(&["--server", &addr, "--send-message", "--message", &file]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["ok"], false);
    assert_eq!(json["sent"], 0);
    assert_eq!(json["error"]["kind"], "invalid-argument", "{json}");
    assert_nothing_stored(&server);
}

#[test]
fn a_non_ascii_recipient_needs_smtputf8() {
    let dir = tempfile::tempdir().unwrap();
    let msg = "From: j\u{f6}rg@example.com\r\nTo: \u{e9}l\u{e8}ve@example.com\r\n\
               Subject: utf8\r\n\r\ncaf\u{e9}\r\n";
    let file = message_file(&dir, msg.as_bytes());

    let utf8 = Aiosmtpd::start(&["--smtputf8"]).unwrap();
    let addr = utf8.addr();
    let (code, json) = run(&["--server", &addr, "--send-message", "--message", &file]);
    assert_eq!(code, 0, "{json}");
    let stored = utf8.wait_messages(1);
    assert_eq!(stored[0].rcpt_tos(), ["\u{e9}l\u{e8}ve@example.com"]);
    let opts = stored[0].envelope["mail_options"].to_string();
    assert!(opts.contains("SMTPUTF8"), "{opts}");
    assert_eq!(stored[0].bytes, msg.as_bytes());

    let plain = Aiosmtpd::start(&[]).unwrap();
    let addr = plain.addr();
    let (code, json) = run(&["--server", &addr, "--send-message", "--message", &file]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["error"]["kind"], "not-supported", "{json}");
    assert_nothing_stored(&plain);
}

#[test]
fn bad_usage_of_the_new_flags_is_exit_2() {
    for args in [
        &["--lmtp"][..],
        &["--server", "127.0.0.1:9", "--send-message"],
    ] {
        let (code, json) = run(args);
        assert_eq!(code, 2, "{args:?}: {json}");
        assert_eq!(json["error"]["kind"], "host", "{args:?}: {json}");
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("bad usage"),
            "{json}"
        );
    }
}

#[test]
fn lmtp_lists_the_recipient_refused_after_the_data() {
    // Dovecot needs a certificate for its submission service, unused here.
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
    let relay = Aiosmtpd::start(&[]).unwrap();
    let dovecot = Dovecot::start(&cert_file, &key_file, relay.port).unwrap();

    // Larger than carol's 1 KiB quota.
    let mut msg =
        b"From: sender@example.com\r\nTo: alice@localhost\r\nSubject: lmtp\r\n\r\n".to_vec();
    for i in 0..100 {
        msg.extend_from_slice(
            format!("line {i:03} of a message that does not fit carol's quota\r\n").as_bytes(),
        );
    }
    let file = message_file(&dir, &msg);
    let server = format!("127.0.0.1:{}", dovecot.lmtp_port);
    let (code, json) = run(&[
        "--server",
        &server,
        "--lmtp",
        "--from",
        "sender@example.com",
        "--to",
        "alice@localhost",
        "--to",
        "bob@localhost",
        "--to",
        "carol@localhost",
        "--message",
        &file,
    ]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["ok"], true);
    assert_eq!(json["sent"], 1);
    let refused = json["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{json}");
    assert_eq!(refused[0]["recipient"], "carol@localhost");
    assert_eq!(refused[0]["code"], 552);
    assert!(refused[0]["text"].is_string(), "{json}");
    assert_eq!(dovecot.delivered_to("alice"), 1);
    assert_eq!(dovecot.delivered_to("bob"), 1);
    assert_eq!(dovecot.delivered_to("carol"), 0);

    // Nobody got it: recipients-refused, exit 1.
    let (code, json) = run(&[
        "--server",
        &server,
        "--lmtp",
        "--to",
        "carol@localhost",
        "--message",
        &file,
    ]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["error"]["kind"], "recipients-refused", "{json}");
    assert_eq!(json["error"]["recipients"][0]["code"], 552, "{json}");
}
