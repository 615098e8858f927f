//! TCP through wasi:sockets: name lookup, an optional source address bound before
//! connecting, and reads and writes that never wait longer than the timeout. Writes go
//! out in as few stream writes as the host allows (at most 64 KiB each, as its
//! `check-write` says), so one call to `write` costs one round trip. A write gives up
//! when the timeout passes with less than 64 KiB (or the rest) accepted, so a peer that
//! stops reading, or reads a byte at a time, cannot hold it for longer than that.

use std::net::IpAddr;

use wasip2::io::streams::{InputStream, OutputStream, StreamError};
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::ip_name_lookup::resolve_addresses;
use wasip2::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
    Network,
};
use wasip2::sockets::tcp::TcpSocket;
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

use super::wait::Deadline;
use crate::driver::{Io, WriteError};
use crate::endpoint::{Endpoint, Host};
use crate::error::SmtpError;

/// An open TCP connection. The streams and the socket are dropped by hand (see the
/// `Drop` impl): streams before their socket, or not at all after a stuck write.
pub struct TcpTransport {
    input: Option<InputStream>,
    output: Option<OutputStream>,
    socket: Option<TcpSocket>,
    peer: IpAddr,
    /// A write timed out with the peer no longer reading.
    stuck: bool,
}

impl TcpTransport {
    /// Looks up `endpoint`'s host, then tries each address in turn (binding `source`
    /// first when given) until one connects. Each step is bounded by `timeout_ns`.
    pub fn connect(
        endpoint: &Endpoint,
        source: Option<(IpAddr, u16)>,
        timeout_ns: u64,
    ) -> Result<TcpTransport, SmtpError> {
        let network = instance_network();
        let deadline = Deadline::after(timeout_ns);
        let addrs = match &endpoint.host {
            Host::Ip(ip) => vec![*ip],
            Host::Name(name) => resolve(&network, name, deadline)?,
        };
        let addrs = super::of_source_family(&endpoint.host, addrs, source)?;
        let mut last_error = SmtpError::Io(format!("{} has no address", endpoint.host));
        for addr in addrs {
            match connect_one(&network, addr, endpoint.port, source, deadline) {
                Ok((socket, input, output)) => {
                    return Ok(TcpTransport {
                        input: Some(input),
                        output: Some(output),
                        socket: Some(socket),
                        peer: addr,
                        stuck: false,
                    })
                }
                Err(e @ SmtpError::Timeout(_)) => return Err(e),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }
}

impl Drop for TcpTransport {
    /// Drops the streams, then the socket. After a write timed out, the output stream
    /// and the socket are abandoned instead: the host (wasmtime) finishes a pending
    /// write before it lets go of its stream, so against a peer that stopped reading
    /// dropping them would block until that peer gives up — longer than any timeout.
    /// The host releases them when the peer closes or the instance is dropped.
    fn drop(&mut self) {
        drop(self.input.take());
        if self.stuck {
            std::mem::forget(self.output.take());
            std::mem::forget(self.socket.take());
        } else {
            drop(self.output.take());
            drop(self.socket.take());
        }
    }
}

fn resolve(network: &Network, name: &str, deadline: Deadline) -> Result<Vec<IpAddr>, SmtpError> {
    let stream = resolve_addresses(network, name).map_err(|e| lookup_error(name, e))?;
    let mut out = Vec::new();
    loop {
        match stream.resolve_next_address() {
            Ok(Some(addr)) => out.push(from_wasi(addr)),
            Ok(None) => break,
            Err(ErrorCode::WouldBlock) => {
                if !deadline.wait(&stream.subscribe()) {
                    return Err(SmtpError::Timeout(format!("looking up {name}")));
                }
            }
            Err(e) => return Err(lookup_error(name, e)),
        }
    }
    if out.is_empty() {
        return Err(SmtpError::Io(format!("{name} has no address")));
    }
    Ok(out)
}

fn lookup_error(name: &str, e: ErrorCode) -> SmtpError {
    SmtpError::Io(format!("cannot look up {name}: {}", explain(e)))
}

/// A socket error in words, with a hint where a host's policy is the likely cause.
fn explain(e: ErrorCode) -> String {
    match e {
        ErrorCode::AccessDenied => "access denied by the host (a wasmtime host must allow TCP and name lookup: WasiCtxBuilder::allow_tcp(true), inherit_network(), allow_ip_name_lookup(true))".into(),
        other => other.name().to_string(),
    }
}

fn connect_one(
    network: &Network,
    ip: IpAddr,
    port: u16,
    source: Option<(IpAddr, u16)>,
    deadline: Deadline,
) -> Result<(TcpSocket, InputStream, OutputStream), SmtpError> {
    let family = if ip.is_ipv4() {
        IpAddressFamily::Ipv4
    } else {
        IpAddressFamily::Ipv6
    };
    let fail = |what: &str, e: ErrorCode| match e {
        ErrorCode::Timeout => SmtpError::Timeout(format!("connecting to {ip} port {port}")),
        e => SmtpError::Io(format!("{what} {ip} port {port}: {}", explain(e))),
    };
    let socket = create_tcp_socket(family).map_err(|e| fail("cannot open a socket for", e))?;
    if let Some((src_ip, src_port)) = source {
        socket
            .start_bind(network, to_wasi(src_ip, src_port))
            .map_err(|e| fail(&format!("cannot bind {src_ip} port {src_port} to reach"), e))?;
        loop {
            match socket.finish_bind() {
                Ok(()) => break,
                Err(ErrorCode::WouldBlock) => {
                    if !deadline.wait(&socket.subscribe()) {
                        return Err(SmtpError::Timeout(format!("binding {src_ip}")));
                    }
                }
                Err(e) => {
                    return Err(fail(
                        &format!("cannot bind {src_ip} port {src_port} to reach"),
                        e,
                    ))
                }
            }
        }
    }
    socket
        .start_connect(network, to_wasi(ip, port))
        .map_err(|e| fail("cannot connect to", e))?;
    loop {
        match socket.finish_connect() {
            Ok((input, output)) => return Ok((socket, input, output)),
            Err(ErrorCode::WouldBlock) => {
                if !deadline.wait(&socket.subscribe()) {
                    return Err(SmtpError::Timeout(format!(
                        "connecting to {ip} port {port}"
                    )));
                }
            }
            Err(e) => return Err(fail("cannot connect to", e)),
        }
    }
}

crate::driver::wasi_address_conversions!();

fn stream_error(e: StreamError) -> SmtpError {
    match e {
        StreamError::Closed => SmtpError::Io("connection closed by the server".into()),
        StreamError::LastOperationFailed(err) => SmtpError::Io(err.to_debug_string()),
    }
}

fn closed() -> SmtpError {
    SmtpError::Io("connection already closed".into())
}

/// How much a write must get accepted within the timeout to go on (the most the host
/// takes in one stream write).
const PROGRESS: usize = 64 * 1024;

impl Io for TcpTransport {
    /// Each stream write is as large as the host permits: straight from a part when the
    /// write fits in it (a large message is not copied in the guest), otherwise gathered
    /// from consecutive parts, so small parts never go out as writes of their own.
    fn write(&mut self, parts: &[&[u8]], timeout_ns: u64) -> Result<(), WriteError> {
        let mut written = 0usize;
        let fail = |error: SmtpError, written: usize| WriteError { error, written };
        let Some(output) = self.output.as_ref() else {
            return Err(fail(closed(), 0));
        };
        let mut parts = parts.iter().copied().filter(|p| !p.is_empty()).peekable();
        let mut current: &[u8] = parts.next().unwrap_or_default();
        let mut gathered = Vec::new();
        let mut deadline = Deadline::after(timeout_ns);
        let mut since_deadline = 0usize;
        while !current.is_empty() {
            let permitted = output
                .check_write()
                .map_err(|e| fail(stream_error(e), written))?;
            if permitted == 0 {
                if !deadline.wait(&output.subscribe()) {
                    self.stuck = true;
                    return Err(fail(
                        SmtpError::Timeout("the server stopped reading what we send".into()),
                        written,
                    ));
                }
                continue;
            }
            let limit = usize::try_from(permitted).unwrap_or(usize::MAX);
            let before = written;
            if current.len() >= limit || parts.peek().is_none() {
                let (chunk, tail) = current.split_at(limit.min(current.len()));
                output
                    .write(chunk)
                    .map_err(|e| fail(stream_error(e), written))?;
                written += chunk.len();
                current = tail;
            } else {
                gathered.clear();
                while gathered.len() < limit && !current.is_empty() {
                    let (chunk, tail) =
                        current.split_at((limit - gathered.len()).min(current.len()));
                    gathered.extend_from_slice(chunk);
                    current = tail;
                    if current.is_empty() {
                        current = parts.next().unwrap_or_default();
                    }
                }
                output
                    .write(&gathered)
                    .map_err(|e| fail(stream_error(e), written))?;
                written += gathered.len();
            }
            if current.is_empty() {
                current = parts.next().unwrap_or_default();
            }
            since_deadline += written - before;
            if since_deadline >= PROGRESS {
                deadline = Deadline::after(timeout_ns);
                since_deadline = 0;
            }
        }
        output.flush().map_err(|e| fail(stream_error(e), written))
    }

    fn read(&mut self, buf: &mut [u8], deadline: u64) -> Result<usize, SmtpError> {
        let input = self.input.as_ref().ok_or_else(closed)?;
        let deadline = Deadline::at(deadline);
        let max = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        loop {
            match input.read(max) {
                Ok(bytes) if bytes.is_empty() => {
                    if !deadline.wait(&input.subscribe()) {
                        return Err(SmtpError::Timeout("no reply from the server".into()));
                    }
                }
                Ok(bytes) => {
                    let n = bytes.len().min(buf.len());
                    if let (Some(dst), Some(src)) = (buf.get_mut(..n), bytes.get(..n)) {
                        dst.copy_from_slice(src);
                    }
                    return Ok(n);
                }
                Err(StreamError::Closed) => return Ok(0),
                Err(e) => return Err(stream_error(e)),
            }
        }
    }

    fn now(&self) -> u64 {
        wasip2::clocks::monotonic_clock::now()
    }

    fn peer(&self) -> Option<IpAddr> {
        Some(self.peer)
    }
}
