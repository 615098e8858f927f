//! `smtp-send --connections N` against real servers: every message of `--count` sent
//! over N connections at once (aiosmtpd stores each one), and, against a private
//! Postfix that takes only two connections at once from a client (the rest get 421),
//! a run in which some connections fail: `sent`, the per-connection counts, the exit
//! status and what the server got all agree.

mod common;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::run;
use common::servers::{Aiosmtpd, Postfix};

/// The Message-ID lines of the stored messages, once `n` are stored (or 30 s passed).
fn message_ids(server: &Aiosmtpd, n: usize) -> BTreeSet<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stored = server.messages();
        if stored.len() >= n || Instant::now() > deadline {
            return stored
                .iter()
                .filter_map(|m| {
                    String::from_utf8_lossy(&m.bytes)
                        .lines()
                        .find(|l| l.starts_with("Message-ID:"))
                        .map(String::from)
                })
                .collect();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn spreads_the_count_over_concurrent_connections() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let addr = server.addr();
    let (code, json) = run(&[
        "--server",
        &addr,
        "--to",
        "b@example.com",
        "--count",
        "200",
        "--connections",
        "20",
    ]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["ok"], true);
    assert_eq!(json["sent"], 200);
    let per: Vec<u64> = json["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["ok"], true, "{c}");
            c["sent"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(per, vec![10; 20]);
    // --wasi p2: an instance per client, from the pool (at most one per connection).
    let instances = json["instances"].as_u64().unwrap();
    assert!((1..=20).contains(&instances), "{json}");
    // The process's own peak resident memory (Linux VmHWM): more than the binary's
    // first MiB, less than a GiB.
    #[cfg(target_os = "linux")]
    {
        let peak = json["peak_rss_bytes"].as_u64().unwrap();
        assert!((1 << 20..1 << 30).contains(&peak), "{json}");
    }
    // Every generated message once: 200 distinct Message-IDs arrived.
    assert_eq!(message_ids(&server, 200).len(), 200);

    // With --reconnect, a connection per message, 4 at a time, on reused instances.
    let (code, json) = run(&[
        "--server",
        &addr,
        "--to",
        "b@example.com",
        "--count",
        "10",
        "--connections",
        "4",
        "--reconnect",
    ]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["sent"], 10);
    let per: Vec<u64> = json["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sent"].as_u64().unwrap())
        .collect();
    assert_eq!(per, vec![3, 3, 2, 2]);
    assert_eq!(message_ids(&server, 210).len(), 210);
}

#[test]
fn some_connections_refused_keep_the_count_honest() {
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
    // Eight connections at once, each with 5 messages: Postfix lets two in.
    let (code, json) = run(&[
        "--server",
        &addr,
        "--to",
        "b@example.com",
        "--count",
        "40",
        "--connections",
        "8",
    ]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["ok"], false);
    let connections = json["connections"].as_array().unwrap();
    assert_eq!(connections.len(), 8);
    let mut total = 0;
    let mut failed = 0;
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
    // What Postfix accepted is exactly what reached the relay.
    let ids = message_ids(&relay, total as usize);
    assert_eq!(ids.len() as u64, total, "{json}");
}
