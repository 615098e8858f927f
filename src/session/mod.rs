//! The SMTP session as a sans-IO state machine, in the shape of rustls's
//! `ConnectionCommon` and quinn-proto's `Connection`: it holds no connection and never
//! waits. An operation is begun with a `begin_*` call (arguments are checked there, before
//! anything is planned); the driver then takes the bytes to send from
//! [`Session::poll_transmit`], reports what it wrote ([`Session::handle_written`]), feeds
//! what arrives ([`Session::handle_input`], [`Session::handle_eof`],
//! [`Session::handle_read_error`]) and the time once [`Session::poll_timeout`]'s deadline
//! has passed ([`Session::handle_timeout`]), until [`Session::poll_outcome`] gives the
//! result. See `crate::driver::drive` for that loop.
//!
//! The session decides every outcome, including the one a sandboxed mail library must
//! never get wrong: once the whole message may have reached the server, a lost
//! connection, a silence, a garbled or over-long reply is `DeliveryUnknown`, never an
//! ordinary failure (see `transaction`).

mod transaction;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use crate::debug::DebugLog;
use crate::driver::WriteError;
use crate::error::{Refusal, SmtpError};
use crate::protocol::command::{self, Charset};
use crate::protocol::data;
use crate::protocol::ehlo::Features;
use crate::protocol::reply::{Reply, ReplyParser};
use transaction::{Step, Transaction};

/// Most server challenges in one AUTH exchange (smtplib's `_MAXCHALLENGE`).
const MAX_CHALLENGES: u32 = 5;

/// Secrets shorter than this are not masked in replies (they would mask common words).
const MIN_SECRET_LEN: usize = 3;

/// What the session is configured with (smtplib's constructor arguments, resolved).
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The name sent with HELO, EHLO and LHLO when the caller gives none.
    pub local_hostname: String,
    /// LMTP (RFC 2033) instead of SMTP: LHLO, and one reply per recipient after the data.
    pub lmtp: bool,
    /// How long one reply may take to arrive whole, and one write to make progress, in
    /// nanoseconds.
    pub timeout_ns: u64,
}

/// What the server said to one step of an AUTH exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthStep {
    /// 235 (or 503, already authenticated): the exchange is over.
    Done(Reply),
    /// 334: the decoded challenge to answer with [`Session::begin_auth_continue`].
    Challenge(Vec<u8>),
}

/// The result of one finished operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The reply to a single command (or the greeting).
    Reply(Reply),
    /// `sendmail`: the message was accepted (see [`Sent`]).
    Sent(Box<Sent>),
    /// `data`: every reply after the data, with its recipient (one for SMTP, one per
    /// accepted recipient for LMTP).
    DataReplies(Vec<(String, Reply)>),
    /// A step of an AUTH exchange.
    Auth(AuthStep),
    /// STARTTLS was answered 220 and nothing followed it: the driver runs the handshake
    /// now, then calls [`Session::tls_established`].
    TlsReady(Reply),
    /// A streamed `sendmail`: the server waits for the body; give the next piece with
    /// [`Session::begin_piece`] (or end the transaction with [`Session::abort_stream`]).
    PieceWanted,
}

/// What a delivered message's transaction learned: the report behind `sendmail`'s
/// refusal list and the WIT `delivery`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The server's verdict on the message (for LMTP, the first 2xx).
    pub reply: Reply,
    /// The recipients refused at RCPT (and, for LMTP, after the data).
    pub refused: Vec<Refusal>,
    /// The recipients accepted at RCPT, each with its RCPT reply.
    pub accepted: Vec<(String, Reply)>,
    /// LMTP: every accepted recipient's verdict after the data (empty for SMTP).
    pub finals: Vec<(String, Reply)>,
    /// MAIL, RCPT and DATA/BDAT went pipelined (RFC 2920).
    pub pipelined: bool,
    /// The message went as `BDAT n LAST` (RFC 3030).
    pub chunking: bool,
}

/// Bytes planned for one write: one round trip's worth.
pub struct Transmit<'a> {
    /// The pieces, to be sent in order as if joined (the message body is borrowed).
    pub parts: Vec<&'a [u8]>,
}

/// How the current transaction's message goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    /// After DATA's 354: line ends normalised, dot-stuffed, ended by `.CRLF`.
    Dot,
    /// Inside `BDAT n LAST` (already in the head): the bytes as they are.
    Bdat,
}

/// One planned write.
struct Pending {
    /// Command lines (and a BDAT header) that go first.
    head: Vec<u8>,
    /// The transaction's message after the head, when this write carries it.
    body: Option<BodyKind>,
    /// What the transcript shows instead of the head (credentials).
    shown: Option<String>,
    /// A piece of a streamed body, in wire form, after the head.
    piece: Option<Piece>,
}

/// A piece of a streamed body, encoded for the wire (dot-stuffed, or a BDAT chunk).
struct Piece {
    bytes: Vec<u8>,
    /// It carries the end of the message.
    last: bool,
}

impl Pending {
    fn line(head: Vec<u8>) -> Pending {
        Pending {
            head,
            body: None,
            shown: None,
            piece: None,
        }
    }
}

/// A single-command operation, by what its reply means.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Simple {
    /// Any command whose reply is simply returned.
    Plain,
    /// HELO: the reply is kept as `helo-resp`.
    Helo,
    /// EHLO/LHLO: the reply is kept, and parsed into extensions when it is 250.
    Ehlo,
    /// QUIT: the connection closes after the reply.
    Quit,
    /// RCPT in the low-level `rcpt`: an accepted recipient joins the transaction.
    Rcpt(String),
    /// STARTTLS: 220 and nothing after it, or an error.
    StartTls,
    /// `*` ending an AUTH exchange.
    AuthCancel,
}

/// The operation in progress.
enum Op {
    /// The greeting after connecting.
    Greeting,
    /// One command, one reply.
    Simple(Simple),
    /// AUTH or an answer to a challenge; `Some(reply)` while cancelling an exchange
    /// the server broke (the reply to report once the `*` is answered).
    Auth(Option<Reply>),
    /// A mail transaction (`sendmail`, or the low-level `data`).
    Transaction(Box<Transaction>),
}

/// Where the session is.
enum Phase {
    /// No connection.
    Closed,
    /// Connected, nothing in progress.
    Idle,
    /// An operation is in progress.
    Busy(Op),
}

/// What the last HELO/EHLO told us.
#[derive(Debug, Default)]
struct Hello {
    helo_resp: Option<String>,
    ehlo_resp: Option<String>,
    features: Features,
    does_esmtp: bool,
}

/// The sans-IO SMTP session. See the module documentation.
pub struct Session {
    config: SessionConfig,
    phase: Phase,
    parser: ReplyParser,
    hello: Hello,
    /// The current mail transaction uses SMTPUTF8 (low-level `mail` with SMTPUTF8).
    utf8: bool,
    /// Recipients accepted by the low-level `rcpt` since the last `mail` (the LMTP
    /// `data` reads one reply for each).
    accepted: Vec<String>,
    /// Challenges seen in the AUTH exchange in progress, if one is.
    auth_challenges: Option<u32>,
    /// What the client sent that must not be echoed back (masked in replies).
    secrets: Vec<String>,
    /// The write planned and not yet reported written.
    pending: Option<Pending>,
    /// When the reply being awaited must have arrived whole.
    deadline: Option<u64>,
    /// The result of the operation that just ended.
    outcome: Option<Result<Outcome, SmtpError>>,
    log: DebugLog,
    /// The connection is encrypted (implicit TLS, or after STARTTLS).
    encrypted: bool,
}

fn not_connected() -> SmtpError {
    SmtpError::ServerDisconnected("not connected: call connect first".into())
}

impl Session {
    /// An unconnected session.
    pub fn new(config: SessionConfig) -> Session {
        Session {
            config,
            phase: Phase::Closed,
            parser: ReplyParser::new(),
            hello: Hello::default(),
            utf8: false,
            accepted: Vec::new(),
            auth_challenges: None,
            secrets: Vec::new(),
            pending: None,
            deadline: None,
            outcome: None,
            log: DebugLog::default(),
            encrypted: false,
        }
    }

    /// Tells the session whether its connection is encrypted (set after an
    /// implicit-TLS handshake; [`Session::begin_greeting`] clears it and
    /// [`Session::tls_established`] sets it). Over TLS `sendmail` uses DATA rather than
    /// a pipelined BDAT; see [`Session::begin_sendmail`].
    pub fn set_encrypted(&mut self, encrypted: bool) {
        self.encrypted = encrypted;
    }

    /// Whether this is an LMTP session.
    pub fn is_lmtp(&self) -> bool {
        self.config.lmtp
    }

    /// The timeout for one reply or one write's progress, in nanoseconds.
    pub fn timeout_ns(&self) -> u64 {
        self.config.timeout_ns
    }

    /// The debug transcript writer.
    pub fn log(&self) -> &DebugLog {
        &self.log
    }

    /// Sets the debug level (see [`DebugLog`]).
    pub fn set_debuglevel(&mut self, level: u8) {
        self.log.set_level(level);
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        !matches!(self.phase, Phase::Closed)
    }

    /// The extensions of the last EHLO.
    pub fn features(&self) -> &Features {
        &self.hello.features
    }

    /// Whether the server answered EHLO with 250.
    pub fn does_esmtp(&self) -> bool {
        self.hello.does_esmtp
    }

    /// The text of the last reply to EHLO.
    pub fn ehlo_resp(&self) -> Option<&str> {
        self.hello.ehlo_resp.as_deref()
    }

    /// The text of the last reply to HELO.
    pub fn helo_resp(&self) -> Option<&str> {
        self.hello.helo_resp.as_deref()
    }

    /// Whether HELO or EHLO has been answered on this connection.
    pub fn has_helloed(&self) -> bool {
        self.hello.helo_resp.is_some() || self.hello.ehlo_resp.is_some()
    }

    /// Adds a secret the client sends (a password, a token): wherever a reply echoes it,
    /// the reply's text shows `<hidden>` instead, in results and in the transcript.
    pub fn add_secret(&mut self, secret: &str) {
        if secret.len() >= MIN_SECRET_LEN && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_string());
        }
    }

    /// Adds an AUTH response as secrets: its base64 form and, for a caller's own
    /// mechanism (`pieces`), the readable pieces of it (split at NUL and ^A, as PLAIN,
    /// XOAUTH2 and OAUTHBEARER separate their fields). Built-in mechanisms name their
    /// secret with [`Session::add_secret`] instead, so a user name is not masked.
    fn add_response_secrets(&mut self, encoded: &str, response: &[u8], pieces: bool) {
        self.add_secret(encoded);
        if !pieces {
            return;
        }
        if let Ok(text) = std::str::from_utf8(response) {
            for piece in text.split(['\0', '\x01']) {
                self.add_secret(piece);
            }
        }
    }

    /// Replaces every secret in `text` with `<hidden>`.
    fn mask(&self, text: &mut String) {
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                *text = text.replace(secret.as_str(), "<hidden>");
            }
        }
    }

    /// Drops the connection's state without sending anything: the driver drops the
    /// connection when [`Session::is_connected`] turns false.
    pub fn close(&mut self) {
        if !matches!(self.phase, Phase::Closed) {
            self.log.note("connection closed");
        }
        self.phase = Phase::Closed;
        self.parser.reset();
        self.pending = None;
        self.deadline = None;
        self.utf8 = false;
        self.accepted.clear();
        self.auth_challenges = None;
    }

    fn forget_helo(&mut self) {
        self.hello = Hello::default();
        self.utf8 = false;
    }

    fn charset(&self) -> Charset {
        if self.utf8 {
            Charset::Utf8
        } else {
            Charset::Ascii
        }
    }

    // ---- Beginning operations -------------------------------------------------------

    /// A connection was just opened (and, for implicit TLS, secured): forgets the
    /// previous session and awaits the greeting. 220 is [`Outcome::Reply`]; anything
    /// else closes the connection with `ConnectError`.
    pub fn begin_greeting(&mut self, now: u64) {
        self.close();
        self.forget_helo();
        self.secrets.clear();
        self.outcome = None;
        self.encrypted = false;
        self.phase = Phase::Busy(Op::Greeting);
        self.deadline = Some(now.saturating_add(self.config.timeout_ns));
    }

    /// Starts `op` with `pending` as its first write. Bytes the server sent with no
    /// command waiting for them are a protocol error that closes the connection (a 421
    /// among them: the server is closing it); see `Session::check_unsolicited`.
    fn begin(&mut self, op: Op, pending: Pending) -> Result<(), SmtpError> {
        match self.phase {
            Phase::Closed => return Err(not_connected()),
            Phase::Busy(_) => {
                return Err(SmtpError::Io(
                    "internal: an operation is already in progress".into(),
                ))
            }
            Phase::Idle => {}
        }
        self.check_unsolicited()?;
        self.outcome = None;
        self.phase = Phase::Busy(op);
        self.pending = Some(pending);
        self.deadline = None;
        Ok(())
    }

    fn check_unsolicited(&mut self) -> Result<(), SmtpError> {
        let buffered = self.parser.buffered();
        if buffered == 0 {
            return Ok(());
        }
        let error = match self.parser.next_reply() {
            Ok(Some(reply)) if reply.code == 421 => SmtpError::ServerDisconnected(format!(
                "the server is closing the connection: {reply}"
            )),
            Ok(Some(reply)) => SmtpError::MalformedReply(format!(
                "a reply with no command waiting for it ({reply}); connection closed"
            )),
            _ => SmtpError::MalformedReply(format!(
                "{buffered} bytes from the server with no command waiting for them; connection closed"
            )),
        };
        self.close();
        Err(error)
    }

    fn begin_simple(&mut self, simple: Simple, line: Vec<u8>) -> Result<(), SmtpError> {
        self.begin(Op::Simple(simple), Pending::line(line))
    }

    /// smtplib's `docmd`: `cmd`, a space and `args` when given.
    pub fn begin_docmd(&mut self, cmd: &str, args: Option<&str>) -> Result<(), SmtpError> {
        let line = command::line(cmd, args, self.charset())?;
        self.begin_simple(Simple::Plain, line)
    }

    fn hello_line(&self, verb: &str, name: Option<&str>) -> Result<Vec<u8>, SmtpError> {
        let name = name
            .filter(|n| !n.is_empty())
            .unwrap_or(self.config.local_hostname.as_str());
        command::line(verb, Some(name), Charset::Ascii)
    }

    /// HELO; the reply is kept as `helo-resp`.
    pub fn begin_helo(&mut self, name: Option<&str>) -> Result<(), SmtpError> {
        let line = self.hello_line("HELO", name)?;
        self.begin_simple(Simple::Helo, line)
    }

    /// EHLO (LHLO for LMTP); the reply is kept and, when it is 250, its extensions.
    pub fn begin_ehlo(&mut self, name: Option<&str>) -> Result<(), SmtpError> {
        let verb = if self.config.lmtp { "LHLO" } else { "EHLO" };
        let line = self.hello_line(verb, name)?;
        self.begin_simple(Simple::Ehlo, line)
    }

    /// RSET; ends any transaction.
    pub fn begin_rset(&mut self) -> Result<(), SmtpError> {
        self.utf8 = false;
        self.accepted.clear();
        self.begin_simple(Simple::Plain, b"RSET\r\n".to_vec())
    }

    /// QUIT; the connection closes after the reply.
    pub fn begin_quit(&mut self) -> Result<(), SmtpError> {
        let result = self.begin_simple(Simple::Quit, b"QUIT\r\n".to_vec());
        if result.is_err() {
            self.forget_helo();
        }
        result
    }

    /// `MAIL FROM:<sender>` with the options (only when the server speaks ESMTP).
    /// `NotSupported` for SMTPUTF8 the server lacks.
    pub fn begin_mail(&mut self, sender: &str, options: &[String]) -> Result<(), SmtpError> {
        let line = self.mail_command(sender, options)?;
        self.begin_simple(Simple::Plain, line)
    }

    /// Encodes MAIL and starts a transaction: UTF-8 commands for an SMTPUTF8 one, no
    /// recipients accepted yet.
    fn mail_command(&mut self, sender: &str, options: &[String]) -> Result<Vec<u8>, SmtpError> {
        let wants_utf8 = options.iter().any(|o| o.eq_ignore_ascii_case("smtputf8"));
        if wants_utf8 && !self.hello.features.has("smtputf8") {
            return Err(SmtpError::NotSupported(
                "SMTPUTF8 not supported by server".into(),
            ));
        }
        let options = if self.hello.does_esmtp { options } else { &[] };
        let charset = if wants_utf8 && self.hello.does_esmtp {
            Charset::Utf8
        } else {
            Charset::Ascii
        };
        let line = command::mail_from(sender, options, charset)?;
        self.utf8 = charset == Charset::Utf8;
        self.accepted.clear();
        Ok(line)
    }

    /// `RCPT TO:<recipient>` with the options (only when the server speaks ESMTP).
    pub fn begin_rcpt(&mut self, recipient: &str, options: &[String]) -> Result<(), SmtpError> {
        let options = if self.hello.does_esmtp { options } else { &[] };
        let line = command::rcpt_to(recipient, options, self.charset())?;
        self.begin_simple(Simple::Rcpt(recipient.to_string()), line)
    }

    /// STARTTLS (the caller has checked it is advertised). 220 with nothing after it is
    /// [`Outcome::TlsReady`]; bytes after the 220 are refused as a possible command
    /// injection (CVE-2011-0411) and close the connection; another reply is `Response`.
    pub fn begin_starttls(&mut self) -> Result<(), SmtpError> {
        if !self.hello.features.has("starttls") {
            return Err(SmtpError::NotSupported(
                "STARTTLS extension not supported by server".into(),
            ));
        }
        self.begin_simple(Simple::StartTls, b"STARTTLS\r\n".to_vec())
    }

    /// The TLS handshake after STARTTLS succeeded: everything learned from the EHLO
    /// before it is forgotten (RFC 3207), and the next command must be EHLO again.
    pub fn tls_established(&mut self) {
        self.forget_helo();
        self.parser.reset();
        self.encrypted = true;
    }

    /// The low-level `data`: DATA, then `msg` after 354 (a reply other than 354 is
    /// `DataError`). [`Outcome::DataReplies`] holds the reply to the data (one per
    /// recipient accepted by `rcpt` for LMTP).
    pub fn begin_data(&mut self, msg: Vec<u8>) -> Result<(), SmtpError> {
        self.utf8 = false;
        let recipients = std::mem::take(&mut self.accepted);
        let txn = Transaction::data_only(msg, recipients, self.config.lmtp);
        self.begin(
            Op::Transaction(Box::new(txn)),
            Pending::line(b"DATA\r\n".to_vec()),
        )
    }

    /// smtplib's `sendmail` for a message in wire form, after EHLO or HELO (the client
    /// sees to that). Every argument is checked before anything is planned. With
    /// PIPELINING, MAIL, every RCPT and DATA (or, with CHUNKING, the whole message as
    /// one `BDAT n LAST`) go in one write; see `transaction` for every outcome.
    pub fn begin_sendmail(
        &mut self,
        from: &str,
        to: &[String],
        msg: Vec<u8>,
        mail_options: &[String],
        rcpt_options: &[String],
    ) -> Result<(), SmtpError> {
        let each = vec![rcpt_options.to_vec(); to.len()];
        self.begin_sendmail_each(from, to, msg, mail_options, &each)
    }

    /// `begin_sendmail` with options of its own for each recipient (`rcpt_options[i]`
    /// for `to[i]`; DSN's ORCPT differs per recipient). A length that differs from
    /// `to`'s is `InvalidArgument`.
    pub fn begin_sendmail_each(
        &mut self,
        from: &str,
        to: &[String],
        msg: Vec<u8>,
        mail_options: &[String],
        rcpt_options: &[Vec<String>],
    ) -> Result<(), SmtpError> {
        self.begin_transaction(from, to, Some(msg), mail_options, rcpt_options)
    }

    /// `begin_sendmail_each` for a body streamed in pieces of unknown total size: no
    /// `SIZE=` is added (a caller that knows the size passes `SIZE=n` among
    /// `mail_options`). Once the server waits for the body, [`Outcome::PieceWanted`];
    /// then [`Session::begin_piece`] for each piece, the last with `last`.
    pub fn begin_sendmail_stream(
        &mut self,
        from: &str,
        to: &[String],
        mail_options: &[String],
        rcpt_options: &[Vec<String>],
    ) -> Result<(), SmtpError> {
        self.begin_transaction(from, to, None, mail_options, rcpt_options)
    }

    /// Checks the arguments (one list of RCPT options per recipient, each address and
    /// option), then plans MAIL, RCPT and the body: the whole message `msg`, or
    /// (`None`) a streamed body.
    fn begin_transaction(
        &mut self,
        from: &str,
        to: &[String],
        msg: Option<Vec<u8>>,
        mail_options: &[String],
        rcpt_options: &[Vec<String>],
    ) -> Result<(), SmtpError> {
        if rcpt_options.len() != to.len() {
            return Err(SmtpError::InvalidArgument(
                "one list of RCPT options per recipient is needed".into(),
            ));
        }
        Session::check_sendmail(from, to, mail_options, &[])?;
        for (addr, options) in to.iter().zip(rcpt_options) {
            Session::check_sendmail(from, std::slice::from_ref(addr), mail_options, options)?;
        }
        if !matches!(self.phase, Phase::Idle) {
            return Err(not_connected());
        }
        let esmtp = self.hello.does_esmtp;
        let mut esmtp_opts = Vec::with_capacity(mail_options.len() + 1);
        if let Some(msg) = msg
            .as_ref()
            .filter(|_| esmtp && self.hello.features.has("size"))
        {
            esmtp_opts.push(format!("SIZE={}", msg.len()));
        }
        esmtp_opts.extend(mail_options.iter().cloned());
        let pipelining = esmtp && self.hello.features.has("pipelining");
        // Over TLS, Postfix (3.7) writes its replies to a pipelined MAIL and RCPT before
        // the one to BDAT, and that second write waits ~40 ms under Nagle for our
        // delayed ACK (49 ms a STARTTLS connection, 9 ms with DATA; measured
        // 2026-12-01). DATA costs a round trip more and never waits, so BDAT is for
        // cleartext connections (and servers without PIPELINING, where it is lockstep
        // anyway).
        let chunking =
            esmtp && self.hello.features.has("chunking") && !(self.encrypted && pipelining);
        let saved_utf8 = self.utf8;
        let mail_line = match self.mail_command(from, &esmtp_opts) {
            Ok(line) => line,
            Err(e) => {
                self.utf8 = saved_utf8;
                return Err(e);
            }
        };
        let charset = self.charset();
        let rcpt_lines = match to
            .iter()
            .zip(rcpt_options)
            .map(|(addr, opts)| {
                let opts: &[String] = if esmtp { opts } else { &[] };
                command::rcpt_to(addr, opts, charset)
            })
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(lines) => lines,
            Err(e) => {
                self.utf8 = false;
                return Err(e);
            }
        };
        self.utf8 = false;
        let body = if chunking {
            BodyKind::Bdat
        } else {
            BodyKind::Dot
        };
        let (txn, first) = match msg {
            Some(msg) => Transaction::sendmail(
                from.to_string(),
                to.to_vec(),
                msg,
                mail_line,
                rcpt_lines,
                pipelining,
                body,
                self.config.lmtp,
            ),
            None => Transaction::streamed(
                from.to_string(),
                to.to_vec(),
                mail_line,
                rcpt_lines,
                pipelining,
                body,
                self.config.lmtp,
            ),
        };
        self.begin(Op::Transaction(Box::new(txn)), first)
    }

    /// Plans the next piece of a streamed body (after [`Outcome::PieceWanted`]); `last`
    /// ends the message (DATA's `.`, or `BDAT n LAST`). Its outcome is
    /// [`Outcome::PieceWanted`] again, or after the last piece [`Outcome::Sent`].
    pub fn begin_piece(&mut self, bytes: &[u8], last: bool) -> Result<(), SmtpError> {
        let pending = match &mut self.phase {
            Phase::Busy(Op::Transaction(txn)) if self.pending.is_none() => txn.piece(bytes, last),
            Phase::Closed => return Err(not_connected()),
            _ => None,
        };
        let Some(pending) = pending else {
            return Err(SmtpError::InvalidArgument(
                "no streamed message is waiting for its body".into(),
            ));
        };
        self.outcome = None;
        self.deadline = None;
        self.pending = Some(pending);
        Ok(())
    }

    /// The body's source failed or ended early (`why`) during a streamed `sendmail`:
    /// the message cannot be finished, and a DATA cannot be taken back, so the
    /// connection is closed without the end of data (the server discards the
    /// transaction; nothing is delivered). The error to report, `Io`.
    pub fn abort_stream(&mut self, why: &str) -> SmtpError {
        let streaming =
            matches!(&self.phase, Phase::Busy(Op::Transaction(txn)) if txn.wants_piece());
        self.close();
        SmtpError::Io(if streaming {
            format!("the message body failed ({why}): the transaction was abandoned before the end of the message and the connection closed; nothing was delivered")
        } else {
            format!("the message body failed ({why}); the connection was closed and nothing was delivered")
        })
    }

    /// Checks `sendmail`'s arguments as its commands will carry them, so that a caller
    /// can refuse them before anything is sent (before EHLO too): CR, LF, NUL,
    /// non-ASCII without SMTPUTF8, addresses that would change the command, no
    /// recipients.
    pub fn check_sendmail(
        from: &str,
        to: &[String],
        mail_options: &[String],
        rcpt_options: &[String],
    ) -> Result<(), SmtpError> {
        if to.is_empty() {
            return Err(SmtpError::InvalidArgument("no recipients given".into()));
        }
        let charset = if mail_options
            .iter()
            .any(|o| o.eq_ignore_ascii_case("smtputf8"))
        {
            Charset::Utf8
        } else {
            Charset::Ascii
        };
        command::mail_from(from, mail_options, charset)?;
        for addr in to {
            command::rcpt_to(addr, rcpt_options, charset)?;
        }
        Ok(())
    }

    /// Starts an AUTH exchange for `mechanism`, with an initial response when given
    /// (RFC 4954; an empty one is sent as `=`). `NotSupported` unless AUTH is
    /// advertised. The response is hidden in the transcript and masked in replies
    /// (`mask_pieces`: its fields too; see `Session::add_response_secrets`).
    pub fn begin_auth_start(
        &mut self,
        mechanism: &str,
        initial: Option<&[u8]>,
        mask_pieces: bool,
    ) -> Result<(), SmtpError> {
        command::check_arg("SASL mechanism", mechanism, Charset::Ascii)?;
        if mechanism.is_empty() || mechanism.contains(' ') {
            return Err(SmtpError::InvalidArgument(format!(
                "{mechanism:?} is not a SASL mechanism name"
            )));
        }
        if !self.hello.features.has("auth") {
            return Err(SmtpError::NotSupported(
                "SMTP AUTH extension not supported by server".into(),
            ));
        }
        let pending = match initial {
            Some(response) => {
                let encoded = if response.is_empty() {
                    "=".to_string()
                } else {
                    BASE64.encode(response)
                };
                self.add_response_secrets(&encoded, response, mask_pieces);
                Pending {
                    head: format!("AUTH {mechanism} {encoded}\r\n").into_bytes(),
                    body: None,
                    shown: Some(format!("AUTH {mechanism} <credentials hidden>\r\n")),
                    piece: None,
                }
            }
            None => Pending::line(format!("AUTH {mechanism}\r\n").into_bytes()),
        };
        self.begin(Op::Auth(None), pending)?;
        self.auth_challenges = Some(0);
        Ok(())
    }

    /// Answers the challenge of the AUTH exchange in progress (`mask_pieces` as for
    /// [`Session::begin_auth_start`]).
    pub fn begin_auth_continue(
        &mut self,
        response: &[u8],
        mask_pieces: bool,
    ) -> Result<(), SmtpError> {
        if self.auth_challenges.is_none() {
            return Err(SmtpError::InvalidArgument(
                "no AUTH exchange in progress: call auth-start first".into(),
            ));
        }
        let encoded = BASE64.encode(response);
        self.add_response_secrets(&encoded, response, mask_pieces);
        let pending = Pending {
            head: format!("{encoded}\r\n").into_bytes(),
            body: None,
            shown: Some("<credentials hidden>\r\n".into()),
            piece: None,
        };
        self.begin(Op::Auth(None), pending)
    }

    /// Ends the AUTH exchange in progress with `*` (RFC 4954).
    pub fn begin_auth_cancel(&mut self) -> Result<(), SmtpError> {
        if self.auth_challenges.is_none() {
            return Err(SmtpError::InvalidArgument(
                "no AUTH exchange in progress".into(),
            ));
        }
        self.begin_simple(Simple::AuthCancel, b"*\r\n".to_vec())?;
        self.auth_challenges = None;
        Ok(())
    }

    // ---- The driver's side ----------------------------------------------------------

    /// The bytes to write now, if the operation has planned a write.
    pub fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        let pending = self.pending.as_ref()?;
        let mut parts: Vec<&[u8]> = Vec::with_capacity(4);
        if !pending.head.is_empty() {
            parts.push(&pending.head);
        }
        if let (Some(kind), Phase::Busy(Op::Transaction(txn))) = (pending.body, &self.phase) {
            match kind {
                BodyKind::Dot => parts.extend(data::body_parts(txn.message())),
                BodyKind::Bdat => {
                    let (_, body) = data::bdat_last_parts(txn.message());
                    parts.extend(body);
                }
            }
        }
        if let Some(piece) = &pending.piece {
            parts.push(&piece.bytes);
        }
        if self.log.enabled() {
            // Commands in full; the message summarised past the transcript's caps.
            match &pending.shown {
                Some(text) => self.log.sent(text.as_bytes()),
                None => self.log.sent(&pending.head),
            }
            let body = if pending.head.is_empty() {
                parts.get(..)
            } else {
                parts.get(1..)
            };
            if let Some(body) = body.filter(|b| !b.is_empty()) {
                self.log.sent_parts(body);
            }
        }
        Some(Transmit { parts })
    }

    /// The driver wrote the planned bytes (`total` of them), or failed after `written`.
    pub fn handle_written(&mut self, result: Result<(), WriteError>, total: usize, now: u64) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let complete = match &result {
            Ok(()) => true,
            Err(e) => e.written >= total,
        };
        let carries_end = pending.body.is_some() || pending.piece.as_ref().is_some_and(|p| p.last);
        if let (true, Phase::Busy(Op::Transaction(txn))) = (carries_end, &mut self.phase) {
            // Every byte of the message and its end handed over: the server may have it.
            if complete {
                txn.message_sent();
            }
        }
        match result {
            Ok(()) => {
                if let Phase::Busy(Op::Transaction(txn)) = &self.phase {
                    if pending.piece.is_some() && txn.wants_piece() {
                        // A DATA piece: no reply is due, the next piece may go.
                        self.deadline = None;
                        self.outcome = Some(Ok(Outcome::PieceWanted));
                        return;
                    }
                }
                self.deadline = Some(now.saturating_add(self.config.timeout_ns))
            }
            Err(WriteError { error, .. }) => self.fail(match error {
                SmtpError::Io(m) => SmtpError::ServerDisconnected(format!("write failed: {m}")),
                other => other,
            }),
        }
    }

    /// Bytes arrived from the server.
    pub fn handle_input(&mut self, bytes: &[u8], now: u64) {
        self.parser.feed(bytes);
        while matches!(self.phase, Phase::Busy(_)) && self.pending.is_none() {
            match self.parser.next_reply() {
                Ok(None) => break,
                Ok(Some(mut reply)) => {
                    self.mask(&mut reply.text);
                    self.log.received(reply.code, &reply.text);
                    self.deadline = Some(now.saturating_add(self.config.timeout_ns));
                    self.on_reply(reply);
                }
                Err(e) => {
                    self.fail(e);
                    break;
                }
            }
        }
    }

    /// The server closed the connection.
    pub fn handle_eof(&mut self) {
        self.fail(SmtpError::ServerDisconnected(
            "connection unexpectedly closed".into(),
        ));
    }

    /// Reading failed (a reset, a TLS record error).
    pub fn handle_read_error(&mut self, error: SmtpError) {
        self.fail(match error {
            SmtpError::Io(m) => {
                SmtpError::ServerDisconnected(format!("connection unexpectedly closed: {m}"))
            }
            other => other,
        });
    }

    /// The clock reached `now`: past the deadline, the reply never came whole.
    pub fn handle_timeout(&mut self, now: u64) {
        if self.deadline.is_some_and(|d| now >= d) {
            let secs = seconds(self.config.timeout_ns);
            self.fail(SmtpError::Timeout(format!(
                "no complete reply from the server within {secs} s"
            )));
        }
    }

    /// When the awaited reply must have arrived whole, while one is awaited.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.phase {
            Phase::Busy(_) if self.pending.is_none() => self.deadline,
            _ => None,
        }
    }

    /// The result of the operation, once it has ended.
    pub fn poll_outcome(&mut self) -> Option<Result<Outcome, SmtpError>> {
        self.outcome.take()
    }

    // ---- Deciding ---------------------------------------------------------------------

    /// Ends the operation with `error` (as the operation classifies it: after the whole
    /// message was sent, `DeliveryUnknown`) and closes the connection.
    fn fail(&mut self, error: SmtpError) {
        self.fail_as(error, true);
    }

    /// [`Session::fail`]; `trust_known` false when the replies were found out of step,
    /// so that a refusal read from them may have been the answer to another command.
    fn fail_as(&mut self, error: SmtpError, trust_known: bool) {
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        let error = match phase {
            Phase::Busy(Op::Transaction(txn)) => txn.classify_failure(error, trust_known),
            Phase::Busy(Op::Simple(Simple::Quit)) => {
                self.forget_helo();
                error
            }
            _ => error,
        };
        self.close();
        self.outcome = Some(Err(error));
    }

    fn finish(&mut self, result: Result<Outcome, SmtpError>) {
        self.phase = Phase::Idle;
        self.deadline = None;
        self.outcome = Some(result);
    }

    fn finish_closing(&mut self, result: Result<Outcome, SmtpError>) {
        self.close();
        self.outcome = Some(result);
    }

    fn on_reply(&mut self, reply: Reply) {
        let Phase::Busy(op) = &mut self.phase else {
            return;
        };
        match op {
            Op::Greeting => {
                if reply.code == 220 {
                    self.finish(Ok(Outcome::Reply(reply)));
                } else {
                    self.finish_closing(Err(SmtpError::ConnectError(reply)));
                }
            }
            Op::Simple(simple) => {
                let simple = simple.clone();
                self.on_simple_reply(simple, reply);
            }
            Op::Auth(Some(broken)) => {
                let broken = broken.clone();
                self.finish(Err(SmtpError::AuthenticationError(broken)));
            }
            Op::Auth(None) => self.on_auth_reply(reply),
            Op::Transaction(txn) => {
                let shifted = txn.verdict_may_be_shifted();
                match txn.on_reply(reply) {
                    Step::Wait => {}
                    Step::Ready => {
                        self.deadline = None;
                        self.outcome = Some(Ok(Outcome::PieceWanted));
                    }
                    Step::Send(pending) => self.plan(pending),
                    Step::Done(Ok(_)) if shifted && self.parser.buffered() > 0 => {
                        // More replies than commands, and the verdict was one of several
                        // awaited at once: it may be the answer to something else.
                        self.fail_as(
                            SmtpError::MalformedReply(
                                "the server sent more replies than there were commands".into(),
                            ),
                            false,
                        )
                    }
                    Step::Done(result) => self.finish(result),
                    Step::Close(result) => self.finish_closing(result),
                }
            }
        }
    }

    /// Plans the next write of the operation in progress. Bytes still buffered then are
    /// a reply no command is waiting for: read later, it would be taken as the answer
    /// to this write, so it is a protocol error that closes the connection.
    fn plan(&mut self, pending: Pending) {
        if self.parser.buffered() > 0 {
            return self.fail_as(
                SmtpError::MalformedReply(
                    "a reply with no command waiting for it; connection closed".into(),
                ),
                false,
            );
        }
        self.pending = Some(pending);
        self.deadline = None;
    }

    fn on_simple_reply(&mut self, simple: Simple, reply: Reply) {
        match simple {
            Simple::Plain | Simple::AuthCancel => {}
            Simple::Helo => self.hello.helo_resp = Some(reply.text.clone()),
            Simple::Ehlo => {
                self.hello.ehlo_resp = Some(reply.text.clone());
                self.hello.does_esmtp = reply.code == 250;
                self.hello.features = if reply.code == 250 {
                    Features::parse(&reply.text)
                } else {
                    Features::default()
                };
            }
            Simple::Quit => {
                self.forget_helo();
                return self.finish_closing(Ok(Outcome::Reply(reply)));
            }
            Simple::Rcpt(recipient) => {
                if reply.code == 250 || reply.code == 251 {
                    self.accepted.push(recipient);
                }
            }
            Simple::StartTls => {
                if reply.code != 220 {
                    return self.finish(Err(SmtpError::Response(reply)));
                }
                let injected = self.parser.buffered();
                if injected > 0 {
                    return self.finish_closing(Err(SmtpError::Tls(format!(
                        "the server sent {injected} bytes after its 220 to STARTTLS, before the TLS handshake (possible command injection); connection closed"
                    ))));
                }
                return self.finish(Ok(Outcome::TlsReady(reply)));
            }
        }
        self.finish(Ok(Outcome::Reply(reply)));
    }

    fn on_auth_reply(&mut self, reply: Reply) {
        match reply.code {
            334 => {
                let seen = self.auth_challenges.unwrap_or(0) + 1;
                self.auth_challenges = Some(seen);
                match BASE64.decode(reply.text.trim().as_bytes()) {
                    Ok(challenge) if seen <= MAX_CHALLENGES => {
                        self.finish(Ok(Outcome::Auth(AuthStep::Challenge(challenge))))
                    }
                    _ => {
                        // Too many challenges, or one that is not base64: end the
                        // exchange with `*`, then report this reply.
                        self.auth_challenges = None;
                        self.phase = Phase::Busy(Op::Auth(Some(reply)));
                        self.plan(Pending::line(b"*\r\n".to_vec()));
                    }
                }
            }
            235 | 503 => {
                self.auth_challenges = None;
                self.finish(Ok(Outcome::Auth(AuthStep::Done(reply))));
            }
            _ => {
                self.auth_challenges = None;
                self.finish(Err(SmtpError::AuthenticationError(reply)));
            }
        }
    }
}

/// `ns` nanoseconds as decimal seconds, as `f64`'s `Display` writes them ("0.5", "30",
/// "1.25"), in integers: the one float this crate formatted pulled 12 KB of float
/// formatting into the component.
fn seconds(ns: u64) -> String {
    let (whole, frac) = (ns / 1_000_000_000, ns % 1_000_000_000);
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:09}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests;
