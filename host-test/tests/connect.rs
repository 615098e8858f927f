//! Connecting: names and IP literals, ports, refused connections, the timeout and the
//! source address.

mod common;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::*;
use host_test::servers::{free_port, Aiosmtpd, SmtpSink};
use smtp_host::{ClientOptions, SourceAddress};

#[test]
fn host_and_port_forms() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let port = server.port;
    for (host, p) in [
        (format!("127.0.0.1:{port}"), None),
        ("127.0.0.1".to_string(), Some(port)),
        (format!("localhost:{port}"), None),
        (format!("[127.0.0.1]:{port}"), None),
    ] {
        let mut c = client();
        let greeting = c
            .connect(&host, p)
            .unwrap()
            .unwrap_or_else(|e| panic!("{host}: {e:?}"));
        assert_eq!(greeting.code, 220, "{host}");
        c.quit().unwrap().unwrap();
    }
}

#[test]
fn ipv6_literal() {
    let sink = SmtpSink::start_on("::1".parse().unwrap(), &[]).unwrap();
    let mut c = client();
    assert_eq!(
        c.connect("::1", Some(sink.port)).unwrap().unwrap().code,
        220
    );
    c.sendmail("a@b.c", &strings(&["d@e.f"]), &text("v6"), &[], &[])
        .unwrap()
        .unwrap();
    let mut c = client();
    assert_eq!(c.connect(&sink.addr(), None).unwrap().unwrap().code, 220);
}

#[test]
fn refused_and_unresolvable_are_io_errors() {
    let mut c = client();
    let port = free_port().unwrap();
    let err = c.connect("127.0.0.1", Some(port)).unwrap().unwrap_err();
    assert_eq!(err.kind(), "io", "{err:?}");
    let err = c
        .connect("no-such-host.invalid", Some(25))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "io", "{err:?}");
    assert!(!c.is_connected().unwrap());
}

#[test]
fn bad_hosts_and_options_are_invalid_arguments() {
    let mut c = client();
    for host in ["mx\r\n.example", "mx:notaport", "[::1", "a b"] {
        assert_eq!(
            c.connect(host, None).unwrap().unwrap_err().kind(),
            "invalid-argument",
            "{host}"
        );
    }
    let mut c = client_with(ClientOptions {
        timeout_ms: Some(0),
        ..Default::default()
    });
    assert_eq!(
        c.connect("127.0.0.1", Some(25))
            .unwrap()
            .unwrap_err()
            .kind(),
        "invalid-argument"
    );
    let mut c = client_with(ClientOptions {
        source_address: Some(SourceAddress {
            ip: "not-an-ip".into(),
            port: 0,
        }),
        ..Default::default()
    });
    assert_eq!(
        c.connect("127.0.0.1", Some(25))
            .unwrap()
            .unwrap_err()
            .kind(),
        "invalid-argument"
    );
}

/// A peer that accepts and then never says a word: the greeting must time out.
#[test]
fn silent_peer_times_out_within_the_timeout() {
    let peer = ScriptPeer::start(vec![Step::Hold(Duration::from_secs(3))]).unwrap();
    let mut c = client_with(ClientOptions {
        timeout_ms: Some(300),
        ..Default::default()
    });
    let start = Instant::now();
    let err = c
        .connect("127.0.0.1", Some(peer.port))
        .unwrap()
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), "timeout", "{err:?}");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(!c.is_connected().unwrap());
    c.close().unwrap();
    peer.finish();
}

/// The source address is bound before connecting: the peer sees it.
#[test]
fn source_address_is_bound() {
    let peer =
        ScriptPeer::start(vec![Step::Send(b"220 hello\r\n".to_vec()), Step::ReadSome]).unwrap();
    let mut c = client_with(ClientOptions {
        source_address: Some(SourceAddress {
            ip: "127.0.0.2".into(),
            port: 0,
        }),
        ..Default::default()
    });
    assert_eq!(
        c.connect("127.0.0.1", Some(peer.port))
            .unwrap()
            .unwrap()
            .code,
        220
    );
    c.close().unwrap();
    let seen = peer.finish().client.unwrap();
    assert_eq!(seen.ip(), "127.0.0.2".parse::<IpAddr>().unwrap());
}

/// A source address of the other family leaves no address to try: an `io` error that
/// says why, before any connection is made.
#[test]
fn source_address_of_the_other_family_is_an_io_error() {
    let mut c = client_with(ClientOptions {
        source_address: Some(SourceAddress {
            ip: "::1".into(),
            port: 0,
        }),
        ..Default::default()
    });
    let err = c.connect("127.0.0.1", Some(25)).unwrap().unwrap_err();
    assert_eq!(err.kind(), "io", "{err:?}");
    assert!(
        format!("{err:?}").contains("no address of 127.0.0.1 has the source address's family"),
        "{err:?}"
    );
}
