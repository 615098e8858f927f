//! `smtp-send --wasi p3`: the WASI 0.3 build of the component (async exports, the
//! wasip3 driver) against aiosmtpd, which stores every message byte for byte. Built
//! with smtp-send's `p3` feature (`cargo test -p smtp-send --features p3 --test
//! wasi_p3`); without it, `--wasi p3` is a clear host error (exit 2).

mod common;
use common::run;
use common::servers::Aiosmtpd;
#[cfg(feature = "p3")]
use common::servers::Postfix;

/// `smtp-send --wasi p3 --server SERVER` followed by `rest`.
#[cfg(feature = "p3")]
fn run_p3(server: &str, rest: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["--wasi", "p3", "--server", server];
    args.extend_from_slice(rest);
    run(&args)
}

/// `run_p3` sending `file` from a@example.com to b@example.com, then `rest`.
#[cfg(feature = "p3")]
fn send_file_p3(server: &str, file: &str, rest: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec![
        "--from",
        "a@example.com",
        "--to",
        "b@example.com",
        "--message",
        file,
    ];
    args.extend_from_slice(rest);
    run_p3(server, &args)
}

#[cfg(feature = "p3")]
fn message_file(dir: &tempfile::TempDir, bytes: &[u8]) -> String {
    let path = dir.path().join("m.eml");
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

#[cfg(feature = "p3")]
#[test]
fn p3_delivers_byte_exact_to_both_recipients() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bytes =
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: p3\r\n\r\n.dot line\r\ncaf\xe9\r\n"
            .to_vec();
    let file = message_file(&dir, &bytes);
    let addr = server.addr();
    let (code, json) = run_p3(
        &addr,
        &[
            "--from",
            "a@example.com",
            "--to",
            "b@example.com",
            "--to",
            "refuse-c@example.com",
            "--to",
            "d@example.com",
            "--message",
            &file,
        ],
    );
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["ok"], true);
    assert_eq!(json["refused"][0]["recipient"], "refuse-c@example.com");
    assert_eq!(json["refused"][0]["code"], 550);
    let stored = server.wait_messages(1);
    assert_eq!(stored[0].bytes, bytes);
    assert_eq!(stored[0].rcpt_tos(), ["b@example.com", "d@example.com"]);
}

/// A message of many 64 KiB stream writes, several times over one connection.
#[cfg(feature = "p3")]
#[test]
fn p3_sends_a_large_message_three_times() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: big\r\n\r\n".to_vec();
    let mut i = 0u32;
    while bytes.len() < 3 * 1024 * 1024 {
        bytes.extend_from_slice(format!("line {i} of a large message, .dots kept\r\n").as_bytes());
        i += 1;
    }
    let file = message_file(&dir, &bytes);
    let addr = server.addr();
    let (code, json) = send_file_p3(&addr, &file, &["--count", "3"]);
    assert_eq!(code, 0, "{json}");
    let stored = server.wait_messages(3);
    assert_eq!(stored.len(), 3);
    for m in &stored {
        assert!(m.bytes == bytes, "a stored message differs from the file");
    }
}

/// `--connections N` runs the p3 build too: each connection a client resource in one
/// shared instance, the count spread evenly, every generated message stored once.
#[cfg(feature = "p3")]
#[test]
fn p3_spreads_the_count_over_concurrent_connections() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let addr = server.addr();
    let (code, json) = run_p3(
        &addr,
        &[
            "--to",
            "b@example.com",
            "--count",
            "12",
            "--connections",
            "4",
        ],
    );
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["sent"], 12);
    let per: Vec<u64> = json["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["ok"], true, "{c}");
            c["sent"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(per, vec![3; 4]);
    let stored = server.wait_messages(12);
    let ids: std::collections::BTreeSet<String> = stored
        .iter()
        .filter_map(|m| {
            String::from_utf8_lossy(&m.bytes)
                .lines()
                .find(|l| l.starts_with("Message-ID:"))
                .map(String::from)
        })
        .collect();
    assert_eq!(ids.len(), 12);
}

/// Without the feature the host says how to get the p3 build, and sends nothing.
#[cfg(not(feature = "p3"))]
#[test]
fn p3_without_the_feature_is_a_host_error() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let addr = server.addr();
    let base = ["--wasi", "p3", "--server", &addr, "--to", "b@example.com"];
    // With --connections too (that path makes its own host).
    for extra in [&[][..], &["--count", "2", "--connections", "2"][..]] {
        let argv: Vec<&str> = base.iter().chain(extra).copied().collect();
        let (code, json) = run(&argv);
        assert_eq!(code, 2, "{json}");
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("--features p3"),
            "{json}"
        );
    }
    assert!(server.messages().is_empty());
}

/// A server that never greets: the async wait ends at the timeout with `timeout`.
/// (A listener that is never accepted from: the kernel completes the connection.)
#[cfg(feature = "p3")]
#[test]
fn p3_silent_server_is_a_timeout() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let (code, json) = run_p3(&addr, &["--to", "b@example.com", "--timeout", "0.5"]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["error"]["kind"], "timeout", "{json}");
    drop(silent);
}

/// STARTTLS (rustls over the async driver), then AUTH, then the message.
#[cfg(feature = "p3")]
#[test]
fn p3_starttls_then_login_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let path = |name: &str, pem: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, pem).unwrap();
        p.to_string_lossy().into_owned()
    };
    let (ca_file, cert_file, key_file) = (
        path("ca.pem", ca.pem()),
        path("cert.pem", cert.pem()),
        path("key.pem", key.serialize_pem()),
    );
    let server = Aiosmtpd::start(&[
        "--auth",
        "alice:alice-pw",
        "--tls-cert",
        &cert_file,
        "--tls-key",
        &key_file,
    ])
    .unwrap();
    let bytes = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: tls\r\n\r\nover TLS\r\n";
    let file = message_file(&dir, bytes);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_smtp-send"))
        .args(["--wasi", "p3", "--server", &server.addr()])
        .args(["--from", "a@example.com", "--to", "b@example.com"])
        .args([
            "--starttls",
            "--ca-file",
            &ca_file,
            "--tls-server-name",
            "localhost",
        ])
        .args(["--user", "alice", "--password-env", "SMTP_SEND_P3_SECRET"])
        .args(["--message", &file, "--json"])
        .env("SMTP_SEND_P3_SECRET", "alice-pw")
        .output()
        .unwrap();
    let (code, json) = common::parse(&out);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["tls"], true, "{json}");
    let stored = server.wait_messages(1);
    assert_eq!(stored[0].bytes, bytes);
    assert_eq!(stored[0].envelope["auth_user"], "alice");
}

/// The per-connection `sent` counts of a `--connections` run, each connection `ok`.
#[cfg(feature = "p3")]
fn per_connection(json: &serde_json::Value) -> Vec<u64> {
    json["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["ok"], true, "{c}");
            c["sent"].as_u64().unwrap()
        })
        .collect()
}

/// `--wasi p3 --connections 10 --count 200`: ten client resources in ONE instance
/// (`instances` is 1; the host counts every instantiation), twenty messages each, all
/// 200 stored byte for byte; with `--reconnect`, a connect per message on the same
/// ten clients, still one instance.
#[cfg(feature = "p3")]
#[test]
fn p3_connections_run_in_one_instance() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bytes =
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: one instance\r\n\r\n.dot\r\n\xe9t\xe9\r\n"
            .to_vec();
    let file = message_file(&dir, &bytes);
    let addr = server.addr();
    let (code, json) = send_file_p3(&addr, &file, &["--count", "200", "--connections", "10"]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["ok"], true);
    assert_eq!(json["sent"], 200);
    assert_eq!(json["instances"], 1, "{json}");
    assert_eq!(per_connection(&json), vec![20; 10]);
    let stored = server.wait_messages(200);
    assert_eq!(stored.len(), 200);
    for m in &stored {
        assert!(m.bytes == bytes, "a stored message differs from the file");
        assert_eq!(m.rcpt_tos(), ["b@example.com"]);
    }

    let (code, json) = run_p3(
        &addr,
        &[
            "--to",
            "b@example.com",
            "--count",
            "10",
            "--connections",
            "4",
            "--reconnect",
        ],
    );
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["sent"], 10);
    assert_eq!(json["instances"], 1, "{json}");
    assert_eq!(per_connection(&json), vec![3, 3, 2, 2]);
    assert_eq!(server.wait_messages(210).len(), 210);
}

/// Eight clients in one instance against a private Postfix that lets two connections
/// in at once (the rest get 421): the failed connections report 0 and `connect-error`
/// 421, the others their 5, `sent` is the sum, `ok` is false, the exit status 1, and
/// what Postfix accepted is exactly what reached its relay.
#[cfg(feature = "p3")]
#[test]
fn p3_some_connections_refused_keep_the_count_honest() {
    let relay = Aiosmtpd::start(&[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
    let postfix = Postfix::start_with(
        &cert_file,
        &key_file,
        relay.port,
        &["--connection-limit", "2"],
    )
    .unwrap();
    let addr = format!("127.0.0.1:{}", postfix.smtp_port);
    let (code, json) = run_p3(
        &addr,
        &[
            "--to",
            "b@example.com",
            "--count",
            "40",
            "--connections",
            "8",
        ],
    );
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["ok"], false);
    assert_eq!(json["instances"], 1, "{json}");
    let connections = json["connections"].as_array().unwrap();
    assert_eq!(connections.len(), 8);
    let (mut total, mut failed) = (0, 0);
    for c in connections {
        let sent = c["sent"].as_u64().unwrap();
        total += sent;
        if c["ok"] == true {
            assert_eq!(sent, 5, "{c}");
        } else {
            failed += 1;
            assert_eq!(sent, 0, "{c}");
            assert_eq!(c["error"]["kind"], "connect-error", "{c}");
            assert_eq!(c["error"]["code"], 421, "{c}");
        }
    }
    assert!((1..=6).contains(&failed), "{json}");
    assert_eq!(json["sent"].as_u64().unwrap(), total);
    assert_eq!(json["error"]["kind"], "connect-error");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while relay.messages().len() < total as usize && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(relay.messages().len() as u64, total, "{json}");
}

/// `sendmail-stream`'s piece size (the component's `STREAM_PIECE`): the body reaches the
/// wire in pieces of exactly this many bytes, the last one shorter.
#[cfg(feature = "p3")]
const PIECE: usize = 256 * 1024;

/// Appends lines to `out` until it is exactly `at` bytes long and ends with CRLF:
/// filler of every kind (lines starting with `.`, `..`, 998-character lines, short
/// ones), then two padding lines of at most 998 characters each.
#[cfg(feature = "p3")]
fn fill_to(out: &mut Vec<u8>, at: usize, seq: &mut usize) {
    while at - out.len() > 2000 {
        let line = match *seq % 5 {
            0 => format!(".dot line {seq}\r\n"),
            1 => format!("..two dots {seq}\r\n"),
            2 => format!("{}\r\n", "L".repeat(998)),
            3 => format!("short {seq}\r\n"),
            _ => format!(".{}\r\n", "d".repeat(997)),
        };
        out.extend_from_slice(line.as_bytes());
        *seq += 1;
    }
    let gap = at - out.len();
    for len in [gap / 2, gap - gap / 2] {
        out.extend_from_slice("p".repeat(len - 2).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    assert_eq!(out.len(), at);
}

/// A message of about 5 MB whose 256 KiB piece boundaries fall inside CRLFs, inside
/// `.\r\n` lines (before, after and in the middle of the dot) and before lines that
/// start with dots; with 998-character lines (the RFC 5321 limit, also aiosmtpd's and
/// Postfix's) throughout. Only CRLF line ends, so DATA and BDAT both keep it byte-exact.
#[cfg(feature = "p3")]
fn boundary_message() -> Vec<u8> {
    // (the text around a boundary, the boundary's offset in it)
    let patterns: [(&[u8], usize); 7] = [
        (b"CRLF split here\r\n", 16),      // CR | LF
        (b".\r\n", 0),                     // CRLF | .CRLF
        (b".\r\n", 1),                     // . | CRLF
        (b".\r\n", 2),                     // .CR | LF
        (b"..two dots at the end\r\n", 1), // . | .
        (b"end\r\n.\r\n", 4),              // CR | LF . CRLF
        (b".\r\n.\r\n", 3),                // .CRLF | .CRLF
    ];
    let mut out =
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: streamed\r\nMessage-ID: <s@example.com>\r\n\r\n"
            .to_vec();
    let mut seq = 0;
    for k in 1..=19 {
        let (text, off) = patterns[k % patterns.len()];
        fill_to(&mut out, k * PIECE - off, &mut seq);
        out.extend_from_slice(text);
    }
    fill_to(&mut out, 19 * PIECE + 100_000, &mut seq);
    out.extend_from_slice(b".\r\n.last line\r\n");
    // A CRLF split by a boundary, and a `.\r\n` line starting right at one.
    assert_eq!(&out[7 * PIECE - 1..7 * PIECE + 1], b"\r\n");
    assert_eq!(&out[PIECE - 2..PIECE + 3], b"\r\n.\r\n");
    out
}

/// Runs `smtp-send --wasi p3 --message-stream FILE` to `addr` and returns its JSON and
/// stderr.
#[cfg(feature = "p3")]
fn stream_file(addr: &str, file: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_smtp-send"))
        .args(["--wasi", "p3", "--server", addr])
        .args(["--from", "a@example.com", "--to", "b@example.com"])
        .args(["--message-stream", file, "--json"])
        .args(extra)
        .output()
        .unwrap();
    let (code, json) = common::parse(&out);
    (
        code,
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `--message-stream FILE` over DATA (aiosmtpd has no CHUNKING): dot-stuffed across
/// piece boundaries, stored byte for byte; the guest held pieces, not the message.
#[cfg(feature = "p3")]
#[test]
fn p3_message_stream_over_data_is_byte_exact_across_pieces() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bytes = boundary_message();
    assert!(bytes.len() > 5_000_000);
    let file = message_file(&dir, &bytes);
    let (code, json, stderr) = stream_file(&server.addr(), &file, &[]);
    assert_eq!(code, 0, "{json} {stderr}");
    assert_eq!(json["sent"], 1, "{json}");
    let extensions = json["delivery"]["extensions"].as_array().unwrap();
    assert!(!extensions.contains(&"chunking".into()), "{json}");
    let stored = server.wait_messages(1);
    assert_eq!(stored.len(), 1);
    assert!(stored[0].bytes == bytes, "the stored message differs");
    assert_eq!(stored[0].rcpt_tos(), ["b@example.com"]);
    // Far less than the 5 MB message (two pieces, buffers and the rest of the guest).
    let peak = json["guest_memory_peak_bytes"].as_u64().expect("a peak");
    assert!(peak < 4 * 1024 * 1024, "guest memory peak {peak}");
}

/// The same message to Postfix, which offers CHUNKING: one `BDAT n` per piece and
/// `BDAT n LAST`. Postfix relays it to aiosmtpd, which stores it with Postfix's
/// Received field on top and every byte of the message after it.
#[cfg(feature = "p3")]
#[test]
fn p3_message_stream_over_bdat_to_postfix_is_byte_exact() {
    let relay = Aiosmtpd::start(&[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&c, cert.cert.pem()).unwrap();
    std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
    let postfix = common::servers::Postfix::start(&c, &k, relay.port).unwrap();
    let bytes = boundary_message();
    let file = message_file(&dir, &bytes);
    let addr = format!("127.0.0.1:{}", postfix.smtp_port);
    let (code, json, stderr) = stream_file(&addr, &file, &[]);
    assert_eq!(code, 0, "{json} {stderr}");
    let extensions = json["delivery"]["extensions"].as_array().unwrap();
    assert!(extensions.contains(&"chunking".into()), "{json}");
    let id = json["delivery"]["queue_id"].as_str().expect("a queue id");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let stored = loop {
        let got = relay.messages();
        if !got.is_empty() {
            break got;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not relayed: {}",
            postfix.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let got = &stored[0].bytes;
    assert!(got.ends_with(&bytes), "the relayed message differs");
    let added = String::from_utf8_lossy(&got[..got.len() - bytes.len()]).into_owned();
    assert!(added.starts_with("Received: "), "{added}");
    assert!(added.contains(id), "{added}");
    for line in added.split_terminator("\r\n").skip(1) {
        assert!(line.starts_with([' ', '\t']), "more than Received: {added}");
    }
}

/// A body whose source fails after 1 MB: the component ends the connection before
/// the end of the message, so aiosmtpd stores nothing, and the call answers `io`
/// saying nothing was delivered (the documented `sendmail-stream` failure).
#[cfg(feature = "p3")]
#[test]
fn p3_a_body_that_fails_midway_delivers_nothing_and_is_io() {
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::{AsyncRead, ReadBuf};

    /// Gives `left` bytes of message, then an error.
    struct FailsAfter {
        head: Vec<u8>,
        left: usize,
    }
    impl AsyncRead for FailsAfter {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if self.left == 0 {
                return Poll::Ready(Err(std::io::Error::other("the disk went away")));
            }
            let n = buf.remaining().min(self.left).min(4096);
            let mut chunk: Vec<u8> = Vec::with_capacity(n);
            while chunk.len() < n {
                let from_head = self.head.len().min(n - chunk.len());
                if from_head > 0 {
                    chunk.extend(self.head.drain(..from_head));
                } else {
                    chunk.push(if chunk.len() % 80 == 79 { b'\n' } else { b'x' });
                }
            }
            buf.put_slice(&chunk);
            self.left -= n;
            Poll::Ready(Ok(()))
        }
    }

    let server = Aiosmtpd::start(&[]).unwrap();
    let host = smtp_host::SmtpHost::shared_wasi(smtp_host::Wasi::P3).unwrap();
    let options = smtp_host::ClientOptions {
        timeout_ms: Some(10_000),
        ..Default::default()
    };
    let mut client = host.client(&options, smtp_host::Stderr::Capture).unwrap();
    client
        .connect("127.0.0.1", Some(server.port))
        .unwrap()
        .unwrap();
    let body = FailsAfter {
        head: b"From: a@example.com\r\nSubject: fails\r\n\r\n".to_vec(),
        left: 1024 * 1024,
    };
    let result = client
        .sendmail_stream("a@example.com", &["b@example.com".into()], body, &[], &[])
        .expect("no trap");
    match result {
        Err(smtp_host::SmtpError::Io(text)) => {
            assert!(text.contains("the disk went away"), "{text}");
            assert!(text.contains("nothing was delivered"), "{text}");
        }
        other => panic!("expected io, got {other:?}"),
    }
    assert!(!client.is_connected().unwrap(), "the connection was closed");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(server.messages().is_empty(), "a message was stored");
    // The same client connects again and sends.
    client
        .connect("127.0.0.1", Some(server.port))
        .unwrap()
        .unwrap();
    let msg = smtp_host::Message::Bytes(b"Subject: after\r\n\r\nok\r\n".to_vec());
    client
        .sendmail("a@example.com", &["b@example.com".into()], &msg, &[], &[])
        .unwrap()
        .unwrap();
    assert_eq!(server.wait_messages(1).len(), 1);
}
