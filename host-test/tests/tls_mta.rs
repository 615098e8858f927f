//! TLS against full mail servers: a private Postfix (STARTTLS and wrapper-mode TLS) and
//! Dovecot submission (STARTTLS), each relaying to an aiosmtpd that stores the bytes.

mod common;
use common::*;
use smtp_host::TlsConfig;

const MSG: &[u8] = b"Subject: through a real MTA\r\n\r\n.a dot line\r\ncaf\xe9\r\n";

#[test]
fn postfix_starttls_and_wrapper_mode() {
    let (pki, store, postfix) = postfix_relaying();

    let mut c = client();
    c.connect("127.0.0.1", Some(postfix.smtp_port))
        .unwrap()
        .unwrap();
    c.starttls(&pki.trusting()).unwrap().unwrap();
    assert!(c.is_tls().unwrap());
    let to = strings(&["b@example.com"]);
    assert!(c
        .sendmail("a@example.com", &to, &bytes(MSG), &[], &[])
        .unwrap()
        .unwrap()
        .is_empty());
    c.quit().unwrap().unwrap();

    let mut c = client();
    c.connect_tls("127.0.0.1", Some(postfix.smtps_port), &pki.trusting())
        .unwrap()
        .unwrap();
    assert!(c
        .sendmail("a@example.com", &to, &bytes(MSG), &[], &[])
        .unwrap()
        .unwrap()
        .is_empty());
    c.quit().unwrap().unwrap();

    let stored = store.wait_messages(2);
    assert_eq!(stored.len(), 2, "postfix log:\n{}", postfix.log());
    for m in &stored {
        // Postfix puts its Received: header on top; the rest is what we sent.
        assert!(m.bytes.starts_with(b"Received: "));
        assert!(
            m.bytes.ends_with(MSG),
            "{:?}",
            String::from_utf8_lossy(&m.bytes)
        );
    }
}

#[test]
fn postfix_refuses_a_client_that_does_not_trust_it() {
    let (_pki, _store, postfix) = postfix_relaying();
    let mut c = client();
    c.connect("127.0.0.1", Some(postfix.smtp_port))
        .unwrap()
        .unwrap();
    let err = c.starttls(&TlsConfig::default()).unwrap().unwrap_err();
    assert_eq!(err.kind(), "tls", "{err:?}");
    let err = c
        .sendmail(
            "a@example.com",
            &strings(&["b@example.com"]),
            &bytes(MSG),
            &[],
            &[],
        )
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), "server-disconnected");
    assert!(!postfix.log().contains("MAIL FROM"));
}

#[test]
fn dovecot_submission_over_starttls() {
    let (pki, store, dovecot) = dovecot_relaying();
    let mut c = client();
    c.connect("127.0.0.1", Some(dovecot.submission_port))
        .unwrap()
        .unwrap();
    c.starttls(&pki.trusting()).unwrap().unwrap();
    assert!(c.is_tls().unwrap());
    c.ehlo(None).unwrap().unwrap();
    assert!(c.has_extn("auth").unwrap());
    // AUTH PLAIN by hand ("\0alice\0alice-pw"): the login methods come with the
    // authentication issue; here it only lets the submission server take a message.
    let reply = c
        .docmd("AUTH", Some("PLAIN AGFsaWNlAGFsaWNlLXB3"))
        .unwrap()
        .unwrap();
    assert_eq!(reply.code, 235, "{reply:?}");
    let to = strings(&["bob@example.com"]);
    assert!(c
        .sendmail("alice@localhost", &to, &bytes(MSG), &[], &[])
        .unwrap()
        .unwrap()
        .is_empty());
    c.quit().unwrap().unwrap();
    let stored = store.wait_messages(1);
    assert_eq!(stored.len(), 1);
    assert!(stored[0].bytes.ends_with(MSG));
}
