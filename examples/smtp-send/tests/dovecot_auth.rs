//! `smtp-send --starttls --user … --auth-mech M` against Dovecot submission: each of
//! CRAM-MD5, PLAIN and LOGIN authenticates and the mail is delivered (Dovecot relays it
//! to an aiosmtpd that stores it); a wrong password is `authentication-error`.

use std::process::Command;

mod common;
use common::servers::{Aiosmtpd, Dovecot};
use serde_json::Value;

const VAR: &str = "SMTP_SEND_DOVECOT_SECRET";

fn run(port: u16, ca: &str, mech: &str, password: &str) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_smtp-send"))
        .args(["--server", &format!("127.0.0.1:{port}"), "--starttls"])
        .args(["--ca-file", ca, "--tls-server-name", "localhost"])
        .args([
            "--user",
            "alice",
            "--password-env",
            VAR,
            "--auth-mech",
            mech,
        ])
        .args([
            "--from",
            "alice@localhost",
            "--to",
            "bob@example.com",
            "--json",
        ])
        .env(VAR, password)
        .output()
        .expect("run smtp-send");
    common::parse(&out)
}

#[test]
fn each_mechanism_through_dovecot_submission() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_file, key_file) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
    let store = Aiosmtpd::start(&[]).unwrap();
    let dovecot = Dovecot::start(&cert_file, &key_file, store.port).unwrap();
    // The self-signed leaf (not a CA) is its own trust anchor.
    let ca = cert_file.to_str().unwrap();
    let mut delivered = 0;
    for mech in ["CRAM-MD5", "PLAIN", "LOGIN"] {
        let (code, json) = run(dovecot.submission_port, ca, mech, "alice-pw");
        assert_eq!(code, 0, "{mech}: {json}");
        assert_eq!(json["tls"], true, "{mech}: {json}");
        delivered += 1;
    }
    assert_eq!(store.wait_messages(delivered).len(), delivered);
    let (code, json) = run(dovecot.submission_port, ca, "PLAIN", "wrong");
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["error"]["kind"], "authentication-error");
    assert_eq!(json["error"]["code"], 535);
}
