//! WIT glue only: converts WIT values to [`crate::client`] calls and core errors to WIT
//! variants. Nothing is decided here.

use std::cell::RefCell;
use std::net::IpAddr;

use crate::auth::MechanismKind;
use crate::client::{self, ClientOptions, Network};
use crate::delivery::Delivery;
use crate::driver::tcp::TcpTransport;
use crate::endpoint::Endpoint;
use crate::error::{Refusal, SmtpError};
use crate::mail;
use crate::protocol::data;
use crate::protocol::reply::Reply;
use crate::session::AuthStep;
use crate::tls_config::TlsSettings;

wit_bindgen::generate!({ world: "smtp", path: "wit" });

use exports::smtplib::smtp::client as wit;
use exports::smtplib::smtp::mailer as mwit;

crate::wit_convert::wit_conversions!();

struct Component;

impl wit::Guest for Component {
    type Client = Client;
}

impl mwit::Guest for Component {
    fn send(transport: mwit::Transport, mail: mwit::Mail) -> Result<wit::Delivery, wit::SmtpError> {
        mail::send::send(Wasi, &transport_from_wit(transport), &mail_from_wit(mail))
            .map(delivery_to_wit)
            .map_err(error_to_wit)
    }

    fn compose(mail: mwit::Mail) -> Result<Vec<u8>, wit::SmtpError> {
        mail::compose::compose(&mail_from_wit(mail)).map_err(error_to_wit)
    }

    fn send_with(
        client: wit::ClientBorrow<'_>,
        mail: mwit::Mail,
    ) -> Result<wit::Delivery, wit::SmtpError> {
        let mail = mail_from_wit(mail);
        client
            .get::<Client>()
            .with(|c| mail::send::send_with(c, &mail))
            .map(delivery_to_wit)
            .map_err(error_to_wit)
    }

    fn send_bytes_with(
        client: wit::ClientBorrow<'_>,
        from_addr: String,
        to_addrs: Vec<String>,
        msg: Vec<u8>,
        options: mwit::MailOptions,
    ) -> Result<wit::Delivery, wit::SmtpError> {
        let options = options_from_wit(options);
        client
            .get::<Client>()
            .with(|c| mail::send::send_bytes(c, &from_addr, &to_addrs, msg, &options))
            .map(delivery_to_wit)
            .map_err(error_to_wit)
    }
}

fn mailbox_from_wit(m: mwit::Mailbox) -> mail::Mailbox {
    mail::Mailbox {
        name: m.name,
        address: m.address,
    }
}

fn mailboxes(list: Vec<mwit::Mailbox>) -> Vec<mail::Mailbox> {
    list.into_iter().map(mailbox_from_wit).collect()
}

fn options_from_wit(o: mwit::MailOptions) -> mail::MailOptions {
    mail::MailOptions {
        dkim: o.dkim.map(|d| mail::Dkim {
            domain: d.domain,
            selector: d.selector,
            private_key_pem: d.private_key_pem,
            algorithm: match d.algorithm {
                mwit::DkimAlgorithm::RsaSha256 => mail::DkimAlgorithm::RsaSha256,
                mwit::DkimAlgorithm::Ed25519Sha256 => mail::DkimAlgorithm::Ed25519Sha256,
            },
            signed_headers: d.signed_headers,
        }),
        dsn: o.dsn.map(|d| mail::Dsn {
            notify: d.notify.map(|n| match n {
                mwit::DsnNotify::Never => mail::Notify::Never,
                mwit::DsnNotify::On(events) => mail::Notify::On {
                    success: events.contains(mwit::DsnEvents::SUCCESS),
                    failure: events.contains(mwit::DsnEvents::FAILURE),
                    delay: events.contains(mwit::DsnEvents::DELAY),
                },
            }),
            ret: d.ret.map(|r| match r {
                mwit::DsnReturn::Full => mail::DsnReturn::Full,
                mwit::DsnReturn::Headers => mail::DsnReturn::Headers,
            }),
            envid: d.envid,
            orcpt: d.orcpt,
            best_effort: d.best_effort,
        }),
        require_tls: o.require_tls,
    }
}

fn mail_from_wit(m: mwit::Mail) -> mail::Mail {
    mail::Mail {
        from: mailbox_from_wit(m.from),
        sender: m.sender.map(mailbox_from_wit),
        to: mailboxes(m.to),
        cc: mailboxes(m.cc),
        bcc: mailboxes(m.bcc),
        reply_to: mailboxes(m.reply_to),
        subject: m.subject,
        date: m.date,
        message_id: m.message_id,
        in_reply_to: m.in_reply_to,
        references: m.references,
        headers: m
            .headers
            .into_iter()
            .map(|h| mail::Header {
                name: h.name,
                value: h.value,
            })
            .collect(),
        text: m.text,
        html: m.html,
        attachments: m
            .attachments
            .into_iter()
            .map(|a| mail::Attachment {
                filename: a.filename,
                content_type: a.content_type,
                content: a.content,
                content_id: a.content_id,
            })
            .collect(),
        options: options_from_wit(m.options),
    }
}

fn transport_from_wit(t: mwit::Transport) -> mail::Transport {
    mail::Transport {
        host: t.host,
        port: t.port,
        security: match t.security {
            mwit::Security::ImplicitTls => mail::Security::ImplicitTls,
            mwit::Security::StarttlsRequired => mail::Security::StartTlsRequired,
            mwit::Security::None => mail::Security::None,
        },
        tls: t.tls.map(tls_settings).unwrap_or_default(),
        credentials: t.credentials.map(|c| match c {
            mwit::Credentials::Password(p) => mail::Credentials::Password {
                user: p.user,
                password: p.password,
            },
            mwit::Credentials::Oauth(o) => mail::Credentials::OAuth {
                user: o.user,
                token: o.token,
                mechanism: match o.mechanism {
                    mwit::OauthMechanism::Xoauth2 => MechanismKind::XOAuth2,
                    mwit::OauthMechanism::Oauthbearer => MechanismKind::OAuthBearer,
                },
            },
        }),
        allow_insecure_auth: t.allow_insecure_auth,
        local_hostname: t.local_hostname,
        timeout_ms: t.timeout_ms,
        lmtp: t.lmtp,
    }
}

/// TCP through wasi:sockets.
struct Wasi;

impl Network for Wasi {
    type Conn = TcpTransport;

    fn connect(
        &mut self,
        target: &Endpoint,
        source: Option<(IpAddr, u16)>,
        timeout_ns: u64,
    ) -> Result<TcpTransport, SmtpError> {
        TcpTransport::connect(target, source, timeout_ns)
    }

    fn now(&self) -> u64 {
        wasip2::clocks::monotonic_clock::now()
    }
}

/// The `client` resource: a [`client::Client`] behind a `RefCell`, since WIT methods
/// take `&self`.
struct Client(RefCell<client::Client<Wasi>>);

impl Client {
    fn with<R>(&self, f: impl FnOnce(&mut client::Client<Wasi>) -> R) -> R {
        f(&mut self.0.borrow_mut())
    }
}

impl wit::GuestClient for Client {
    fn new(o: wit::ClientOptions) -> Self {
        Client(RefCell::new(client::Client::new(Wasi, options(o))))
    }

    fn lmtp(o: wit::ClientOptions) -> wit::Client {
        wit::Client::new(Client(RefCell::new(client::Client::lmtp(Wasi, options(o)))))
    }

    fn connect(&self, host: String, port: Option<u16>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|c| c.connect(&host, port)))
    }

    fn connect_tls(
        &self,
        host: String,
        port: Option<u16>,
        config: wit::TlsConfig,
    ) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|c| c.connect_tls(&host, port, &tls_settings(config))))
    }

    fn starttls(&self, config: wit::TlsConfig) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|c| c.starttls(&tls_settings(config))))
    }

    fn is_tls(&self) -> bool {
        self.with(|c| c.is_tls())
    }

    fn login(
        &self,
        user: String,
        password: String,
        initial_response_ok: bool,
    ) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|c| c.login(&user, &password, initial_response_ok)))
    }

    fn login_with(
        &self,
        mechanism: wit::SaslMechanism,
        user: String,
        secret: String,
        initial_response_ok: bool,
    ) -> Result<wit::Reply, wit::SmtpError> {
        let kind = mechanism_kind(mechanism);
        wrap(self.with(|c| c.login_with(kind, &user, &secret, initial_response_ok)))
    }

    fn auth_start(
        &self,
        mechanism: String,
        initial_response: Option<Vec<u8>>,
    ) -> Result<wit::AuthStep, wit::SmtpError> {
        self.with(|c| c.auth_start(&mechanism, initial_response.as_deref()))
            .map(step_to_wit)
            .map_err(error_to_wit)
    }

    fn auth_continue(&self, response: Vec<u8>) -> Result<wit::AuthStep, wit::SmtpError> {
        self.with(|c| c.auth_continue(&response))
            .map(step_to_wit)
            .map_err(error_to_wit)
    }

    fn auth_cancel(&self) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|c| c.auth_cancel()))
    }

    fn allow_insecure_auth(&self, allow: bool) {
        self.with(|c| c.allow_insecure_auth(allow));
    }

    fn set_debuglevel(&self, level: u8) {
        self.with(|c| c.set_debuglevel(level));
    }

    fn helo(&self, name: Option<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|c| c.helo(name.as_deref())))
    }

    fn ehlo(&self, name: Option<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|c| c.ehlo(name.as_deref())))
    }

    fn ehlo_or_helo_if_needed(&self) -> Result<(), wit::SmtpError> {
        self.with(|c| c.ehlo_or_helo_if_needed())
            .map_err(error_to_wit)
    }

    fn has_extn(&self, name: String) -> bool {
        self.with(|c| c.features().has(&name))
    }

    fn esmtp_features(&self) -> Vec<wit::Extension> {
        self.with(|c| {
            c.features()
                .iter()
                .map(|(name, params)| wit::Extension {
                    name: name.to_string(),
                    params: params.to_string(),
                })
                .collect()
        })
    }

    fn does_esmtp(&self) -> bool {
        self.with(|c| c.session().does_esmtp())
    }

    fn ehlo_resp(&self) -> Option<String> {
        self.with(|c| c.session().ehlo_resp().map(str::to_string))
    }

    fn helo_resp(&self) -> Option<String> {
        self.with(|c| c.session().helo_resp().map(str::to_string))
    }

    fn docmd(&self, cmd: String, args: Option<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|c| c.docmd(&cmd, args.as_deref())))
    }

    fn noop(&self) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|c| c.docmd("NOOP", None)))
    }

    fn rset(&self) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|c| c.rset()))
    }

    fn help(&self, args: Option<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|c| c.docmd("HELP", args.as_deref())))
    }

    fn verify(&self, address: String) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|c| c.docmd("VRFY", Some(&address))))
    }

    fn expn(&self, address: String) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|c| c.docmd("EXPN", Some(&address))))
    }

    fn mail(&self, sender: String, options: Vec<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|c| c.mail(&sender, &options)))
    }

    fn rcpt(&self, recipient: String, options: Vec<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.with(|c| c.rcpt(&recipient, &options)))
    }

    fn data(&self, msg: wit::Message) -> Result<wit::Reply, wit::SmtpError> {
        wrap(message_bytes(msg).and_then(|bytes| self.with(|c| c.data(bytes))))
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
                self.with(|c| {
                    c.sendmail(&from_addr, &to_addrs, bytes, &mail_options, &rcpt_options)
                })
            })
            .map(|refused| refused.into_iter().map(refusal_to_wit).collect())
            .map_err(error_to_wit)
    }

    fn sendmail_report(
        &self,
        from_addr: String,
        to_addrs: Vec<String>,
        msg: wit::Message,
        mail_options: Vec<String>,
        rcpt_options: Vec<String>,
    ) -> Result<wit::Delivery, wit::SmtpError> {
        message_bytes(msg)
            .and_then(|bytes| {
                self.with(|c| {
                    c.sendmail_report(&from_addr, &to_addrs, bytes, &mail_options, &rcpt_options)
                })
            })
            .map(delivery_to_wit)
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
        self.with(|c| {
            c.send_message(
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
            .and_then(|bytes| self.with(|c| c.data_replies(bytes)))
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
        wrap(self.with(|c| c.quit()))
    }

    fn close(&self) {
        self.with(|c| c.close());
    }

    fn is_connected(&self) -> bool {
        self.with(|c| c.is_connected())
    }
}

export!(Component);
