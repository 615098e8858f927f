//! TLS over any [`Transport`], with rustls (itself sans-IO) doing the protocol. All TLS
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

use std::io::{ErrorKind, Read, Write};

use rustls::ClientConnection;

use crate::error::SmtpError;
use crate::session::Transport;
use crate::tls_config::TlsSetup;

/// How much one read from the inner transport may take.
const READ_CHUNK: usize = 16 * 1024;

/// A TLS client connection over the transport `T`.
pub struct TlsStream<T: Transport> {
    inner: T,
    conn: ClientConnection,
}

fn tls_error(e: rustls::Error) -> SmtpError {
    SmtpError::Tls(e.to_string())
}

impl<T: Transport> TlsStream<T> {
    /// Runs the handshake over `inner`. The server's certificate is verified as `setup`
    /// says; any failure is a `Tls` error (the connection is then unusable).
    pub fn handshake(inner: T, setup: TlsSetup) -> Result<TlsStream<T>, SmtpError> {
        let conn = ClientConnection::new(setup.config, setup.server_name).map_err(tls_error)?;
        let mut stream = TlsStream { inner, conn };
        while stream.conn.is_handshaking() {
            if stream.conn.wants_write() {
                stream.push_tls()?;
            }
            if stream.conn.is_handshaking() && !stream.pull_tls()? {
                return Err(SmtpError::Tls(
                    "the server closed the connection during the TLS handshake".into(),
                ));
            }
        }
        // TLS 1.3: our Finished, on its own (see the module documentation).
        stream.push_tls()?;
        Ok(stream)
    }

    /// Sends every pending TLS record in one write.
    fn push_tls(&mut self) -> Result<(), SmtpError> {
        let mut out = Vec::new();
        while self.conn.wants_write() {
            self.conn
                .write_tls(&mut out)
                .map_err(|e| SmtpError::Tls(format!("encoding TLS records: {e}")))?;
        }
        if out.is_empty() {
            return Ok(());
        }
        self.inner.send(&out)
    }

    /// Reads once from the inner transport and processes what came. False at its end.
    fn pull_tls(&mut self) -> Result<bool, SmtpError> {
        let mut buf = [0u8; READ_CHUNK];
        let n = self.inner.recv(&mut buf)?;
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
                let _ = self.push_tls();
                return Err(tls_error(e));
            }
            if taken == 0 {
                break;
            }
        }
        Ok(true)
    }
}

impl<T: Transport> Transport for TlsStream<T> {
    // `send_parts` is the default (joined first): each `writer().write` makes TLS records
    // of its own, and a server that sees MAIL and RCPT in one record and BDAT in the next
    // answers them in two writes, the second stuck behind Nagle on its side (~40 ms).
    fn send(&mut self, data: &[u8]) -> Result<(), SmtpError> {
        let mut rest = data;
        while !rest.is_empty() {
            let n = self
                .conn
                .writer()
                .write(rest)
                .map_err(|e| SmtpError::Tls(format!("encrypting: {e}")))?;
            if n == 0 {
                // rustls's send buffer is full: put it on the wire first.
                self.push_tls()?;
                continue;
            }
            rest = rest.get(n..).unwrap_or_default();
        }
        self.push_tls()
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, SmtpError> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                // The peer closed without close_notify: the same as a closed socket.
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(SmtpError::Tls(e.to_string())),
            }
            if self.conn.wants_write() {
                self.push_tls()?;
            }
            if !self.pull_tls()? {
                return Ok(0);
            }
        }
    }
}

/// The connection under a session: plain, or upgraded to TLS.
pub enum Stream<T: Transport> {
    /// Cleartext.
    Plain(T),
    /// Encrypted.
    Tls(Box<TlsStream<T>>),
}

impl<T: Transport> Stream<T> {
    /// Upgrades a plain stream to TLS (after STARTTLS's 220, or right after connecting).
    pub fn start_tls(self, setup: TlsSetup) -> Result<Stream<T>, SmtpError> {
        match self {
            Stream::Plain(inner) => Ok(Stream::Tls(Box::new(TlsStream::handshake(inner, setup)?))),
            Stream::Tls(_) => Err(SmtpError::InvalidArgument(
                "the connection already uses TLS".into(),
            )),
        }
    }

    /// Whether the stream is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// The transport under the stream (under TLS, if any).
    pub fn inner(&self) -> &T {
        match self {
            Stream::Plain(t) => t,
            Stream::Tls(t) => &t.inner,
        }
    }
}

impl<T: Transport> Transport for Stream<T> {
    fn send(&mut self, data: &[u8]) -> Result<(), SmtpError> {
        match self {
            Stream::Plain(t) => t.send(data),
            Stream::Tls(t) => t.send(data),
        }
    }

    fn send_parts(&mut self, parts: &[&[u8]]) -> Result<(), SmtpError> {
        match self {
            Stream::Plain(t) => t.send_parts(parts),
            Stream::Tls(t) => t.send_parts(parts),
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, SmtpError> {
        match self {
            Stream::Plain(t) => t.recv(buf),
            Stream::Tls(t) => t.recv(buf),
        }
    }
}
