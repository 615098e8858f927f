//! WIT glue only: converts WIT values to [`crate::client`] calls and core errors to WIT
//! variants. Nothing is decided here.

use std::cell::{RefCell, RefMut};
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
crate::wit_convert::mailer_conversions!();

struct Component;

impl wit::Guest for Component {
    type Client = Client;
}

crate::wit_convert::mailer_exports!();

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

    /// The client, borrowed for one call of a `mailer` function that takes it (a call
    /// runs to its end before the next one starts).
    fn lock(&self) -> RefMut<'_, client::Client<Wasi>> {
        self.0.borrow_mut()
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
