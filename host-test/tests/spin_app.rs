//! examples/spin-app, the composed HTTP app: its guest is built for wasm32-wasip2,
//! plugged with the smtp component by `wac plug` (as Spin does for component
//! dependencies) and served over HTTP by `wasi-host` (wasmtime-wasi-http) with Spin's
//! network rules: only the listed outbound addresses, no DNS. Each POST must make a
//! mail arrive at a real aiosmtpd.

mod common;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::certs::Pki;
use host_test::servers::{workspace_root, Aiosmtpd};
use wasi_host::cli::Options;

/// Builds the guest and composes it with the component once per test process.
fn composed() -> PathBuf {
    static COMPOSED: OnceLock<PathBuf> = OnceLock::new();
    COMPOSED
        .get_or_init(|| {
            let root = workspace_root();
            let target = root.join("target/examples");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = Command::new(cargo)
                .current_dir(&root)
                .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"])
                .arg("--manifest-path")
                .arg(root.join("examples/spin-app/Cargo.toml"))
                .arg("--target-dir")
                .arg(&target)
                .status()
                .expect("run cargo");
            assert!(status.success(), "building examples/spin-app failed");
            let status = Command::new(root.join("scripts/install-wac"))
                .status()
                .expect("run scripts/install-wac");
            assert!(status.success(), "installing wac failed");
            let home = std::env::var_os("CARGO_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
            let out = target.join("spin-app-test.wasm");
            let status = Command::new(home.join("bin/wac"))
                .arg("plug")
                .arg(target.join("wasm32-wasip2/release/spin_app.wasm"))
                .arg("--plug")
                .arg(smtp_host::COMPONENT_PATH)
                .arg("-o")
                .arg(&out)
                .status()
                .expect("run wac");
            assert!(status.success(), "wac plug failed");
            // Compile once into the compile cache, not once per test in parallel.
            let engine = smtp_host::engine().unwrap();
            smtp_host::cache::load_file(&engine, &out).expect("compile the composition");
            out
        })
        .clone()
}

/// Serves the composition with `env`, allowing TCP only to `allowed`.
fn serve(env: &[(&str, String)], allowed: &[SocketAddr]) -> SocketAddr {
    let mut options = Options::new(composed());
    options.listen = "127.0.0.1:0".parse().unwrap();
    options.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    options.allow_outbound = allowed.to_vec();
    wasi_host::serve::start(&options).expect("serve the composed app")
}

/// One HTTP/1.1 request; the status and the body.
fn request(addr: SocketAddr, method: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let head = format!(
        "{method} /send HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1;
    // Chunked: keep the JSON line only.
    let json = body
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or("")
        .to_string();
    (status, json)
}

fn server_env(server: &Aiosmtpd) -> Vec<(&'static str, String)> {
    vec![
        ("SMTP_HOST", "127.0.0.1".to_string()),
        ("SMTP_PORT", server.port.to_string()),
    ]
}

fn addr_of(server: &Aiosmtpd) -> SocketAddr {
    server.addr().parse().unwrap()
}

const MSG: &[u8] = b"From: Web <web@example.com>\r\nTo: a@example.com, refuse-b@example.com\r\nBcc: c@example.com\r\nSubject: posted\r\n\r\n.dot line\r\nbody\r\n";

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
    let expected = b"From: Web <web@example.com>\r\nTo: a@example.com, refuse-b@example.com\r\nSubject: posted\r\n\r\n.dot line\r\nbody\r\n";
    assert_eq!(stored.bytes, expected);
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
