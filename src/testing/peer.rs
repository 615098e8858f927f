//! An in-memory SMTP/LMTP server model that plays a fault at one reply position, and the
//! [`Io`]/[`Network`] that connect the client to it on a virtual clock.
//!
//! The model is a small, obviously correct server: it answers EHLO/LHLO, HELO, AUTH
//! (PLAIN, LOGIN), MAIL, RCPT, DATA, BDAT, RSET, NOOP and QUIT, reads DATA to its end
//! and BDAT by length, and keeps what it did with each message. Replies are numbered in
//! the order it produces them; at the chosen number it plays the fault instead.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::rc::Rc;

use crate::client::Network;
use crate::driver::{Io, WriteError};
use crate::endpoint::Endpoint;
use crate::error::SmtpError;

/// One second of virtual time.
pub const SECOND: u64 = 1_000_000_000;

/// What the server does at the faulty reply position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Closes the connection without replying (nothing more is processed).
    HangUp,
    /// Replies 421 and closes.
    Closing421,
    /// Replies 451 instead (the command is not carried out).
    Transient,
    /// Replies 554 instead (the command is not carried out).
    Permanent,
    /// Carries the command out but garbles the reply.
    Malformed,
    /// Carries the command out and replies with a 10,000-byte line.
    OverLong,
    /// Goes silent: reads everything, never replies, never closes.
    Silence,
    /// Carries the command out and replies twice.
    Extra,
    /// Carries the command out and sends the reply one byte every second.
    Trickle,
    /// The connection fails with a TLS record error where the reply was due (nothing
    /// more is processed).
    BadRecord,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 10] = [
        Fault::HangUp,
        Fault::Closing421,
        Fault::Transient,
        Fault::Permanent,
        Fault::Malformed,
        Fault::OverLong,
        Fault::Silence,
        Fault::Extra,
        Fault::Trickle,
        Fault::BadRecord,
    ];
}

/// What a reply answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The greeting.
    Greeting,
    /// EHLO or LHLO.
    Ehlo,
    /// HELO.
    Helo,
    /// STARTTLS.
    StartTls,
    /// The end of an AUTH exchange (235 or a refusal).
    Auth,
    /// A 334 challenge in an AUTH exchange.
    Challenge,
    /// MAIL.
    Mail,
    /// RCPT for this recipient.
    Rcpt(String),
    /// DATA (354).
    Data,
    /// The message (one reply, or one per recipient for LMTP).
    Message(String),
    /// RSET.
    Rset,
    /// QUIT.
    Quit,
    /// Anything else.
    Other,
}

/// What became of a message whose data the server received whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A 2xx reply went out intact.
    Accepted,
    /// Accepted, but the reply went out garbled, over-long or too slowly.
    AcceptedUnclear,
    /// Refused with an intact 4xx/5xx.
    Refused,
    /// The server hung up or went silent where the verdict was due: it may have kept it.
    Unknown,
}

/// One recipient's message as the server handled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The recipient (`*` for SMTP, where one reply covers all).
    pub recipient: String,
    /// The message as received (dot-stuffing removed).
    pub data: Vec<u8>,
    /// What the server did with it.
    pub verdict: Verdict,
}

/// How the model server behaves.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// LMTP: LHLO, and one reply per recipient after the data.
    pub lmtp: bool,
    /// EHLO keywords after the greeting line, such as `PIPELINING` or `AUTH PLAIN LOGIN`.
    pub extensions: Vec<String>,
    /// Recipients refused at RCPT (550).
    pub refuse_rcpt: Vec<String>,
    /// LMTP recipients refused after the data (552).
    pub refuse_after_data: Vec<String>,
    /// The fault, at a reply number (0 is the greeting).
    pub fault: Option<(usize, Fault)>,
    /// The text of the AUTH success reply (235), to echo things.
    pub auth_ok_text: Option<String>,
    /// The code of a successful reply to the message (250 when absent).
    pub accept_code: Option<u16>,
}

/// The user name and password the model accepts.
pub const USER: &str = "user";
/// See [`USER`].
pub const PASSWORD: &str = "secret-pw";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Command,
    Data,
    Bdat {
        left: usize,
        last: bool,
        refused: bool,
    },
    AuthLogin {
        step: u8,
        user: String,
    },
    AuthPlain,
    /// Hung up: reads see the end once the queued bytes are gone.
    Closed,
    /// Never answers again.
    Silent,
}

/// The server model. See the module documentation.
#[derive(Debug)]
pub struct Server {
    cfg: ServerConfig,
    inbuf: Vec<u8>,
    mode: Mode,
    mail: bool,
    rcpts: Vec<String>,
    bdat: Vec<u8>,
    /// What each reply answered, by number.
    pub answers: Vec<Answer>,
    /// Every message whose data arrived whole in a transaction, per recipient.
    pub deliveries: Vec<Delivery>,
    /// Bytes queued for the client: (bytes, trickled one a second).
    out: VecDeque<(Vec<u8>, bool)>,
    /// Everything the client wrote.
    pub wire: Vec<u8>,
    /// Reads fail with a TLS record error once the queued bytes are gone.
    broken: bool,
    /// Stops reading once DATA's 354 is sent: writes of the message time out.
    pub stop_reading_data: bool,
}

impl Server {
    /// A server that has just accepted a connection (the greeting is queued).
    pub fn new(cfg: ServerConfig) -> Server {
        let mut server = Server {
            cfg,
            inbuf: Vec::new(),
            mode: Mode::Command,
            mail: false,
            rcpts: Vec::new(),
            bdat: Vec::new(),
            answers: Vec::new(),
            deliveries: Vec::new(),
            out: VecDeque::new(),
            wire: Vec::new(),
            broken: false,
            stop_reading_data: false,
        };
        server.reply(Answer::Greeting, "220 mx.test ESMTP model\r\n".into());
        server
    }

    /// The fault planned for the next reply, if any.
    fn fault_now(&self) -> Option<Fault> {
        match self.cfg.fault {
            Some((at, fault)) if at == self.answers.len() => Some(fault),
            _ => None,
        }
    }

    /// Sends `normal` as the reply to `answer`, or plays the fault planned for this
    /// reply. True when the command is to be carried out.
    fn reply(&mut self, answer: Answer, normal: String) -> bool {
        let fault = self.fault_now();
        self.answers.push(answer);
        match fault {
            None => {
                self.out.push_back((normal.into_bytes(), false));
                true
            }
            Some(Fault::HangUp) => {
                self.mode = Mode::Closed;
                false
            }
            Some(Fault::Closing421) => {
                self.out
                    .push_back((b"421 4.3.2 mx.test closing connection\r\n".to_vec(), false));
                self.mode = Mode::Closed;
                false
            }
            Some(Fault::Transient) => {
                self.out
                    .push_back((b"451 4.3.0 try again later\r\n".to_vec(), false));
                false
            }
            Some(Fault::Permanent) => {
                self.out
                    .push_back((b"554 5.7.1 refused\r\n".to_vec(), false));
                false
            }
            Some(Fault::Malformed) => {
                self.out.push_back((b"2x0 garbled\r\n".to_vec(), false));
                true
            }
            Some(Fault::OverLong) => {
                let mut line = normal.into_bytes();
                line.truncate(4);
                line.resize(10_004, b'a');
                line.extend_from_slice(b"\r\n");
                self.out.push_back((line, false));
                true
            }
            Some(Fault::Silence) => {
                self.mode = Mode::Silent;
                false
            }
            Some(Fault::Extra) => {
                self.out.push_back((normal.into_bytes(), false));
                self.out
                    .push_back((b"250 2.0.0 an extra reply\r\n".to_vec(), false));
                true
            }
            Some(Fault::Trickle) => {
                self.out.push_back((normal.into_bytes(), true));
                true
            }
            Some(Fault::BadRecord) => {
                self.mode = Mode::Closed;
                self.broken = true;
                false
            }
        }
    }

    /// What the fault at the verdict makes of an accepted message.
    fn accepted_verdict(fault: Option<Fault>) -> Verdict {
        match fault {
            None | Some(Fault::Extra) => Verdict::Accepted,
            Some(Fault::Malformed | Fault::OverLong | Fault::Trickle) => Verdict::AcceptedUnclear,
            Some(Fault::Transient | Fault::Permanent | Fault::Closing421) => Verdict::Refused,
            Some(Fault::HangUp | Fault::Silence | Fault::BadRecord) => Verdict::Unknown,
        }
    }

    /// Replies to a whole message: one reply (SMTP) or one per recipient (LMTP).
    fn verdicts(&mut self, data: Vec<u8>) {
        let accept = self.cfg.accept_code.unwrap_or(250);
        let rcpts = std::mem::take(&mut self.rcpts);
        self.mail = false;
        if !self.cfg.lmtp {
            let fault = self.fault_now();
            self.reply(
                Answer::Message("*".into()),
                format!("{accept} 2.0.0 Ok: queued as 4XyZ\r\n"),
            );
            let verdict = Server::accepted_verdict(fault);
            self.deliveries.push(Delivery {
                recipient: "*".into(),
                data,
                verdict,
            });
            return;
        }
        for rcpt in rcpts {
            if matches!(self.mode, Mode::Closed | Mode::Silent) {
                // Hung up mid-way: the rest may or may not have been delivered.
                self.deliveries.push(Delivery {
                    recipient: rcpt,
                    data: data.clone(),
                    verdict: Verdict::Unknown,
                });
                continue;
            }
            let fault = self.fault_now();
            if self.cfg.refuse_after_data.contains(&rcpt) {
                let sent = self.reply(
                    Answer::Message(rcpt.clone()),
                    format!("552 5.2.2 <{rcpt}> mailbox full\r\n"),
                );
                let verdict = match fault {
                    None | Some(Fault::Transient | Fault::Permanent | Fault::Closing421) => {
                        Verdict::Refused
                    }
                    Some(Fault::Extra) if sent => Verdict::Refused,
                    _ => Verdict::Unknown,
                };
                self.deliveries.push(Delivery {
                    recipient: rcpt,
                    data: data.clone(),
                    verdict,
                });
            } else {
                self.reply(
                    Answer::Message(rcpt.clone()),
                    format!("{accept} 2.0.0 <{rcpt}> delivered\r\n"),
                );
                self.deliveries.push(Delivery {
                    recipient: rcpt,
                    data: data.clone(),
                    verdict: Server::accepted_verdict(fault),
                });
            }
        }
    }

    fn ehlo_reply(&self, verb: &str) -> String {
        let mut lines = vec![format!("mx.test greets you ({verb})")];
        lines.extend(self.cfg.extensions.iter().cloned());
        let last = lines.len() - 1;
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}\r\n", if i == last { ' ' } else { '-' }))
            .collect()
    }

    fn has(&self, ext: &str) -> bool {
        self.cfg.extensions.iter().any(|e| {
            e.split(' ')
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(ext))
        })
    }

    /// Takes bytes the client wrote and answers what is complete.
    pub fn receive(&mut self, bytes: &[u8]) {
        self.wire.extend_from_slice(bytes);
        if matches!(self.mode, Mode::Closed | Mode::Silent) {
            return;
        }
        self.inbuf.extend_from_slice(bytes);
        loop {
            match self.mode.clone() {
                Mode::Closed | Mode::Silent => return,
                Mode::Bdat {
                    left,
                    last,
                    refused,
                } => {
                    let take = left.min(self.inbuf.len());
                    self.bdat.extend(self.inbuf.drain(..take));
                    if take < left {
                        self.mode = Mode::Bdat {
                            left: left - take,
                            last,
                            refused,
                        };
                        return;
                    }
                    self.mode = Mode::Command;
                    if refused {
                        self.bdat.clear();
                        continue;
                    }
                    if !self.mail || self.rcpts.is_empty() {
                        self.bdat.clear();
                        self.reply(
                            Answer::Message("*".into()),
                            "503 5.5.1 no valid recipients\r\n".into(),
                        );
                        continue;
                    }
                    if last {
                        // The message is every chunk since MAIL, joined.
                        let msg = std::mem::take(&mut self.bdat);
                        self.verdicts(msg);
                    } else {
                        self.reply(Answer::Other, "250 2.0.0 chunk ok\r\n".into());
                    }
                }
                Mode::Data => {
                    let Some(end) = find_end_of_data(&self.inbuf) else {
                        return;
                    };
                    let raw: Vec<u8> = self.inbuf.drain(..end.1).collect();
                    let body = unstuff(raw.get(..end.0).unwrap_or_default());
                    self.mode = Mode::Command;
                    self.verdicts(body);
                }
                Mode::Command | Mode::AuthLogin { .. } | Mode::AuthPlain => {
                    let Some(lf) = self.inbuf.iter().position(|&b| b == b'\n') else {
                        return;
                    };
                    let line: Vec<u8> = self.inbuf.drain(..=lf).collect();
                    let line = String::from_utf8_lossy(&line).trim_end().to_string();
                    self.command(&line);
                }
            }
        }
    }

    fn command(&mut self, line: &str) {
        match self.mode.clone() {
            Mode::AuthPlain => {
                self.mode = Mode::Command;
                return self.auth_plain(line);
            }
            Mode::AuthLogin { step, user } => {
                let decoded = decode(line);
                if step == 0 {
                    if self.reply(Answer::Challenge, "334 UGFzc3dvcmQ6\r\n".into()) {
                        self.mode = Mode::AuthLogin {
                            step: 1,
                            user: decoded,
                        };
                    } else {
                        self.mode = Mode::Command;
                    }
                } else {
                    self.mode = Mode::Command;
                    self.auth_result(user == USER && decoded == PASSWORD);
                }
                return;
            }
            _ => {}
        }
        let upper = line.to_ascii_uppercase();
        let verb = upper.split(' ').next().unwrap_or_default().to_string();
        match verb.as_str() {
            "EHLO" | "LHLO" => {
                if (verb == "LHLO") != self.cfg.lmtp {
                    self.reply(Answer::Ehlo, "500 5.5.1 wrong greeting\r\n".into());
                } else {
                    let text = self.ehlo_reply(&verb);
                    self.reply(Answer::Ehlo, text);
                }
            }
            "HELO" => {
                self.reply(Answer::Helo, "250 mx.test\r\n".into());
            }
            "STARTTLS" => {
                self.reply(Answer::StartTls, "220 2.0.0 ready to start TLS\r\n".into());
                // The model speaks no TLS: it hangs up after the reply.
                if self.mode != Mode::Silent {
                    self.mode = Mode::Closed;
                }
            }
            "AUTH" => {
                let mut words = line.split(' ').skip(1);
                let mech = words.next().unwrap_or_default().to_ascii_uppercase();
                let initial = words.next();
                match (mech.as_str(), initial) {
                    ("PLAIN", Some(resp)) => self.auth_plain(resp),
                    ("PLAIN", None) => {
                        if self.reply(Answer::Challenge, "334 \r\n".into()) {
                            self.mode = Mode::AuthPlain;
                        }
                    }
                    ("LOGIN", initial) => {
                        let (step, prompt, user) = match initial {
                            Some(u) => (1, "334 UGFzc3dvcmQ6\r\n", decode(u)),
                            None => (0, "334 VXNlcm5hbWU6\r\n", String::new()),
                        };
                        if self.reply(Answer::Challenge, prompt.into()) {
                            self.mode = Mode::AuthLogin { step, user };
                        }
                    }
                    _ => {
                        self.reply(Answer::Auth, "504 5.5.4 unknown mechanism\r\n".into());
                    }
                }
            }
            "MAIL" => {
                if self.mail {
                    self.reply(Answer::Mail, "503 5.5.1 nested MAIL\r\n".into());
                } else if self.reply(Answer::Mail, "250 2.1.0 Ok\r\n".into()) {
                    self.mail = true;
                    self.rcpts.clear();
                }
            }
            "RCPT" => {
                let addr = between_angles(line);
                if !self.mail {
                    self.reply(Answer::Rcpt(addr), "503 5.5.1 need MAIL\r\n".into());
                } else if self.cfg.refuse_rcpt.contains(&addr) {
                    self.reply(
                        Answer::Rcpt(addr.clone()),
                        format!("550 5.1.1 <{addr}> unknown user\r\n"),
                    );
                } else if self.reply(Answer::Rcpt(addr.clone()), "250 2.1.5 Ok\r\n".into()) {
                    self.rcpts.push(addr);
                }
            }
            "DATA" => {
                if !self.mail || self.rcpts.is_empty() {
                    self.reply(Answer::Data, "554 5.5.1 no valid recipients\r\n".into());
                } else if self.reply(
                    Answer::Data,
                    "354 End data with <CR><LF>.<CR><LF>\r\n".into(),
                ) {
                    self.mode = Mode::Data;
                }
            }
            "BDAT" if self.has("CHUNKING") => {
                let mut words = upper.split(' ').skip(1);
                let left = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                let last = words.next() == Some("LAST");
                self.mode = Mode::Bdat {
                    left,
                    last,
                    refused: false,
                };
            }
            "RSET" => {
                if self.reply(Answer::Rset, "250 2.0.0 Ok\r\n".into()) {
                    self.mail = false;
                    self.rcpts.clear();
                    self.bdat.clear();
                }
            }
            "NOOP" => {
                self.reply(Answer::Other, "250 2.0.0 Ok\r\n".into());
            }
            "QUIT" => {
                self.reply(Answer::Quit, "221 2.0.0 Bye\r\n".into());
                if self.mode != Mode::Silent {
                    self.mode = Mode::Closed;
                }
            }
            _ => {
                self.reply(Answer::Other, "500 5.5.2 what?\r\n".into());
            }
        }
    }

    fn auth_plain(&mut self, resp: &str) {
        let decoded = decode(resp);
        let mut parts = decoded.split('\0').skip(1);
        let ok = parts.next() == Some(USER) && parts.next() == Some(PASSWORD);
        self.auth_result(ok);
    }

    fn auth_result(&mut self, ok: bool) {
        if ok {
            let text = self
                .cfg
                .auth_ok_text
                .clone()
                .unwrap_or_else(|| "2.7.0 Authentication successful".into());
            self.reply(Answer::Auth, format!("235 {text}\r\n"));
        } else {
            self.reply(Answer::Auth, "535 5.7.8 bad credentials\r\n".into());
        }
    }
}

fn decode(b64: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map(|d| String::from_utf8_lossy(&d).into_owned())
        .unwrap_or_default()
}

fn between_angles(line: &str) -> String {
    match (line.find('<'), line.find('>')) {
        (Some(a), Some(b)) if a < b => line[a + 1..b].to_string(),
        _ => String::new(),
    }
}

/// Where DATA ends in `buf`: (end of the message bytes, end of the terminator), for a
/// receiver that splits lines only at CRLF.
pub fn find_end_of_data(buf: &[u8]) -> Option<(usize, usize)> {
    if buf.starts_with(b".\r\n") {
        return Some((0, 3));
    }
    buf.windows(5)
        .position(|w| w == b"\r\n.\r\n")
        .map(|i| (i + 2, i + 5))
}

/// Removes dot-stuffing from DATA lines (split at CRLF).
pub fn unstuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut at_line_start = true;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if at_line_start && b == b'.' {
            i += 1;
            at_line_start = false;
            continue;
        }
        out.push(b);
        at_line_start = b == b'\n' && i > 0 && body[i - 1] == b'\r';
        i += 1;
    }
    out
}

/// Where a client connected to, and the source address it asked for.
pub type Connected = (Endpoint, Option<(IpAddr, u16)>);

/// The virtual clock and the server, shared by the network and its connection.
#[derive(Clone, Debug)]
pub struct Pair {
    /// The current virtual time (ns).
    pub now: Rc<RefCell<u64>>,
    /// The server.
    pub server: Rc<RefCell<Server>>,
    /// Where the client connected to, and from.
    pub target: Rc<RefCell<Option<Connected>>>,
    /// The address the connection reports for the peer (loopback unless set).
    pub peer_ip: IpAddr,
}

impl Pair {
    /// A server with `cfg`, at time 0.
    pub fn new(cfg: ServerConfig) -> Pair {
        Pair {
            now: Rc::new(RefCell::new(0)),
            server: Rc::new(RefCell::new(Server::new(cfg))),
            target: Rc::new(RefCell::new(None)),
            peer_ip: IpAddr::from([127, 0, 0, 1]),
        }
    }

    /// The virtual time now (ns).
    pub fn time(&self) -> u64 {
        *self.now.borrow()
    }
}

impl Network for Pair {
    type Conn = Pair;

    fn connect(
        &mut self,
        target: &Endpoint,
        source: Option<(IpAddr, u16)>,
        _timeout_ns: u64,
    ) -> Result<Pair, SmtpError> {
        *self.target.borrow_mut() = Some((target.clone(), source));
        // A new connection meets a new server (with the same behaviour).
        let used = {
            let server = self.server.borrow();
            !server.wire.is_empty() || server.out.is_empty()
        };
        if used {
            let cfg = self.server.borrow().cfg.clone();
            *self.server.borrow_mut() = Server::new(cfg);
        }
        Ok(self.clone())
    }

    fn now(&self) -> u64 {
        *self.now.borrow()
    }
}

impl Io for Pair {
    fn write(&mut self, parts: &[&[u8]], timeout_ns: u64) -> Result<(), WriteError> {
        let mut server = self.server.borrow_mut();
        if server.stop_reading_data && server.mode == Mode::Data {
            *self.now.borrow_mut() += timeout_ns;
            return Err(WriteError {
                error: SmtpError::Timeout("virtual clock: the peer stopped reading".into()),
                written: 0,
            });
        }
        for part in parts {
            server.receive(part);
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], deadline: u64) -> Result<usize, SmtpError> {
        let mut server = self.server.borrow_mut();
        let mut now = self.now.borrow_mut();
        let Some((bytes, trickled)) = server.out.front_mut() else {
            if server.broken {
                return Err(SmtpError::Tls("bad record MAC".into()));
            }
            if server.mode == Mode::Closed {
                return Ok(0);
            }
            *now = (*now).max(deadline);
            return Err(SmtpError::Timeout("virtual clock: deadline passed".into()));
        };
        if *trickled {
            if *now + SECOND > deadline {
                *now = (*now).max(deadline);
                return Err(SmtpError::Timeout("virtual clock: deadline passed".into()));
            }
            *now += SECOND;
            let (Some(slot), Some(&b)) = (buf.first_mut(), bytes.first()) else {
                return Ok(0);
            };
            *slot = b;
            bytes.remove(0);
            if bytes.is_empty() {
                server.out.pop_front();
            }
            return Ok(1);
        }
        // Everything the server has written so far arrives together, as from a
        // receive buffer, up to a trickled reply.
        let mut n = 0;
        while let Some((bytes, false)) = server.out.front_mut() {
            let take = bytes.len().min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&bytes[..take]);
            bytes.drain(..take);
            n += take;
            if !bytes.is_empty() {
                break;
            }
            server.out.pop_front();
        }
        Ok(n)
    }

    fn now(&self) -> u64 {
        *self.now.borrow()
    }

    fn peer(&self) -> Option<IpAddr> {
        Some(self.peer_ip)
    }
}
