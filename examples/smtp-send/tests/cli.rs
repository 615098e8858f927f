//! `smtp-send` as scripts use it: its `--json` output and exit status against real
//! servers (aiosmtpd, which stores every message byte for byte, and Postfix smtp-sink).

mod common;
use common::run;
use common::servers::{Aiosmtpd, SmtpSink};

fn message_file(dir: &tempfile::TempDir) -> (String, Vec<u8>) {
    let bytes =
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: cli\r\n\r\n.dot line\r\ncaf\xe9\r\n"
            .to_vec();
    let path = dir.path().join("m.eml");
    std::fs::write(&path, &bytes).unwrap();
    (path.to_string_lossy().into_owned(), bytes)
}

#[test]
fn delivers_byte_exact_to_both_recipients() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (file, bytes) = message_file(&dir);
    let addr = server.addr();
    let (code, json) = run(&[
        "--server",
        &addr,
        "--from",
        "a@example.com",
        "--to",
        "b@example.com",
        "--to",
        "c@example.com",
        "--message",
        &file,
    ]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["ok"], true);
    assert_eq!(json["refused"], serde_json::json!([]));
    let stored = server.wait_messages(1);
    assert_eq!(stored[0].bytes, bytes);
    assert_eq!(stored[0].rcpt_tos(), ["b@example.com", "c@example.com"]);
}

#[test]
fn a_refused_recipient_is_listed_with_exit_0() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = message_file(&dir);
    let addr = server.addr();
    let (code, json) = run(&[
        "--server",
        &addr,
        "--from",
        "a@example.com",
        "--to",
        "b@example.com",
        "--to",
        "refuse-c@example.com",
        "--message",
        &file,
    ]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["refused"][0]["recipient"], "refuse-c@example.com");
    assert_eq!(json["refused"][0]["code"], 550);
    assert!(json["refused"][0]["text"]
        .as_str()
        .unwrap()
        .contains("rejected"));
}

#[test]
fn error_kinds_from_refusing_servers() {
    for (flags, kind) in [
        (&["-f", "rcpt"][..], "recipients-refused"),
        (&["-f", "mail"][..], "sender-refused"),
        (&["-q", "rcpt"][..], "server-disconnected"),
    ] {
        let sink = SmtpSink::start(flags).unwrap();
        let addr = sink.addr();
        let (code, json) = run(&[
            "--server",
            &addr,
            "--from",
            "a@example.com",
            "--to",
            "b@example.com",
        ]);
        assert_eq!(code, 1, "{flags:?}: {json}");
        assert_eq!(json["ok"], false);
        assert_eq!(json["error"]["kind"], kind, "{flags:?}: {json}");
    }
}

#[test]
fn crlf_in_from_is_invalid_argument_and_nothing_arrives() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let addr = server.addr();
    let (code, json) = run(&[
        "--server",
        &addr,
        "--from",
        "a@example.com\r\nRCPT TO:<x@y.z>",
        "--to",
        "b@example.com",
    ]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["error"]["kind"], "invalid-argument");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(server.messages().is_empty());
}

#[test]
fn count_sends_on_one_connection() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let addr = server.addr();
    let (code, json) = run(&[
        "--server",
        &addr,
        "--from",
        "a@example.com",
        "--to",
        "b@example.com",
        "--count",
        "5",
    ]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["sent"], 5);
    assert_eq!(server.wait_messages(5).len(), 5);
}
