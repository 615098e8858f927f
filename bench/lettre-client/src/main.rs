//! scripts/bench's lettre client: `lettre-client HOST PORT COUNT SIZE RECIPIENTS [reconnect]`
//! sends COUNT messages of SIZE bytes (the same bytes as bench/message.py makes) to
//! RECIPIENTS recipients each and prints the elapsed seconds on stdout.
//!
//! Default: one `SmtpTransport` with a pool of one connection (lettre's ordinary way to
//! send many messages), timed from before the first send to after the transport is
//! dropped (which sends QUIT). With `reconnect`: lettre's `SmtpConnection`
//! directly, connect + EHLO, send, QUIT for every message.

use std::time::{Duration, Instant};

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::client::SmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{SmtpTransport, Transport};

/// bench/message.py's `message(size)`: headers, then lines of 78 `x` and CRLF, cut to
/// SIZE bytes and ended with CRLF.
fn message(size: usize) -> Vec<u8> {
    let mut m = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: bench\r\n\r\n".to_vec();
    let line = [b"x".repeat(78), b"\r\n".to_vec()].concat();
    while m.len() < size {
        m.extend_from_slice(&line);
    }
    m.truncate(size.max(60) - 2);
    m.extend_from_slice(b"\r\n");
    m
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        eprintln!("usage: lettre-client HOST PORT COUNT SIZE RECIPIENTS [reconnect]");
        std::process::exit(2);
    }
    let host = &args[0];
    let port: u16 = args[1].parse().expect("PORT");
    let count: u32 = args[2].parse().expect("COUNT");
    let size: usize = args[3].parse().expect("SIZE");
    let rcpts: usize = args[4].parse().expect("RECIPIENTS");
    let reconnect = args.get(5).map(String::as_str) == Some("reconnect");

    let from: Address = "a@example.com".parse().unwrap();
    let to: Vec<Address> = (0..rcpts)
        .map(|i| format!("b{i}@example.com").parse().unwrap())
        .collect();
    let envelope = Envelope::new(Some(from), to).unwrap();
    let body = message(size);
    let timeout = Some(Duration::from_secs(60));

    let started = Instant::now();
    if reconnect {
        let hello = ClientId::Domain("localhost".into());
        for _ in 0..count {
            let mut conn = SmtpConnection::connect((host.as_str(), port), timeout, &hello, None, None)
                .expect("connect");
            conn.send(&envelope, &body).expect("send");
            conn.quit().expect("quit");
        }
    } else {
        let transport = SmtpTransport::builder_dangerous(host.as_str())
            .port(port)
            .timeout(timeout)
            .hello_name(ClientId::Domain("localhost".into()))
            .pool_config(PoolConfig::new().min_idle(0).max_size(1))
            .build();
        for _ in 0..count {
            transport.send_raw(&envelope, &body).expect("send");
        }
        drop(transport);
    }
    println!("{:.6}", started.elapsed().as_secs_f64());
}
