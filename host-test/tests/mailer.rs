//! The `mailer` interface through smtp-host's API (`mailer_send`, `compose`,
//! `send_mail`, `send_bytes_with`) against real servers: aiosmtpd stores what arrives
//! byte for byte, Python's `email` reads the composed message back, and a private
//! Postfix takes a `starttls-required` transport. Written against
//! `SmtpHost::shared()`, so `SMTP_TEST_WASI=p3` runs the same tests on the WASI 0.3
//! build (scripts/test does); with host-test's `p3` feature, one more test calls the
//! mailer through clients of one `P3Instance`.

mod common;
use base64::Engine;
use common::*;
use host_test::servers::{mail_check, part_types, Aiosmtpd};
use serde_json::Value;
use smtp_host::{Attachment, Mail, MailOptions, Mailbox, Security, Transport};

/// A mailbox without a display name.
fn mailbox(address: &str) -> Mailbox {
    Mailbox {
        name: None,
        address: address.into(),
    }
}

/// A text-only mail with a fixed Date and Message-ID: single-part, so no random MIME
/// boundary, and its composed bytes are the same on every call.
fn fixed_mail() -> Mail {
    Mail {
        from: Mailbox {
            name: Some("Jörg Müller".into()),
            address: "joerg@example.com".into(),
        },
        sender: None,
        to: vec![mailbox("to@example.org")],
        cc: vec![mailbox("cc@example.org")],
        bcc: vec![mailbox("hidden@example.net")],
        reply_to: Vec::new(),
        subject: "Grüße 🚀".into(),
        date: Some(1_764_547_200),
        message_id: Some("fixed.1@example.com".into()),
        in_reply_to: Vec::new(),
        references: Vec::new(),
        headers: Vec::new(),
        text: Some("Hallo,\n.a dot line\nbis bald\n".into()),
        html: None,
        attachments: Vec::new(),
        options: MailOptions::default(),
    }
}

/// A transport to `port` on loopback without TLS, as aiosmtpd needs.
fn plain_transport(port: u16) -> Transport {
    Transport {
        host: "127.0.0.1".into(),
        port: Some(port),
        security: Security::None,
        tls: None,
        credentials: None,
        allow_insecure_auth: false,
        local_hostname: None,
        timeout_ms: Some(10_000),
        lmtp: false,
    }
}

/// Python's `email` on `bytes` (host-test/servers/mail_check.py), as JSON.
fn read_back(bytes: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.eml");
    std::fs::write(&file, bytes).unwrap();
    mail_check(&file, None).unwrap()
}

/// A leaf part's content as Python decoded it.
fn content(part: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(part["content_b64"].as_str().unwrap())
        .unwrap()
}

#[test]
fn compose_reads_back_part_for_part() {
    let pdf: Vec<u8> = (0..3000u32).map(|i| (i * 7919 % 256) as u8).collect();
    let mail = Mail {
        html: Some("<p>Hallo <b>Welt</b></p>\n".into()),
        attachments: vec![Attachment {
            filename: "Übersicht März.pdf".into(),
            content_type: "application/pdf".into(),
            content: pdf.clone(),
            content_id: None,
        }],
        date: None,
        message_id: None,
        ..fixed_mail()
    };
    let mut c = client();
    let bytes = c.compose(&mail).expect("no trap").expect("composed");
    assert!(!String::from_utf8_lossy(&bytes).contains("hidden@"));
    let got = read_back(&bytes);
    assert_eq!(got["subject"], "Grüße 🚀", "{got}");
    assert_eq!(got["from"], "Jörg Müller <joerg@example.com>");
    assert_eq!(got["cc"], "cc@example.org");
    assert_eq!(got["defects"], serde_json::json!([]), "{got}");
    assert!(got["message_id"]
        .as_str()
        .unwrap()
        .ends_with("@example.com>"));
    let parts = got["parts"].as_array().unwrap();
    assert_eq!(
        part_types(&got),
        [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "application/pdf"
        ]
    );
    assert_eq!(content(&parts[2]), b"Hallo,\r\n.a dot line\r\nbis bald\r\n");
    assert_eq!(content(&parts[3]), b"<p>Hallo <b>Welt</b></p>\r\n");
    assert_eq!(parts[4]["filename"], "Übersicht März.pdf");
    assert_eq!(content(&parts[4]), pdf);

    // A bad address is refused before anything is built.
    let bad = Mail {
        to: vec![mailbox("no at sign")],
        ..fixed_mail()
    };
    let err = c.compose(&bad).expect("no trap").unwrap_err();
    assert_eq!(err.kind(), "invalid-argument", "{err:?}");
}

#[test]
fn send_delivers_the_composed_bytes() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    let mail = fixed_mail();
    let composed = c.compose(&mail).unwrap().unwrap();
    let delivery = c
        .mailer_send(&plain_transport(server.port), &mail)
        .expect("no trap")
        .expect("delivered");
    assert_eq!(delivery.reply.code, 250);
    let accepted: Vec<&str> = delivery
        .accepted
        .iter()
        .map(|a| a.recipient.as_str())
        .collect();
    assert_eq!(
        accepted,
        ["to@example.org", "cc@example.org", "hidden@example.net"]
    );
    let stored = server.wait_messages(1);
    assert_eq!(stored[0].mail_from(), "joerg@example.com");
    assert_eq!(stored[0].bytes, composed);
    // mailer.send used a connection of its own: this client never connected.
    assert!(!c.is_connected().unwrap());
}

#[test]
fn send_with_and_send_bytes_with_use_the_clients_connection() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    connect(&mut c, &server.addr());
    let mail = fixed_mail();
    let composed = c.compose(&mail).unwrap().unwrap();
    let delivery = c.send_mail(&mail).expect("no trap").expect("sent");
    assert_eq!(delivery.accepted.len(), 3);
    let raw = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: raw\r\n\r\nraw body\r\n";
    let to = strings(&["b@example.org"]);
    let delivery = c
        .send_bytes_with("a@example.com", &to, raw, &MailOptions::default())
        .expect("no trap")
        .expect("sent");
    assert_eq!(delivery.accepted[0].recipient, "b@example.org");
    assert!(c.is_connected().unwrap(), "the connection stays open");
    c.quit().unwrap().unwrap();
    let stored = server.wait_messages(2);
    assert_eq!(stored[0].bytes, composed);
    assert_eq!(stored[1].bytes, raw);
    assert_eq!(stored[1].rcpt_tos(), ["b@example.org"]);
    // One connection for both: the transcript has one greeting.
    assert_eq!(c.transcript().matches("reply: 220").count(), 1);
}

#[test]
fn require_tls_and_dsn_are_refused_before_the_message() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    // REQUIRETLS over `security: none`: not even a connection.
    let mail = Mail {
        options: MailOptions {
            require_tls: true,
            ..MailOptions::default()
        },
        ..fixed_mail()
    };
    let err = c
        .mailer_send(&plain_transport(server.port), &mail)
        .expect("no trap")
        .unwrap_err();
    assert_eq!(err.kind(), "not-supported", "{err:?}");
    // DSN to a server without it (aiosmtpd): refused before MAIL.
    connect(&mut c, &server.addr());
    let options = MailOptions {
        dsn: Some(smtp_host::Dsn {
            notify: Some(smtp_host::DsnNotify::Never),
            ret: None,
            envid: None,
            orcpt: false,
            best_effort: false,
        }),
        ..MailOptions::default()
    };
    let err = c
        .send_bytes_with(
            "a@example.com",
            &strings(&["b@example.org"]),
            b"Subject: x\r\n\r\nx\r\n",
            &options,
        )
        .expect("no trap")
        .unwrap_err();
    assert_eq!(err.kind(), "not-supported", "{err:?}");
    assert!(!c.transcript().contains("MAIL FROM"), "{}", c.transcript());
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(server.messages().is_empty());
}

#[test]
fn starttls_required_transport_to_postfix_reports_its_queue_id() {
    let (pki, store, postfix) = postfix_relaying();
    let transport = Transport {
        port: Some(postfix.smtp_port),
        security: Security::StarttlsRequired,
        tls: Some(pki.trusting()),
        ..plain_transport(postfix.smtp_port)
    };
    let mut c = client();
    let delivery = c
        .mailer_send(&transport, &fixed_mail())
        .expect("no trap")
        .expect("delivered");
    let id = delivery.queue_id.expect("Postfix names a queue id");
    assert!(delivery.reply.text.contains(&format!("queued as {id}")));
    assert!(delivery.extensions.iter().any(|e| e == "pipelining"));
    let stored = store.wait_messages(1);
    assert!(String::from_utf8_lossy(&stored[0].bytes).contains("Message-ID: <fixed.1@example.com>"));

    // Without the CA the certificate is not trusted: a `tls` error, nothing sent.
    let untrusting = Transport {
        tls: None,
        ..transport
    };
    let err = c
        .mailer_send(&untrusting, &fixed_mail())
        .expect("no trap")
        .unwrap_err();
    assert_eq!(err.kind(), "tls", "{err:?}");
}

/// The mailer from clients of ONE WASI 0.3 instance (`P3Client`): `compose`,
/// `send_mail` over each client's connection, and `mailer_send`.
#[cfg(feature = "p3")]
#[test]
fn p3_instance_clients_call_the_mailer() {
    use smtp_host::{ClientOptions, P3Instance, SmtpHost, Stderr, Wasi};

    let server = Aiosmtpd::start(&[]).unwrap();
    let addr = server.addr();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let composed = runtime.block_on(async {
        let host = SmtpHost::shared_wasi(Wasi::P3).unwrap();
        let mut instance = P3Instance::new(host, Stderr::Inherit).await.unwrap();
        instance
            .run(async |scope| {
                let options = ClientOptions::default();
                let mut a = scope.client(&options).await.unwrap();
                let mut b = scope.client(&options).await.unwrap();
                let composed = a.compose(&fixed_mail()).await.unwrap().unwrap();
                for c in [&mut a, &mut b] {
                    c.connect(&addr, None).await.unwrap().unwrap();
                    let d = c.send_mail(&fixed_mail()).await.unwrap().unwrap();
                    assert_eq!(d.accepted.len(), 3);
                    c.quit().await.unwrap().unwrap();
                }
                let port = addr.rsplit(':').next().unwrap().parse().unwrap();
                let d = b
                    .mailer_send(&plain_transport(port), &fixed_mail())
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(d.reply.code, 250);
                composed
            })
            .await
            .unwrap()
    });
    let stored = server.wait_messages(3);
    assert!(stored.iter().all(|m| m.bytes == composed));
}
