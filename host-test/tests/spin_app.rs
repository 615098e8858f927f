//! examples/spin-app, the composed HTTP app: its guest is built for wasm32-wasip2,
//! plugged with the smtp component by `wac plug` (as Spin does for component
//! dependencies) and served over HTTP by `wasi-host` (wasmtime-wasi-http) with Spin's
//! network rules: only the listed outbound addresses, no DNS. Each POST must make a
//! mail arrive at a real aiosmtpd.

mod common;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use common::certs::Pki;
use common::spin::{addr_of, request, server_env, MSG, MSG_SENT};
use host_test::servers::Aiosmtpd;

/// Builds the guest and composes it with the component once per test process.
fn composed() -> PathBuf {
    static COMPOSED: OnceLock<PathBuf> = OnceLock::new();
    COMPOSED
        .get_or_init(|| {
            common::spin::compose(
                "spin-app",
                "spin_app.wasm",
                smtp_host::COMPONENT_PATH.as_ref(),
                "spin-app-test.wasm",
            )
        })
        .clone()
}

/// Serves the composition with `env`, allowing TCP only to `allowed`.
fn serve(env: &[(&str, String)], allowed: &[SocketAddr]) -> SocketAddr {
    common::spin::serve(composed(), env, allowed)
}

#[test]
fn a_post_sends_a_mail_and_reports_refusals() {
    let server = Aiosmtpd::start(&["--refuse-rcpt-prefix", "refuse"]).unwrap();
    let app = serve(&server_env(&server), &[addr_of(&server)]);
    let (status, json) = request(app, "POST", MSG);
    assert_eq!(status, 200, "{json}");
    assert!(json.contains("\"sent\":true"), "{json}");
    assert!(
        json.contains("\"recipient\":\"refuse-b@example.com\",\"code\":550"),
        "{json}"
    );
    let stored = &server.wait_messages(1)[0];
    assert_eq!(stored.mail_from(), "web@example.com");
    assert_eq!(stored.rcpt_tos(), ["a@example.com", "c@example.com"]);
    // send_message strips Bcc; everything else arrives byte for byte.
    assert_eq!(stored.bytes, MSG_SENT);
}

#[test]
fn starttls_to_an_ip_literal_verifies_the_separate_server_name() {
    let pki = Pki::new();
    let server = Aiosmtpd::start(&[
        "--tls-cert",
        pki.localhost.cert_file.to_str().unwrap(),
        "--tls-key",
        pki.localhost.key_file.to_str().unwrap(),
        "--require-starttls",
    ])
    .unwrap();
    let mut env = server_env(&server);
    env.push(("SMTP_TLS", "starttls".into()));
    env.push(("SMTP_CA_PEM", pki.ca.cert.clone()));
    let wrong = serve(&env, &[addr_of(&server)]);
    // Verifying the IP literal fails: the certificate names only localhost.
    let (status, json) = request(wrong, "POST", MSG);
    assert_eq!(status, 502, "{json}");
    assert!(json.contains("tls:"), "{json}");
    env.push(("SMTP_TLS_SERVER_NAME", "localhost".into()));
    let right = serve(&env, &[addr_of(&server)]);
    let (status, json) = request(right, "POST", MSG);
    assert_eq!(status, 200, "{json}");
    assert_eq!(server.wait_messages(1).len(), 1);
}

#[test]
fn outbound_rules_are_enforced_as_spin_does() {
    let server = Aiosmtpd::start(&[]).unwrap();
    // Allowed: some other port only. The connect is refused by the host.
    let other: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let app = serve(&server_env(&server), &[other]);
    let (status, json) = request(app, "POST", MSG);
    assert_eq!(status, 502, "{json}");
    assert!(json.contains("\"sent\":false"), "{json}");
    // A name needs DNS, which an app with listed outbound hosts does not get.
    let mut env = server_env(&server);
    env[0].1 = "localhost".into();
    let app = serve(&env, &[addr_of(&server)]);
    let (status, json) = request(app, "POST", MSG);
    assert_eq!(status, 502, "{json}");
    assert!(server.messages().is_empty());
}

#[test]
fn only_post_sends() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let app = serve(&server_env(&server), &[addr_of(&server)]);
    let (status, json) = request(app, "GET", b"");
    assert_eq!(status, 405, "{json}");
    let (status, json) = request(app, "POST", b"no headers at all");
    assert_eq!(status, 502, "{json}");
    assert!(json.contains("invalid-argument"), "{json}");
    assert!(server.messages().is_empty());
}
