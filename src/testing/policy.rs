//! smtplib's policy in `client.rs`, natively: default ports, the local hostname, the
//! source address, the timeout, the cleartext-credentials rule, Unix paths, and EHLO
//! before the commands that need it.

use std::net::IpAddr;

use super::peer::{Pair, ServerConfig, PASSWORD, USER};
use crate::client::{Client, ClientOptions, LMTP_PORT, SMTP_PORT, SMTP_SSL_PORT};
use crate::endpoint::Host;
use crate::error::SmtpError;
use crate::tls_config::TlsSettings;

fn auth_server() -> Pair {
    Pair::new(ServerConfig {
        extensions: vec!["AUTH PLAIN".into()],
        ..ServerConfig::default()
    })
}

#[test]
fn default_ports_are_smtplibs() {
    let pair = Pair::new(ServerConfig::default());
    let mut c = Client::new(pair.clone(), ClientOptions::default());
    c.connect("mx.example.org", None).unwrap();
    let (target, _) = pair.target.borrow().clone().unwrap();
    assert_eq!(target.port, SMTP_PORT);
    assert_eq!(target.host, Host::Name("mx.example.org".into()));
    c.connect("mx.example.org:2525", None).unwrap();
    assert_eq!(pair.target.borrow().clone().unwrap().0.port, 2525);

    let pair = Pair::new(ServerConfig {
        lmtp: true,
        ..ServerConfig::default()
    });
    let mut c = Client::lmtp(pair.clone(), ClientOptions::default());
    c.connect("127.0.0.1", None).unwrap();
    assert_eq!(pair.target.borrow().clone().unwrap().0.port, LMTP_PORT);

    // Implicit TLS: the model speaks no TLS, but the port was chosen before that.
    let pair = Pair::new(ServerConfig::default());
    let mut c = Client::new(pair.clone(), ClientOptions::default());
    let settings = TlsSettings {
        unsafe_accept_invalid_certs: true,
        ..TlsSettings::default()
    };
    assert!(matches!(
        c.connect_tls("127.0.0.1", None, &settings),
        Err(SmtpError::Tls(_))
    ));
    assert_eq!(pair.target.borrow().clone().unwrap().0.port, SMTP_SSL_PORT);
}

#[test]
fn ehlo_names_localhost_or_the_chosen_name() {
    for (option, expected) in [
        (None, "EHLO localhost\r\n"),
        (Some("me.test"), "EHLO me.test\r\n"),
    ] {
        let pair = Pair::new(ServerConfig::default());
        let mut c = Client::new(
            pair.clone(),
            ClientOptions {
                local_hostname: option.map(String::from),
                ..ClientOptions::default()
            },
        );
        c.connect("127.0.0.1", None).unwrap();
        // sendmail says EHLO first when nothing was said yet.
        c.sendmail("a@x.org", &["b@x.org".into()], b"x\r\n".to_vec(), &[], &[])
            .unwrap();
        let wire = String::from_utf8_lossy(&pair.server.borrow().wire).into_owned();
        assert!(wire.starts_with(expected), "{wire}");
    }
}

#[test]
fn the_source_address_is_passed_or_refused() {
    let pair = Pair::new(ServerConfig::default());
    let mut c = Client::new(
        pair.clone(),
        ClientOptions {
            source_address: Some(("[::1]".into(), 4000)),
            ..ClientOptions::default()
        },
    );
    c.connect("::1", Some(25)).unwrap();
    let (_, source) = pair.target.borrow().clone().unwrap();
    assert_eq!(source, Some(("::1".parse::<IpAddr>().unwrap(), 4000)));
    let mut c = Client::new(
        pair,
        ClientOptions {
            source_address: Some(("not-an-ip".into(), 0)),
            ..ClientOptions::default()
        },
    );
    assert!(matches!(
        c.connect("127.0.0.1", None),
        Err(SmtpError::InvalidArgument(_))
    ));
}

#[test]
fn credentials_never_go_in_clear_to_a_remote_peer() {
    let mut pair = auth_server();
    pair.peer_ip = "192.0.2.7".parse().unwrap();
    let mut c = Client::new(pair.clone(), ClientOptions::default());
    c.connect("192.0.2.7", None).unwrap();
    assert!(matches!(
        c.login(USER, PASSWORD, true),
        Err(SmtpError::NotSupported(m)) if m.contains("192.0.2.7")
    ));
    assert!(!String::from_utf8_lossy(&pair.server.borrow().wire).contains("AUTH"));
    // Unless the caller allows it.
    c.allow_insecure_auth(true);
    assert_eq!(c.login(USER, PASSWORD, true).unwrap().code, 235);
    // Loopback is fine.
    let pair = auth_server();
    let mut c = Client::new(pair, ClientOptions::default());
    c.connect("127.0.0.1", None).unwrap();
    assert_eq!(c.login(USER, PASSWORD, false).unwrap().code, 235);
}

#[test]
fn unix_socket_paths_are_not_supported() {
    let pair = Pair::new(ServerConfig::default());
    let mut c = Client::lmtp(pair.clone(), ClientOptions::default());
    assert!(matches!(
        c.connect("/run/dovecot/lmtp", None),
        Err(SmtpError::NotSupported(_))
    ));
    assert!(matches!(
        c.connect_tls("/run/x", None, &TlsSettings::default()),
        Err(SmtpError::NotSupported(_))
    ));
    assert!(pair.target.borrow().is_none());
}

#[test]
fn starttls_needs_the_extension_and_says_ehlo_first() {
    let pair = Pair::new(ServerConfig::default());
    let mut c = Client::new(pair.clone(), ClientOptions::default());
    c.connect("127.0.0.1", None).unwrap();
    assert!(matches!(
        c.starttls(&TlsSettings::default()),
        Err(SmtpError::NotSupported(_))
    ));
    let wire = String::from_utf8_lossy(&pair.server.borrow().wire).into_owned();
    assert_eq!(wire, "EHLO localhost\r\n");
}
