//! smtplib's `SMTP` object: the policy on top of the sans-IO [`Session`], native and
//! testable without a network. Default ports, the timeout, the local hostname, the
//! cleartext-credentials rule, connect → TLS → greeting, EHLO before the commands that
//! need it, and the composite calls (`login`, `send-message`) live here; the session
//! decides each exchange, and [`driver::drive`] runs it over a [`Network`]'s streams.

use std::net::IpAddr;

use crate::auth::{self, Mechanism, MechanismKind};
use crate::delivery::Delivery;
use crate::driver::{self, Io};
use crate::endpoint::{self, Endpoint, Host};
use crate::error::{Refusal, SmtpError};
use crate::protocol::ehlo::Features;
use crate::protocol::reply::Reply;
use crate::session::{AuthStep, Outcome, Session, SessionConfig};
use crate::tls::Stream;
use crate::tls_config::{self, SessionCache, TlsSettings};

/// The port `connect` uses when none is given (smtplib's `SMTP_PORT`).
pub const SMTP_PORT: u16 = 25;
/// The port `connect-tls` uses when none is given (smtplib's `SMTP_SSL_PORT`).
pub const SMTP_SSL_PORT: u16 = 465;
/// The port an LMTP client connects to when none is given (smtplib's `LMTP_PORT`).
pub const LMTP_PORT: u16 = 24;
/// The timeout when the caller sets none, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u32 = 60_000;
/// The name sent with EHLO when the caller gives none: a component cannot learn the
/// host's FQDN.
pub const DEFAULT_LOCAL_HOSTNAME: &str = "localhost";

/// Opens TCP connections (wasi:sockets in the component, an in-memory peer in tests).
/// Blocking in the `p2` build, async in the `p3` build (see [`crate::driver`]).
#[maybe_async::maybe_async(AFIT)]
#[allow(async_fn_in_trait)] // single-threaded wasm: no `Send` bound wanted
pub trait Network {
    /// An open connection.
    type Conn: Io;
    /// Connects to `target`, binding `source` first when given, within `timeout_ns`.
    async fn connect(
        &mut self,
        target: &Endpoint,
        source: Option<(IpAddr, u16)>,
        timeout_ns: u64,
    ) -> Result<Self::Conn, SmtpError>;
    /// The time now on a monotonic clock, in nanoseconds (the clock deadlines use).
    fn now(&self) -> u64;
}

/// The most of a streamed body held at once: the piece being sent and the one read
/// ahead (to know whether it is the last), each at most this long.
pub const STREAM_PIECE: usize = 256 * 1024;

/// A message body that arrives in pieces (the WASI 0.3 build's `stream<u8>`). Blocking
/// in the `p2` build, async in the `p3` build.
#[maybe_async::maybe_async(AFIT)]
#[allow(async_fn_in_trait)] // single-threaded wasm: no `Send` bound wanted
pub trait BodySource {
    /// Appends at most `buf.capacity() - buf.len()` bytes of the body to `buf` and
    /// returns how many; `Ok(0)` once the body has ended complete, `Err` (why) when it
    /// failed or ended early.
    async fn read(&mut self, buf: &mut Vec<u8>) -> Result<usize, String>;
}

/// smtplib's constructor arguments (WIT `client-options`).
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// The name for HELO/EHLO; `localhost` when absent or empty.
    pub local_hostname: Option<String>,
    /// The timeout in milliseconds; 60 s when absent; 0 is refused at connect.
    pub timeout_ms: Option<u32>,
    /// A local address (IP literal, port) to bind before connecting.
    pub source_address: Option<(String, u16)>,
}

/// One SMTP (or LMTP) client over the network `N`.
pub struct Client<N: Network> {
    net: N,
    session: Session,
    conn: Option<Stream<N::Conn>>,
    options: ClientOptions,
    /// The host of the last `connect`: the default TLS server name.
    host: String,
    /// Credentials may go over an unencrypted connection to a non-loopback peer.
    allow_insecure_auth: bool,
    read_buf: Vec<u8>,
    /// TLS session tickets for the next connections (resumption).
    tls_sessions: SessionCache,
}

/// Reads from `body` into `buf` until it holds [`STREAM_PIECE`] bytes or the body ends
/// (`Ok(true)`).
#[maybe_async::maybe_async]
async fn fill<B: BodySource>(body: &mut B, buf: &mut Vec<u8>) -> Result<bool, String> {
    buf.reserve_exact(STREAM_PIECE.saturating_sub(buf.capacity()));
    while buf.len() < STREAM_PIECE {
        if body.read(buf).await? == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// smtplib's LMTP takes a Unix socket path for `host`: WASI 0.2 has no Unix sockets.
fn refuse_unix_path(host: &str) -> Result<(), SmtpError> {
    if host.starts_with('/') {
        return Err(SmtpError::NotSupported(format!(
            "{host:?} looks like a Unix socket path: WASI 0.2 has no Unix sockets, connect over TCP"
        )));
    }
    Ok(())
}

fn internal(what: &str) -> SmtpError {
    SmtpError::Io(format!("internal: unexpected outcome of {what}"))
}

fn reply(outcome: Outcome) -> Result<Reply, SmtpError> {
    match outcome {
        Outcome::Reply(r) | Outcome::TlsReady(r) => Ok(r),
        _ => Err(internal("a command")),
    }
}

fn auth_step(outcome: Outcome) -> Result<AuthStep, SmtpError> {
    match outcome {
        Outcome::Auth(step) => Ok(step),
        _ => Err(internal("AUTH")),
    }
}

#[maybe_async::maybe_async]
impl<N: Network> Client<N> {
    /// An SMTP client (smtplib's `SMTP()` without a host).
    pub fn new(net: N, options: ClientOptions) -> Client<N> {
        Client::with_protocol(net, options, false)
    }

    /// An LMTP client (smtplib's `LMTP()`): LHLO, port 24, a reply per recipient.
    pub fn lmtp(net: N, options: ClientOptions) -> Client<N> {
        Client::with_protocol(net, options, true)
    }

    fn with_protocol(net: N, options: ClientOptions, lmtp: bool) -> Client<N> {
        let local_hostname = options
            .local_hostname
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| DEFAULT_LOCAL_HOSTNAME.to_string());
        let timeout_ms = match options.timeout_ms {
            Some(0) | None => DEFAULT_TIMEOUT_MS,
            Some(ms) => ms,
        };
        let session = Session::new(SessionConfig {
            local_hostname,
            lmtp,
            timeout_ns: u64::from(timeout_ms) * 1_000_000,
        });
        Client {
            net,
            session,
            conn: None,
            options,
            host: String::new(),
            allow_insecure_auth: false,
            read_buf: Vec::new(),
            tls_sessions: SessionCache::default(),
        }
    }

    /// The session (extensions, EHLO state, the transcript).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session, to change (tests of the session's choices over the model peer).
    #[cfg(test)]
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Drops the connection once the session has closed it.
    fn sync(&mut self) {
        if !self.session.is_connected() {
            self.conn = None;
        }
    }

    /// Runs the operation just begun to its outcome.
    async fn run(&mut self) -> Result<Outcome, SmtpError> {
        let result = match self.conn.as_mut() {
            Some(conn) => driver::drive(&mut self.session, conn, &mut self.read_buf).await,
            None => {
                self.session.close();
                Err(SmtpError::ServerDisconnected(
                    "not connected: call connect first".into(),
                ))
            }
        };
        self.sync();
        result
    }

    /// Begins an operation with `begin`, then runs it.
    async fn exec(
        &mut self,
        begin: impl FnOnce(&mut Session) -> Result<(), SmtpError>,
    ) -> Result<Outcome, SmtpError> {
        let begun = begin(&mut self.session);
        if let Err(e) = begun {
            self.sync();
            return Err(e);
        }
        self.run().await
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
        let Some((ip, port)) = &self.options.source_address else {
            return Ok(None);
        };
        let literal = ip.trim_start_matches('[').trim_end_matches(']');
        let parsed = literal.parse::<IpAddr>().map_err(|_| {
            SmtpError::InvalidArgument(format!("source address {ip:?} is not an IP literal"))
        })?;
        Ok(Some((parsed, *port)))
    }

    /// Opens the TCP connection for `connect` and `connect-tls`.
    async fn open(
        &mut self,
        host: &str,
        port: Option<u16>,
        default_port: u16,
    ) -> Result<N::Conn, SmtpError> {
        refuse_unix_path(host)?;
        let timeout = self.timeout_ns()?;
        let source = self.source()?;
        let target = endpoint::parse(host, port, default_port)?;
        self.host = match &target.host {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(name) => name.clone(),
        };
        self.close();
        self.session
            .log()
            .note(&format!("connect: {} port {}", self.host, target.port));
        self.net.connect(&target, source, timeout).await
    }

    /// Reads the greeting on a new connection.
    async fn start(&mut self, stream: Stream<N::Conn>) -> Result<Reply, SmtpError> {
        let now = stream.now();
        self.conn = Some(stream);
        self.session.begin_greeting(now);
        reply(self.run().await?)
    }

    /// smtplib's `connect`: port 25 (24 for LMTP) unless given or in `host:port`.
    /// A greeting other than 220 is `ConnectError`.
    pub async fn connect(&mut self, host: &str, port: Option<u16>) -> Result<Reply, SmtpError> {
        let default_port = if self.session.is_lmtp() {
            LMTP_PORT
        } else {
            SMTP_PORT
        };
        let tcp = self.open(host, port, default_port).await?;
        self.start(Stream::Plain(tcp)).await
    }

    /// smtplib's `SMTP_SSL`: TLS from the first byte (port 465 by default), then the
    /// greeting. Unusable TLS settings are refused before connecting.
    pub async fn connect_tls(
        &mut self,
        host: &str,
        port: Option<u16>,
        settings: &TlsSettings,
    ) -> Result<Reply, SmtpError> {
        refuse_unix_path(host)?;
        let name_host = match endpoint::parse(host, port, SMTP_SSL_PORT)?.host {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(name) => name,
        };
        let setup = tls_config::build(settings, &name_host, &mut self.tls_sessions)?;
        let tcp = self.open(host, port, SMTP_SSL_PORT).await?;
        let timeout = self.timeout_ns()?;
        let stream = Stream::Plain(tcp).start_tls(setup, timeout).await?;
        self.session.log().note(stream.tls_note());
        let reply = self.start(stream).await;
        self.session.set_encrypted(true);
        reply
    }

    /// smtplib's `starttls`: EHLO if needed, `NotSupported` unless advertised, STARTTLS,
    /// the handshake, and the EHLO state forgotten. Nothing is ever sent in clear after
    /// a caller asked for TLS: a failed handshake closes the connection.
    pub async fn starttls(&mut self, settings: &TlsSettings) -> Result<Reply, SmtpError> {
        // Refuse unusable settings before anything is sent.
        let setup = tls_config::build(settings, &self.host, &mut self.tls_sessions)?;
        self.ehlo_or_helo_if_needed().await?;
        let reply = reply(self.exec(Session::begin_starttls).await?)?;
        let timeout = self.session.timeout_ns();
        let Some(conn) = self.conn.take() else {
            return Err(SmtpError::ServerDisconnected(
                "connection lost before the TLS handshake".into(),
            ));
        };
        match conn.start_tls(setup, timeout).await {
            Ok(tls) => {
                self.session.log().note(tls.tls_note());
                self.conn = Some(tls);
                self.session.tls_established();
                Ok(reply)
            }
            Err(e) => {
                self.session.close();
                Err(e)
            }
        }
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.conn.as_ref().is_some_and(Stream::is_tls)
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.session.is_connected()
    }

    /// Lets credentials go over an unencrypted connection to a non-loopback peer.
    pub fn allow_insecure_auth(&mut self, allow: bool) {
        self.allow_insecure_auth = allow;
    }

    /// Sets the transcript level (0 off, 1 lines, 2 with timestamps).
    pub fn set_debuglevel(&mut self, level: u8) {
        self.session.set_debuglevel(level);
    }

    /// Refuses to let credentials go in clear to a peer other than loopback, unless the
    /// caller allowed it (Go's net/smtp rule).
    fn check_auth_channel(&self) -> Result<(), SmtpError> {
        match &self.conn {
            Some(conn) => match conn.peer() {
                Some(peer) => auth::check_channel(conn.is_tls(), peer, self.allow_insecure_auth),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// HELO; the reply is kept as `helo_resp`.
    pub async fn helo(&mut self, name: Option<&str>) -> Result<Reply, SmtpError> {
        reply(self.exec(|s| s.begin_helo(name)).await?)
    }

    /// EHLO (LHLO for LMTP).
    pub async fn ehlo(&mut self, name: Option<&str>) -> Result<Reply, SmtpError> {
        reply(self.exec(|s| s.begin_ehlo(name)).await?)
    }

    /// EHLO, then HELO if EHLO is refused, unless either was answered already.
    pub async fn ehlo_or_helo_if_needed(&mut self) -> Result<(), SmtpError> {
        if self.session.has_helloed() {
            return Ok(());
        }
        if self.ehlo(None).await?.is_positive() {
            return Ok(());
        }
        let reply = self.helo(None).await?;
        if !reply.is_positive() {
            return Err(SmtpError::HeloError(reply));
        }
        Ok(())
    }

    /// The extensions of the last EHLO.
    pub fn features(&self) -> &Features {
        self.session.features()
    }

    /// smtplib's `docmd`.
    pub async fn docmd(&mut self, cmd: &str, args: Option<&str>) -> Result<Reply, SmtpError> {
        reply(self.exec(|s| s.begin_docmd(cmd, args)).await?)
    }

    /// RSET.
    pub async fn rset(&mut self) -> Result<Reply, SmtpError> {
        reply(self.exec(Session::begin_rset).await?)
    }

    /// MAIL FROM.
    pub async fn mail(&mut self, sender: &str, options: &[String]) -> Result<Reply, SmtpError> {
        reply(self.exec(|s| s.begin_mail(sender, options)).await?)
    }

    /// RCPT TO.
    pub async fn rcpt(&mut self, recipient: &str, options: &[String]) -> Result<Reply, SmtpError> {
        reply(self.exec(|s| s.begin_rcpt(recipient, options)).await?)
    }

    /// The low-level `data`: every reply after the message with its recipient.
    pub async fn data_replies(&mut self, msg: Vec<u8>) -> Result<Vec<(String, Reply)>, SmtpError> {
        match self.exec(|s| s.begin_data(msg)).await? {
            Outcome::DataReplies(replies) => Ok(replies),
            _ => Err(internal("DATA")),
        }
    }

    /// smtplib's `data`: the reply to the message (for LMTP, the first).
    pub async fn data(&mut self, msg: Vec<u8>) -> Result<Reply, SmtpError> {
        let mut replies = self.data_replies(msg).await?;
        if replies.is_empty() {
            return Err(SmtpError::DeliveryUnknown("no reply to the data".into()));
        }
        Ok(replies.swap_remove(0).1)
    }

    /// smtplib's `sendmail` for a message in wire form: the refused recipients.
    pub async fn sendmail(
        &mut self,
        from: &str,
        to: &[String],
        msg: Vec<u8>,
        mail_options: &[String],
        rcpt_options: &[String],
    ) -> Result<Vec<Refusal>, SmtpError> {
        Session::check_sendmail(from, to, mail_options, rcpt_options)?;
        self.ehlo_or_helo_if_needed().await?;
        match self
            .exec(|s| s.begin_sendmail(from, to, msg, mail_options, rcpt_options))
            .await?
        {
            Outcome::Sent(sent) => Ok(sent.refused),
            _ => Err(internal("sendmail")),
        }
    }

    /// `sendmail` with the whole report (WIT `sendmail-report`).
    pub async fn sendmail_report(
        &mut self,
        from: &str,
        to: &[String],
        msg: Vec<u8>,
        mail_options: &[String],
        rcpt_options: &[String],
    ) -> Result<Delivery, SmtpError> {
        let each = vec![rcpt_options.to_vec(); to.len()];
        self.sendmail_each(from, to, msg, mail_options, &each).await
    }

    /// `sendmail_report` with RCPT options of its own for each recipient
    /// (`rcpt_options[i]` for `to[i]`), as DSN's ORCPT needs.
    pub async fn sendmail_each(
        &mut self,
        from: &str,
        to: &[String],
        msg: Vec<u8>,
        mail_options: &[String],
        rcpt_options: &[Vec<String>],
    ) -> Result<Delivery, SmtpError> {
        let start = self.net.now();
        Session::check_sendmail(from, to, mail_options, &[])?;
        for (addr, options) in to.iter().zip(rcpt_options) {
            Session::check_sendmail(from, std::slice::from_ref(addr), mail_options, options)?;
        }
        self.ehlo_or_helo_if_needed().await?;
        let size = self.session.does_esmtp() && self.session.features().has("size");
        let len = msg.len();
        let outcome = self
            .exec(|s| s.begin_sendmail_each(from, to, msg, mail_options, rcpt_options))
            .await?;
        let Outcome::Sent(sent) = outcome else {
            return Err(internal("sendmail"));
        };
        let mut used = Vec::with_capacity(mail_options.len() + 1);
        if size {
            used.push(format!("SIZE={len}"));
        }
        used.extend(mail_options.iter().cloned());
        let rcpt_dsn = self.session.does_esmtp()
            && rcpt_options.iter().flatten().any(|o| {
                let upper = o.to_ascii_uppercase();
                upper.starts_with("NOTIFY=") || upper.starts_with("ORCPT=")
            });
        let elapsed = self.net.now().saturating_sub(start);
        Ok(Delivery::new(*sent, &used, rcpt_dsn, elapsed))
    }

    /// `sendmail_report` with the body read from `body` as it arrives and sent as it is
    /// read, in pieces of at most [`STREAM_PIECE`] bytes: over DATA, dot-stuffed across
    /// pieces and ended with `.`; with CHUNKING, one `BDAT n` per piece and `LAST` on the
    /// final one. At most two pieces are held, whatever the message's size. No `SIZE=`
    /// is sent unless given among `mail_options`. A body that fails (or ends early)
    /// closes the connection before the end of the message is sent, and gives `Io`:
    /// nothing was delivered.
    pub async fn sendmail_stream<B: BodySource>(
        &mut self,
        from: &str,
        to: &[String],
        body: &mut B,
        mail_options: &[String],
        rcpt_options: &[String],
    ) -> Result<Delivery, SmtpError> {
        let start = self.net.now();
        Session::check_sendmail(from, to, mail_options, rcpt_options)?;
        self.ehlo_or_helo_if_needed().await?;
        let each = vec![rcpt_options.to_vec(); to.len()];
        match self
            .exec(|s| s.begin_sendmail_stream(from, to, mail_options, &each))
            .await?
        {
            Outcome::PieceWanted => {}
            _ => return Err(internal("sendmail-stream")),
        }
        let mut current = Vec::with_capacity(STREAM_PIECE);
        let mut next = Vec::with_capacity(STREAM_PIECE);
        let mut ended = match fill(body, &mut current).await {
            Ok(ended) => ended,
            Err(why) => return Err(self.abort_stream(&why)),
        };
        let sent = loop {
            let last = ended || {
                match fill(body, &mut next).await {
                    Ok(e) => ended = e,
                    Err(why) => return Err(self.abort_stream(&why)),
                }
                ended && next.is_empty()
            };
            let outcome = self.exec(|s| s.begin_piece(&current, last)).await?;
            match (outcome, last) {
                (Outcome::PieceWanted, false) => {}
                (Outcome::Sent(sent), true) => break sent,
                _ => return Err(internal("a piece of the body")),
            }
            std::mem::swap(&mut current, &mut next);
            next.clear();
        };
        let rcpt_dsn = self.session.does_esmtp()
            && rcpt_options.iter().any(|o| {
                let upper = o.to_ascii_uppercase();
                upper.starts_with("NOTIFY=") || upper.starts_with("ORCPT=")
            });
        let elapsed = self.net.now().saturating_sub(start);
        Ok(Delivery::new(*sent, mail_options, rcpt_dsn, elapsed))
    }

    /// Ends a streamed `sendmail` whose body failed (see [`Session::abort_stream`]).
    fn abort_stream(&mut self, why: &str) -> SmtpError {
        let error = self.session.abort_stream(why);
        self.sync();
        error
    }

    /// The time now on the network's clock (ns).
    pub fn now(&self) -> u64 {
        self.net.now()
    }

    /// smtplib's `send_message` for a serialized message: the envelope from the headers
    /// unless given (see [`crate::message::prepare`]), Bcc and Resent-Bcc removed, and
    /// SMTPUTF8 with BODY=8BITMIME added when an address needs them (`NotSupported`
    /// when the server does not advertise SMTPUTF8).
    pub async fn send_message(
        &mut self,
        msg: &[u8],
        from: Option<&str>,
        to: Option<&[String]>,
        mail_options: &[String],
        rcpt_options: &[String],
    ) -> Result<Vec<Refusal>, SmtpError> {
        let prepared = crate::message::prepare(msg, from, to)?;
        self.ehlo_or_helo_if_needed().await?;
        let mut options = mail_options.to_vec();
        let international = !prepared.from.is_ascii() || prepared.to.iter().any(|a| !a.is_ascii());
        if international {
            if !self.session.features().has("smtputf8") {
                return Err(SmtpError::NotSupported(
                    "one or more addresses need internationalized email (SMTPUTF8), which the server does not advertise".into(),
                ));
            }
            for option in ["SMTPUTF8", "BODY=8BITMIME"] {
                if !options.iter().any(|o| o.eq_ignore_ascii_case(option)) {
                    options.push(option.to_string());
                }
            }
        }
        self.sendmail(
            &prepared.from,
            &prepared.to,
            prepared.bytes,
            &options,
            rcpt_options,
        )
        .await
    }

    /// Starts an AUTH exchange (smtplib's `auth` as steps): EHLO if needed, the
    /// cleartext rule, then AUTH with the initial response when given.
    /// The fields of the responses are masked in replies too (a caller's own
    /// mechanism: the secret among them is not known).
    pub async fn auth_start(
        &mut self,
        mechanism: &str,
        initial: Option<&[u8]>,
    ) -> Result<AuthStep, SmtpError> {
        self.auth_start_masking(mechanism, initial, true).await
    }

    async fn auth_start_masking(
        &mut self,
        mechanism: &str,
        initial: Option<&[u8]>,
        mask_pieces: bool,
    ) -> Result<AuthStep, SmtpError> {
        self.check_auth_channel()?;
        self.ehlo_or_helo_if_needed().await?;
        auth_step(
            self.exec(|s| s.begin_auth_start(mechanism, initial, mask_pieces))
                .await?,
        )
    }

    /// Answers the challenge of the AUTH exchange in progress.
    pub async fn auth_continue(&mut self, response: &[u8]) -> Result<AuthStep, SmtpError> {
        self.auth_continue_masking(response, true).await
    }

    async fn auth_continue_masking(
        &mut self,
        response: &[u8],
        mask_pieces: bool,
    ) -> Result<AuthStep, SmtpError> {
        self.check_auth_channel()?;
        auth_step(
            self.exec(|s| s.begin_auth_continue(response, mask_pieces))
                .await?,
        )
    }

    /// Ends the AUTH exchange in progress with `*`.
    pub async fn auth_cancel(&mut self) -> Result<Reply, SmtpError> {
        reply(self.exec(Session::begin_auth_cancel).await?)
    }

    /// Runs a built-in mechanism through the AUTH exchange. For OAuth mechanisms, the
    /// JSON error the server sends as its challenge is added as the last line of the
    /// `AuthenticationError`'s reply text.
    pub async fn authenticate(
        &mut self,
        mechanism: &mut Mechanism,
        initial_response_ok: bool,
    ) -> Result<Reply, SmtpError> {
        let initial = if initial_response_ok {
            mechanism.initial_response()
        } else {
            None
        };
        let name = mechanism.kind().name();
        let mut step = self
            .auth_start_masking(name, initial.as_deref(), false)
            .await?;
        let mut oauth_error: Option<String> = None;
        loop {
            match step {
                AuthStep::Done(reply) => return Ok(reply),
                AuthStep::Challenge(challenge) => {
                    if mechanism.kind().is_oauth() {
                        oauth_error = Some(String::from_utf8_lossy(&challenge).into_owned());
                    }
                    let response = mechanism.respond(&challenge);
                    step = match self.auth_continue_masking(&response, false).await {
                        Err(SmtpError::AuthenticationError(mut reply)) => {
                            if let Some(json) = oauth_error.take() {
                                reply.text.push('\n');
                                reply.text.push_str(&json);
                            }
                            return Err(SmtpError::AuthenticationError(reply));
                        }
                        other => other?,
                    };
                }
            }
        }
    }

    /// `login-with`: one built-in mechanism.
    pub async fn login_with(
        &mut self,
        kind: MechanismKind,
        user: &str,
        secret: &str,
        initial_response_ok: bool,
    ) -> Result<Reply, SmtpError> {
        self.check_auth_channel()?;
        self.session.add_secret(secret);
        let mut mechanism = Mechanism::new(kind, user, secret);
        self.authenticate(&mut mechanism, initial_response_ok).await
    }

    /// smtplib's `login`: EHLO if needed, `NotSupported` unless AUTH is advertised, then
    /// CRAM-MD5, PLAIN and LOGIN in that order among those advertised, until one works.
    /// Fails with the last `AuthenticationError`, or `NotSupported` when the server
    /// offers none of the three.
    pub async fn login(
        &mut self,
        user: &str,
        password: &str,
        initial_response_ok: bool,
    ) -> Result<Reply, SmtpError> {
        self.check_auth_channel()?;
        self.ehlo_or_helo_if_needed().await?;
        let Some(advertised) = self
            .session
            .features()
            .get("auth")
            .map(str::to_ascii_uppercase)
        else {
            return Err(SmtpError::NotSupported(
                "SMTP AUTH extension not supported by server".into(),
            ));
        };
        let offered: Vec<&str> = advertised.split_whitespace().collect();
        self.session.add_secret(password);
        let mut last = None;
        for kind in MechanismKind::LOGIN_ORDER {
            if !offered.contains(&kind.name()) {
                continue;
            }
            let mut mechanism = Mechanism::new(kind, user, password);
            match self.authenticate(&mut mechanism, initial_response_ok).await {
                Ok(reply) => return Ok(reply),
                Err(e @ SmtpError::AuthenticationError(_)) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            SmtpError::NotSupported(format!(
                "no suitable authentication mechanism: the server offers{}",
                if advertised.trim().is_empty() {
                    " none".to_string()
                } else {
                    format!(" {}", advertised.trim())
                }
            ))
        }))
    }

    /// QUIT, then the connection is closed.
    pub async fn quit(&mut self) -> Result<Reply, SmtpError> {
        let result = self.exec(Session::begin_quit).await.and_then(reply);
        self.session.close();
        self.sync();
        result
    }

    /// Drops the connection without sending anything.
    pub fn close(&mut self) {
        self.session.close();
        self.conn = None;
    }
}
