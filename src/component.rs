//! WIT glue only: converts WIT values to core calls and core errors to WIT variants.

use std::cell::RefCell;
use std::net::IpAddr;

use crate::auth::{self, Mechanism, MechanismKind};
use crate::endpoint::{self, Host};
use crate::error::{Refusal, SmtpError};
use crate::protocol::data;
use crate::protocol::reply::Reply;
use crate::session::{AuthStep, Session};
use crate::tls::Stream;
use crate::tls_config::{self, TlsSettings};
use crate::transport::tcp::TcpTransport;

wit_bindgen::generate!({ world: "smtp", path: "wit" });

use exports::smtplib::smtp::client as wit;

/// The port `connect` uses when none is given (smtplib's `SMTP_PORT`).
const SMTP_PORT: u16 = 25;
/// The port `connect-tls` uses when none is given (smtplib's `SMTP_SSL_PORT`).
const SMTP_SSL_PORT: u16 = 465;
/// The port an LMTP client connects to when none is given (smtplib's `LMTP_PORT`).
const LMTP_PORT: u16 = 24;
/// The timeout when the caller sets none.
const DEFAULT_TIMEOUT_MS: u32 = 60_000;

struct Component;

impl wit::Guest for Component {
    type Client = Client;
}

/// The session type: SMTP over plain or TLS TCP.
type SmtpSession = Session<Stream<TcpTransport>>;

/// The `client` resource: one session, behind a `RefCell` because WIT methods take `&self`.
struct Client {
    session: RefCell<SmtpSession>,
    options: wit::ClientOptions,
    /// The host of the last `connect`: the default TLS server name.
    host: RefCell<String>,
    /// Credentials may go over an unencrypted connection to a non-loopback peer.
    allow_insecure_auth: std::cell::Cell<bool>,
}

impl Client {
    fn with_session(options: wit::ClientOptions, make: fn(String) -> SmtpSession) -> Client {
        let hostname = options
            .local_hostname
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_string());
        Client {
            session: RefCell::new(make(hostname)),
            options,
            host: RefCell::new(String::new()),
            allow_insecure_auth: std::cell::Cell::new(false),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut SmtpSession) -> R) -> R {
        f(&mut self.session.borrow_mut())
    }

    /// Refuses to let credentials go in clear to a peer other than loopback, unless the
    /// caller allowed it (Go's net/smtp rule).
    fn check_auth_channel(&self) -> Result<(), SmtpError> {
        let allow = self.allow_insecure_auth.get();
        self.with(|s| match s.connection() {
            Some(conn) => auth::check_channel(conn.is_tls(), conn.inner().peer(), allow),
            None => Ok(()),
        })
    }

    /// Opens the TCP connection for `connect` and `connect-tls`.
    fn open(
        &self,
        host: &str,
        port: Option<u16>,
        default_port: u16,
    ) -> Result<TcpTransport, SmtpError> {
        if host.starts_with('/') {
            return Err(SmtpError::NotSupported(format!(
                "{host:?} looks like a Unix socket path: WASI 0.2 has no Unix sockets, connect over TCP"
            )));
        }
        let timeout = self.timeout_ns()?;
        let source = self.source()?;
        let target = endpoint::parse(host, port, default_port)?;
        *self.host.borrow_mut() = match &target.host {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(name) => name.clone(),
        };
        let shown = self.host.borrow().clone();
        self.with(|s| {
            s.close();
            s.log()
                .note(&format!("connect: {shown} port {}", target.port));
        });
        TcpTransport::connect(&target, source, timeout)
    }

    fn timeout_ns(&self) -> Result<u64, SmtpError> {
        match self.options.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS) {
            0 => Err(SmtpError::InvalidArgument(
                "a timeout of 0 would make the socket non-blocking".into(),
            )),
            ms => Ok(u64::from(ms) * 1_000_000),
        }
    }

    fn source(&self) -> Result<Option<(IpAddr, u16)>, SmtpError> {
        let Some(src) = &self.options.source_address else {
            return Ok(None);
        };
        let ip = src.ip.trim_start_matches('[').trim_end_matches(']');
        let ip = ip.parse::<IpAddr>().map_err(|_| {
            SmtpError::InvalidArgument(format!("source address {:?} is not an IP literal", src.ip))
        })?;
        Ok(Some((ip, src.port)))
    }
}

fn tls_settings(c: wit::TlsConfig) -> TlsSettings {
    TlsSettings {
        server_name: c.server_name,
        extra_roots_pem: c.extra_roots_pem,
        client_cert_pem: c.client_cert_pem,
        client_key_pem: c.client_key_pem,
        unsafe_accept_invalid_certs: c.unsafe_accept_invalid_certs,
    }
}

fn message_bytes(msg: wit::Message) -> Result<Vec<u8>, SmtpError> {
    match msg {
        wit::Message::Text(text) => data::text_to_bytes(&text),
        wit::Message::Bytes(bytes) => Ok(bytes),
    }
}

impl wit::GuestClient for Client {
    fn new(options: wit::ClientOptions) -> Self {
        Client::with_session(options, Session::new)
    }

    fn lmtp(options: wit::ClientOptions) -> wit::Client {
        wit::Client::new(Client::with_session(options, Session::new_lmtp))
    }

    fn connect(&self, host: String, port: Option<u16>) -> Result<wit::Reply, wit::SmtpError> {
        let default_port = if self.with(|s| s.is_lmtp()) {
            LMTP_PORT
        } else {
            SMTP_PORT
        };
        let result = self
            .open(&host, port, default_port)
            .and_then(|tcp| self.with(|s| s.start(Stream::Plain(tcp))));
        wrap(result)
    }

    fn connect_tls(
        &self,
        host: String,
        port: Option<u16>,
        config: wit::TlsConfig,
    ) -> Result<wit::Reply, wit::SmtpError> {
        let result = (|| {
            let tcp = self.open(&host, port, SMTP_SSL_PORT)?;
            let setup = tls_config::build(&tls_settings(config), &self.host.borrow())?;
            let stream = Stream::Plain(tcp).start_tls(setup)?;
            self.with(|s| {
                s.log().note("TLS established");
                s.start(stream)
            })
        })();
        wrap(result)
    }

    fn starttls(&self, config: wit::TlsConfig) -> Result<wit::Reply, wit::SmtpError> {
        let result = (|| {
            // Refuse unusable settings before anything is sent.
            let setup = tls_config::build(&tls_settings(config), &self.host.borrow())?;
            self.with(|s| {
                let (reply, conn) = s.starttls_begin()?;
                let tls = conn.start_tls(setup)?;
                s.log().note("TLS established");
                s.starttls_finish(tls);
                Ok(reply)
            })
        })();
        wrap(result)
    }

    fn is_tls(&self) -> bool {
        self.with(|s| s.connection().is_some_and(Stream::is_tls))
    }

    fn login(
        &self,
        user: String,
        password: String,
        initial_response_ok: bool,
    ) -> Result<wit::Reply, wit::SmtpError> {
        wrap(
            self.check_auth_channel()
                .and_then(|()| self.with(|s| s.login(&user, &password, initial_response_ok))),
        )
    }

    fn login_with(
        &self,
        mechanism: wit::SaslMechanism,
        user: String,
        secret: String,
        initial_response_ok: bool,
    ) -> Result<wit::Reply, wit::SmtpError> {
        let kind = match mechanism {
            wit::SaslMechanism::CramMd5 => MechanismKind::CramMd5,
            wit::SaslMechanism::Plain => MechanismKind::Plain,
            wit::SaslMechanism::Login => MechanismKind::Login,
            wit::SaslMechanism::Xoauth2 => MechanismKind::XOAuth2,
            wit::SaslMechanism::Oauthbearer => MechanismKind::OAuthBearer,
        };
        let mut m = Mechanism::new(kind, &user, &secret);
        wrap(
            self.check_auth_channel()
                .and_then(|()| self.with(|s| s.authenticate(&mut m, initial_response_ok))),
        )
    }

    fn auth_start(
        &self,
        mechanism: String,
        initial_response: Option<Vec<u8>>,
    ) -> Result<wit::AuthStep, wit::SmtpError> {
        self.check_auth_channel()
            .and_then(|()| self.with(|s| s.auth_start(&mechanism, initial_response.as_deref())))
            .map(step_to_wit)
            .map_err(error_to_wit)
    }

    fn auth_continue(&self, response: Vec<u8>) -> Result<wit::AuthStep, wit::SmtpError> {
        self.check_auth_channel()
            .and_then(|()| self.with(|s| s.auth_continue(&response)))
            .map(step_to_wit)
            .map_err(error_to_wit)
    }

    fn auth_cancel(&self) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|s| s.auth_cancel()))
    }

    fn allow_insecure_auth(&self, allow: bool) {
        self.allow_insecure_auth.set(allow);
    }

    fn set_debuglevel(&self, level: u8) {
        self.with(|s| s.set_debuglevel(level));
    }

    fn helo(&self, name: Option<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|s| s.helo(name.as_deref())))
    }

    fn ehlo(&self, name: Option<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|s| s.ehlo(name.as_deref())))
    }

    fn ehlo_or_helo_if_needed(&self) -> Result<(), wit::SmtpError> {
        self.with(|s| s.ehlo_or_helo_if_needed())
            .map_err(error_to_wit)
    }

    fn has_extn(&self, name: String) -> bool {
        self.with(|s| s.features().has(&name))
    }

    fn esmtp_features(&self) -> Vec<wit::Extension> {
        self.with(|s| {
            s.features()
                .iter()
                .map(|(name, params)| wit::Extension {
                    name: name.to_string(),
                    params: params.to_string(),
                })
                .collect()
        })
    }

    fn does_esmtp(&self) -> bool {
        self.with(|s| s.does_esmtp())
    }

    fn ehlo_resp(&self) -> Option<String> {
        self.with(|s| s.ehlo_resp().map(str::to_string))
    }

    fn helo_resp(&self) -> Option<String> {
        self.with(|s| s.helo_resp().map(str::to_string))
    }

    fn docmd(&self, cmd: String, args: Option<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|s| s.docmd(&cmd, args.as_deref())))
    }

    fn noop(&self) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|s| s.docmd("NOOP", None)))
    }

    fn rset(&self) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|s| s.rset()))
    }

    fn help(&self, args: Option<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|s| s.docmd("HELP", args.as_deref())))
    }

    fn verify(&self, address: String) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|s| s.docmd("VRFY", Some(&address))))
    }

    fn expn(&self, address: String) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|s| s.docmd("EXPN", Some(&address))))
    }

    fn mail(&self, sender: String, options: Vec<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|s| s.mail(&sender, &options)))
    }

    fn rcpt(&self, recipient: String, options: Vec<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|s| s.rcpt(&recipient, &options)))
    }

    fn data(&self, msg: wit::Message) -> Result<wit::Reply, wit::SmtpError> {
        wrap(message_bytes(msg).and_then(|bytes| self.with(|s| s.data(&bytes))))
    }

    fn sendmail(
        &self,
        from_addr: String,
        to_addrs: Vec<String>,
        msg: wit::Message,
        mail_options: Vec<String>,
        rcpt_options: Vec<String>,
    ) -> Result<Vec<wit::Refusal>, wit::SmtpError> {
        message_bytes(msg)
            .and_then(|bytes| {
                self.with(|s| {
                    s.sendmail(&from_addr, &to_addrs, &bytes, &mail_options, &rcpt_options)
                })
            })
            .map(|refused| refused.into_iter().map(refusal_to_wit).collect())
            .map_err(error_to_wit)
    }

    fn send_message(
        &self,
        msg: Vec<u8>,
        from_addr: Option<String>,
        to_addrs: Option<Vec<String>>,
        mail_options: Vec<String>,
        rcpt_options: Vec<String>,
    ) -> Result<Vec<wit::Refusal>, wit::SmtpError> {
        self.with(|s| {
            s.send_message(
                &msg,
                from_addr.as_deref(),
                to_addrs.as_deref(),
                &mail_options,
                &rcpt_options,
            )
        })
        .map(|refused| refused.into_iter().map(refusal_to_wit).collect())
        .map_err(error_to_wit)
    }

    fn lmtp_data(&self, msg: wit::Message) -> Result<Vec<wit::RecipientReply>, wit::SmtpError> {
        message_bytes(msg)
            .and_then(|bytes| self.with(|s| s.data_replies(&bytes)))
            .map(|replies| {
                replies
                    .into_iter()
                    .map(|(recipient, reply)| wit::RecipientReply {
                        recipient,
                        reply: reply_to_wit(reply),
                    })
                    .collect()
            })
            .map_err(error_to_wit)
    }

    fn quit(&self) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|s| s.quit()))
    }

    fn close(&self) {
        self.with(|s| s.close());
    }

    fn is_connected(&self) -> bool {
        self.with(|s| s.is_connected())
    }
}

fn wrap(result: Result<Reply, SmtpError>) -> Result<wit::Reply, wit::SmtpError> {
    result.map(reply_to_wit).map_err(error_to_wit)
}

fn step_to_wit(step: AuthStep) -> wit::AuthStep {
    match step {
        AuthStep::Done(reply) => wit::AuthStep::Done(reply_to_wit(reply)),
        AuthStep::Challenge(bytes) => wit::AuthStep::Challenge(bytes),
    }
}

fn reply_to_wit(r: Reply) -> wit::Reply {
    wit::Reply {
        code: r.code,
        text: r.text,
        enhanced_status: r.enhanced.map(|e| wit::EnhancedStatus {
            class: e.class,
            subject: e.subject,
            detail: e.detail,
        }),
    }
}

fn refusal_to_wit(r: Refusal) -> wit::Refusal {
    wit::Refusal {
        recipient: r.recipient,
        reply: reply_to_wit(r.reply),
    }
}

fn error_to_wit(e: SmtpError) -> wit::SmtpError {
    use wit::SmtpError as W;
    match e {
        SmtpError::ServerDisconnected(m) => W::ServerDisconnected(m),
        SmtpError::Response(r) => W::Response(reply_to_wit(r)),
        SmtpError::SenderRefused { sender, reply } => W::SenderRefused(wit::SenderRefusal {
            sender,
            reply: reply_to_wit(reply),
        }),
        SmtpError::RecipientsRefused(list) => {
            W::RecipientsRefused(list.into_iter().map(refusal_to_wit).collect())
        }
        SmtpError::DataError(r) => W::DataError(reply_to_wit(r)),
        SmtpError::ConnectError(r) => W::ConnectError(reply_to_wit(r)),
        SmtpError::HeloError(r) => W::HeloError(reply_to_wit(r)),
        SmtpError::NotSupported(m) => W::NotSupported(m),
        SmtpError::AuthenticationError(r) => W::AuthenticationError(reply_to_wit(r)),
        SmtpError::Timeout(m) => W::Timeout(m),
        SmtpError::Tls(m) => W::Tls(m),
        SmtpError::Io(m) => W::Io(m),
        SmtpError::InvalidArgument(m) => W::InvalidArgument(m),
        SmtpError::MalformedReply(m) => W::MalformedReply(m),
        SmtpError::DeliveryUnknown(m) => W::DeliveryUnknown(m),
    }
}

export!(Component);
