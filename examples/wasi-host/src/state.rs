//! The store's data: WASI and WASI HTTP contexts, with the network rules of the options.

use crate::cli::Options;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// One instance's host state.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl State {
    /// A state for one instance: stdout and stderr inherited, stdin as the options
    /// say (only when `with_stdin`), the options' environment and arguments, and TCP
    /// as the options allow it.
    pub fn new(options: &Options, with_stdin: bool) -> State {
        let mut builder = WasiCtxBuilder::new();
        builder.inherit_stdout().inherit_stderr();
        match (&options.stdin, with_stdin) {
            (Some(bytes), true) => {
                builder.stdin(MemoryInputPipe::new(bytes.clone()));
            }
            (None, true) => {
                builder.inherit_stdin();
            }
            (_, false) => {}
        }
        let name = options
            .component
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        builder.arg(name).args(&options.args);
        for (key, value) in &options.env {
            builder.env(key, value);
        }
        // wasmtime 48 denies TCP unless asked: allow_tcp(true) as well as network access.
        builder.allow_tcp(true).inherit_network();
        if options.allow_outbound.is_empty() {
            builder.allow_ip_name_lookup(true);
        } else {
            // As Spin: only the listed addresses, matched after resolution, and no DNS.
            let allowed = Arc::new(options.allow_outbound.clone());
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
        State {
            wasi: builder.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}
