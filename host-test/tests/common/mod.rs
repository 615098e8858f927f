//! Shared helpers for the integration tests.

#![allow(dead_code)]

pub mod certs;
pub mod spin;

use std::time::Duration;

pub use host_test::peer::{ScriptPeer, Step};

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

/// A scripted peer (host-test's one, [`ScriptPeer`]) that greets, answers each expected
/// command line with its canned reply, then plays `after` (by default it reads until the
/// client goes away).
pub fn scripted_peer(replies: &[(&'static str, &[u8])], after: Vec<Step>) -> ScriptPeer {
    let mut steps = vec![Step::Send(b"220 scripted ESMTP\r\n".to_vec())];
    steps.extend(
        replies
            .iter()
            .map(|(expect, reply)| Step::Reply(expect, reply.to_vec())),
    );
    steps.extend(after);
    ScriptPeer::start(steps).expect("start the scripted peer")
}

/// The usual end of a script: read until the client goes away.
pub fn until_closed() -> Vec<Step> {
    vec![Step::Drain(Duration::from_secs(5))]
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
