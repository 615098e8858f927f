//! The mailer through `smtp-send` against real peers: messages built from parts read
//! back by Python's `email` part for part, DKIM signatures checked by dkimpy (both
//! algorithms), Postfix's queue id and its queue file's DSN records, REQUIRETLS in
//! clear, and an LMTP delivery to Dovecot. Every test runs on each build of the
//! component smtp-send has: `--wasi p2`, and `--wasi p3` too when built with the `p3`
//! feature (`cargo test -p smtp-send --features p3 --test mailer`).

mod common;
use std::path::Path;
use std::process::Command;

use base64::Engine;
use common::servers::{mail_check, part_types, Aiosmtpd, Dovecot, Postfix};
use serde_json::Value;

/// The builds of the component this smtp-send runs (`--wasi`).
const BUILDS: &[&str] = if cfg!(feature = "p3") {
    &["p2", "p3"]
} else {
    &["p2"]
};

/// `smtp-send --wasi WASI` with `args` and `--json` (see [`common::run`]).
fn run(wasi: &str, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--wasi", wasi];
    all.extend_from_slice(args);
    common::run(&all)
}

/// A private key for `alg` (openssl), and the DNS TXT record that publishes it.
fn dkim_key(dir: &Path, alg: &str) -> (String, String) {
    let key = dir.join(format!("{alg}.pem"));
    let gen: &[&str] = if alg == "rsa" {
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ]
    } else {
        &["genpkey", "-algorithm", "ed25519"]
    };
    let status = Command::new("openssl")
        .args(gen)
        .arg("-out")
        .arg(&key)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl genpkey");
    assert!(status.success());
    let der = Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&key)
        .output()
        .expect("openssl pkey")
        .stdout;
    let b64 = base64::engine::general_purpose::STANDARD;
    let txt = if alg == "rsa" {
        format!("v=DKIM1; k=rsa; p={}", b64.encode(&der))
    } else {
        // RFC 8463: the raw 32-byte key, the end of the SubjectPublicKeyInfo.
        format!(
            "v=DKIM1; k=ed25519; p={}",
            b64.encode(&der[der.len() - 32..])
        )
    };
    (key.to_string_lossy().into_owned(), txt)
}

/// Python's `email` (and dkimpy, given the TXT record) on the message in `file`.
fn check(file: &Path, dkim_txt: Option<&str>) -> Value {
    mail_check(file, dkim_txt).unwrap()
}

fn decoded(part: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(part["content_b64"].as_str().unwrap())
        .unwrap()
}

/// The files of the message: a text and an HTML body, a PDF-like binary, a CSV with a
/// non-ASCII name.
struct Files {
    dir: tempfile::TempDir,
    text: String,
    html: String,
    pdf: Vec<u8>,
    csv: Vec<u8>,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let text = "Hallo,\n\nanbei der Bericht. Grüße aus Köln 🚀\n".to_string()
            + &"a long line ".repeat(20)
            + "\n.a dot line\n";
        let html = "<html><body><p>Hallo, anbei der <b>Bericht</b>. Grüße 🚀</p></body></html>\n";
        let pdf: Vec<u8> = b"%PDF-1.4\n"
            .iter()
            .copied()
            .chain((0..5000u32).map(|i| (i * 7919 % 256) as u8))
            .collect();
        let csv = "name;wert\r\nä;1\n".as_bytes().to_vec();
        std::fs::write(dir.path().join("t.txt"), &text).unwrap();
        std::fs::write(dir.path().join("h.html"), html).unwrap();
        std::fs::write(dir.path().join("report.pdf"), &pdf).unwrap();
        std::fs::write(dir.path().join("Übersicht März.csv"), &csv).unwrap();
        Files {
            text,
            html: html.to_string(),
            pdf,
            csv,
            dir,
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// The flags that build the message.
    fn flags(&self) -> Vec<String> {
        [
            "--subject",
            "Grüße 🚀",
            "--text",
            &self.path("t.txt"),
            "--html",
            &self.path("h.html"),
            "--attach",
            &self.path("report.pdf"),
            "--attach",
            &self.path("Übersicht März.csv"),
            "--cc",
            "Jörg Müller <joerg@example.org>",
            "--bcc",
            "hidden@example.net",
            "--reply-to",
            "replies@example.com",
            "--header",
            "X-Campaign: Frühling 2026",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

/// The recipients of the delivery report in smtp-send's JSON that were accepted.
fn accepted(json: &Value) -> Vec<&str> {
    json["delivery"]["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["recipient"].as_str().unwrap())
        .collect()
}

/// Checks the stored message part for part against the files.
fn assert_parts(files: &Files, got: &Value) {
    assert_eq!(got["subject"], "Grüße 🚀", "{got}");
    assert_eq!(got["cc"], "Jörg Müller <joerg@example.org>");
    assert_eq!(got["reply_to"], "replies@example.com");
    assert_eq!(got["headers"]["x-campaign"][0], "Frühling 2026");
    assert!(got["headers"].get("bcc").is_none(), "{got}");
    assert_eq!(got["defects"], serde_json::json!([]), "{got}");
    assert_eq!(got["content_type"], "multipart/mixed");
    let parts = got["parts"].as_array().unwrap();
    assert_eq!(
        part_types(got),
        [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "application/pdf",
            "text/csv"
        ]
    );
    // Text goes with CRLF line ends, as every line of a message does on the wire.
    let crlf = |s: &str| s.replace('\n', "\r\n");
    assert_eq!(
        String::from_utf8(decoded(&parts[2])).unwrap(),
        crlf(&files.text)
    );
    assert_eq!(
        String::from_utf8(decoded(&parts[3])).unwrap(),
        crlf(&files.html)
    );
    assert_eq!(parts[4]["filename"], "report.pdf");
    assert_eq!(parts[4]["disposition"], "attachment");
    assert_eq!(decoded(&parts[4]), files.pdf);
    assert_eq!(parts[5]["filename"], "Übersicht März.csv");
    assert_eq!(decoded(&parts[5]), files.csv);
}

#[test]
fn a_built_message_reads_back_part_for_part_and_its_dkim_verifies() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let files = Files::new();
    let runs = BUILDS
        .iter()
        .flat_map(|wasi| ["rsa", "ed25519"].map(|alg| (*wasi, alg)));
    for (n, (wasi, alg)) in runs.enumerate() {
        let (key, txt) = dkim_key(files.dir.path(), alg);
        let mut args = vec![
            "--server".to_string(),
            server.addr(),
            "--from".into(),
            "Absender Ä <sender@example.com>".into(),
            "--to".into(),
            "to@example.org".into(),
            "--dkim-key".into(),
            key,
            "--dkim-domain".into(),
            "example.com".into(),
            "--dkim-selector".into(),
            "sel1".into(),
            "--dkim-algorithm".into(),
            format!("{alg}-sha256"),
        ];
        args.extend(files.flags());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, json) = run(wasi, &args);
        assert_eq!(code, 0, "{wasi}: {json}");
        let accepted = accepted(&json);
        assert_eq!(
            accepted,
            ["to@example.org", "joerg@example.org", "hidden@example.net"]
        );
        assert_eq!(json["delivery"]["reply"]["code"], 250);
        // aiosmtpd's "250 OK" names no queue id.
        assert_eq!(json["delivery"]["queue_id"], Value::Null);

        let stored = server.wait_messages(n + 1);
        let msg = &stored[n];
        assert_eq!(msg.mail_from(), "sender@example.com");
        assert_eq!(
            msg.rcpt_tos(),
            ["to@example.org", "joerg@example.org", "hidden@example.net"]
        );
        assert!(!String::from_utf8_lossy(&msg.bytes).contains("hidden@"));
        let file = files.dir.path().join(format!("got-{wasi}-{alg}.eml"));
        std::fs::write(&file, &msg.bytes).unwrap();
        let got = check(&file, Some(&txt));
        assert_parts(&files, &got);
        assert_eq!(got["from"], "Absender Ä <sender@example.com>");
        assert_eq!(
            got["dkim"],
            true,
            "{wasi} {alg}: {}",
            String::from_utf8_lossy(&msg.bytes)
        );

        // The verifier is not a yes-man: one changed byte of the body fails it.
        let mut tampered = msg.bytes.clone();
        let at = tampered.len() - 40;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let file = files.dir.path().join(format!("tampered-{wasi}-{alg}.eml"));
        std::fs::write(&file, &tampered).unwrap();
        assert_eq!(check(&file, Some(&txt))["dkim"], false, "{wasi} {alg}");
    }
}

#[test]
fn require_tls_in_clear_is_not_supported_and_sends_nothing() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let files = Files::new();
    let addr = server.addr();
    let text = files.path("t.txt");
    let extras = [
        &["--subject", "x", "--text", &text][..],
        &[][..], // the generated message, through send-bytes-with
    ];
    for (wasi, extra) in BUILDS
        .iter()
        .flat_map(|wasi| extras.map(|extra| (*wasi, extra)))
    {
        let mut args = vec![
            "--server",
            &addr,
            "--from",
            "a@example.com",
            "--to",
            "b@example.org",
            "--require-tls",
        ];
        args.extend_from_slice(extra);
        let (code, json) = run(wasi, &args);
        assert_eq!(code, 1, "{wasi}: {json}");
        assert_eq!(json["error"]["kind"], "not-supported", "{wasi}: {json}");
        assert!(json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("REQUIRETLS"));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(server.messages().is_empty());
}

/// `--connections N` with the mailer's flags: every connection builds and sends the
/// message (`send-with` on its own client: a client of the pool with `--wasi p2`, one
/// of N in one instance with `--wasi p3`), and every copy reads back whole.
#[test]
fn connections_each_send_the_built_message() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let files = Files::new();
    let addr = server.addr();
    for (n, wasi) in BUILDS.iter().enumerate() {
        let mut args = vec![
            "--server".to_string(),
            addr.clone(),
            "--from".into(),
            "sender@example.com".into(),
            "--to".into(),
            "to@example.org".into(),
            "--count".into(),
            "3".into(),
            "--connections".into(),
            "3".into(),
        ];
        args.extend(files.flags());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, json) = run(wasi, &args);
        assert_eq!(code, 0, "{wasi}: {json}");
        assert_eq!(json["sent"], 3, "{wasi}: {json}");
        let stored = server.wait_messages(3 * (n + 1));
        assert_eq!(stored.len(), 3 * (n + 1), "{wasi}");
        for (i, msg) in stored[3 * n..].iter().enumerate() {
            assert_eq!(
                msg.rcpt_tos(),
                ["to@example.org", "joerg@example.org", "hidden@example.net"]
            );
            let file = files.dir.path().join(format!("conn-{wasi}-{i}.eml"));
            std::fs::write(&file, &msg.bytes).unwrap();
            assert_parts(&files, &check(&file, None));
        }
    }
}

fn self_signed(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.cert.pem()).unwrap();
    std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
    (c, k)
}

#[test]
fn postfix_queue_id_and_dsn_in_its_queue_file() {
    let relay = Aiosmtpd::start(&[]).unwrap();
    let files = Files::new();
    let (cert, key) = self_signed(files.dir.path());
    let postfix = Postfix::start_with(&cert, &key, relay.port, &["--hold"]).unwrap();
    let addr = format!("127.0.0.1:{}", postfix.smtp_port);
    for wasi in BUILDS {
        let (code, json) = run(
            wasi,
            &[
                "--server",
                &addr,
                "--from",
                "sender@example.com",
                "--to",
                "rcpt+1@example.org",
                "--subject",
                "DSN",
                "--text",
                &files.path("t.txt"),
                "--dsn-notify",
                "success,failure",
                "--dsn-ret",
                "hdrs",
                "--envid",
                "QQ314159 env",
            ],
        );
        assert_eq!(code, 0, "{wasi}: {json}");
        let delivery = &json["delivery"];
        let id = delivery["queue_id"]
            .as_str()
            .expect("a queue id")
            .to_string();
        assert!(delivery["reply"]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("queued as {id}")));
        let extensions = delivery["extensions"].as_array().unwrap();
        for e in ["pipelining", "chunking", "size", "dsn"] {
            assert!(extensions.contains(&Value::from(e)), "{e}: {delivery}");
        }
        // Postfix's log names the same id for the message.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !postfix.log().contains(&format!("{id}: client=")) {
            assert!(std::time::Instant::now() < deadline, "{}", postfix.log());
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        // Its queue file holds what DSN asked for (postcat's envelope records).
        let queue = postfix.queue_file(&id).unwrap();
        // (Postfix keeps ENVID and ORCPT xtext-decoded; its NOTIFY bits are SUCCESS = 2,
        // FAILURE = 4, DELAY = 8, and RET=HDRS is 2.)
        assert!(queue.contains("envelope_id=QQ314159 env\n"), "{queue}");
        assert!(queue.contains("ret_flags=2\n"), "RET=HDRS: {queue}");
        assert!(
            queue.contains("notify_flags=6\n"),
            "NOTIFY=SUCCESS,FAILURE: {queue}"
        );
        assert!(
            queue.contains("dsn_orig_rcpt=rfc822;rcpt+1@example.org\n"),
            "{queue}"
        );

        // REQUIRETLS over STARTTLS: Postfix does not offer it, so nothing is sent.
        let (code, json) = run(
            wasi,
            &[
                "--server",
                &addr,
                "--starttls",
                "--unsafe-accept-invalid-certs",
                "--from",
                "sender@example.com",
                "--to",
                "rcpt@example.org",
                "--require-tls",
            ],
        );
        assert_eq!(code, 1, "{wasi}: {json}");
        assert_eq!(json["error"]["kind"], "not-supported", "{json}");
    }
}

#[test]
fn lmtp_to_dovecot_reports_each_recipient() {
    let relay = Aiosmtpd::start(&[]).unwrap();
    let files = Files::new();
    let (cert, key) = self_signed(files.dir.path());
    let dovecot = Dovecot::start(&cert, &key, relay.port).unwrap();
    let addr = format!("127.0.0.1:{}", dovecot.lmtp_port);
    // Larger than carol's 1 KiB quota.
    let big = files.path("big.txt");
    std::fs::write(&big, "a line that does not fit carol's quota\n".repeat(100)).unwrap();
    for (n, wasi) in BUILDS.iter().enumerate() {
        let (code, json) = run(
            wasi,
            &[
                "--server",
                &addr,
                "--lmtp",
                "--from",
                "sender@example.com",
                "--to",
                "alice@localhost",
                "--cc",
                "carol@localhost",
                "--subject",
                "LMTP",
                "--text",
                &big,
            ],
        );
        assert_eq!(code, 0, "{wasi}: {json}");
        let accepted = accepted(&json);
        assert_eq!(accepted, ["alice@localhost", "carol@localhost"], "{json}");
        assert_eq!(json["refused"][0]["recipient"], "carol@localhost", "{json}");
        assert_eq!(json["refused"][0]["code"], 552, "{json}");
        assert_eq!(dovecot.delivered_to("alice"), n + 1, "{wasi}");
    }
}
