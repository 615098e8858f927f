//! `cargo bench -p host-test --bench tls_handshake`: the mean time of one implicit-TLS
//! session setup (TCP connect, TLS handshake, greeting, QUIT) in the component and in
//! Python's smtplib (`SMTP_SSL`, CPython's `ssl`), against the same aiosmtpd, printed
//! side by side. Not a test: numbers, not pass/fail.

use std::process::Command;
use std::time::Instant;

use host_test::servers::{python, Aiosmtpd};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use smtp_host::{ClientOptions, SmtpHost, Stderr, TlsConfig};

const ROUNDS: usize = 200;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    // A CA and a leaf for localhost (OpenSSL will not take a self-signed leaf as a root).
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "bench CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = leaf.signed_by(&key, &ca).unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let (cert_file, key_file) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let server = Aiosmtpd::start(&[
        "--implicit-tls",
        "--tls-cert",
        cert_file.to_str().unwrap(),
        "--tls-key",
        key_file.to_str().unwrap(),
    ])
    .unwrap();

    let host = SmtpHost::shared().unwrap();
    let mut client = host
        .client(&ClientOptions::default(), Stderr::Inherit)
        .unwrap();
    let config = TlsConfig {
        server_name: Some("localhost".into()),
        extra_roots_pem: Some(ca.pem()),
        ..Default::default()
    };
    // One warm-up round, then the measured ones.
    let mut run = |n: usize| {
        let start = Instant::now();
        for _ in 0..n {
            client
                .connect_tls("localhost", Some(server.port), &config)
                .unwrap()
                .unwrap();
            client.quit().unwrap().unwrap();
        }
        start.elapsed().as_secs_f64() * 1000.0 / n as f64
    };
    run(1);
    let component_ms = run(ROUNDS);

    let script = format!(
        r#"
import smtplib, ssl, time
ctx = ssl.create_default_context(cafile={cafile:?})
def once():
    s = smtplib.SMTP_SSL("localhost", {port}, context=ctx)
    s.quit()
once()
t = time.perf_counter()
for _ in range({rounds}):
    once()
print((time.perf_counter() - t) * 1000 / {rounds})
"#,
        cafile = ca_file.to_str().unwrap(),
        port = server.port,
        rounds = ROUNDS,
    );
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!("python failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let python_ms: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(f64::NAN);

    println!(
        "implicit TLS: connect + handshake + greeting + QUIT, mean of {ROUNDS}, same aiosmtpd"
    );
    println!("{:<34} {:>10}", "client", "ms/session");
    println!(
        "{:<34} {:>10.2}",
        "smtp component (rustls in wasm)", component_ms
    );
    println!("{:<34} {:>10.2}", "Python smtplib (CPython ssl)", python_ms);
    println!("ratio python/component: {:.2}", python_ms / component_ms);
}
