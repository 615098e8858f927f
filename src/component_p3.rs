//! WIT glue of the WASI 0.3 build (`p3`): the `client` resource of `wit/p3/world.wit`
//! with async methods, and the `mailer` functions, over the same [`crate::client`] and
//! [`crate::mail::send`] compiled async and the wasip3 driver
//! ([`crate::driver::tcp_p3`]). Nothing is decided here. Each resource holds its
//! client behind an async lock, so calls on one client run one at a time in the order
//! they were made, while calls on other clients in the instance go on meanwhile.

use std::net::IpAddr;

use futures::lock::{Mutex, MutexGuard};

use crate::auth::MechanismKind;
use crate::client::{self, ClientOptions, Network};
use crate::delivery::Delivery;
use crate::driver::tcp_p3::TcpTransport;
use crate::endpoint::Endpoint;
use crate::error::{Refusal, SmtpError};
use crate::mail;
use crate::protocol::data;
use crate::protocol::reply::Reply;
use crate::session::AuthStep;
use crate::tls_config::TlsSettings;

wit_bindgen_p3::generate!({
    world: "smtp",
    path: "wit/p3",
    runtime_path: "wit_bindgen_p3::rt",
});

use exports::smtplib::smtp::client as wit;
use exports::smtplib::smtp::mailer as mwit;
use wit_bindgen_p3::rt::async_support::{FutureReader, StreamReader, StreamResult};

crate::wit_convert::wit_conversions!();
crate::wit_convert::mailer_conversions!();

struct Component;

impl wit::Guest for Component {
    type Client = Client;
}

crate::wit_convert::mailer_exports!();

/// TCP through wasi:sockets 0.3.
struct Wasi;

impl Network for Wasi {
    type Conn = TcpTransport;

    async fn connect(
        &mut self,
        target: &Endpoint,
        source: Option<(IpAddr, u16)>,
        timeout_ns: u64,
    ) -> Result<TcpTransport, SmtpError> {
        TcpTransport::connect(target, source, timeout_ns).await
    }

    fn now(&self) -> u64 {
        wasip3::clocks::monotonic_clock::now()
    }
}

/// The `client` resource: a [`client::Client`] behind an async lock (WIT methods take
/// `&self`, and a call may be in progress when the next one arrives).
struct Client(Mutex<client::Client<Wasi>>);

impl Client {
    /// The client, once the calls made on it before this one are done (for the
    /// `mailer` functions that take it).
    async fn lock(&self) -> MutexGuard<'_, client::Client<Wasi>> {
        self.0.lock().await
    }
}

impl wit::GuestClient for Client {
    fn new(o: wit::ClientOptions) -> Self {
        Client(Mutex::new(client::Client::new(Wasi, options(o))))
    }

    fn lmtp(o: wit::ClientOptions) -> wit::Client {
        wit::Client::new(Client(Mutex::new(client::Client::lmtp(Wasi, options(o)))))
    }

    async fn connect(&self, host: String, port: Option<u16>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.0.lock().await.connect(&host, port).await)
    }

    async fn connect_tls(
        &self,
        host: String,
        port: Option<u16>,
        config: wit::TlsConfig,
    ) -> Result<wit::Reply, wit::SmtpError> {
        let settings = tls_settings(config);
        wrap(
            self.0
                .lock()
                .await
                .connect_tls(&host, port, &settings)
                .await,
        )
    }

    async fn starttls(&self, config: wit::TlsConfig) -> Result<wit::Reply, wit::SmtpError> {
        let settings = tls_settings(config);
        wrap(self.0.lock().await.starttls(&settings).await)
    }

    async fn is_tls(&self) -> bool {
        self.0.lock().await.is_tls()
    }

    async fn login(
        &self,
        user: String,
        password: String,
        initial_response_ok: bool,
    ) -> Result<wit::Reply, wit::SmtpError> {
        let mut c = self.0.lock().await;
        wrap(c.login(&user, &password, initial_response_ok).await)
    }

    async fn login_with(
        &self,
        mechanism: wit::SaslMechanism,
        user: String,
        secret: String,
        initial_response_ok: bool,
    ) -> Result<wit::Reply, wit::SmtpError> {
        let kind = mechanism_kind(mechanism);
        let mut c = self.0.lock().await;
        wrap(
            c.login_with(kind, &user, &secret, initial_response_ok)
                .await,
        )
    }

    async fn auth_start(
        &self,
        mechanism: String,
        initial_response: Option<Vec<u8>>,
    ) -> Result<wit::AuthStep, wit::SmtpError> {
        let mut c = self.0.lock().await;
        c.auth_start(&mechanism, initial_response.as_deref())
            .await
            .map(step_to_wit)
            .map_err(error_to_wit)
    }

    async fn auth_continue(&self, response: Vec<u8>) -> Result<wit::AuthStep, wit::SmtpError> {
        let mut c = self.0.lock().await;
        c.auth_continue(&response)
            .await
            .map(step_to_wit)
            .map_err(error_to_wit)
    }

    async fn auth_cancel(&self) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.0.lock().await.auth_cancel().await)
    }

    async fn allow_insecure_auth(&self, allow: bool) {
        self.0.lock().await.allow_insecure_auth(allow);
    }

    async fn set_debuglevel(&self, level: u8) {
        self.0.lock().await.set_debuglevel(level);
    }

    async fn helo(&self, name: Option<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.0.lock().await.helo(name.as_deref()).await)
    }

    async fn ehlo(&self, name: Option<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.0.lock().await.ehlo(name.as_deref()).await)
    }

    async fn ehlo_or_helo_if_needed(&self) -> Result<(), wit::SmtpError> {
        let mut c = self.0.lock().await;
        c.ehlo_or_helo_if_needed().await.map_err(error_to_wit)
    }

    async fn has_extn(&self, name: String) -> bool {
        self.0.lock().await.features().has(&name)
    }

    async fn esmtp_features(&self) -> Vec<wit::Extension> {
        let c = self.0.lock().await;
        c.features()
            .iter()
            .map(|(name, params)| wit::Extension {
                name: name.to_string(),
                params: params.to_string(),
            })
            .collect()
    }

    async fn does_esmtp(&self) -> bool {
        self.0.lock().await.session().does_esmtp()
    }

    async fn ehlo_resp(&self) -> Option<String> {
        self.0
            .lock()
            .await
            .session()
            .ehlo_resp()
            .map(str::to_string)
    }

    async fn helo_resp(&self) -> Option<String> {
        self.0
            .lock()
            .await
            .session()
            .helo_resp()
            .map(str::to_string)
    }

    async fn docmd(&self, cmd: String, args: Option<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.0.lock().await.docmd(&cmd, args.as_deref()).await)
    }

    async fn noop(&self) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.0.lock().await.docmd("NOOP", None).await)
    }

    async fn rset(&self) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.0.lock().await.rset().await)
    }

    async fn help(&self, args: Option<String>) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.0.lock().await.docmd("HELP", args.as_deref()).await)
    }

    async fn verify(&self, address: String) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.0.lock().await.docmd("VRFY", Some(&address)).await)
    }

    async fn expn(&self, address: String) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.0.lock().await.docmd("EXPN", Some(&address)).await)
    }

    async fn mail(
        &self,
        sender: String,
        options: Vec<String>,
    ) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.0.lock().await.mail(&sender, &options).await)
    }

    async fn rcpt(
        &self,
        recipient: String,
        options: Vec<String>,
    ) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.0.lock().await.rcpt(&recipient, &options).await)
    }

    async fn data(&self, msg: wit::Message) -> Result<wit::Reply, wit::SmtpError> {
        let bytes = message_bytes(msg).map_err(error_to_wit)?;
        wrap(self.0.lock().await.data(bytes).await)
    }

    async fn sendmail(
        &self,
        from_addr: String,
        to_addrs: Vec<String>,
        msg: wit::Message,
        mail_options: Vec<String>,
        rcpt_options: Vec<String>,
    ) -> Result<Vec<wit::Refusal>, wit::SmtpError> {
        let bytes = message_bytes(msg).map_err(error_to_wit)?;
        let mut c = self.0.lock().await;
        c.sendmail(&from_addr, &to_addrs, bytes, &mail_options, &rcpt_options)
            .await
            .map(|refused| refused.into_iter().map(refusal_to_wit).collect())
            .map_err(error_to_wit)
    }

    async fn sendmail_report(
        &self,
        from_addr: String,
        to_addrs: Vec<String>,
        msg: wit::Message,
        mail_options: Vec<String>,
        rcpt_options: Vec<String>,
    ) -> Result<wit::Delivery, wit::SmtpError> {
        let bytes = message_bytes(msg).map_err(error_to_wit)?;
        let mut c = self.0.lock().await;
        c.sendmail_report(&from_addr, &to_addrs, bytes, &mail_options, &rcpt_options)
            .await
            .map(delivery_to_wit)
            .map_err(error_to_wit)
    }

    async fn sendmail_stream(
        &self,
        from_addr: String,
        to_addrs: Vec<String>,
        body: StreamReader<u8>,
        body_end: FutureReader<Result<(), String>>,
        mail_options: Vec<String>,
        rcpt_options: Vec<String>,
    ) -> Result<wit::Delivery, wit::SmtpError> {
        let mut source = WitBody {
            stream: Some(body),
            end: Some(body_end),
        };
        let mut c = self.0.lock().await;
        c.sendmail_stream(
            &from_addr,
            &to_addrs,
            &mut source,
            &mail_options,
            &rcpt_options,
        )
        .await
        .map(delivery_to_wit)
        .map_err(error_to_wit)
    }

    async fn send_message(
        &self,
        msg: Vec<u8>,
        from_addr: Option<String>,
        to_addrs: Option<Vec<String>>,
        mail_options: Vec<String>,
        rcpt_options: Vec<String>,
    ) -> Result<Vec<wit::Refusal>, wit::SmtpError> {
        let mut c = self.0.lock().await;
        c.send_message(
            &msg,
            from_addr.as_deref(),
            to_addrs.as_deref(),
            &mail_options,
            &rcpt_options,
        )
        .await
        .map(|refused| refused.into_iter().map(refusal_to_wit).collect())
        .map_err(error_to_wit)
    }

    async fn lmtp_data(
        &self,
        msg: wit::Message,
    ) -> Result<Vec<wit::RecipientReply>, wit::SmtpError> {
        let bytes = message_bytes(msg).map_err(error_to_wit)?;
        let mut c = self.0.lock().await;
        c.data_replies(bytes)
            .await
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

    async fn quit(&self) -> Result<wit::Reply, wit::SmtpError> {
        wrap(self.0.lock().await.quit().await)
    }

    async fn close(&self) {
        self.0.lock().await.close();
    }

    async fn is_connected(&self) -> bool {
        self.0.lock().await.is_connected()
    }
}

/// `sendmail-stream`'s body: the `stream<u8>`, then `body-end` to tell a complete body
/// from one whose writer gave up.
struct WitBody {
    stream: Option<StreamReader<u8>>,
    end: Option<FutureReader<Result<(), String>>>,
}

impl client::BodySource for WitBody {
    async fn read(&mut self, buf: &mut Vec<u8>) -> Result<usize, String> {
        loop {
            let Some(stream) = self.stream.as_mut() else {
                return Ok(0);
            };
            let before = buf.len();
            let (status, filled) = stream.read(std::mem::take(buf)).await;
            *buf = filled;
            let n = buf.len().saturating_sub(before);
            match status {
                StreamResult::Complete(_) if n > 0 => return Ok(n),
                StreamResult::Complete(_) => continue,
                StreamResult::Dropped if n > 0 => {
                    self.stream = None;
                    self.finish().await?;
                    return Ok(n);
                }
                StreamResult::Dropped => {
                    self.stream = None;
                    self.finish().await?;
                    return Ok(0);
                }
                StreamResult::Cancelled => return Err("the body stream was cancelled".into()),
            }
        }
    }
}

impl WitBody {
    /// The stream has ended: `body-end` says whether it held the whole message.
    async fn finish(&mut self) -> Result<(), String> {
        match self.end.take() {
            Some(end) => end.await,
            None => Err("body-end was already read".into()),
        }
    }
}

export!(Component);
