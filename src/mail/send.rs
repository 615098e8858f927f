//! `mailer.send` and friends: a message and its options over a [`Client`], in the
//! order that keeps every promise: everything checked (and signed) before anything is
//! sent, REQUIRETLS, DSN and SMTPUTF8 refused before MAIL, the delivery report after.

use super::{compose, dkim, dsn, Credentials, Mail, MailOptions, Security, Transport};
use crate::client::{Client, ClientOptions, Network};
use crate::delivery::Delivery;
use crate::error::SmtpError;

/// The port for STARTTLS submission when none is given (RFC 6409).
pub const SUBMISSION_PORT: u16 = 587;

/// Sends `msg` (RFC 5322 bytes) from `from` to `to` over `client`, already connected,
/// with `options`: DKIM-signed when asked, DSN and REQUIRETLS parameters added, SMTPUTF8
/// and BODY=8BITMIME when an address needs them.
#[maybe_async::maybe_async]
pub async fn send_bytes<N: Network>(
    client: &mut Client<N>,
    from: &str,
    to: &[String],
    msg: Vec<u8>,
    options: &MailOptions,
) -> Result<Delivery, SmtpError> {
    let start = client.now();
    let msg = match &options.dkim {
        Some(d) => dkim::sign(&msg, d, compose::now_secs())?,
        None => msg,
    };
    if to.is_empty() {
        return Err(SmtpError::InvalidArgument("no recipients given".into()));
    }
    if !client.is_connected() {
        return Err(SmtpError::ServerDisconnected(
            "not connected: call connect first".into(),
        ));
    }
    if options.require_tls && !client.is_tls() {
        // Refused before a single command of the transaction (RFC 8689 4.1).
        dsn::check_require_tls(false, client.features())?;
    }
    client.ehlo_or_helo_if_needed().await?;
    let params = dsn::parameters(options, to, client.features(), client.is_tls())?;
    let mut mail_options = params.mail;
    let international = !from.is_ascii() || to.iter().any(|a| !a.is_ascii());
    if international {
        if !client.features().has("smtputf8") {
            return Err(SmtpError::NotSupported(
                "an address needs internationalized email (SMTPUTF8), which the server does not advertise".into(),
            ));
        }
        mail_options.push("SMTPUTF8".into());
        mail_options.push("BODY=8BITMIME".into());
    } else if !msg.is_ascii() && client.features().has("8bitmime") {
        mail_options.push("BODY=8BITMIME".into());
    }
    let mut delivery = client
        .sendmail_each(from, to, msg, &mail_options, &params.rcpt)
        .await?;
    delivery.elapsed_ms = client.now().saturating_sub(start) / 1_000_000;
    Ok(delivery)
}

/// Builds `mail` and sends it over `client`, already connected.
#[maybe_async::maybe_async]
pub async fn send_with<N: Network>(
    client: &mut Client<N>,
    mail: &Mail,
) -> Result<Delivery, SmtpError> {
    let start = client.now();
    // DKIM is applied by `compose`; the rest of the options by `send_bytes`.
    let bytes = compose::compose(mail)?;
    let options = MailOptions {
        dkim: None,
        ..mail.options.clone()
    };
    let mut delivery = send_bytes(
        client,
        mail.envelope_from(),
        &mail.envelope_to(),
        bytes,
        &options,
    )
    .await?;
    delivery.elapsed_ms = client.now().saturating_sub(start) / 1_000_000;
    Ok(delivery)
}

/// `mailer.send`: builds `mail`, connects as `transport` says (never downgrading its
/// security), logs in, sends and quits. Every argument is checked, and the message
/// built and signed, before connecting; REQUIRETLS over `Security::None` is refused
/// without a connection.
#[maybe_async::maybe_async]
pub async fn send<N: Network>(
    net: N,
    transport: &Transport,
    mail: &Mail,
) -> Result<Delivery, SmtpError> {
    let start = net.now();
    let bytes = compose::compose(mail)?;
    if mail.options.require_tls && transport.security == Security::None {
        dsn::check_require_tls(false, &Default::default())?;
    }
    let options = ClientOptions {
        local_hostname: transport.local_hostname.clone(),
        timeout_ms: transport.timeout_ms,
        source_address: None,
    };
    let mut client = if transport.lmtp {
        Client::lmtp(net, options)
    } else {
        Client::new(net, options)
    };
    client.allow_insecure_auth(transport.allow_insecure_auth);
    let result = deliver(&mut client, transport, mail, bytes).await;
    match &result {
        Ok(_) => {
            // The message is delivered: a failing QUIT changes nothing about that.
            let _ = client.quit().await;
        }
        Err(_) => client.close(),
    }
    let mut delivery = result?;
    delivery.elapsed_ms = client.now().saturating_sub(start) / 1_000_000;
    Ok(delivery)
}

#[maybe_async::maybe_async]
async fn deliver<N: Network>(
    client: &mut Client<N>,
    transport: &Transport,
    mail: &Mail,
    bytes: Vec<u8>,
) -> Result<Delivery, SmtpError> {
    match transport.security {
        Security::ImplicitTls => {
            client
                .connect_tls(&transport.host, transport.port, &transport.tls)
                .await?;
        }
        Security::StartTlsRequired => {
            let port = match (transport.port, transport.lmtp) {
                (Some(p), _) => Some(p),
                (None, true) => None,
                (None, false) => Some(SUBMISSION_PORT),
            };
            client.connect(&transport.host, port).await?;
            client.starttls(&transport.tls).await?;
        }
        Security::None => {
            client.connect(&transport.host, transport.port).await?;
        }
    }
    match &transport.credentials {
        None => {}
        Some(Credentials::Password { user, password }) => {
            client.login(user, password, true).await?;
        }
        Some(Credentials::OAuth {
            user,
            token,
            mechanism,
        }) => {
            client.login_with(*mechanism, user, token, true).await?;
        }
    }
    let options = MailOptions {
        dkim: None,
        ..mail.options.clone()
    };
    send_bytes(
        client,
        mail.envelope_from(),
        &mail.envelope_to(),
        bytes,
        &options,
    )
    .await
}
