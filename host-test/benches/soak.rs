//! `cargo bench -p host-test --bench soak`: 100,000 messages over 1,000 connections
//! through ONE component instance against Postfix smtp-sink, printing the component's
//! peak linear memory and the host's resident memory after the first connection and at
//! the end. Flat figures mean nothing grows per message or per connection.

use std::time::Instant;

use host_test::servers::SmtpSink;
use smtp_host::{ClientOptions, Message, SmtpHost, Stderr};

const CONNECTIONS: usize = 1_000;
const PER_CONNECTION: usize = 100;

/// The host process's resident and peak resident memory, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let sink = SmtpSink::start(&[]).unwrap();
    let host = SmtpHost::shared().unwrap();
    let mut client = host
        .client(&ClientOptions::default(), Stderr::Inherit)
        .unwrap();
    let to = vec!["b@example.com".to_string()];
    let mut body = b"Subject: soak\r\n\r\n".to_vec();
    while body.len() < 1024 {
        body.extend_from_slice(b"a line of the soak test message body, 1 KB in all\r\n");
    }
    let msg = Message::Bytes(body);
    let started = Instant::now();
    let mut first = None;
    for connection in 0..CONNECTIONS {
        client.connect(&sink.addr(), None).unwrap().unwrap();
        for _ in 0..PER_CONNECTION {
            let refused = client
                .sendmail("a@example.com", &to, &msg, &[], &[])
                .unwrap()
                .unwrap();
            assert!(refused.is_empty());
        }
        client.quit().unwrap().unwrap();
        if connection == 0 {
            first = Some((client.peak_memory(), rss_kib()));
        }
    }
    let took = started.elapsed().as_secs_f64();
    let (mem0, (rss0, hwm0)) = first.unwrap_or_default();
    let (rss1, hwm1) = rss_kib();
    let messages = CONNECTIONS * PER_CONNECTION;
    println!("soak: {messages} messages over {CONNECTIONS} connections, one instance, {took:.1} s ({:.0} msg/s)", messages as f64 / took);
    println!("{:<44} {:>14} {:>14}", "", "after conn 1", "at the end");
    println!(
        "{:<44} {:>14} {:>14}",
        "component linear memory, peak (bytes)",
        mem0,
        client.peak_memory()
    );
    println!(
        "{:<44} {:>14} {:>14}",
        "host resident memory (KiB)", rss0, rss1
    );
    println!(
        "{:<44} {:>14} {:>14}",
        "host peak resident memory (KiB)", hwm0, hwm1
    );
}
