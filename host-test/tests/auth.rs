//! Authentication: login and the built-in mechanisms against aiosmtpd and Dovecot
//! submission, the caller's own mechanism as AUTH steps, OAuth 2.0 tokens, a transcript
//! without secrets, and (from a scripted peer) the challenge cases CPython's smtplib
//! tests cover.

mod common;
use common::*;
use host_test::servers::Aiosmtpd;
use smtp_host::{AuthStep, Client, SaslMechanism, SmtpError};

const USER: &str = "alice";
const PASSWORD: &str = "alice-pw";

fn auth_server(extra: &[&str]) -> Aiosmtpd {
    let mut args = vec!["--auth", "alice:alice-pw"];
    args.extend_from_slice(extra);
    Aiosmtpd::start(&args).unwrap()
}

fn send(c: &mut Client) {
    let refused = c
        .sendmail(
            "alice@example.com",
            &strings(&["b@example.com"]),
            &text("Subject: authed\n\nhi\n"),
            &[],
            &[],
        )
        .unwrap()
        .unwrap();
    assert!(refused.is_empty());
}

#[test]
fn login_prefers_cram_md5_and_delivers() {
    let server = auth_server(&[]);
    let mut c = client();
    connect(&mut c, &server.addr());
    assert_eq!(c.login(USER, PASSWORD, true).unwrap().unwrap().code, 235);
    assert!(
        c.transcript().contains("send: AUTH CRAM-MD5"),
        "{}",
        c.transcript()
    );
    send(&mut c);
    assert_eq!(server.wait_messages(1)[0].envelope["auth_user"], USER);
}

#[test]
fn each_password_mechanism_delivers() {
    for (mechanism, name) in [
        (SaslMechanism::CramMd5, "CRAM-MD5"),
        (SaslMechanism::Plain, "PLAIN"),
        (SaslMechanism::Login, "LOGIN"),
    ] {
        for initial_response_ok in [true, false] {
            let server = auth_server(&[]);
            let mut c = client();
            connect(&mut c, &server.addr());
            let reply = c
                .login_with(mechanism, USER, PASSWORD, initial_response_ok)
                .unwrap();
            assert_eq!(reply.unwrap().code, 235, "{name} {initial_response_ok}");
            send(&mut c);
            assert_eq!(
                server.wait_messages(1)[0].envelope["auth_user"],
                USER,
                "{name}"
            );
        }
    }
}

#[test]
fn wrong_password_is_an_authentication_error_with_535() {
    let server = auth_server(&[]);
    let mut c = client();
    connect(&mut c, &server.addr());
    match c.login(USER, "wrong", true).unwrap() {
        Err(SmtpError::AuthenticationError(r)) => assert_eq!(r.code, 535),
        other => panic!("expected authentication-error, got {other:?}"),
    }
    // smtplib's order: every advertised password mechanism was tried.
    let t = c.transcript();
    assert!(
        t.contains("AUTH CRAM-MD5") && t.contains("AUTH PLAIN") && t.contains("AUTH LOGIN"),
        "{t}"
    );
    // The session is still usable, and a later login works.
    assert_eq!(c.login(USER, PASSWORD, true).unwrap().unwrap().code, 235);
}

#[test]
fn no_auth_or_no_usable_mechanism_is_not_supported() {
    let plain = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &plain.addr());
    assert_eq!(
        c.login(USER, PASSWORD, true).unwrap().unwrap_err().kind(),
        "not-supported"
    );
    let oauth_only = auth_server(&["--auth-mechanisms", "XOAUTH2"]);
    let mut c = client();
    connect(&mut c, &oauth_only.addr());
    let err = c.login(USER, PASSWORD, true).unwrap().unwrap_err();
    assert_eq!(err.kind(), "not-supported", "{err:?}");
    assert!(format!("{err:?}").contains("XOAUTH2"), "{err:?}");
}

#[test]
fn oauth2_tokens() {
    let server = auth_server(&[]);
    for mechanism in [SaslMechanism::Xoauth2, SaslMechanism::Oauthbearer] {
        let mut c = client();
        connect(&mut c, &server.addr());
        // aiosmtpd's test handler takes the password as the valid token.
        assert_eq!(
            c.login_with(mechanism, USER, "alice-pw", true)
                .unwrap()
                .unwrap()
                .code,
            235
        );
        let mut c = client();
        connect(&mut c, &server.addr());
        match c
            .login_with(mechanism, USER, "expired-token", true)
            .unwrap()
        {
            Err(SmtpError::AuthenticationError(r)) => {
                assert_eq!(r.code, 535);
                // The server's JSON error, decoded from its challenge, ends the text.
                assert!(
                    r.text.lines().last().unwrap().contains("\"status\""),
                    "{r:?}"
                );
            }
            other => panic!("{mechanism:?}: expected authentication-error, got {other:?}"),
        }
    }
}

#[test]
fn transcript_never_shows_secrets() {
    let server = auth_server(&[]);
    let secrets = [
        PASSWORD.to_string(),
        "YWxpY2UtcHc=".to_string(),         // base64("alice-pw")
        "AGFsaWNlAGFsaWNlLXB3".to_string(), // base64("\0alice\0alice-pw")
        "the-oauth-token".to_string(),
    ];
    let mut c = client();
    c.set_debuglevel(2).unwrap();
    connect(&mut c, &server.addr());
    for mechanism in [
        SaslMechanism::Plain,
        SaslMechanism::Login,
        SaslMechanism::CramMd5,
    ] {
        c.login_with(mechanism, USER, PASSWORD, true)
            .unwrap()
            .unwrap();
        c.rset().unwrap().unwrap();
        connect(&mut c, &server.addr());
    }
    let _ = c
        .login_with(SaslMechanism::Xoauth2, USER, "the-oauth-token", true)
        .unwrap();
    let t = c.transcript();
    assert!(t.contains("AUTH PLAIN <credentials hidden>"), "{t}");
    for secret in &secrets {
        assert!(!t.contains(secret.as_str()), "{secret} in:\n{t}");
    }
}

#[test]
fn a_callers_mechanism_as_auth_steps() {
    let server = auth_server(&[]);
    let mut c = client();
    connect(&mut c, &server.addr());
    // PLAIN by hand, without an initial response: an empty challenge first.
    match c.auth_start("PLAIN", None).unwrap().unwrap() {
        AuthStep::Challenge(ch) => assert!(ch.is_empty()),
        other => panic!("{other:?}"),
    }
    match c.auth_continue(b"\0alice\0alice-pw").unwrap().unwrap() {
        AuthStep::Done(r) => assert_eq!(r.code, 235),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.auth_continue(b"x").unwrap().unwrap_err().kind(),
        "invalid-argument"
    );
    send(&mut c);
    // Cancelling an exchange.
    let mut c = client();
    connect(&mut c, &server.addr());
    assert!(matches!(
        c.auth_start("CRAM-MD5", None).unwrap().unwrap(),
        AuthStep::Challenge(_)
    ));
    assert_eq!(c.auth_cancel().unwrap().unwrap().code, 501);
    assert_eq!(
        c.auth_start("BAD\r\nMAIL", None)
            .unwrap()
            .unwrap_err()
            .kind(),
        "invalid-argument"
    );
}

#[test]
fn dovecot_submission_each_mechanism_over_starttls() {
    let (pki, store, dovecot) = dovecot_relaying();
    let tls = pki.trusting();
    let mut delivered = 0;
    for mechanism in [
        SaslMechanism::Plain,
        SaslMechanism::Login,
        SaslMechanism::CramMd5,
    ] {
        let mut c = client();
        c.connect("127.0.0.1", Some(dovecot.submission_port))
            .unwrap()
            .unwrap();
        c.starttls(&tls).unwrap().unwrap();
        assert_eq!(
            c.login_with(mechanism, USER, PASSWORD, true)
                .unwrap()
                .unwrap()
                .code,
            235,
            "{mechanism:?}"
        );
        send(&mut c);
        delivered += 1;
        c.quit().unwrap().unwrap();
    }
    assert_eq!(store.wait_messages(delivered).len(), delivered);
    let mut c = client();
    c.connect("127.0.0.1", Some(dovecot.submission_port))
        .unwrap()
        .unwrap();
    c.starttls(&tls).unwrap().unwrap();
    match c
        .login_with(SaslMechanism::Plain, USER, "wrong", true)
        .unwrap()
    {
        Err(SmtpError::AuthenticationError(r)) => assert_eq!(r.code, 535),
        other => panic!("expected authentication-error, got {other:?}"),
    }
}

const EHLO_AUTH: &[u8] = b"250-scripted\r\n250 AUTH CRAM-MD5 PLAIN LOGIN\r\n";

/// What `peer` read, once the client `c` has gone away.
fn seen_text(mut c: smtp_host::Client, peer: ScriptPeer) -> String {
    c.close().unwrap();
    let played = peer.finish();
    assert_eq!(played.mismatch, None);
    played.text()
}

#[test]
fn scripted_plain_after_an_empty_challenge() {
    let peer = scripted_peer(
        &[
            ("EHLO", EHLO_AUTH),
            ("AUTH PLAIN", b"334 \r\n"),
            ("", b"235 ok\r\n"),
        ],
        until_closed(),
    );
    let mut c = client();
    c.connect("127.0.0.1", Some(peer.port)).unwrap().unwrap();
    c.login_with(SaslMechanism::Plain, "user", "pass", false)
        .unwrap()
        .unwrap();
    assert!(seen_text(c, peer).contains("AUTH PLAIN\r\nAHVzZXIAcGFzcw==\r\n"));
}

#[test]
fn scripted_login_with_and_without_initial_response() {
    let peer = scripted_peer(
        &[
            ("EHLO", EHLO_AUTH),
            ("AUTH LOGIN", b"334 UGFzc3dvcmQ6\r\n"),
            ("", b"235 ok\r\n"),
        ],
        until_closed(),
    );
    let mut c = client();
    c.connect("127.0.0.1", Some(peer.port)).unwrap().unwrap();
    c.login_with(SaslMechanism::Login, "user", "pass", true)
        .unwrap()
        .unwrap();
    assert!(seen_text(c, peer).contains("AUTH LOGIN dXNlcg==\r\ncGFzcw==\r\n"));

    let peer = scripted_peer(
        &[
            ("EHLO", EHLO_AUTH),
            ("AUTH LOGIN", b"334 VXNlcm5hbWU6\r\n"),
            ("", b"334 UGFzc3dvcmQ6\r\n"),
            ("", b"235 ok\r\n"),
        ],
        until_closed(),
    );
    let mut c = client();
    c.connect("127.0.0.1", Some(peer.port)).unwrap().unwrap();
    c.login_with(SaslMechanism::Login, "user", "pass", false)
        .unwrap()
        .unwrap();
    assert!(seen_text(c, peer).contains("AUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n"));
}

#[test]
fn scripted_endless_challenges_end_in_an_error() {
    let mut steps: Vec<(&'static str, &'static [u8])> =
        vec![("EHLO", EHLO_AUTH), ("AUTH PLAIN", b"334 \r\n")];
    steps.extend(std::iter::repeat_n(("", &b"334 \r\n"[..]), 5));
    steps.push(("*", b"501 5.7.0 cancelled\r\n"));
    let peer = scripted_peer(&steps, until_closed());
    let mut c = client();
    c.connect("127.0.0.1", Some(peer.port)).unwrap().unwrap();
    match c
        .login_with(SaslMechanism::Plain, "user", "pass", false)
        .unwrap()
    {
        Err(SmtpError::AuthenticationError(r)) => assert_eq!(r.code, 334),
        other => panic!("expected authentication-error, got {other:?}"),
    }
    assert!(c.is_connected().unwrap());
    assert!(seen_text(c, peer).ends_with("*\r\n"));
}

#[test]
fn scripted_fallback_past_504() {
    let peer = scripted_peer(
        &[
            ("EHLO", EHLO_AUTH),
            (
                "AUTH CRAM-MD5",
                b"504 5.5.4 unrecognized authentication type\r\n",
            ),
            ("AUTH PLAIN", b"235 ok\r\n"),
        ],
        until_closed(),
    );
    let mut c = client();
    c.connect("127.0.0.1", Some(peer.port)).unwrap().unwrap();
    assert_eq!(c.login("user", "pass", true).unwrap().unwrap().code, 235);
    assert!(seen_text(c, peer).contains("AUTH PLAIN AHVzZXIAcGFzcw==\r\n"));
}
