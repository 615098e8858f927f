//! The only code that waits. [`Io`] is a byte stream with deadlines (wasi:sockets TCP in
//! the component, rustls on top of it, or an in-memory peer in tests); [`drive`] runs one
//! operation of the sans-IO [`Session`] over it: it writes what the session plans, reads
//! what arrives, and tells the session when its deadline has passed.
//!
//! Written once for both builds with `maybe-async`: the WASI 0.2 build (feature `p2`, the
//! default) compiles [`Io`], [`drive`] and everything above them (TLS, the client)
//! without `async`/`.await`, byte for byte the blocking code it was; the WASI 0.3 build
//! (feature `p3`) keeps them async, and its transport (`tcp_p3`) awaits wasip3's
//! sockets and clocks instead of blocking.

#[cfg(all(target_arch = "wasm32", feature = "p2"))]
pub mod tcp;
#[cfg(all(target_arch = "wasm32", feature = "p3"))]
pub mod tcp_p3;
#[cfg(all(target_arch = "wasm32", feature = "p2"))]
mod wait;

use std::net::IpAddr;

use crate::error::SmtpError;
use crate::session::{Outcome, Session};

/// The addresses of `host` a connection may try: all of them, or with a `source`
/// address only those of its family (none is an `Io` error that says so).
#[cfg(all(target_arch = "wasm32", any(feature = "p2", feature = "p3")))]
fn of_source_family(
    host: &crate::endpoint::Host,
    mut addrs: Vec<IpAddr>,
    source: Option<(IpAddr, u16)>,
) -> Result<Vec<IpAddr>, SmtpError> {
    if let Some((src, _)) = source {
        addrs.retain(|a| a.is_ipv4() == src.is_ipv4());
        if addrs.is_empty() {
            return Err(SmtpError::Io(format!(
                "no address of {host} has the source address's family"
            )));
        }
    }
    Ok(addrs)
}

/// `to_wasi` (a std address and port as wasi:sockets' `IpSocketAddress`) and
/// `from_wasi` (wasi:sockets' `IpAddress` as a std address), expanded in each driver:
/// wasi:sockets 0.2 and 0.3 have the same address types under different paths, and
/// the names in the expansion are the ones the driver imports.
#[cfg(all(target_arch = "wasm32", any(feature = "p2", feature = "p3")))]
macro_rules! wasi_address_conversions {
    () => {
        fn to_wasi(ip: IpAddr, port: u16) -> IpSocketAddress {
            match ip {
                IpAddr::V4(v4) => {
                    let [a, b, c, d] = v4.octets();
                    IpSocketAddress::Ipv4(Ipv4SocketAddress {
                        port,
                        address: (a, b, c, d),
                    })
                }
                IpAddr::V6(v6) => {
                    let [a, b, c, d, e, f, g, h] = v6.segments();
                    IpSocketAddress::Ipv6(Ipv6SocketAddress {
                        port,
                        flow_info: 0,
                        address: (a, b, c, d, e, f, g, h),
                        scope_id: 0,
                    })
                }
            }
        }

        fn from_wasi(addr: IpAddress) -> IpAddr {
            match addr {
                IpAddress::Ipv4((a, b, c, d)) => IpAddr::from([a, b, c, d]),
                IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => IpAddr::from([a, b, c, d, e, f, g, h]),
            }
        }
    };
}
#[cfg(all(target_arch = "wasm32", any(feature = "p2", feature = "p3")))]
pub(crate) use wasi_address_conversions;

/// How much one read may take.
pub const READ_CHUNK: usize = 16 * 1024;

/// A write that failed, and how many of its bytes had been handed to the peer's side
/// before it did (all of them means the peer may have every byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError {
    /// What went wrong.
    pub error: SmtpError,
    /// Bytes handed over before the failure.
    pub written: usize,
}

/// A connected byte stream whose waits end at deadlines on a monotonic clock (ns).
/// Blocking in the `p2` build, async in the `p3` build.
#[maybe_async::maybe_async(AFIT)]
#[allow(async_fn_in_trait)] // single-threaded wasm: no `Send` bound wanted
pub trait Io {
    /// Writes `parts` one after the other as one round trip's worth, in as few writes as
    /// the stream allows. Gives up with a `Timeout` when `timeout_ns` passes with less
    /// than 64 KiB (or the rest) accepted: a peer that stops reading cannot hold it.
    async fn write(&mut self, parts: &[&[u8]], timeout_ns: u64) -> Result<(), WriteError>;
    /// Reads at least one byte into `buf`; `Ok(0)` at the end of the stream, a `Timeout`
    /// error when nothing came by `deadline`.
    async fn read(&mut self, buf: &mut [u8], deadline: u64) -> Result<usize, SmtpError>;
    /// The current time on the clock deadlines use, in nanoseconds.
    fn now(&self) -> u64;
    /// The address of the peer, when the stream is a network connection.
    fn peer(&self) -> Option<IpAddr>;
}

/// Runs the session's current operation to its outcome over `io`: sends what it plans
/// (one write per round trip), feeds it what arrives, and reports the end of the stream,
/// read errors and passed deadlines. The session decides everything.
#[maybe_async::maybe_async]
pub async fn drive<I: Io + ?Sized>(
    session: &mut Session,
    io: &mut I,
    buf: &mut Vec<u8>,
) -> Result<Outcome, SmtpError> {
    loop {
        if let Some(outcome) = session.poll_outcome() {
            return outcome;
        }
        let timeout_ns = session.timeout_ns();
        if let Some(transmit) = session.poll_transmit() {
            let result = io.write(&transmit.parts, timeout_ns).await;
            let total = transmit.parts.iter().map(|p| p.len()).sum();
            drop(transmit);
            session.handle_written(result, total, io.now());
            continue;
        }
        let Some(deadline) = session.poll_timeout() else {
            // An operation that neither sends nor waits has ended: poll_outcome said so.
            return Err(SmtpError::Io("internal: the session is not waiting".into()));
        };
        if buf.len() != READ_CHUNK {
            buf.resize(READ_CHUNK, 0);
        }
        match io.read(buf, deadline).await {
            Ok(0) => session.handle_eof(),
            Ok(n) => session.handle_input(buf.get(..n).unwrap_or_default(), io.now()),
            Err(SmtpError::Timeout(_)) => session.handle_timeout(io.now()),
            Err(e) => session.handle_read_error(e),
        }
    }
}
