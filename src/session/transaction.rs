//! One mail transaction as a state machine over replies: `sendmail` (MAIL, RCPT…, DATA
//! or BDAT, in lockstep or pipelined) and the low-level `data`. Each reply moves it on;
//! the session carries out the [`Step`] it returns.
//!
//! What it reports, and why it can be trusted:
//! - `Sent` only after a 2xx reply to the message (any 2xx; for LMTP, a 2xx for at
//!   least one recipient), and every recipient refused anywhere is listed.
//! - A known refusal stays the answer: once MAIL, every RCPT or the data were refused,
//!   a connection lost while the rest of a pipelined batch or the RSET is read still
//!   reports that refusal.
//! - Once every byte of the message and its end has been handed to the network (after
//!   the final `.`, or with `BDAT n LAST` in the same write as MAIL and RCPT under
//!   PIPELINING), any failure before a verdict — hang-up, silence, a garbled or
//!   over-long reply, a TLS record error — is `DeliveryUnknown`: the server may have
//!   taken the message, so neither success nor an ordinary failure would be true. For
//!   LMTP the text names the recipients already known to be delivered.

use super::{BodyKind, Outcome, Pending, Sent};
use crate::error::{Refusal, SmtpError};
use crate::protocol::reply::Reply;

/// Which reply the transaction waits for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The reply to MAIL.
    Mail,
    /// The reply to the i-th RCPT.
    Rcpt(usize),
    /// The reply to DATA (354 expected).
    Data,
    /// The replies to the message: one, or one per accepted recipient for LMTP.
    Final,
    /// After a refusal under PIPELINING: the replies still due for the RCPTs not yet
    /// answered, then the one for DATA/BDAT.
    DrainRcpt(usize),
    /// The reply due for a pipelined DATA or BDAT after the transaction failed.
    DrainData,
    /// The reply to the `.` sent to end a DATA the server still accepted with 354.
    DrainDot,
    /// The reply to the RSET after a refusal.
    Rset,
    /// A streamed body: waiting for the caller's next piece (nothing is awaited from the
    /// server).
    Body,
    /// A streamed body over BDAT: the reply to a chunk that is not the last.
    Chunk,
}

/// What the session does next.
pub(super) enum Step {
    /// Wait for the next reply.
    Wait,
    /// A streamed body may go now: the operation pauses for its first piece.
    Ready,
    /// Write this, then wait.
    Send(Pending),
    /// The operation ended; the connection stays open.
    Done(Result<Outcome, SmtpError>),
    /// The operation ended; close the connection (the server said 421).
    Close(Result<Outcome, SmtpError>),
}

/// A mail transaction in progress.
pub(super) struct Transaction {
    msg: Vec<u8>,
    body: BodyKind,
    from: String,
    to: Vec<String>,
    rcpt_lines: Vec<Vec<u8>>,
    pipelined: bool,
    lmtp: bool,
    /// The low-level `data`: no MAIL or RCPT here, replies returned as they are.
    data_only: bool,
    stage: Stage,
    refused: Vec<Refusal>,
    accepted: Vec<String>,
    /// The RCPT reply of each accepted recipient, in the order of `accepted`.
    accepted_replies: Vec<Reply>,
    /// The replies to the message read so far.
    finals: Vec<(String, Reply)>,
    /// Every byte of the message and its end has been handed to the network.
    sent: bool,
    /// The outcome already known (a refusal) while the rest is read or reset.
    failure: Option<SmtpError>,
    /// The body is streamed: sent piece by piece after MAIL and RCPT (and DATA's 354),
    /// `msg` stays empty.
    streamed: Option<Stream>,
}

/// The encoder state of a streamed body.
pub(super) enum Stream {
    /// DATA: line ends and dots across pieces.
    Dot(crate::protocol::data::DotStuffer),
    /// BDAT: one chunk per piece.
    Bdat(crate::protocol::data::BdatFramer),
}

fn rset() -> Pending {
    Pending::line(b"RSET\r\n".to_vec())
}

fn message_pending(head: Vec<u8>, body: BodyKind) -> Pending {
    Pending {
        head,
        body: Some(body),
        shown: None,
        piece: None,
    }
}

impl Transaction {
    /// A transaction at MAIL with nothing planned or answered yet: no message, sender
    /// or recipients, in lockstep, its body sent as `body`.
    fn fresh(body: BodyKind, lmtp: bool) -> Transaction {
        Transaction {
            msg: Vec::new(),
            body,
            from: String::new(),
            to: Vec::new(),
            rcpt_lines: Vec::new(),
            pipelined: false,
            lmtp,
            data_only: false,
            stage: Stage::Mail,
            refused: Vec::new(),
            accepted: Vec::new(),
            accepted_replies: Vec::new(),
            finals: Vec::new(),
            sent: false,
            failure: None,
            streamed: None,
        }
    }

    /// A `sendmail` transaction and its first write (MAIL alone in lockstep; under
    /// PIPELINING MAIL, every RCPT and DATA, or with CHUNKING the whole message).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn sendmail(
        from: String,
        to: Vec<String>,
        msg: Vec<u8>,
        mail_line: Vec<u8>,
        rcpt_lines: Vec<Vec<u8>>,
        pipelined: bool,
        body: BodyKind,
        lmtp: bool,
    ) -> (Transaction, Pending) {
        let first = if pipelined {
            let mut head = mail_and_rcpts(mail_line, &rcpt_lines);
            match body {
                BodyKind::Dot => {
                    head.extend_from_slice(b"DATA\r\n");
                    Pending::line(head)
                }
                BodyKind::Bdat => {
                    head.extend_from_slice(&bdat_head(&msg));
                    message_pending(head, body)
                }
            }
        } else {
            Pending::line(mail_line)
        };
        let txn = Transaction {
            msg,
            from,
            to,
            rcpt_lines,
            pipelined,
            ..Transaction::fresh(body, lmtp)
        };
        (txn, first)
    }

    /// The low-level `data` after DATA was planned: `recipients` were accepted by
    /// earlier `rcpt` calls (LMTP reads one reply for each).
    pub(super) fn data_only(msg: Vec<u8>, recipients: Vec<String>, lmtp: bool) -> Transaction {
        Transaction {
            msg,
            data_only: true,
            stage: Stage::Data,
            accepted: recipients,
            ..Transaction::fresh(BodyKind::Dot, lmtp)
        }
    }

    /// A `sendmail` transaction whose body is streamed, and its first write: MAIL alone
    /// in lockstep; under PIPELINING MAIL, every RCPT and (for DATA) DATA. Once the
    /// recipients are accepted (and DATA answered 354) it pauses with [`Step::Ready`],
    /// and [`Transaction::piece`] plans each piece of the body.
    pub(super) fn streamed(
        from: String,
        to: Vec<String>,
        mail_line: Vec<u8>,
        rcpt_lines: Vec<Vec<u8>>,
        pipelined: bool,
        body: BodyKind,
        lmtp: bool,
    ) -> (Transaction, Pending) {
        let first = if pipelined {
            let mut head = mail_and_rcpts(mail_line, &rcpt_lines);
            if body == BodyKind::Dot {
                head.extend_from_slice(b"DATA\r\n");
            }
            Pending::line(head)
        } else {
            Pending::line(mail_line)
        };
        let stream = match body {
            BodyKind::Dot => Stream::Dot(Default::default()),
            BodyKind::Bdat => Stream::Bdat(Default::default()),
        };
        let txn = Transaction {
            from,
            to,
            rcpt_lines,
            pipelined,
            streamed: Some(stream),
            ..Transaction::fresh(body, lmtp)
        };
        (txn, first)
    }

    /// Whether the transaction waits for the caller's next piece of a streamed body.
    pub(super) fn wants_piece(&self) -> bool {
        self.stage == Stage::Body
    }

    /// The write that carries the next piece of a streamed body (`last`: and its end),
    /// or `None` when the transaction is not waiting for one. After the last piece the
    /// verdict is awaited; after another, the reply to its BDAT chunk, or (DATA)
    /// nothing.
    pub(super) fn piece(&mut self, bytes: &[u8], last: bool) -> Option<Pending> {
        if self.stage != Stage::Body {
            return None;
        }
        let mut out = Vec::new();
        match self.streamed.as_mut()? {
            Stream::Dot(stuffer) => {
                out.reserve(bytes.len() + bytes.len() / 32 + 5);
                stuffer.push(bytes, &mut out);
                if last {
                    stuffer.finish(&mut out);
                }
            }
            Stream::Bdat(framer) => out = framer.chunk(bytes, last),
        }
        self.stage = if last {
            Stage::Final
        } else if self.body == BodyKind::Bdat {
            Stage::Chunk
        } else {
            Stage::Body
        };
        Some(Pending {
            head: Vec::new(),
            body: None,
            shown: None,
            piece: Some(super::Piece { bytes: out, last }),
        })
    }

    /// A streamed BDAT transaction sends no DATA or BDAT in its pipelined batch, so
    /// after a refusal there is no reply to drain for one.
    fn drains_data(&self) -> bool {
        !(self.streamed.is_some() && self.body == BodyKind::Bdat)
    }

    /// The message, as the caller gave it in wire form.
    pub(super) fn message(&self) -> &[u8] {
        &self.msg
    }

    /// Every byte of the message and its end has been handed to the network.
    pub(super) fn message_sent(&mut self) {
        self.sent = true;
    }

    /// Whether the verdict arrives among other replies awaited at once (the whole
    /// transaction pipelined with BDAT, or one reply per recipient for LMTP), so that an
    /// extra reply before it would shift it onto the wrong command.
    pub(super) fn verdict_may_be_shifted(&self) -> bool {
        (self.pipelined && self.body == BodyKind::Bdat) || self.finals_due() > 1
    }

    /// Replies due after the message: one per accepted recipient for LMTP.
    fn finals_due(&self) -> usize {
        if self.lmtp {
            self.accepted.len().max(1)
        } else {
            1
        }
    }

    /// What a failure (`error`) before the end means for this transaction. A refusal
    /// already read stands, unless the replies were found out of step (`trust_known`
    /// false) in a pipelined batch, where it may have answered another command.
    pub(super) fn classify_failure(&self, error: SmtpError, trust_known: bool) -> SmtpError {
        if let Some(known) = &self.failure {
            if trust_known || !self.pipelined {
                return known.clone();
            }
        }
        if !self.sent {
            return error;
        }
        let why = match &error {
            SmtpError::Timeout(m)
            | SmtpError::ServerDisconnected(m)
            | SmtpError::Io(m)
            | SmtpError::Tls(m)
            | SmtpError::MalformedReply(m) => m.clone(),
            other => other.to_string(),
        };
        let mut text = format!(
            "the whole message was sent, then no verdict came ({why}); it may have been delivered"
        );
        if self.lmtp && !self.finals.is_empty() {
            let delivered: Vec<&str> = self
                .finals
                .iter()
                .filter(|(_, r)| r.is_positive())
                .map(|(rcpt, _)| rcpt.as_str())
                .collect();
            let refused: Vec<&str> = self
                .finals
                .iter()
                .filter(|(_, r)| !r.is_positive())
                .map(|(rcpt, _)| rcpt.as_str())
                .collect();
            let unknown: Vec<&str> = self
                .accepted
                .iter()
                .skip(self.finals.len())
                .map(String::as_str)
                .collect();
            text.push_str(&format!(
                "; delivered to: {}; refused: {}; no verdict for: {}",
                list(&delivered),
                list(&refused),
                list(&unknown)
            ));
        }
        SmtpError::DeliveryUnknown(text)
    }

    /// Moves on with the next reply.
    pub(super) fn on_reply(&mut self, reply: Reply) -> Step {
        match self.stage {
            Stage::Mail => self.on_mail(reply),
            Stage::Rcpt(i) => self.on_rcpt(i, reply),
            Stage::Data => self.on_data(reply),
            Stage::Final => self.on_final(reply),
            Stage::DrainRcpt(left) => {
                if left <= 1 && !self.drains_data() {
                    return self.reset();
                }
                self.stage = if left > 1 {
                    Stage::DrainRcpt(left - 1)
                } else {
                    Stage::DrainData
                };
                Step::Wait
            }
            Stage::Body => Step::Close(Err(SmtpError::MalformedReply(format!(
                "a reply while the message was being sent ({reply}); connection closed"
            )))),
            Stage::Chunk => self.on_chunk(reply),
            Stage::DrainData => {
                if self.body == BodyKind::Dot && reply.code == 354 {
                    // The server still wants data though the transaction failed: end it
                    // at once with an empty body, which it must refuse.
                    self.stage = Stage::DrainDot;
                    return Step::Send(Pending::line(b".\r\n".to_vec()));
                }
                self.reset()
            }
            Stage::DrainDot => self.reset(),
            Stage::Rset => Step::Done(Err(self.take_failure())),
        }
    }

    fn take_failure(&mut self) -> SmtpError {
        self.failure
            .take()
            .unwrap_or_else(|| SmtpError::Io("internal: no failure recorded".into()))
    }

    /// After a refusal: RSET, then report it.
    fn reset(&mut self) -> Step {
        self.stage = Stage::Rset;
        Step::Send(rset())
    }

    /// After a refusal, with the pipelined batch's replies still due from `next_rcpt`.
    fn refuse(&mut self, error: SmtpError, next_rcpt: usize) -> Step {
        self.failure = Some(error);
        if !self.pipelined {
            return self.reset();
        }
        let left = self.rcpt_lines.len().saturating_sub(next_rcpt);
        if left == 0 && !self.drains_data() {
            return self.reset();
        }
        self.stage = if left > 0 {
            Stage::DrainRcpt(left)
        } else {
            Stage::DrainData
        };
        Step::Wait
    }

    fn on_mail(&mut self, reply: Reply) -> Step {
        if reply.code != 250 {
            let code = reply.code;
            let error = SmtpError::SenderRefused {
                sender: self.from.clone(),
                reply,
            };
            if code == 421 {
                return Step::Close(Err(error));
            }
            return self.refuse(error, 0);
        }
        self.stage = Stage::Rcpt(0);
        self.next_rcpt_step(0)
    }

    /// In lockstep, sends RCPT `i`; under PIPELINING it is already on its way.
    fn next_rcpt_step(&mut self, i: usize) -> Step {
        if self.pipelined {
            return Step::Wait;
        }
        match self.rcpt_lines.get(i) {
            Some(line) => Step::Send(Pending::line(line.clone())),
            None => Step::Wait,
        }
    }

    fn on_rcpt(&mut self, i: usize, reply: Reply) -> Step {
        let recipient = self.to.get(i).cloned().unwrap_or_default();
        let code = reply.code;
        if code == 250 || code == 251 {
            self.accepted.push(recipient);
            self.accepted_replies.push(reply);
        } else {
            self.refused.push(Refusal { recipient, reply });
        }
        if code == 421 {
            return Step::Close(Err(SmtpError::RecipientsRefused(std::mem::take(
                &mut self.refused,
            ))));
        }
        let next = i + 1;
        if next < self.rcpt_lines.len() {
            self.stage = Stage::Rcpt(next);
            return self.next_rcpt_step(next);
        }
        if self.accepted.is_empty() {
            let error = SmtpError::RecipientsRefused(self.refused.clone());
            return self.refuse(error, next);
        }
        match (self.body, self.pipelined) {
            (BodyKind::Bdat, _) if self.streamed.is_some() => {
                self.stage = Stage::Body;
                Step::Ready
            }
            (BodyKind::Dot, _) => {
                self.stage = Stage::Data;
                if self.pipelined {
                    Step::Wait
                } else {
                    Step::Send(Pending::line(b"DATA\r\n".to_vec()))
                }
            }
            (BodyKind::Bdat, true) => {
                self.stage = Stage::Final;
                Step::Wait
            }
            (BodyKind::Bdat, false) => {
                self.stage = Stage::Final;
                Step::Send(message_pending(bdat_head(&self.msg), BodyKind::Bdat))
            }
        }
    }

    fn on_data(&mut self, reply: Reply) -> Step {
        if reply.code == 354 && self.streamed.is_some() {
            self.stage = Stage::Body;
            return Step::Ready;
        }
        if reply.code == 354 {
            self.stage = Stage::Final;
            return Step::Send(message_pending(Vec::new(), BodyKind::Dot));
        }
        let code = reply.code;
        let error = SmtpError::DataError(reply);
        if self.data_only {
            return Step::Done(Err(error));
        }
        if code == 421 {
            return Step::Close(Err(error));
        }
        self.failure = Some(error);
        self.reset()
    }

    /// The reply to a BDAT chunk that was not the last: 250 lets the next piece go.
    fn on_chunk(&mut self, reply: Reply) -> Step {
        if reply.code == 250 {
            self.stage = Stage::Body;
            return Step::Ready;
        }
        let code = reply.code;
        let error = SmtpError::DataError(reply);
        if code == 421 {
            return Step::Close(Err(error));
        }
        self.failure = Some(error);
        self.reset()
    }

    fn on_final(&mut self, reply: Reply) -> Step {
        let recipient = self
            .accepted
            .get(self.finals.len())
            .cloned()
            .unwrap_or_default();
        self.finals.push((recipient, reply));
        if self.finals.len() < self.finals_due() {
            return Step::Wait;
        }
        let finals = std::mem::take(&mut self.finals);
        if self.data_only {
            return Step::Done(Ok(Outcome::DataReplies(finals)));
        }
        if !self.lmtp {
            let Some((_, reply)) = finals.into_iter().next() else {
                return Step::Done(Err(SmtpError::Io("internal: no reply".into())));
            };
            if reply.is_positive() {
                let sent = self.sent_report(reply, Vec::new());
                return Step::Done(Ok(Outcome::Sent(Box::new(sent))));
            }
            let code = reply.code;
            let error = SmtpError::DataError(reply);
            if code == 421 {
                return Step::Close(Err(error));
            }
            self.failure = Some(error);
            return self.reset();
        }
        // LMTP: every accepted recipient has its own outcome. A 421 among them means the
        // server is closing the connection.
        let closing = finals.iter().any(|(_, r)| r.code == 421);
        let mut first_delivered = None;
        for (recipient, reply) in &finals {
            if reply.is_positive() {
                first_delivered.get_or_insert_with(|| reply.clone());
            } else {
                self.refused.push(Refusal {
                    recipient: recipient.clone(),
                    reply: reply.clone(),
                });
            }
        }
        let result = match first_delivered {
            None => Err(SmtpError::RecipientsRefused(std::mem::take(
                &mut self.refused,
            ))),
            Some(reply) => Ok(Outcome::Sent(Box::new(self.sent_report(reply, finals)))),
        };
        if closing {
            Step::Close(result)
        } else {
            Step::Done(result)
        }
    }
}

impl Transaction {
    /// The report of a delivered message: `reply` is the verdict (for LMTP the first
    /// 2xx), `finals` every LMTP recipient's verdict (empty for SMTP).
    fn sent_report(&mut self, reply: Reply, finals: Vec<(String, Reply)>) -> Sent {
        let accepted = self
            .accepted
            .iter()
            .cloned()
            .zip(std::mem::take(&mut self.accepted_replies))
            .collect();
        Sent {
            reply,
            refused: std::mem::take(&mut self.refused),
            accepted,
            finals,
            pipelined: self.pipelined,
            chunking: self.body == BodyKind::Bdat,
        }
    }
}

/// The pipelined head of a transaction: the MAIL line, then every RCPT line.
fn mail_and_rcpts(mail_line: Vec<u8>, rcpt_lines: &[Vec<u8>]) -> Vec<u8> {
    let mut head = mail_line;
    for line in rcpt_lines {
        head.extend_from_slice(line);
    }
    head
}

/// `BDAT n LAST` for the whole message with its CRLF ending (see `data::bdat_last_parts`).
fn bdat_head(msg: &[u8]) -> Vec<u8> {
    crate::protocol::data::bdat_last_parts(msg).0
}

fn list(items: &[&str]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
