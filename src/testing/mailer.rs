//! The mailer natively (`crate::mail::send`) against the model server: the delivery
//! report, DSN and REQUIRETLS parameters and refusals before anything of the message
//! is sent, Bcc in the envelope only, LMTP per-recipient verdicts.

use super::peer::{Pair, ServerConfig};
use crate::client::{Client, ClientOptions};
use crate::error::SmtpError;
use crate::mail::send::{send, send_bytes};
use crate::mail::{Dsn, DsnReturn, Mail, MailOptions, Mailbox, Notify, Security, Transport};
use crate::tls_config::TlsSettings;

fn mb(address: &str) -> Mailbox {
    Mailbox {
        name: None,
        address: address.into(),
    }
}

fn mail() -> Mail {
    Mail {
        from: mb("a@example.com"),
        to: vec![mb("b@example.org"), mb("refused@example.org")],
        bcc: vec![mb("hidden@example.net")],
        subject: "hi".into(),
        text: Some("body\n".into()),
        ..Mail::default()
    }
}

fn transport() -> Transport {
    Transport {
        host: "127.0.0.1".into(),
        port: Some(2525),
        security: Security::None,
        tls: TlsSettings::default(),
        credentials: None,
        allow_insecure_auth: false,
        local_hostname: None,
        timeout_ms: None,
        lmtp: false,
    }
}

fn server(extensions: &[&str], lmtp: bool) -> Pair {
    Pair::new(ServerConfig {
        lmtp,
        extensions: extensions.iter().map(|s| s.to_string()).collect(),
        refuse_rcpt: vec!["refused@example.org".into()],
        ..ServerConfig::default()
    })
}

fn wire(pair: &Pair) -> String {
    String::from_utf8_lossy(&pair.server.borrow().wire).into_owned()
}

#[test]
fn the_report_of_a_pipelined_chunked_send() {
    let pair = server(&["PIPELINING", "CHUNKING", "SIZE 1000000", "DSN"], false);
    let mut m = mail();
    m.options.dsn = Some(Dsn {
        notify: Some(Notify::On {
            success: true,
            failure: true,
            delay: false,
        }),
        ret: Some(DsnReturn::Headers),
        envid: Some("X 1".into()),
        orcpt: true,
        best_effort: false,
    });
    let d = send(pair.clone(), &transport(), &m).unwrap();
    assert_eq!(d.queue_id.as_deref(), Some("4XyZ"));
    assert_eq!(d.reply.code, 250);
    let accepted: Vec<&str> = d.accepted.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(accepted, ["b@example.org", "hidden@example.net"]);
    assert!(d.accepted.iter().all(|(_, r)| r.code == 250));
    assert_eq!(d.refused.len(), 1);
    assert_eq!(d.refused[0].recipient, "refused@example.org");
    assert_eq!(d.extensions, ["pipelining", "chunking", "size", "dsn"]);
    assert!(d.lmtp_replies.is_empty());
    let w = wire(&pair);
    assert!(w.contains("MAIL FROM:<a@example.com> SIZE="), "{w}");
    assert!(w.contains(" RET=HDRS ENVID=X+201\r\n"), "{w}");
    assert!(
        w.contains("RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.org\r\n"),
        "{w}"
    );
    assert!(w.contains("RCPT TO:<hidden@example.net>"), "{w}");
    assert!(w.ends_with("QUIT\r\n"), "{w}");
    let data = &pair.server.borrow().deliveries[0].data;
    assert!(!String::from_utf8_lossy(data).contains("hidden@"));
}

#[test]
fn require_tls_in_clear_sends_nothing() {
    // Over Security::None: refused before connecting.
    let pair = server(&["REQUIRETLS"], false);
    let mut m = mail();
    m.options.require_tls = true;
    assert!(matches!(
        send(pair.clone(), &transport(), &m),
        Err(SmtpError::NotSupported(_))
    ));
    assert!(pair.target.borrow().is_none());
    // Over a connected client in clear: nothing of the transaction is sent.
    let mut c = Client::new(pair.clone(), ClientOptions::default());
    c.connect("127.0.0.1", None).unwrap();
    let options = MailOptions {
        require_tls: true,
        ..MailOptions::default()
    };
    let r = send_bytes(
        &mut c,
        "a@x.org",
        &["b@x.org".into()],
        b"x\r\n".to_vec(),
        &options,
    );
    assert!(matches!(r, Err(SmtpError::NotSupported(_))), "{r:?}");
    assert!(!wire(&pair).contains("MAIL"), "{}", wire(&pair));
}

#[test]
fn dsn_not_offered_is_refused_unless_best_effort() {
    let pair = server(&["PIPELINING"], false);
    let mut m = mail();
    m.options.dsn = Some(Dsn {
        ret: Some(DsnReturn::Full),
        ..Dsn::default()
    });
    assert!(matches!(
        send(pair.clone(), &transport(), &m),
        Err(SmtpError::NotSupported(_))
    ));
    assert!(!wire(&pair).contains("MAIL"), "{}", wire(&pair));
    if let Some(d) = m.options.dsn.as_mut() {
        d.best_effort = true;
    }
    let d = send(pair.clone(), &transport(), &m).unwrap();
    assert!(!wire(&pair).contains("RET="), "{}", wire(&pair));
    assert_eq!(d.extensions, ["pipelining"]);
}

#[test]
fn lmtp_reports_every_recipient() {
    let pair = Pair::new(ServerConfig {
        lmtp: true,
        refuse_after_data: vec!["hidden@example.net".into()],
        ..ServerConfig::default()
    });
    let t = Transport {
        lmtp: true,
        ..transport()
    };
    let mut m = mail();
    m.to = vec![mb("b@example.org")];
    let d = send(pair, &t, &m).unwrap();
    let finals: Vec<(&str, u16)> = d
        .lmtp_replies
        .iter()
        .map(|(r, reply)| (r.as_str(), reply.code))
        .collect();
    assert_eq!(
        finals,
        [("b@example.org", 250), ("hidden@example.net", 552)]
    );
    assert_eq!(d.refused.len(), 1);
}

#[test]
fn international_addresses_need_smtputf8() {
    let mut m = mail();
    m.to = vec![mb("jörg@example.org")];
    let pair = server(&[], false);
    assert!(matches!(
        send(pair.clone(), &transport(), &m),
        Err(SmtpError::NotSupported(_))
    ));
    assert!(!wire(&pair).contains("MAIL"));
    let pair = server(&["SMTPUTF8", "8BITMIME"], false);
    let d = send(pair.clone(), &transport(), &m).unwrap();
    assert!(d.extensions.contains(&"smtputf8".to_string()));
    assert!(
        wire(&pair).contains("SMTPUTF8 BODY=8BITMIME"),
        "{}",
        wire(&pair)
    );
}

#[test]
fn starttls_required_is_never_downgraded() {
    let pair = server(&[], false);
    let t = Transport {
        security: Security::StartTlsRequired,
        port: None,
        ..transport()
    };
    assert!(matches!(
        send(pair.clone(), &t, &mail()),
        Err(SmtpError::NotSupported(_))
    ));
    assert_eq!(pair.target.borrow().clone().unwrap().0.port, 587);
    assert!(!wire(&pair).contains("MAIL"));
}
