//! TLS inside the component: STARTTLS and implicit TLS against aiosmtpd with throwaway
//! certificates, every certificate failure, and (from a scripted peer, since real servers
//! don't misbehave on demand) a peer that closes mid-handshake and STARTTLS injection.

mod common;

use common::certs::{Pem, Pki};
use common::*;
use host_test::servers::Aiosmtpd;
use smtp_host::{Client, ClientOptions, SmtpError, TlsConfig};

fn tls_server(cert: &Pem, extra: &[&str]) -> Aiosmtpd {
    let mut args = vec![
        "--tls-cert",
        cert.cert_file.to_str().unwrap(),
        "--tls-key",
        cert.key_file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Aiosmtpd::start(&args).unwrap()
}

fn send(c: &mut Client) -> Result<Vec<smtp_host::Refusal>, SmtpError> {
    c.sendmail(
        "a@example.com",
        &strings(&["b@example.com"]),
        &bytes(MSG),
        &[],
        &[],
    )
    .expect("no trap")
}

const MSG: &[u8] = b"Subject: over TLS\r\n\r\n.a dot line\r\ncaf\xe9\r\n";

#[test]
fn starttls_then_byte_exact_delivery() {
    let pki = Pki::new();
    let server = tls_server(&pki.localhost, &[]);
    let mut c = client();
    connect(&mut c, &server.addr());
    assert!(!c.is_tls().unwrap());
    let reply = c.starttls(&pki.trusting()).unwrap().unwrap();
    assert_eq!(reply.code, 220);
    assert!(c.is_tls().unwrap());
    // Everything learned from the first EHLO is forgotten.
    assert_eq!(c.ehlo_resp().unwrap(), None);
    assert!(!c.has_extn("starttls").unwrap());
    assert!(send(&mut c).unwrap().is_empty());
    c.quit().unwrap().unwrap();
    assert_eq!(server.wait_messages(1)[0].bytes, MSG);
    assert_eq!(c.transcript().matches("send: EHLO").count(), 2);
}

#[test]
fn implicit_tls_then_byte_exact_delivery() {
    let pki = Pki::new();
    let server = tls_server(&pki.localhost, &["--implicit-tls"]);
    let mut c = client();
    let greeting = c
        .connect_tls("127.0.0.1", Some(server.port), &pki.trusting())
        .unwrap()
        .unwrap();
    assert_eq!(greeting.code, 220);
    assert!(c.is_tls().unwrap());
    assert!(send(&mut c).unwrap().is_empty());
    c.quit().unwrap().unwrap();
    assert_eq!(server.wait_messages(1)[0].bytes, MSG);
}

/// Reconnects resume the TLS session, after STARTTLS and with implicit TLS, and every
/// message still arrives byte-exact. What the client logged (full or resumed) matches
/// what the server (Python's ssl, on OpenSSL) saw, connection for connection.
#[test]
fn reconnects_resume_the_tls_session() {
    let pki = Pki::new();
    for implicit in [true, false] {
        let extra: &[&str] = if implicit { &["--implicit-tls"] } else { &[] };
        let server = tls_server(&pki.localhost, extra);
        let mut c = client();
        for _ in 0..4 {
            if implicit {
                c.connect_tls("127.0.0.1", Some(server.port), &pki.trusting())
                    .unwrap()
                    .unwrap();
            } else {
                connect(&mut c, &server.addr());
                c.starttls(&pki.trusting()).unwrap().unwrap();
            }
            assert!(send(&mut c).unwrap().is_empty());
            c.quit().unwrap().unwrap();
        }
        let stored = server.wait_messages(4);
        assert!(stored.iter().all(|m| m.bytes == MSG));
        let server_saw: Vec<bool> = stored
            .iter()
            .map(|m| m.envelope["tls_resumed"].as_bool().expect("over TLS"))
            .collect();
        let transcript = c.transcript();
        let client_saw: Vec<bool> = transcript
            .lines()
            .filter_map(|l| match l.trim_start_matches("info: ") {
                "TLS established (session resumed)" => Some(true),
                "TLS established (full handshake)" => Some(false),
                _ => None,
            })
            .collect();
        assert_eq!(client_saw, server_saw, "implicit {implicit}: {transcript}");
        assert!(!server_saw[0]);
        assert!(
            server_saw.iter().filter(|r| **r).count() >= 2,
            "implicit {implicit}: {server_saw:?}"
        );
    }
}

#[test]
fn the_server_name_is_verified_not_the_ip_connected_to() {
    let pki = Pki::new();
    let server = tls_server(&pki.localhost, &["--implicit-tls"]);
    // The certificate names only `localhost`: connecting to 127.0.0.1 and verifying
    // that IP fails; verifying `localhost` succeeds.
    let mut c = client();
    let cfg = TlsConfig {
        server_name: None,
        ..pki.trusting()
    };
    let err = c
        .connect_tls("127.0.0.1", Some(server.port), &cfg)
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "tls", "{err:?}");
    let mut c = client();
    c.connect_tls("127.0.0.1", Some(server.port), &pki.trusting())
        .unwrap()
        .unwrap();
    // And by name, the name is the default.
    let mut c = client();
    let cfg = TlsConfig {
        server_name: None,
        ..pki.trusting()
    };
    c.connect_tls("localhost", Some(server.port), &cfg)
        .unwrap()
        .unwrap();
}

/// Each bad certificate: `tls` from STARTTLS, and the server never sees MAIL.
#[test]
fn certificate_failures_are_tls_errors_and_nothing_follows_in_clear() {
    let pki = Pki::new();
    for (what, cert) in [
        ("untrusted CA", &pki.untrusted),
        ("wrong name", &pki.wrong_name),
        ("expired", &pki.expired),
    ] {
        let server = tls_server(cert, &[]);
        let mut c = client();
        connect(&mut c, &server.addr());
        let err = c.starttls(&pki.trusting()).unwrap().unwrap_err();
        assert_eq!(err.kind(), "tls", "{what}: {err:?}");
        assert!(!c.is_connected().unwrap(), "{what}");
        assert_eq!(
            send(&mut c).unwrap_err().kind(),
            "server-disconnected",
            "{what}"
        );
        assert!(!c.transcript().contains("send: MAIL"), "{what}");
        assert!(server.messages().is_empty());
        // Unless the caller says, in so many words, that anything goes.
        let mut c = client();
        connect(&mut c, &server.addr());
        let unsafe_cfg = TlsConfig {
            unsafe_accept_invalid_certs: true,
            ..TlsConfig::default()
        };
        c.starttls(&unsafe_cfg).unwrap().unwrap();
        assert!(send(&mut c).unwrap().is_empty(), "{what}");
    }
}

#[test]
fn client_certificate_required() {
    let pki = Pki::new();
    let ca = pki.ca.cert_file.to_str().unwrap().to_string();
    let server = tls_server(
        &pki.localhost,
        &["--implicit-tls", "--require-client-cert", &ca],
    );
    let mut c = client();
    let err = match c
        .connect_tls("127.0.0.1", Some(server.port), &pki.trusting())
        .unwrap()
    {
        Err(e) => e,
        // With TLS 1.3 the refusal can come after the client's Finished, at the first read.
        Ok(_) => send(&mut c).unwrap_err(),
    };
    assert!(
        matches!(err, SmtpError::Tls(_) | SmtpError::ServerDisconnected(_)),
        "{err:?}"
    );
    let mut c = client();
    let cfg = TlsConfig {
        client_cert_pem: Some(pki.client.cert.clone()),
        client_key_pem: Some(pki.client.key.clone()),
        ..pki.trusting()
    };
    c.connect_tls("127.0.0.1", Some(server.port), &cfg)
        .unwrap()
        .unwrap();
    assert!(send(&mut c).unwrap().is_empty());
    assert_eq!(server.wait_messages(1).len(), 1);
}

#[test]
fn no_starttls_offered_is_not_supported() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let err = c.starttls(&TlsConfig::default()).unwrap().unwrap_err();
    assert_eq!(err.kind(), "not-supported", "{err:?}");
    assert!(!c.transcript().contains("send: STARTTLS"));
}

#[test]
fn unusable_tls_settings_are_refused_before_sending() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let cfg = TlsConfig {
        extra_roots_pem: Some("not PEM".into()),
        ..TlsConfig::default()
    };
    assert_eq!(
        c.starttls(&cfg).unwrap().unwrap_err().kind(),
        "invalid-argument"
    );
    let cfg = TlsConfig {
        client_key_pem: Some("x".into()),
        ..TlsConfig::default()
    };
    assert_eq!(
        c.starttls(&cfg).unwrap().unwrap_err().kind(),
        "invalid-argument"
    );
    assert!(!c.transcript().contains("send:"));
}

const EHLO_WITH_STARTTLS: &[u8] = b"250-scripted\r\n250 STARTTLS\r\n";

#[test]
fn starttls_injection_is_refused() {
    let peer = scripted_peer(
        &[
            ("EHLO", EHLO_WITH_STARTTLS),
            ("STARTTLS", b"220 go ahead\r\n250 injected\r\n"),
        ],
        until_closed(),
    );
    let mut c = client_with(ClientOptions {
        timeout_ms: Some(3000),
        ..Default::default()
    });
    c.connect("127.0.0.1", Some(peer.port)).unwrap().unwrap();
    let err = c.starttls(&TlsConfig::default()).unwrap().unwrap_err();
    assert_eq!(err.kind(), "tls", "{err:?}");
    assert!(format!("{err:?}").contains("injection"), "{err:?}");
    assert_eq!(send(&mut c).unwrap_err().kind(), "server-disconnected");
    c.close().unwrap();
    let seen = peer.finish().text();
    assert!(!seen.contains("MAIL"), "{seen}");
}

#[test]
fn peer_closing_mid_handshake_is_a_tls_error() {
    // STARTTLS accepted, then the peer reads the ClientHello and hangs up.
    let peer = scripted_peer(
        &[
            ("EHLO", EHLO_WITH_STARTTLS),
            ("STARTTLS", b"220 go ahead\r\n"),
        ],
        vec![Step::ReadSome, Step::Shutdown],
    );
    let mut c = client_with(ClientOptions {
        timeout_ms: Some(3000),
        ..Default::default()
    });
    c.connect("127.0.0.1", Some(peer.port)).unwrap().unwrap();
    let err = c.starttls(&TlsConfig::default()).unwrap().unwrap_err();
    assert_eq!(err.kind(), "tls", "{err:?}");
    assert!(!c.is_connected().unwrap());
    c.close().unwrap();
}

/// A TLS alert in the middle of a session (a scripted peer: real servers do not send
/// one on demand): a raw fatal alert record is a `tls` error; a proper close_notify is
/// the server closing the connection. Either way: no trap, and `close`/`quit` still work.
#[test]
fn tls_alert_mid_session() {
    let pki = Pki::new();
    for (alert, kinds) in [
        ("raw", &["tls"][..]),
        ("close-notify", &["server-disconnected"][..]),
    ] {
        let script =
            host_test::servers::workspace_root().join("host-test/servers/tls_alert_server.py");
        let mut child = std::process::Command::new(host_test::servers::python())
            .arg(&script)
            .args(["--cert", pki.localhost.cert_file.to_str().unwrap()])
            .args(["--key", pki.localhost.key_file.to_str().unwrap()])
            .args(["--alert", alert])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let port = serde_json::from_str::<serde_json::Value>(&line).unwrap()["port"]
            .as_u64()
            .unwrap() as u16;
        let mut c = client_with(ClientOptions {
            timeout_ms: Some(3000),
            ..Default::default()
        });
        c.connect_tls("127.0.0.1", Some(port), &pki.trusting())
            .unwrap()
            .unwrap();
        let err = send(&mut c).unwrap_err();
        assert!(kinds.contains(&err.kind()), "{alert}: {err:?}");
        assert!(!c.is_connected().unwrap());
        c.close().unwrap();
        assert_eq!(c.quit().unwrap().unwrap_err().kind(), "server-disconnected");
        let _ = child.wait();
    }
}
