//! The WASI context every host here gives a component: TCP allowed (wasmtime-wasi 48
//! denies it unless asked), under a [`NetworkPolicy`].

use std::net::SocketAddr;
use std::sync::Arc;

use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::WasiCtxBuilder;

/// Where a component may connect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NetworkPolicy {
    /// Any address, and name lookups.
    #[default]
    Any,
    /// Only these addresses, matched after resolution, and no name lookups: what Spin
    /// does with `allowed_outbound_hosts` (binding is allowed only to port 0, so a
    /// client can still bind an ephemeral local port).
    Only(Vec<SocketAddr>),
}

/// A WASI context builder with TCP allowed under `policy`; callers add stdio,
/// arguments and environment.
pub fn wasi_builder(policy: &NetworkPolicy) -> WasiCtxBuilder {
    let mut builder = WasiCtxBuilder::new();
    builder.allow_tcp(true).inherit_network();
    match policy {
        NetworkPolicy::Any => {
            builder.allow_ip_name_lookup(true);
        }
        NetworkPolicy::Only(allowed) => {
            let allowed = Arc::new(allowed.clone());
            builder.socket_addr_check(move |addr, usage| {
                let allowed = allowed.clone();
                Box::pin(async move {
                    match usage {
                        SocketAddrUse::TcpConnect => allowed.contains(&addr),
                        SocketAddrUse::TcpBind => addr.port() == 0,
                        _ => false,
                    }
                })
            });
        }
    }
    builder
}
