//! `smtp-send --user` against aiosmtpd with AUTH (`--auth alice:alice-pw`): every
//! mechanism delivers as alice, refusals are `authentication-error` with nothing stored,
//! OAuth 2.0 tokens, STARTTLS before AUTH, and no secret in the debug transcript.

mod common;

use std::process::{Command, Output};

use common::servers::Aiosmtpd;
use serde_json::Value;

const USER: &str = "alice";
const PASSWORD: &str = "alice-pw";
/// The variable the tests pass the secret in.
const VAR: &str = "SMTP_SEND_TEST_SECRET";

fn auth_server(extra: &[&str]) -> Aiosmtpd {
    let mut args = vec!["--auth", "alice:alice-pw"];
    args.extend_from_slice(extra);
    Aiosmtpd::start(&args).unwrap()
}

/// Runs smtp-send from a@example.com to b@example.com through `server` with `args`,
/// and `secret` (if any) in [`VAR`].
fn output(server: &Aiosmtpd, secret: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smtp-send"));
    cmd.args(["--server", &server.addr()])
        .args(["--from", "a@example.com", "--to", "b@example.com"])
        .args(args)
        .env_remove(VAR);
    if let Some(s) = secret {
        cmd.env(VAR, s);
    }
    cmd.output().expect("run smtp-send")
}

/// Like [`output`] with `--json`: the exit code and the parsed JSON.
fn run(server: &Aiosmtpd, secret: Option<&str>, args: &[&str]) -> (i32, Value) {
    let out = output(server, secret, &[args, &["--json"]].concat());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout:?}"));
    (out.status.code().unwrap_or(-1), json)
}

/// `--user alice --password-env VAR`, then `more`.
fn with_password(more: &[&str]) -> Vec<String> {
    ["--user", USER, "--password-env", VAR]
        .iter()
        .chain(more)
        .map(|s| s.to_string())
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Nothing was stored, after giving the server time to write anything it would.
fn assert_nothing_stored(server: &Aiosmtpd) {
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(server.messages().is_empty());
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_matches_rfc_4648() {
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(b"\0alice\0alice-pw"), "AGFsaWNlAGFsaWNlLXB3");
}

#[test]
fn each_mechanism_delivers_as_alice() {
    let server = auth_server(&[]);
    let mechs = ["CRAM-MD5", "PLAIN", "LOGIN", "login"];
    for mech in mechs {
        let args = with_password(&["--auth-mech", mech]);
        let (code, json) = run(&server, Some(PASSWORD), &strs(&args));
        assert_eq!(code, 0, "{mech}: {json}");
        assert_eq!(json["sent"], 1, "{mech}: {json}");
    }
    let stored = server.wait_messages(mechs.len());
    assert_eq!(stored.len(), mechs.len());
    for s in &stored {
        assert_eq!(s.envelope["auth_user"], USER);
    }
}

#[test]
fn without_auth_mech_login_picks_an_offered_mechanism() {
    for offered in [None, Some("LOGIN"), Some("PLAIN")] {
        let server = match offered {
            Some(m) => auth_server(&["--auth-mechanisms", m]),
            None => auth_server(&[]),
        };
        let (code, json) = run(&server, Some(PASSWORD), &strs(&with_password(&[])));
        assert_eq!(code, 0, "{offered:?}: {json}");
        let stored = server.wait_messages(1);
        assert_eq!(stored[0].envelope["auth_user"], USER);
    }
}

#[test]
fn password_file_first_line_is_the_password() {
    let server = auth_server(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, b"alice-pw\r\nnot this line\n").unwrap();
    let file = file.to_str().unwrap();
    let (code, json) = run(
        &server,
        None,
        &[
            "--user",
            USER,
            "--password-file",
            file,
            "--auth-mech",
            "plain",
        ],
    );
    assert_eq!(code, 0, "{json}");
    assert_eq!(server.wait_messages(1)[0].envelope["auth_user"], USER);
}

#[test]
fn wrong_password_is_an_authentication_error_and_nothing_is_sent() {
    let server = auth_server(&[]);
    for mech in [
        &["--auth-mech", "PLAIN"][..],
        &["--auth-mech", "CRAM-MD5"],
        &[],
    ] {
        let (code, json) = run(&server, Some("wrong-pw"), &strs(&with_password(mech)));
        assert_eq!(code, 1, "{mech:?}: {json}");
        assert_eq!(json["ok"], false);
        assert_eq!(json["sent"], 0);
        assert_eq!(json["error"]["kind"], "authentication-error", "{json}");
        assert_eq!(json["error"]["code"], 535, "{json}");
        assert!(json["error"]["text"].is_string(), "{json}");
    }
    assert_nothing_stored(&server);
}

#[test]
fn oauth2_tokens_good_and_bad() {
    let server = auth_server(&[]);
    // XOAUTH2 is the default for --oauth2-token-env; aiosmtpd takes the password as token.
    for (stored, mech) in [(0, &[][..]), (1, &["--auth-mech", "oauthbearer"])] {
        let args = [&["--user", USER, "--oauth2-token-env", VAR][..], mech].concat();
        let (code, json) = run(&server, Some("bad-token"), &args);
        assert_eq!(code, 1, "{mech:?}: {json}");
        assert_eq!(json["error"]["kind"], "authentication-error", "{json}");
        assert_eq!(server.messages().len(), stored, "{mech:?}");
        let (code, json) = run(&server, Some(PASSWORD), &args);
        assert_eq!(code, 0, "{mech:?}: {json}");
        server.wait_messages(stored + 1);
    }
    let stored = server.wait_messages(2);
    assert_eq!(stored.len(), 2);
    for s in &stored {
        assert_eq!(s.envelope["auth_user"], USER);
    }
}

#[test]
fn debug_output_shows_no_secret() {
    let server = auth_server(&[]);
    let secrets = [
        PASSWORD.to_string(),
        base64(PASSWORD.as_bytes()),
        base64(b"\0alice\0alice-pw"),
        base64(b"user=alice\x01auth=Bearer alice-pw\x01\x01"),
        base64(b"n,a=alice,\x01auth=Bearer alice-pw\x01\x01"),
    ];
    let runs: [&[&str]; 6] = [
        &["--password-env", VAR, "--auth-mech", "PLAIN"],
        &["--password-env", VAR, "--auth-mech", "LOGIN"],
        &["--password-env", VAR, "--auth-mech", "CRAM-MD5"],
        &["--password-env", VAR],
        &["--oauth2-token-env", VAR],
        &["--oauth2-token-env", VAR, "--auth-mech", "OAUTHBEARER"],
    ];
    for (i, flags) in runs.iter().enumerate() {
        let args = [&["--user", USER, "--debug", "2"][..], flags].concat();
        let out = output(&server, Some(PASSWORD), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{flags:?}: {stderr}");
        assert!(stderr.contains("send: AUTH "), "{flags:?}: {stderr}");
        for secret in &secrets {
            assert!(!stderr.contains(secret.as_str()), "{flags:?}: {stderr}");
            assert!(!stdout.contains(secret.as_str()), "{flags:?}: {stdout}");
        }
        assert_eq!(server.wait_messages(i + 1).len(), i + 1);
    }
    // A refused password is not shown either, in the transcript or the error.
    let out = output(
        &server,
        Some("wrong-pw"),
        &strs(&with_password(&["--auth-mech", "PLAIN", "--debug", "2"])),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("authentication-error"), "{stderr}");
    assert!(!stderr.contains("wrong-pw"), "{stderr}");
    assert!(!stderr.contains(&base64(b"\0alice\0wrong-pw")), "{stderr}");
}

#[test]
fn a_server_without_auth_is_not_supported() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let (code, json) = run(&server, Some(PASSWORD), &strs(&with_password(&[])));
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["error"]["kind"], "not-supported", "{json}");
    assert!(json["error"]["message"].is_string(), "{json}");
    assert_nothing_stored(&server);
}

#[test]
fn starttls_comes_before_auth() {
    // aiosmtpd with a certificate offers AUTH only after STARTTLS.
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let path = |name: &str, pem: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, pem).unwrap();
        p.to_string_lossy().into_owned()
    };
    let (ca_file, cert_file, key_file) = (
        path("ca.pem", ca.pem()),
        path("cert.pem", cert.pem()),
        path("key.pem", key.serialize_pem()),
    );
    let server = auth_server(&["--tls-cert", &cert_file, "--tls-key", &key_file]);
    let tls = [
        "--starttls",
        "--ca-file",
        &ca_file,
        "--tls-server-name",
        "localhost",
    ];
    // Without STARTTLS the server offers no AUTH.
    let (code, json) = run(&server, Some(PASSWORD), &strs(&with_password(&[])));
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["error"]["kind"], "not-supported", "{json}");
    let (code, json) = run(&server, Some(PASSWORD), &strs(&with_password(&tls)));
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["tls"], true);
    let stored = server.wait_messages(1);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].envelope["auth_user"], USER);
}

#[test]
fn usage_errors_exit_2_before_connecting() {
    let server = Aiosmtpd::start(&[]).unwrap();
    for (args, says) in [
        (&["--user", USER][..], "--password-env"),
        (
            &[
                "--user",
                USER,
                "--password-env",
                VAR,
                "--password-file",
                "f",
            ],
            "exclude",
        ),
        (
            &[
                "--user",
                USER,
                "--password-env",
                VAR,
                "--oauth2-token-env",
                VAR,
            ],
            "exclude",
        ),
        (&["--password-env", VAR], "needs --user"),
        (
            &["--user", USER, "--password-env", VAR, "--auth-mech", "NTLM"],
            "--auth-mech",
        ),
        (
            &[
                "--user",
                USER,
                "--password-env",
                VAR,
                "--auth-mech",
                "XOAUTH2",
            ],
            "token",
        ),
        (
            &[
                "--user",
                USER,
                "--oauth2-token-env",
                VAR,
                "--auth-mech",
                "PLAIN",
            ],
            "XOAUTH2",
        ),
        (&["--password", PASSWORD], "--password-env"),
    ] {
        let (code, json) = run(&server, Some(PASSWORD), args);
        assert_eq!(code, 2, "{args:?}: {json}");
        assert_eq!(json["error"]["kind"], "host");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{args:?}: {message}");
        assert!(!message.contains(PASSWORD), "{args:?}: {message}");
    }
    // An unset variable is a host failure too, found before connecting.
    let (code, json) = run(&server, None, &strs(&with_password(&[])));
    assert_eq!(code, 2, "{json}");
    assert!(json["error"]["message"].as_str().unwrap().contains(VAR));
    assert_nothing_stored(&server);
}

#[test]
fn demo_mode_has_no_auth() {
    let out = Command::new(env!("CARGO_BIN_EXE_smtp-send"))
        .args(["--user", USER, "--password-env", VAR, "--json"])
        .env(VAR, PASSWORD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["kind"], "host");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(message.contains("no AUTH"), "{message}");
}
