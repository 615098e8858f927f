//! Shared helpers for the integration tests.

#![allow(dead_code)]

pub mod certs;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smtp_host::{Client, ClientOptions, Message, SmtpHost, Stderr};

/// A new client in a new instance, its debug transcript captured.
pub fn client() -> Client {
    client_with(ClientOptions::default())
}

/// A new client with `options`, debug level 1 so that [`Client::transcript`] shows
/// every line sent and received.
pub fn client_with(options: ClientOptions) -> Client {
    let mut c = SmtpHost::shared()
        .expect("load the component")
        .client(&options, Stderr::Capture)
        .expect("instantiate the component");
    c.set_debuglevel(1).expect("no trap");
    c
}

/// Splits `host:port` for `connect`.
pub fn connect(c: &mut Client, addr: &str) -> smtp_host::Reply {
    c.connect(addr, None)
        .expect("no trap")
        .unwrap_or_else(|e| panic!("connect to {addr}: {e:?}"))
}

/// A list of owned strings.
pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A bytes message.
pub fn bytes(b: &[u8]) -> Message {
    Message::Bytes(b.to_vec())
}

/// A text message.
pub fn text(s: &str) -> Message {
    Message::Text(s.to_string())
}

/// A scripted SMTP peer: answers each expected command line with a canned reply, then
/// runs `after` on the socket. Returns the port and everything it received.
pub fn scripted_peer(
    steps: Vec<(&'static str, &'static [u8])>,
    after: fn(&mut std::net::TcpStream),
) -> (u16, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"220 scripted ESMTP\r\n").unwrap();
        let mut reader = BufReader::new(s.try_clone().unwrap());
        for (expect, reply) in steps {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            log.lock().unwrap().extend_from_slice(line.as_bytes());
            assert!(line.to_ascii_uppercase().starts_with(expect), "{line}");
            s.write_all(reply).unwrap();
        }
        after(&mut s);
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            log.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    (port, seen)
}

/// A private Postfix with a fresh localhost certificate, relaying to a fresh aiosmtpd
/// that stores what arrives.
pub fn postfix_relaying() -> (
    certs::Pki,
    host_test::servers::Aiosmtpd,
    host_test::servers::Postfix,
) {
    let pki = certs::Pki::new();
    let store = host_test::servers::Aiosmtpd::start(&[]).unwrap();
    let postfix = host_test::servers::Postfix::start(
        &pki.localhost.cert_file,
        &pki.localhost.key_file,
        store.port,
    )
    .unwrap();
    (pki, store, postfix)
}

/// Dovecot (submission and LMTP) with a fresh localhost certificate, relaying to a
/// fresh aiosmtpd that stores what arrives.
pub fn dovecot_relaying() -> (
    certs::Pki,
    host_test::servers::Aiosmtpd,
    host_test::servers::Dovecot,
) {
    let pki = certs::Pki::new();
    let store = host_test::servers::Aiosmtpd::start(&[]).unwrap();
    let dovecot = host_test::servers::Dovecot::start(
        &pki.localhost.cert_file,
        &pki.localhost.key_file,
        store.port,
    )
    .unwrap();
    (pki, store, dovecot)
}
