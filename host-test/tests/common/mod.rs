//! Shared helpers for the integration tests.

#![allow(dead_code)]

pub mod certs;

use host_test::{Client, ClientOptions, Message, SmtpHost, Stderr};

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
pub fn connect(c: &mut Client, addr: &str) -> host_test::Reply {
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
