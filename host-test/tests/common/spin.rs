//! The composed HTTP apps (examples/spin-app and examples/spin-app-p3): build a guest,
//! `wac plug` the smtp component into it as Spin does for a component dependency,
//! serve the composition with wasi-host under Spin's network rules, and POST to it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use host_test::servers::{workspace_root, Aiosmtpd};
use wasi_host::cli::Options;

/// Builds the guest crate `example` (a folder of examples/, release, wasm32-wasip2),
/// plugs `component` into its `wasm` with wac into `target/examples/{out}`, and
/// compiles the result into the compile cache (once, not once per test in parallel).
pub fn compose(example: &str, wasm: &str, component: &Path, out: &str) -> PathBuf {
    let root = workspace_root();
    let target = root.join("target/examples");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"])
        .arg("--manifest-path")
        .arg(root.join("examples").join(example).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("run cargo");
    assert!(status.success(), "building examples/{example} failed");
    let status = Command::new(root.join("scripts/install-wac"))
        .status()
        .expect("run scripts/install-wac");
    assert!(status.success(), "installing wac failed");
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    let out = target.join(out);
    let status = Command::new(home.join("bin/wac"))
        .arg("plug")
        .arg(target.join("wasm32-wasip2/release").join(wasm))
        .arg("--plug")
        .arg(component)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run wac");
    assert!(status.success(), "wac plug failed");
    let engine = smtp_host::engine().unwrap();
    smtp_host::cache::load_file(&engine, &out).expect("compile the composition");
    out
}

/// Serves `composed` with `env`, allowing TCP only to `allowed`.
pub fn serve(composed: PathBuf, env: &[(&str, String)], allowed: &[SocketAddr]) -> SocketAddr {
    let mut options = Options::new(composed);
    options.listen = "127.0.0.1:0".parse().unwrap();
    options.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    options.allow_outbound = allowed.to_vec();
    wasi_host::serve::start(&options).expect("serve the composed app")
}

/// One HTTP/1.1 request to /send; the status and the body's JSON line.
pub fn request(addr: SocketAddr, method: &str, body: &[u8]) -> (u16, String) {
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

/// SMTP_HOST and SMTP_PORT for `server`.
pub fn server_env(server: &Aiosmtpd) -> Vec<(&'static str, String)> {
    vec![
        ("SMTP_HOST", "127.0.0.1".to_string()),
        ("SMTP_PORT", server.port.to_string()),
    ]
}

/// The address `server` listens on.
pub fn addr_of(server: &Aiosmtpd) -> SocketAddr {
    server.addr().parse().unwrap()
}

/// A message with a recipient aiosmtpd refuses (`--refuse-rcpt-prefix refuse`), a Bcc
/// and a line starting with a dot.
pub const MSG: &[u8] = b"From: Web <web@example.com>\r\nTo: a@example.com, refuse-b@example.com\r\nBcc: c@example.com\r\nSubject: posted\r\n\r\n.dot line\r\nbody\r\n";

/// [`MSG`] as it must arrive: send_message strips Bcc, everything else byte for byte.
pub const MSG_SENT: &[u8] = b"From: Web <web@example.com>\r\nTo: a@example.com, refuse-b@example.com\r\nSubject: posted\r\n\r\n.dot line\r\nbody\r\n";

/// The tests both composed apps must pass, expanded in each test file over its own
/// `serve(env, allowed)`: a POST delivers byte-exact to aiosmtpd and reports the refused
/// recipient; STARTTLS verifies the separate server name; a server that is down is an
/// error; Spin's outbound and no-DNS rules hold; only POST sends.
#[macro_export]
macro_rules! spin_app_suite {
    () => {
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
            // Verifying the IP literal fails: the certificate names only localhost.
            let (status, json) = request(serve(&env, &[addr_of(&server)]), "POST", MSG);
            assert_eq!(status, 502, "{json}");
            assert!(json.contains("tls:"), "{json}");
            env.push(("SMTP_TLS_SERVER_NAME", "localhost".into()));
            let (status, json) = request(serve(&env, &[addr_of(&server)]), "POST", MSG);
            assert_eq!(status, 200, "{json}");
            assert_eq!(server.wait_messages(1)[0].bytes, MSG_SENT);
        }

        #[test]
        fn a_post_while_the_server_is_down_is_an_error() {
            // The app is configured for a server that was running and is now stopped.
            let server = Aiosmtpd::start(&[]).unwrap();
            let (env, down) = (server_env(&server), addr_of(&server));
            drop(server);
            let app = serve(&env, &[down]);
            let (status, json) = request(app, "POST", MSG);
            assert_eq!(status, 502, "{json}");
            assert!(json.contains("\"sent\":false"), "{json}");
            assert!(json.contains("io:") || json.contains("connect"), "{json}");
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
    };
}
