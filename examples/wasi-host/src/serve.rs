//! `serve`: HTTP/1.1 on a TCP listener; each request gets a fresh instance of the
//! component's `wasi:http/incoming-handler` (as `wasmtime serve` and Spin do), or,
//! with the `p3` feature, of its `wasi:http/handler@0.3` when that is what it exports.

use crate::cli::Options;
use crate::state::State;
use hyper::server::conn::http1;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use wasmtime::component::{InstancePre, Linker};
use wasmtime::{format_err, Result, Store};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

/// Serves until the process is killed, after printing `listening on http://ADDR`.
pub fn serve(options: &Options) -> Result<()> {
    let (server, listener) = prepare(options)?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on http://{}", listener.local_addr()?)?;
    stdout.flush()?;
    runtime()?.block_on(accept_loop(server, listener))
}

/// Starts serving on a thread of its own (for tests); returns the address it listens
/// on. The server lives as long as the process.
pub fn start(options: &Options) -> Result<SocketAddr> {
    let (server, listener) = prepare(options)?;
    let addr = listener.local_addr()?;
    let runtime = runtime()?;
    std::thread::spawn(move || {
        if let Err(e) = runtime.block_on(accept_loop(server, listener)) {
            eprintln!("wasi-host: server stopped: {e:#}");
        }
    });
    Ok(addr)
}

fn prepare(options: &Options) -> Result<(Arc<Server>, std::net::TcpListener)> {
    let engine = smtp_host::engine()?;
    let component = smtp_host::cache::load_file(&engine, &options.component)?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    #[cfg(feature = "p3")]
    {
        wasmtime_wasi::p3::add_to_linker(&mut linker)?;
        wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    }
    let pre = handler(linker.instantiate_pre(&component)?)?;
    let listener = std::net::TcpListener::bind(options.listen)?;
    listener.set_nonblocking(true)?;
    let server = Arc::new(Server {
        pre,
        options: options.clone(),
    });
    Ok((server, listener))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

struct Server {
    pre: Handler,
    options: Options,
}

/// The handler the component exports.
enum Handler {
    /// `wasi:http/incoming-handler@0.2`.
    P2(ProxyPre<State>),
    /// `wasi:http/handler@0.3`.
    #[cfg(feature = "p3")]
    P3(wasmtime_wasi_http::p3::bindings::ServicePre<State>),
}

/// Picks the WASI 0.2 handler, else (with the `p3` feature) the WASI 0.3 one.
fn handler(pre: InstancePre<State>) -> Result<Handler> {
    match ProxyPre::new(pre.clone()) {
        Ok(p2) => Ok(Handler::P2(p2)),
        #[cfg(feature = "p3")]
        Err(p2_error) => wasmtime_wasi_http::p3::bindings::ServicePre::new(pre)
            .map(Handler::P3)
            .map_err(|_| {
                p2_error.context(
                    "the component exports neither wasi:http/incoming-handler@0.2 \
                     nor wasi:http/handler@0.3",
                )
            }),
        #[cfg(not(feature = "p3"))]
        Err(p2_error) => Err(p2_error.context(
            "the component does not export wasi:http/incoming-handler@0.2 (a WASI 0.3 \
             handler needs wasi-host's `p3` feature)",
        )),
    }
}

async fn accept_loop(server: Arc<Server>, listener: std::net::TcpListener) -> Result<()> {
    let listener = TcpListener::from_std(listener)?;
    loop {
        let (client, peer) = listener.accept().await?;
        let server = server.clone();
        tokio::task::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let server = server.clone();
                async move { server.handle(req).await }
            });
            if let Err(e) = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(client), service)
                .await
            {
                eprintln!("wasi-host: error serving {peer}: {e}");
            }
        });
    }
}

impl Server {
    async fn handle(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<HyperOutgoingBody>> {
        match &self.pre {
            Handler::P2(pre) => self.handle_p2(pre, req).await,
            #[cfg(feature = "p3")]
            Handler::P3(pre) => {
                let store = Store::new(pre.engine(), State::new(&self.options, false));
                crate::serve_p3::handle(pre, store, req).await
            }
        }
    }

    /// Handles one request with a fresh instance of the WASI 0.2 handler.
    async fn handle_p2(
        &self,
        pre: &ProxyPre<State>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<HyperOutgoingBody>> {
        let mut store = Store::new(pre.engine(), State::new(&self.options, false));
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let pre = pre.clone();
        // The handler runs in its own task: it may go on writing the body after it has
        // set the response.
        let task = tokio::task::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(store, req, out)
                .await
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => {
                let error = match task.await {
                    Ok(Ok(())) => format_err!("the guest never set a response"),
                    Ok(Err(e)) => e,
                    Err(e) => e.into(),
                };
                eprintln!("wasi-host: request failed: {error:#}");
                Err(error)
            }
        }
    }
}
