//! The SMTP session: connection state, EHLO/HELO bookkeeping and the rules of
//! smtplib's methods. It talks to a [`Transport`] (a byte stream) and knows nothing of
//! sockets or TLS; it never formats command bytes itself (see `protocol::command`).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use crate::auth::{Mechanism, MechanismKind};
use crate::debug::DebugLog;
use crate::error::{Refusal, SmtpError};
use crate::protocol::command::{self, Charset};
use crate::protocol::data;
use crate::protocol::ehlo::Features;
use crate::protocol::reply::{Reply, ReplyParser};

/// A connected byte stream to the server.
pub trait Transport {
    /// Writes all of `data`. Callers hand over everything for one round trip at once, so
    /// a transport can send it in as few writes as possible.
    fn send(&mut self, data: &[u8]) -> Result<(), SmtpError>;
    /// Writes `parts` one after the other, as `send` would write them joined (one
    /// round trip's worth), without the caller having to copy them into one buffer.
    fn send_parts(&mut self, parts: &[&[u8]]) -> Result<(), SmtpError> {
        self.send(&parts.concat())
    }
    /// Reads at least one byte into `buf`, or returns `Ok(0)` at the end of the stream.
    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, SmtpError>;
}

/// How much one `recv` may read.
const READ_CHUNK: usize = 16 * 1024;

/// Most server challenges in one AUTH exchange (smtplib's `_MAXCHALLENGE`).
const MAX_CHALLENGES: u32 = 5;

/// What the server said to one step of an AUTH exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthStep {
    /// 235 (or 503, already authenticated): the exchange is over.
    Done(Reply),
    /// 334: the decoded challenge to answer with [`Session::auth_continue`].
    Challenge(Vec<u8>),
}

/// One SMTP session over a transport `T`, like smtplib's `SMTP` object.
pub struct Session<T: Transport> {
    conn: Option<T>,
    parser: ReplyParser,
    local_hostname: String,
    helo_resp: Option<String>,
    ehlo_resp: Option<String>,
    features: Features,
    does_esmtp: bool,
    /// The current mail transaction uses SMTPUTF8.
    utf8: bool,
    /// Challenges seen in the AUTH exchange in progress, if one is.
    auth_challenges: Option<u32>,
    /// LMTP (RFC 2033) instead of SMTP.
    lmtp: bool,
    /// Recipients accepted in the current transaction, in order (LMTP answers the
    /// data once for each).
    accepted: Vec<String>,
    /// What `recv` reads into: allocated (and zeroed) once, on the first read, rather
    /// than 16 KiB zeroed on the stack for every reply.
    read_buf: Vec<u8>,
    log: DebugLog,
}

impl<T: Transport> Session<T> {
    /// An unconnected session that introduces itself as `local_hostname`.
    pub fn new(local_hostname: String) -> Self {
        Session {
            conn: None,
            parser: ReplyParser::new(),
            local_hostname,
            helo_resp: None,
            ehlo_resp: None,
            features: Features::default(),
            does_esmtp: false,
            utf8: false,
            auth_challenges: None,
            lmtp: false,
            accepted: Vec::new(),
            read_buf: Vec::new(),
            log: DebugLog::default(),
        }
    }

    /// An unconnected LMTP session: LHLO instead of EHLO, and one reply per accepted
    /// recipient after the data.
    pub fn new_lmtp(local_hostname: String) -> Self {
        Session {
            lmtp: true,
            ..Session::new(local_hostname)
        }
    }

    /// Whether this is an LMTP session.
    pub fn is_lmtp(&self) -> bool {
        self.lmtp
    }

    /// The debug transcript writer.
    pub fn log(&self) -> &DebugLog {
        &self.log
    }

    /// Sets the debug level (see [`DebugLog`]).
    pub fn set_debuglevel(&mut self, level: u8) {
        self.log.set_level(level);
    }

    /// Takes a freshly opened connection, forgets the previous session, and reads the
    /// greeting. A greeting other than 220 closes the connection: `ConnectError`.
    pub fn start(&mut self, conn: T) -> Result<Reply, SmtpError> {
        self.close();
        self.forget_helo();
        self.conn = Some(conn);
        let greeting = self.read_reply()?;
        if greeting.code != 220 {
            self.close();
            return Err(SmtpError::ConnectError(greeting));
        }
        Ok(greeting)
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Drops the connection without sending anything.
    pub fn close(&mut self) {
        if self.conn.take().is_some() {
            self.log.note("connection closed");
        }
        self.parser.reset();
        self.utf8 = false;
        self.auth_challenges = None;
    }

    fn forget_helo(&mut self) {
        self.helo_resp = None;
        self.ehlo_resp = None;
        self.features = Features::default();
        self.does_esmtp = false;
        self.utf8 = false;
    }

    fn charset(&self) -> Charset {
        if self.utf8 {
            Charset::Utf8
        } else {
            Charset::Ascii
        }
    }

    /// Sends bytes; a failure closes the connection.
    fn send(&mut self, bytes: &[u8]) -> Result<(), SmtpError> {
        self.send_shown_as(&[bytes], None)
    }

    /// Sends `parts` one after the other in one round trip; a failure closes the
    /// connection.
    fn send_parts(&mut self, parts: &[&[u8]]) -> Result<(), SmtpError> {
        self.send_shown_as(parts, None)
    }

    /// Sends `parts`, showing `shown` instead of them in the debug transcript (for
    /// credentials); a failure closes the connection.
    fn send_shown_as(&mut self, parts: &[&[u8]], shown: Option<&str>) -> Result<(), SmtpError> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(SmtpError::ServerDisconnected(
                "not connected: call connect first".into(),
            ));
        };
        if self.log.enabled() {
            match shown {
                Some(text) => self.log.sent(text.as_bytes()),
                None => self.log.sent(&parts.concat()),
            }
        }
        let result = match parts {
            [bytes] => conn.send(bytes),
            _ => conn.send_parts(parts),
        };
        if let Err(e) = result {
            self.close();
            return Err(match e {
                SmtpError::Io(m) => SmtpError::ServerDisconnected(format!("write failed: {m}")),
                other => other,
            });
        }
        Ok(())
    }

    /// Reads one complete reply; a failure closes the connection.
    fn read_reply(&mut self) -> Result<Reply, SmtpError> {
        let result = self.read_reply_inner();
        match &result {
            Ok(reply) => self.log.received(reply.code, &reply.text),
            Err(_) => self.close(),
        }
        result
    }

    fn read_reply_inner(&mut self) -> Result<Reply, SmtpError> {
        loop {
            if let Some(reply) = self.parser.next_reply()? {
                return Ok(reply);
            }
            let Some(conn) = self.conn.as_mut() else {
                return Err(SmtpError::ServerDisconnected(
                    "not connected: call connect first".into(),
                ));
            };
            if self.read_buf.len() != READ_CHUNK {
                self.read_buf.resize(READ_CHUNK, 0);
            }
            match conn.recv(&mut self.read_buf) {
                Ok(0) => {
                    return Err(SmtpError::ServerDisconnected(
                        "connection unexpectedly closed".into(),
                    ))
                }
                Ok(n) => self.parser.feed(self.read_buf.get(..n).unwrap_or_default()),
                Err(SmtpError::Io(m)) => {
                    return Err(SmtpError::ServerDisconnected(format!(
                        "connection unexpectedly closed: {m}"
                    )))
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends one encoded command line and reads its reply.
    fn command(&mut self, line: &[u8]) -> Result<Reply, SmtpError> {
        self.send(line)?;
        self.read_reply()
    }

    /// smtplib's `docmd`: `cmd`, a space and `args` when given; returns the reply.
    pub fn docmd(&mut self, cmd: &str, args: Option<&str>) -> Result<Reply, SmtpError> {
        let line = command::line(cmd, args, self.charset())?;
        self.command(&line)
    }

    fn hello_name<'a>(&'a self, name: Option<&'a str>) -> &'a str {
        name.filter(|n| !n.is_empty())
            .unwrap_or(self.local_hostname.as_str())
    }

    /// Sends HELO and records the reply.
    pub fn helo(&mut self, name: Option<&str>) -> Result<Reply, SmtpError> {
        let line = command::line("HELO", Some(self.hello_name(name)), Charset::Ascii)?;
        let reply = self.command(&line)?;
        self.helo_resp = Some(reply.text.clone());
        Ok(reply)
    }

    /// Sends EHLO (LHLO for LMTP), records the reply and, when it is 250, the
    /// extensions.
    pub fn ehlo(&mut self, name: Option<&str>) -> Result<Reply, SmtpError> {
        let verb = if self.lmtp { "LHLO" } else { "EHLO" };
        let line = command::line(verb, Some(self.hello_name(name)), Charset::Ascii)?;
        self.features = Features::default();
        self.does_esmtp = false;
        let reply = self.command(&line)?;
        self.ehlo_resp = Some(reply.text.clone());
        if reply.code == 250 {
            self.does_esmtp = true;
            self.features = Features::parse(&reply.text);
        }
        Ok(reply)
    }

    /// EHLO, then HELO if EHLO is refused, unless either was answered already.
    pub fn ehlo_or_helo_if_needed(&mut self) -> Result<(), SmtpError> {
        if self.helo_resp.is_some() || self.ehlo_resp.is_some() {
            return Ok(());
        }
        if self.ehlo(None)?.is_positive() {
            return Ok(());
        }
        let reply = self.helo(None)?;
        if !reply.is_positive() {
            return Err(SmtpError::HeloError(reply));
        }
        Ok(())
    }

    /// The extensions of the last EHLO.
    pub fn features(&self) -> &Features {
        &self.features
    }

    /// Whether the server answered EHLO with 250.
    pub fn does_esmtp(&self) -> bool {
        self.does_esmtp
    }

    /// The text of the last reply to EHLO.
    pub fn ehlo_resp(&self) -> Option<&str> {
        self.ehlo_resp.as_deref()
    }

    /// The text of the last reply to HELO.
    pub fn helo_resp(&self) -> Option<&str> {
        self.helo_resp.as_deref()
    }

    /// Sends RSET and ends any SMTPUTF8 transaction.
    pub fn rset(&mut self) -> Result<Reply, SmtpError> {
        self.utf8 = false;
        self.accepted.clear();
        self.docmd("RSET", None)
    }

    /// RSET after a failed transaction; its own failure is not the caller's concern.
    fn rset_quietly(&mut self) {
        if self.is_connected() {
            let _ = self.rset();
        }
    }

    /// Sends `MAIL FROM:<sender>` with the options (only when the server speaks ESMTP).
    pub fn mail(&mut self, sender: &str, options: &[String]) -> Result<Reply, SmtpError> {
        let line = self.mail_command(sender, options)?;
        self.command(&line)
    }

    /// Encodes MAIL and starts a transaction: `NotSupported` for SMTPUTF8 the server
    /// lacks, UTF-8 commands for an SMTPUTF8 one, no recipients accepted yet.
    fn mail_command(&mut self, sender: &str, options: &[String]) -> Result<Vec<u8>, SmtpError> {
        let wants_utf8 = options.iter().any(|o| o.eq_ignore_ascii_case("smtputf8"));
        if wants_utf8 && !self.features.has("smtputf8") {
            return Err(SmtpError::NotSupported(
                "SMTPUTF8 not supported by server".into(),
            ));
        }
        let options = if self.does_esmtp { options } else { &[] };
        let charset = if wants_utf8 && self.does_esmtp {
            Charset::Utf8
        } else {
            Charset::Ascii
        };
        let line = command::mail_from(sender, options, charset)?;
        self.utf8 = charset == Charset::Utf8;
        self.accepted.clear();
        Ok(line)
    }

    /// Sends `RCPT TO:<recipient>` with the options (only when the server speaks ESMTP).
    pub fn rcpt(&mut self, recipient: &str, options: &[String]) -> Result<Reply, SmtpError> {
        let options = if self.does_esmtp { options } else { &[] };
        let line = command::rcpt_to(recipient, options, self.charset())?;
        let reply = self.command(&line)?;
        if reply.code == 250 || reply.code == 251 {
            self.accepted.push(recipient.to_string());
        }
        Ok(reply)
    }

    /// Sends DATA and then `msg` (already in wire line endings), dot-stuffed and ended.
    /// A reply other than 354 to DATA is a `DataError`. Returns the reply to the data
    /// (for LMTP, the first of the per-recipient replies, all of which are read). A
    /// connection lost after the whole message went out and before its reply is
    /// `DeliveryUnknown`.
    pub fn data(&mut self, msg: &[u8]) -> Result<Reply, SmtpError> {
        let mut replies = self.data_replies(msg)?;
        if replies.is_empty() {
            return Err(SmtpError::DeliveryUnknown("no reply to the data".into()));
        }
        Ok(replies.swap_remove(0).1)
    }

    /// Sends the data and returns each reply after it with its recipient: one reply for
    /// SMTP (under the first accepted recipient), one per accepted recipient for LMTP.
    pub fn data_replies(&mut self, msg: &[u8]) -> Result<Vec<(String, Reply)>, SmtpError> {
        let reply = self.docmd("DATA", None)?;
        if reply.code != 354 {
            return Err(SmtpError::DataError(reply));
        }
        self.send_parts(&data::body_parts(msg))?;
        self.read_data_replies()
    }

    /// Reads the replies to a whole message (after `.` or `BDAT … LAST`): one for SMTP,
    /// one per accepted recipient for LMTP. A connection lost here is `DeliveryUnknown`.
    fn read_data_replies(&mut self) -> Result<Vec<(String, Reply)>, SmtpError> {
        self.utf8 = false;
        let recipients = std::mem::take(&mut self.accepted);
        let expected = if self.lmtp {
            recipients.len().max(1)
        } else {
            1
        };
        let mut replies = Vec::with_capacity(expected);
        for i in 0..expected {
            let reply = self.read_reply().map_err(|e| match e {
                SmtpError::ServerDisconnected(m) | SmtpError::Io(m) | SmtpError::Timeout(m) => {
                    SmtpError::DeliveryUnknown(format!(
                        "the whole message was sent, then the connection was lost after {i} of {expected} replies ({m}); it may have been delivered"
                    ))
                }
                other => other,
            })?;
            let recipient = recipients.get(i).cloned().unwrap_or_default();
            replies.push((recipient, reply));
        }
        Ok(replies)
    }

    /// smtplib's `sendmail` for a message already in wire form (see
    /// [`data::text_to_bytes`] for text). Returns the refused recipients.
    pub fn sendmail(
        &mut self,
        from: &str,
        to: &[String],
        msg: &[u8],
        mail_options: &[String],
        rcpt_options: &[String],
    ) -> Result<Vec<Refusal>, SmtpError> {
        if to.is_empty() {
            return Err(SmtpError::InvalidArgument("no recipients given".into()));
        }
        let wants_utf8 = mail_options
            .iter()
            .any(|o| o.eq_ignore_ascii_case("smtputf8"));
        let charset = if wants_utf8 {
            Charset::Utf8
        } else {
            Charset::Ascii
        };
        // Refuse bad arguments before anything is sent.
        command::check_arg("sender address", from, charset)?;
        for addr in to {
            command::check_arg("recipient address", addr, charset)?;
        }
        for opt in mail_options.iter().chain(rcpt_options) {
            command::check_arg("ESMTP option", opt, charset)?;
        }
        self.ehlo_or_helo_if_needed()?;
        let mut esmtp_opts = Vec::with_capacity(mail_options.len() + 1);
        if self.does_esmtp && self.features.has("size") {
            esmtp_opts.push(format!("SIZE={}", msg.len()));
        }
        esmtp_opts.extend(mail_options.iter().cloned());

        // PIPELINING (RFC 2920): MAIL, every RCPT and DATA (or, with CHUNKING, the
        // whole message as one BDAT chunk) go out in one write, and their replies are
        // read in order. Without it, one command per round trip.
        let pipelining = self.does_esmtp && self.features.has("pipelining");
        let chunking = self.does_esmtp && self.features.has("chunking");
        let mail_line = self.mail_command(from, &esmtp_opts)?;
        let rcpt_opts = if self.does_esmtp { rcpt_options } else { &[] };
        let charset = self.charset();
        let rcpt_lines = to
            .iter()
            .map(|addr| command::rcpt_to(addr, rcpt_opts, charset))
            .collect::<Result<Vec<_>, _>>()?;
        // The message itself is never copied: it goes out as pieces that borrow it.
        let bdat_head;
        let payload: Vec<&[u8]> = if chunking {
            let (head, body) = data::bdat_last_parts(msg);
            bdat_head = head;
            let mut parts = vec![bdat_head.as_slice()];
            parts.extend_from_slice(&body);
            parts
        } else {
            data::body_parts(msg)
        };

        if pipelining {
            let mut batch = mail_line;
            for line in &rcpt_lines {
                batch.extend_from_slice(line);
            }
            if chunking {
                let mut parts = vec![batch.as_slice()];
                parts.extend_from_slice(&payload);
                self.send_parts(&parts)?;
            } else {
                batch.extend_from_slice(b"DATA\r\n");
                self.send(&batch)?;
            }
        } else {
            self.send(&mail_line)?;
        }
        let reply = self.read_reply()?;
        if reply.code != 250 {
            if reply.code != 421 && pipelining {
                // Read what the server said to the rest of the batch.
                for _ in &rcpt_lines {
                    self.read_reply()?;
                }
                self.end_pipelined_data(chunking)?;
            }
            self.end_failed_transaction(reply.code);
            return Err(SmtpError::SenderRefused {
                sender: from.to_string(),
                reply,
            });
        }
        let mut refused = Vec::new();
        for (addr, line) in to.iter().zip(&rcpt_lines) {
            if !pipelining {
                self.send(line)?;
            }
            let reply = self.read_reply()?;
            let code = reply.code;
            if code == 250 || code == 251 {
                self.accepted.push(addr.clone());
            } else {
                refused.push(Refusal {
                    recipient: addr.clone(),
                    reply,
                });
            }
            if code == 421 {
                self.close();
                return Err(SmtpError::RecipientsRefused(refused));
            }
        }
        if refused.len() == to.len() {
            if pipelining {
                self.end_pipelined_data(chunking)?;
            }
            self.rset_quietly();
            return Err(SmtpError::RecipientsRefused(refused));
        }
        let replies = if chunking {
            if !pipelining {
                self.send_parts(&payload)?;
            }
            self.read_data_replies()?
        } else {
            let reply = if pipelining {
                self.read_reply()?
            } else {
                self.docmd("DATA", None)?
            };
            if reply.code != 354 {
                self.end_failed_transaction(reply.code);
                return Err(SmtpError::DataError(reply));
            }
            self.send_parts(&payload)?;
            self.read_data_replies()?
        };
        if !self.lmtp {
            return match replies.into_iter().next() {
                Some((_, reply)) if reply.code == 250 => Ok(refused),
                Some((_, reply)) => {
                    self.end_failed_transaction(reply.code);
                    Err(SmtpError::DataError(reply))
                }
                None => Err(SmtpError::DeliveryUnknown("no reply to the data".into())),
            };
        }
        // LMTP: every accepted recipient has its own outcome.
        let mut delivered = 0;
        for (recipient, reply) in replies {
            if reply.code == 250 {
                delivered += 1;
            } else {
                refused.push(Refusal { recipient, reply });
            }
        }
        if delivered == 0 {
            return Err(SmtpError::RecipientsRefused(refused));
        }
        Ok(refused)
    }

    /// smtplib's `send_message` for a serialized message: the envelope from the headers
    /// unless given (see [`crate::message::prepare`]), Bcc and Resent-Bcc removed, and
    /// SMTPUTF8 with BODY=8BITMIME added when an address needs them (`NotSupported`
    /// when the server does not advertise SMTPUTF8).
    pub fn send_message(
        &mut self,
        msg: &[u8],
        from: Option<&str>,
        to: Option<&[String]>,
        mail_options: &[String],
        rcpt_options: &[String],
    ) -> Result<Vec<Refusal>, SmtpError> {
        let prepared = crate::message::prepare(msg, from, to)?;
        self.ehlo_or_helo_if_needed()?;
        let mut options = mail_options.to_vec();
        let international = !prepared.from.is_ascii() || prepared.to.iter().any(|a| !a.is_ascii());
        if international {
            if !self.features.has("smtputf8") {
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
            &prepared.bytes,
            &options,
            rcpt_options,
        )
    }

    /// Reads the reply to the pipelined DATA (or BDAT) of a transaction that failed
    /// before it. A server that still says 354 gets an empty message body ended at once,
    /// which it must refuse, having no recipients.
    fn end_pipelined_data(&mut self, chunking: bool) -> Result<(), SmtpError> {
        let reply = self.read_reply()?;
        if !chunking && reply.code == 354 {
            self.send(b".\r\n")?;
            self.read_reply()?;
        }
        Ok(())
    }

    /// After a refused MAIL or data: close on 421, otherwise RSET.
    fn end_failed_transaction(&mut self, code: u16) {
        if code == 421 {
            self.close();
        } else {
            self.rset_quietly();
        }
    }

    /// The open connection, if any.
    pub fn connection(&self) -> Option<&T> {
        self.conn.as_ref()
    }

    /// smtplib's `starttls` up to the handshake: EHLO if needed, `NotSupported` unless
    /// STARTTLS is advertised, then STARTTLS. A reply other than 220 is a `Response`
    /// error (smtplib returns it; a caller that asked for TLS must not go on in clear).
    /// On 220 it hands back the connection for the handshake; bytes the server sent
    /// after its 220 are refused, since they would otherwise be read as replies inside
    /// TLS (the CVE-2011-0411 injection), and the connection is closed.
    pub fn starttls_begin(&mut self) -> Result<(Reply, T), SmtpError> {
        self.ehlo_or_helo_if_needed()?;
        if !self.features.has("starttls") {
            return Err(SmtpError::NotSupported(
                "STARTTLS extension not supported by server".into(),
            ));
        }
        let reply = self.docmd("STARTTLS", None)?;
        if reply.code != 220 {
            return Err(SmtpError::Response(reply));
        }
        let injected = self.parser.buffered();
        if injected > 0 {
            self.close();
            return Err(SmtpError::Tls(format!(
                "the server sent {injected} bytes after its 220 to STARTTLS, before the TLS handshake (possible command injection); connection closed"
            )));
        }
        let conn = self.conn.take().ok_or_else(|| {
            SmtpError::ServerDisconnected("connection lost before the TLS handshake".into())
        })?;
        self.parser.reset();
        Ok((reply, conn))
    }

    /// Takes the connection back after the handshake, forgetting everything learned from
    /// the EHLO before it (RFC 3207): the next command must be EHLO again.
    pub fn starttls_finish(&mut self, conn: T) {
        self.forget_helo();
        self.conn = Some(conn);
    }

    /// Starts an AUTH exchange for `mechanism`, with an initial response when given
    /// (RFC 4954; an empty one is sent as `=`). EHLO first if needed; `NotSupported`
    /// unless AUTH is advertised. The response is hidden in the debug transcript.
    pub fn auth_start(
        &mut self,
        mechanism: &str,
        initial: Option<&[u8]>,
    ) -> Result<AuthStep, SmtpError> {
        command::check_arg("SASL mechanism", mechanism, Charset::Ascii)?;
        if mechanism.is_empty() || mechanism.contains(' ') {
            return Err(SmtpError::InvalidArgument(format!(
                "{mechanism:?} is not a SASL mechanism name"
            )));
        }
        self.ehlo_or_helo_if_needed()?;
        if !self.features.has("auth") {
            return Err(SmtpError::NotSupported(
                "SMTP AUTH extension not supported by server".into(),
            ));
        }
        let reply = match initial {
            Some(response) => {
                let encoded = if response.is_empty() {
                    "=".to_string()
                } else {
                    BASE64.encode(response)
                };
                let line = format!("AUTH {mechanism} {encoded}\r\n");
                let shown = format!("AUTH {mechanism} <credentials hidden>\r\n");
                self.send_shown_as(&[line.as_bytes()], Some(&shown))?;
                self.read_reply()?
            }
            None => self.command(format!("AUTH {mechanism}\r\n").as_bytes())?,
        };
        self.auth_challenges = Some(0);
        self.auth_step(reply)
    }

    /// Answers the challenge of the AUTH exchange in progress.
    pub fn auth_continue(&mut self, response: &[u8]) -> Result<AuthStep, SmtpError> {
        if self.auth_challenges.is_none() {
            return Err(SmtpError::InvalidArgument(
                "no AUTH exchange in progress: call auth-start first".into(),
            ));
        }
        let line = format!("{}\r\n", BASE64.encode(response));
        self.send_shown_as(&[line.as_bytes()], Some("<credentials hidden>\r\n"))?;
        let reply = self.read_reply()?;
        self.auth_step(reply)
    }

    /// Ends the AUTH exchange in progress with `*` (RFC 4954) and returns the reply.
    pub fn auth_cancel(&mut self) -> Result<Reply, SmtpError> {
        if self.auth_challenges.take().is_none() {
            return Err(SmtpError::InvalidArgument(
                "no AUTH exchange in progress".into(),
            ));
        }
        self.command(b"*\r\n")
    }

    fn auth_step(&mut self, reply: Reply) -> Result<AuthStep, SmtpError> {
        match reply.code {
            334 => {
                let seen = self.auth_challenges.unwrap_or(0) + 1;
                self.auth_challenges = Some(seen);
                let decoded = BASE64.decode(reply.text.trim().as_bytes());
                match decoded {
                    Ok(challenge) if seen <= MAX_CHALLENGES => Ok(AuthStep::Challenge(challenge)),
                    _ => {
                        // Too many challenges, or one that is not base64: give up.
                        let _ = self.auth_cancel();
                        Err(SmtpError::AuthenticationError(reply))
                    }
                }
            }
            235 | 503 => {
                self.auth_challenges = None;
                Ok(AuthStep::Done(reply))
            }
            _ => {
                self.auth_challenges = None;
                Err(SmtpError::AuthenticationError(reply))
            }
        }
    }

    /// Runs a built-in mechanism through the AUTH exchange. For OAuth mechanisms, the
    /// JSON error the server sends as its challenge is added as the last line of the
    /// `AuthenticationError`'s reply text.
    pub fn authenticate(
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
        let mut step = self.auth_start(name, initial.as_deref())?;
        let mut oauth_error: Option<String> = None;
        loop {
            match step {
                AuthStep::Done(reply) => return Ok(reply),
                AuthStep::Challenge(challenge) => {
                    if mechanism.kind().is_oauth() {
                        oauth_error = Some(String::from_utf8_lossy(&challenge).into_owned());
                    }
                    let response = mechanism.respond(&challenge);
                    step = match self.auth_continue(&response) {
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

    /// smtplib's `login`: EHLO if needed, `NotSupported` unless AUTH is advertised, then
    /// CRAM-MD5, PLAIN and LOGIN in that order among those advertised, until one works.
    /// Fails with the last `AuthenticationError`, or `NotSupported` when the server
    /// offers none of the three.
    pub fn login(
        &mut self,
        user: &str,
        password: &str,
        initial_response_ok: bool,
    ) -> Result<Reply, SmtpError> {
        self.ehlo_or_helo_if_needed()?;
        let Some(advertised) = self.features.get("auth").map(str::to_ascii_uppercase) else {
            return Err(SmtpError::NotSupported(
                "SMTP AUTH extension not supported by server".into(),
            ));
        };
        let offered: Vec<&str> = advertised.split_whitespace().collect();
        let mut last = None;
        for kind in MechanismKind::LOGIN_ORDER {
            if !offered.contains(&kind.name()) {
                continue;
            }
            let mut mechanism = Mechanism::new(kind, user, password);
            match self.authenticate(&mut mechanism, initial_response_ok) {
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

    /// Sends QUIT, forgets the EHLO state and closes.
    pub fn quit(&mut self) -> Result<Reply, SmtpError> {
        let result = self.docmd("QUIT", None);
        self.forget_helo();
        self.close();
        result
    }
}
