//! The store's data: WASI and WASI HTTP contexts, with the network rules of the options.

use crate::cli::Options;
use smtp_host::network::{wasi_builder, NetworkPolicy};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
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
        // TCP as the options allow it: anywhere, or as Spin does only to the listed
        // addresses, matched after resolution, with no DNS.
        let policy = if options.allow_outbound.is_empty() {
            NetworkPolicy::Any
        } else {
            NetworkPolicy::Only(options.allow_outbound.clone())
        };
        let mut builder = wasi_builder(&policy);
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
