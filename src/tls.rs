//! TLS over any [`Io`], with rustls (itself sans-IO) doing the protocol. All TLS
//! records pending at a time go out in one `send`, so a handshake flight costs one write:
//! two writes in a row without a read between them would wait ~40 ms for a delayed ACK.
//!
//! The one exception is the end of a TLS 1.3 handshake: the client's Finished goes out on
//! its own, before the first command, as OpenSSL's client does it. A TLS 1.3 server
//! (OpenSSL's default, so Postfix, Dovecot, Exim) answers the Finished with its session
//! tickets in a write of their own. When the first command rode with the Finished, the
//! server's reply to it was the server's second write in a row, held by Nagle until our
//! kernel's delayed ACK of the tickets: 48 ms per STARTTLS connection to Postfix,
//! measured. Sent apart, the tickets carry the ACK of the Finished, the command carries
//! the ACK of the tickets, and nothing waits.
//!
//! After a resumed handshake an OpenSSL server sends no ticket, so a Finished sent
//! alone would go unanswered, and the command behind it would wait on our side for the
//! server's delayed ACK (8.4 -> 26.6 ms a STARTTLS connection to Postfix, measured).
//! There the Finished waits for our next write (the EHLO after STARTTLS) or read (the
//! greeting after implicit TLS) and goes out with it. A server seen to send tickets after
//! resumed handshakes gets the Finished on its own again (`TicketStore`).
//!
//! Implicit TLS after a full handshake still waits once: the server writes its tickets,
//! then its greeting, and the client has nothing to send in between. Tried and measured
//! (2026-12-01, Postfix 3.7 on OpenSSL 3.0):
//! - A KeyUpdate as the ACK carrier releases the greeting, but rustls only sends
//!   KeyUpdates with update_requested, so the server answers with a KeyUpdate of its
//!   own and the stall moves to the reply to EHLO (94 ms a connection before and after).
//!   A record the server ignores silently (update_not_requested, or an empty
//!   application-data record) would do it; rustls 0.23 offers neither.
//! - OpenSSL issues tickets in TLS 1.3 whatever the client offers (`ssl_get_prev_session`
//!   expects a ticket by default), rustls always offers `psk_key_exchange_modes`, and
//!   OpenSSL 3.0 ignores RFC 9149's ticket_request.
//! - Reusing a ticket would make every reconnect a resumed one; rustls's store contract
//!   gives each ticket out once (RFC 8446 C.4: reuse links connections for an observer).
//!
//! So against Postfix every other implicit-TLS connection is a full handshake with the
//! stall (~50 ms) and the one between resumes without it (~6 ms).

use std::io::{ErrorKind, Read, Write};
use std::net::IpAddr;

use rustls::{ClientConnection, HandshakeKind};

use crate::driver::{Io, WriteError, READ_CHUNK};
use crate::error::SmtpError;
use crate::tls_config::TlsSetup;

/// A TLS client connection over the stream `T`.
pub struct TlsStream<T: Io> {
    inner: T,
    conn: ClientConnection,
    /// How long one write of ours may take to make progress (the session's timeout).
    timeout_ns: u64,
    /// Whether the handshake resumed an earlier session.
    resumed: bool,
}

fn tls_error(e: rustls::Error) -> SmtpError {
    SmtpError::Tls(e.to_string())
}

#[maybe_async::maybe_async]
impl<T: Io> TlsStream<T> {
    /// Runs the handshake over `inner`, all of it within `timeout_ns`. The server's
    /// certificate is verified as `setup` says; any failure is a `Tls` error (or a
    /// `Timeout`), and the connection is then unusable.
    pub async fn handshake(
        inner: T,
        setup: TlsSetup,
        timeout_ns: u64,
    ) -> Result<TlsStream<T>, SmtpError> {
        let tickets = setup.tickets;
        let conn = ClientConnection::new(setup.config, setup.server_name).map_err(tls_error)?;
        let deadline = inner.now().saturating_add(timeout_ns);
        let mut stream = TlsStream {
            inner,
            conn,
            timeout_ns,
            resumed: false,
        };
        while stream.conn.is_handshaking() {
            if stream.conn.wants_write() {
                stream.push_tls().await.map_err(|e| e.error)?;
            }
            if stream.conn.is_handshaking() && !stream.pull_tls(deadline).await? {
                return Err(SmtpError::Tls(
                    "the server closed the connection during the TLS handshake".into(),
                ));
            }
        }
        let resumed = stream.conn.handshake_kind() == Some(HandshakeKind::Resumed);
        stream.resumed = resumed;
        tickets.handshake_ended(resumed);
        // Our Finished: on its own after a full handshake, or after a resumed one when
        // this server sends tickets then (see the module documentation). Otherwise it
        // waits in rustls for our next write or read, and goes out with it.
        if !resumed || tickets.tickets_after_resumption() {
            stream.push_tls().await.map_err(|e| e.error)?;
        }
        Ok(stream)
    }

    /// Sends every pending TLS record in one write.
    async fn push_tls(&mut self) -> Result<(), WriteError> {
        let mut out = Vec::new();
        while self.conn.wants_write() {
            self.conn.write_tls(&mut out).map_err(|e| WriteError {
                error: SmtpError::Tls(format!("encoding TLS records: {e}")),
                written: 0,
            })?;
        }
        if out.is_empty() {
            return Ok(());
        }
        self.inner.write(&[&out], self.timeout_ns).await
    }

    /// Reads once from the inner stream (waiting until `deadline` at most) and
    /// processes what came. False at its end.
    async fn pull_tls(&mut self, deadline: u64) -> Result<bool, SmtpError> {
        let mut buf = vec![0u8; READ_CHUNK];
        let n = self.inner.read(&mut buf, deadline).await?;
        if n == 0 {
            return Ok(false);
        }
        let mut rest = buf.get(..n).unwrap_or_default();
        while !rest.is_empty() {
            let taken = self
                .conn
                .read_tls(&mut rest)
                .map_err(|e| SmtpError::Tls(format!("reading TLS records: {e}")))?;
            if let Err(e) = self.conn.process_new_packets() {
                // Let the server know why (rustls queued an alert); the error is ours.
                let _ = self.push_tls().await;
                return Err(tls_error(e));
            }
            if taken == 0 {
                break;
            }
        }
        Ok(true)
    }
}

#[maybe_async::maybe_async(AFIT)]
impl<T: Io> Io for TlsStream<T> {
    // The parts are joined into one plaintext write: each `writer().write` makes TLS
    // records of its own, and a server that sees MAIL and RCPT in one record and BDAT in
    // the next answers them in two writes, the second stuck behind Nagle on its side.
    async fn write(&mut self, parts: &[&[u8]], timeout_ns: u64) -> Result<(), WriteError> {
        self.timeout_ns = timeout_ns;
        let encrypting = |e: std::io::Error| WriteError {
            error: SmtpError::Tls(format!("encrypting: {e}")),
            written: 0,
        };
        let total: usize = parts.iter().map(|p| p.len()).sum();
        for part in parts {
            let mut rest = *part;
            while !rest.is_empty() {
                let n = self.conn.writer().write(rest).map_err(encrypting)?;
                if n == 0 {
                    // rustls's send buffer is full: put it on the wire first.
                    self.push_tls()
                        .await
                        .map_err(|e| WriteError { written: 0, ..e })?;
                    continue;
                }
                rest = rest.get(n..).unwrap_or_default();
            }
        }
        // The plaintext counts as handed over only once every byte of its last
        // records was.
        let mut out = Vec::new();
        while self.conn.wants_write() {
            self.conn.write_tls(&mut out).map_err(encrypting)?;
        }
        if out.is_empty() {
            return Ok(());
        }
        self.inner
            .write(&[&out], self.timeout_ns)
            .await
            .map_err(|e| WriteError {
                written: if e.written >= out.len() { total } else { 0 },
                error: e.error,
            })
    }

    async fn read(&mut self, buf: &mut [u8], deadline: u64) -> Result<usize, SmtpError> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                // The peer closed without close_notify: the same as a closed socket.
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(SmtpError::Tls(e.to_string())),
            }
            if self.conn.wants_write() {
                self.push_tls().await.map_err(|e| e.error)?;
            }
            if !self.pull_tls(deadline).await? {
                return Ok(0);
            }
        }
    }

    fn now(&self) -> u64 {
        self.inner.now()
    }

    fn peer(&self) -> Option<IpAddr> {
        self.inner.peer()
    }
}

/// The connection under a session: plain, or upgraded to TLS.
pub enum Stream<T: Io> {
    /// Cleartext.
    Plain(T),
    /// Encrypted.
    Tls(Box<TlsStream<T>>),
}

#[maybe_async::maybe_async]
impl<T: Io> Stream<T> {
    /// Upgrades a plain stream to TLS (after STARTTLS's 220, or right after connecting),
    /// the handshake bounded by `timeout_ns`.
    pub async fn start_tls(self, setup: TlsSetup, timeout_ns: u64) -> Result<Stream<T>, SmtpError> {
        match self {
            Stream::Plain(inner) => Ok(Stream::Tls(Box::new(
                TlsStream::handshake(inner, setup, timeout_ns).await?,
            ))),
            Stream::Tls(_) => Err(SmtpError::InvalidArgument(
                "the connection already uses TLS".into(),
            )),
        }
    }

    /// What the log says of the stream: "TLS established" with the handshake's kind.
    pub fn tls_note(&self) -> &'static str {
        match self {
            Stream::Tls(t) if t.resumed => "TLS established (session resumed)",
            Stream::Tls(_) => "TLS established (full handshake)",
            Stream::Plain(_) => "no TLS",
        }
    }

    /// Whether the stream is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

#[maybe_async::maybe_async(AFIT)]
impl<T: Io> Io for Stream<T> {
    async fn write(&mut self, parts: &[&[u8]], timeout_ns: u64) -> Result<(), WriteError> {
        match self {
            Stream::Plain(t) => t.write(parts, timeout_ns).await,
            Stream::Tls(t) => t.write(parts, timeout_ns).await,
        }
    }

    async fn read(&mut self, buf: &mut [u8], deadline: u64) -> Result<usize, SmtpError> {
        match self {
            Stream::Plain(t) => t.read(buf, deadline).await,
            Stream::Tls(t) => t.read(buf, deadline).await,
        }
    }

    fn now(&self) -> u64 {
        match self {
            Stream::Plain(t) => t.now(),
            Stream::Tls(t) => t.now(),
        }
    }

    fn peer(&self) -> Option<IpAddr> {
        match self {
            Stream::Plain(t) => t.peer(),
            Stream::Tls(t) => t.peer(),
        }
    }
}
