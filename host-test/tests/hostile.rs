//! Replies no real server sends on demand, from a scripted peer: they must give a clear
//! error, never a trap, and leave a client that still accepts `close` and `quit`.

mod common;
use std::time::Duration;

use common::*;
use smtp_host::{Client, ClientOptions};

/// A scripted peer that writes `chunks` one write each (with a short pause between them),
/// then reads until the client goes away.
fn scripted(chunks: Vec<Vec<u8>>) -> ScriptPeer {
    let mut steps = Vec::new();
    for chunk in chunks {
        steps.push(Step::Send(chunk));
        steps.push(Step::Pause(Duration::from_millis(2)));
    }
    steps.push(Step::Drain(Duration::from_secs(5)));
    ScriptPeer::start(steps).unwrap()
}

fn quick_client() -> Client {
    client_with(ClientOptions {
        timeout_ms: Some(2000),
        ..Default::default()
    })
}

fn greeting_error(chunks: Vec<Vec<u8>>) -> (String, Client) {
    let peer = scripted(chunks);
    let mut c = quick_client();
    let err = c
        .connect("127.0.0.1", Some(peer.port))
        .expect("no trap")
        .unwrap_err();
    assert!(!c.is_connected().unwrap());
    c.close().unwrap();
    assert_eq!(c.quit().unwrap().unwrap_err().kind(), "server-disconnected");
    (err.kind().to_string(), c)
}

#[test]
fn non_numeric_code() {
    assert_eq!(
        greeting_error(vec![b"hello there\r\n".to_vec()]).0,
        "malformed-reply"
    );
    assert_eq!(
        greeting_error(vec![b"2x0 hi\r\n".to_vec()]).0,
        "malformed-reply"
    );
}

#[test]
fn out_of_range_code() {
    assert_eq!(
        greeting_error(vec![b"999 hi\r\n".to_vec()]).0,
        "malformed-reply"
    );
    assert_eq!(
        greeting_error(vec![b"099 hi\r\n".to_vec()]).0,
        "malformed-reply"
    );
}

#[test]
fn multiline_codes_disagree() {
    assert_eq!(
        greeting_error(vec![b"220-a\r\n250 b\r\n".to_vec()]).0,
        "malformed-reply"
    );
}

#[test]
fn endless_line_is_cut_off() {
    // 200 MB without a line end: refused after the first 8 KiB or so, not buffered.
    let chunks = (0..3200).map(|_| vec![b'2'; 64 * 1024]).collect();
    let (kind, c) = greeting_error(chunks);
    assert_eq!(kind, "malformed-reply");
    assert!(c.peak_memory() < 8 << 20, "peak {}", c.peak_memory());
}

#[test]
fn two_million_continuation_lines() {
    // Sent in 2,000 chunks of 1,000 lines; the reply is refused at its 1,001st line.
    let chunk: Vec<u8> = b"220-more\r\n".repeat(1000);
    let (kind, c) = greeting_error(vec![chunk; 2000]);
    assert_eq!(kind, "malformed-reply");
    assert!(c.peak_memory() < 8 << 20, "peak {}", c.peak_memory());
}

#[test]
fn peer_closes_mid_reply() {
    // Half a reply and then silence: the timeout ends the wait.
    assert_eq!(
        greeting_error(vec![b"220-first line\r\n220 sec".to_vec()]).0,
        "timeout"
    );
    // Half a reply and then the peer closes.
    let peer = ScriptPeer::start(vec![Step::Send(b"220-first line\r\n220 sec".to_vec())]).unwrap();
    let mut c = quick_client();
    let err = c
        .connect("127.0.0.1", Some(peer.port))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "server-disconnected", "{err:?}");
}

#[test]
fn reply_split_at_every_byte() {
    let greeting = b"220 split.example ESMTP\r\n";
    let ehlo = b"250-split.example\r\n250-SIZE 1000\r\n250 8BITMIME\r\n";
    let mut chunks: Vec<Vec<u8>> = greeting.iter().map(|b| vec![*b]).collect();
    chunks.extend(ehlo.iter().map(|b| vec![*b]));
    let peer = scripted(chunks);
    let mut c = quick_client();
    assert_eq!(
        c.connect("127.0.0.1", Some(peer.port))
            .unwrap()
            .unwrap()
            .text,
        "split.example ESMTP"
    );
    let reply = c.ehlo(None).unwrap().unwrap();
    assert_eq!(reply.text, "split.example\nSIZE 1000\n8BITMIME");
    assert!(c.has_extn("8bitmime").unwrap());
}

#[test]
fn garbage_bytes() {
    let garbage: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    assert_eq!(greeting_error(vec![garbage]).0, "malformed-reply");
}
