//! `serve` for a WASI 0.3 handler (`wasi:http/handler@0.3`, the `service` world): one
//! fresh instance per request, its `handle` called inside `run_concurrent`, which goes
//! on running the store (the guest's task writing the body) until hyper has read the
//! response body or dropped it.

use crate::state::State;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::oneshot;
use wasmtime::{format_err, Result, Store};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::p3::Request;
use wasmtime_wasi_http::WasiHttpView;

/// Handles one request with a fresh instance of the handler.
pub async fn handle(
    pre: &ServicePre<State>,
    mut store: Store<State>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<HyperOutgoingBody>> {
    let (response_tx, response_rx) = oneshot::channel();
    let pre = pre.clone();
    let task = tokio::task::spawn(async move {
        let service = pre.instantiate_async(&mut store).await?;
        let (req, request_io) = Request::from_http(store.data_mut().http().hooks, req);
        store
            .run_concurrent(async move |store| {
                let response = match service.handle(store, req).await? {
                    Ok(response) => response,
                    Err(code) => return Err(format_err!("the guest answered {code:?}")),
                };
                let response = store.with(|store| response.into_http(store, request_io))?;
                let (parts, body) = response.into_parts();
                let (read_tx, read_rx) = oneshot::channel();
                let body = WatchedBody {
                    body,
                    _read: read_tx,
                };
                let response = hyper::Response::from_parts(parts, HyperOutgoingBody::new(body));
                if response_tx.send(response).is_ok() {
                    // The store keeps running (the guest writes the body) until hyper
                    // drops the body: read to its end, or the client gone.
                    let _ = read_rx.await;
                }
                Ok(())
            })
            .await?
    });
    match response_rx.await {
        Ok(response) => Ok(response),
        Err(_) => {
            let error = match task.await {
                Ok(Ok(())) => format_err!("the guest gave no response"),
                Ok(Err(e)) => e,
                Err(e) => e.into(),
            };
            eprintln!("wasi-host: request failed: {error:#}");
            Err(error)
        }
    }
}

/// A response body that tells, by dropping `_read`, when hyper is done with it.
struct WatchedBody {
    body: HyperOutgoingBody,
    _read: oneshot::Sender<()>,
}

impl Body for WatchedBody {
    type Data = hyper::body::Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
