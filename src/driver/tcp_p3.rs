//! TCP through wasi:sockets 0.3 for the `p3` build: the same contract as the blocking
//! `tcp` driver (name lookup, an optional source address, every wait bounded), but each
//! wait is an `await` on wasip3's streams and clocks, so it suspends only the calling
//! task and the instance goes on running other clients' calls meanwhile.
//!
//! A connection is the socket's receive stream and one send stream handed to the
//! socket for its lifetime. A write goes out in pieces of at most 64 KiB, each raced
//! against a deadline `timeout` away (so a peer that stops reading gives a `Timeout`
//! within the timeout of its last progress, as in the p2 driver); a read is raced
//! against its deadline, and a read that lost the race is cancelled, keeping whatever
//! it had already received. A read or write is polled once before any timer is started:
//! one that completes at once (room in the socket, bytes already there) never starts a
//! `wait-until` subtask, which is most of them (about a fifth less CPU per message at 50
//! sessions in one instance, by `/usr/bin/time`).

use std::future::Future;
use std::net::IpAddr;
use std::pin::{pin, Pin};
use std::task::Poll;

use futures::future::{select, Either};
use wasip3::clocks::monotonic_clock;
use wasip3::sockets::ip_name_lookup::resolve_addresses;
use wasip3::sockets::types::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
    TcpSocket,
};
use wasip3::wit_bindgen::rt::async_support::{
    FutureReader, StreamReader, StreamResult, StreamWriter,
};

use crate::driver::{Io, WriteError};
use crate::endpoint::{Endpoint, Host};
use crate::error::SmtpError;

/// The most one stream write hands the host (its per-write limit in wasi:io 0.2; here a
/// unit of progress for the write timeout).
const PIECE: usize = 64 * 1024;

/// An open TCP connection over wasi:sockets 0.3.
pub struct TcpTransport {
    // Field order is drop order: the streams before the socket.
    output: Option<StreamWriter<u8>>,
    input: Option<StreamReader<u8>>,
    /// Completes when the socket has sent the whole send stream (or failed).
    _sent: FutureReader<Result<(), ErrorCode>>,
    /// Completes when the receive stream has ended (or failed).
    _received: FutureReader<Result<(), ErrorCode>>,
    _socket: TcpSocket,
    peer: IpAddr,
}

/// Awaits `fut` until the monotonic clock reaches `deadline`: `None` when the deadline
/// came first (`fut` is then dropped, which cancels it).
async fn before<F: Future>(deadline: u64, fut: F) -> Option<F::Output> {
    let fut = pin!(fut);
    let timer = pin!(monotonic_clock::wait_until(deadline));
    match select(fut, timer).await {
        Either::Left((out, _)) => Some(out),
        Either::Right(((), _)) => None,
    }
}

/// Awaits the stream operation `op` until the monotonic clock reaches `deadline`; if
/// the deadline comes first, `cancel` ends it and gives what it had done by then. Says
/// whether the deadline came first. `op` is polled once before any timer is started:
/// a write the socket has room for, or a read whose bytes are already there, completes
/// on that poll, and then no `wait-until` subtask is started for it.
async fn until_or_cancel<F: Future>(
    mut op: Pin<&mut F>,
    deadline: u64,
    cancel: impl FnOnce(Pin<&mut F>) -> F::Output,
) -> (F::Output, bool) {
    let first = std::future::poll_fn(|cx| match op.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending => Poll::Ready(None),
    })
    .await;
    if let Some(out) = first {
        return (out, false);
    }
    let timer = pin!(monotonic_clock::wait_until(deadline));
    match select(op.as_mut(), timer).await {
        Either::Left((out, _)) => (out, false),
        Either::Right(((), _)) => (cancel(op), true),
    }
}

/// A socket error in words, with a hint where a host's policy is the likely cause.
fn explain(e: impl std::fmt::Display, denied: bool) -> String {
    if denied {
        "access denied by the host (a wasmtime host must allow TCP and name lookup: WasiCtxBuilder::allow_tcp(true), inherit_network(), allow_ip_name_lookup(true))".into()
    } else {
        e.to_string()
    }
}

impl TcpTransport {
    /// Looks up `endpoint`'s host, then tries each address in turn (binding `source`
    /// first when given) until one connects, all within `timeout_ns`.
    pub async fn connect(
        endpoint: &Endpoint,
        source: Option<(IpAddr, u16)>,
        timeout_ns: u64,
    ) -> Result<TcpTransport, SmtpError> {
        let deadline = monotonic_clock::now().saturating_add(timeout_ns);
        let addrs = match &endpoint.host {
            Host::Ip(ip) => vec![*ip],
            Host::Name(name) => resolve(name, deadline).await?,
        };
        let addrs = super::of_source_family(&endpoint.host, addrs, source)?;
        let mut last_error = SmtpError::Io(format!("{} has no address", endpoint.host));
        for addr in addrs {
            match connect_one(addr, endpoint.port, source, deadline).await {
                Ok(t) => return Ok(t),
                Err(e @ SmtpError::Timeout(_)) => return Err(e),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }
}

async fn resolve(name: &str, deadline: u64) -> Result<Vec<IpAddr>, SmtpError> {
    let Some(result) = before(deadline, resolve_addresses(name.to_string())).await else {
        return Err(SmtpError::Timeout(format!("looking up {name}")));
    };
    let addrs = result.map_err(|e| {
        let denied = matches!(e, wasip3::sockets::ip_name_lookup::ErrorCode::AccessDenied);
        SmtpError::Io(format!("cannot look up {name}: {}", explain(e, denied)))
    })?;
    if addrs.is_empty() {
        return Err(SmtpError::Io(format!("{name} has no address")));
    }
    Ok(addrs.into_iter().map(from_wasi).collect())
}

async fn connect_one(
    ip: IpAddr,
    port: u16,
    source: Option<(IpAddr, u16)>,
    deadline: u64,
) -> Result<TcpTransport, SmtpError> {
    let family = if ip.is_ipv4() {
        IpAddressFamily::Ipv4
    } else {
        IpAddressFamily::Ipv6
    };
    let fail = |what: &str, e: ErrorCode| match e {
        ErrorCode::Timeout => SmtpError::Timeout(format!("connecting to {ip} port {port}")),
        e => {
            let denied = matches!(e, ErrorCode::AccessDenied);
            SmtpError::Io(format!("{what} {ip} port {port}: {}", explain(e, denied)))
        }
    };
    let socket = TcpSocket::create(family).map_err(|e| fail("cannot open a socket for", e))?;
    if let Some((src_ip, src_port)) = source {
        socket
            .bind(to_wasi(src_ip, src_port))
            .map_err(|e| fail(&format!("cannot bind {src_ip} port {src_port} to reach"), e))?;
    }
    match before(deadline, socket.connect(to_wasi(ip, port))).await {
        None => {
            return Err(SmtpError::Timeout(format!(
                "connecting to {ip} port {port}"
            )))
        }
        Some(Err(e)) => return Err(fail("cannot connect to", e)),
        Some(Ok(())) => {}
    }
    let (output, send_stream) = wasip3::wit_stream::new::<u8>();
    let sent = socket.send(send_stream);
    let (input, received) = socket.receive();
    Ok(TcpTransport {
        output: Some(output),
        input: Some(input),
        _sent: sent,
        _received: received,
        _socket: socket,
        peer: ip,
    })
}

crate::driver::wasi_address_conversions!();

fn closed() -> SmtpError {
    SmtpError::Io("connection already closed".into())
}

fn stopped_reading() -> SmtpError {
    SmtpError::Timeout("the server stopped reading what we send".into())
}

impl TcpTransport {
    /// Hands `piece` to the send stream, all of it, within `timeout_ns`. On a timeout
    /// the write in progress is cancelled; the bytes it had handed over still count.
    async fn write_piece(
        output: &mut StreamWriter<u8>,
        mut piece: Vec<u8>,
        timeout_ns: u64,
        written: &mut usize,
    ) -> Result<(), SmtpError> {
        let deadline = monotonic_clock::now().saturating_add(timeout_ns);
        while !piece.is_empty() {
            let len = piece.len();
            let mut write = pin!(output.write(piece));
            let ((status, rest), timed_out) =
                until_or_cancel(write.as_mut(), deadline, |write| write.cancel()).await;
            let rest = rest.into_vec();
            match status {
                StreamResult::Complete(_) | StreamResult::Cancelled => {
                    *written += len - rest.len();
                }
                StreamResult::Dropped => {
                    return Err(SmtpError::Io("connection closed by the server".into()))
                }
            }
            if timed_out && !rest.is_empty() {
                return Err(stopped_reading());
            }
            piece = rest;
        }
        Ok(())
    }
}

impl Io for TcpTransport {
    /// The parts are gathered into stream writes of up to 64 KiB, so small parts never
    /// go out as writes of their own.
    async fn write(&mut self, parts: &[&[u8]], timeout_ns: u64) -> Result<(), WriteError> {
        let mut written = 0usize;
        let Some(output) = self.output.as_mut() else {
            return Err(WriteError {
                error: closed(),
                written: 0,
            });
        };
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut piece = Vec::with_capacity(total.min(PIECE));
        for part in parts {
            let mut rest = *part;
            while !rest.is_empty() {
                let take = (PIECE - piece.len()).min(rest.len());
                let (now, later) = rest.split_at(take);
                piece.extend_from_slice(now);
                rest = later;
                if piece.len() == PIECE {
                    let full = std::mem::replace(&mut piece, Vec::with_capacity(PIECE));
                    Self::write_piece(output, full, timeout_ns, &mut written)
                        .await
                        .map_err(|error| WriteError { error, written })?;
                }
            }
        }
        if !piece.is_empty() {
            Self::write_piece(output, piece, timeout_ns, &mut written)
                .await
                .map_err(|error| WriteError { error, written })?;
        }
        Ok(())
    }

    async fn read(&mut self, buf: &mut [u8], deadline: u64) -> Result<usize, SmtpError> {
        let input = self.input.as_mut().ok_or_else(closed)?;
        loop {
            let mut read = pin!(input.read(Vec::with_capacity(buf.len())));
            // Cancelled: what the read had received by then is kept.
            let ((status, bytes), timed_out) =
                until_or_cancel(read.as_mut(), deadline, |read| read.cancel()).await;
            if !bytes.is_empty() {
                let n = bytes.len().min(buf.len());
                if let (Some(dst), Some(src)) = (buf.get_mut(..n), bytes.get(..n)) {
                    dst.copy_from_slice(src);
                }
                return Ok(n);
            }
            if status == StreamResult::Dropped {
                return Ok(0);
            }
            if timed_out {
                return Err(SmtpError::Timeout("no reply from the server".into()));
            }
        }
    }

    fn now(&self) -> u64 {
        monotonic_clock::now()
    }

    fn peer(&self) -> Option<IpAddr> {
        Some(self.peer)
    }
}
