//! `sendmail-stream` (WASI 0.3 only): the message body as the component's `stream<u8>`,
//! fed from any [`AsyncRead`] as the component reads it, so neither the host nor the
//! guest holds the whole message. A child of `client` (it uses `AsyncClient`'s store);
//! kept apart so the rest of `client` stays as it is.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::oneshot;
use wasmtime::component::{Destination, FutureReader, StreamProducer, StreamReader, StreamResult};
use wasmtime::{AsContextMut as _, StoreContextMut};

use super::{p3, Api, AsyncClient, Call, Client};
use crate::{Delivery, SmtpError};

/// How much one read from the source may give the guest at once when the reader is
/// the host (the guest's reads take what its own buffer holds).
const HOST_READ: usize = 64 * 1024;

/// The write end of the body's `stream<u8>`: reads `body` straight into the guest's
/// read buffer, and tells `body-end` how it ended (`Ok` at the end of the source, the
/// error's text when reading failed).
struct BodyProducer {
    body: Pin<Box<dyn AsyncRead + Send>>,
    end: Option<oneshot::Sender<Result<(), String>>>,
}

impl BodyProducer {
    fn ended(&mut self, how: Result<(), String>) {
        if let Some(end) = self.end.take() {
            // The guest may have dropped `body-end` already: then nobody is told.
            let _ = end.send(how);
        }
    }
}

impl<D> StreamProducer<D> for BodyProducer {
    type Item = u8;
    type Buffer = wasmtime::component::VecBuffer<u8>;

    fn poll_produce<'a>(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, D>,
        dst: Destination<'a, Self::Item, Self::Buffer>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        // A zero-length read asks whether data is ready: AsyncRead cannot tell without
        // reading, so say yes (as wasmtime-wasi's stdin does).
        if dst.remaining(store.as_context_mut()) == Some(0) {
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        let mut dst = dst.as_direct(store, HOST_READ);
        let mut buf = ReadBuf::new(dst.remaining());
        match self.body.as_mut().poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                self.ended(Ok(()));
                Poll::Ready(Ok(StreamResult::Dropped))
            }
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                dst.mark_written(n);
                Poll::Ready(Ok(StreamResult::Completed))
            }
            Poll::Ready(Err(e)) => {
                self.ended(Err(format!("reading the message body failed: {e}")));
                Poll::Ready(Ok(StreamResult::Dropped))
            }
            Poll::Pending if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncClient {
    /// `sendmail-stream(from, to, body, body-end, mail-options, rcpt-options)`: sends
    /// the message read from `body` as the component asks for it (see the WIT for DATA
    /// and BDAT, SIZE and errors). When reading `body` fails, the component closes the
    /// connection before the end of the message and answers `io` (nothing delivered).
    /// Only in the WASI 0.3 build: an error on a WASI 0.2 client.
    pub async fn sendmail_stream(
        &mut self,
        from: &str,
        to: &[String],
        body: impl AsyncRead + Send + 'static,
        mail_options: &[String],
        rcpt_options: &[String],
    ) -> Call<Delivery> {
        let Api::P3(instance) = &self.api else {
            wasmtime::bail!("sendmail-stream is in the WASI 0.3 build only (use --wasi p3)");
        };
        let instance = *instance;
        let (tx, rx) = oneshot::channel();
        let stream = StreamReader::new(
            &mut self.store,
            BodyProducer {
                body: Box::pin(body),
                end: Some(tx),
            },
        )?;
        let end = FutureReader::new(&mut self.store, async move {
            Ok::<_, wasmtime::Error>(
                rx.await
                    .unwrap_or_else(|_| Err("the message body's source went away".into())),
            )
        })?;
        let params = (
            self.handle,
            from.to_string(),
            to.to_vec(),
            stream,
            end,
            mail_options.to_vec(),
            rcpt_options.to_vec(),
        );
        let result = p3::call::<_, (Result<Delivery, SmtpError>,)>(
            &mut self.store,
            instance,
            p3::CLIENT,
            "[method]client.sendmail_stream",
            params,
        )
        .await
        .map(|(r,)| r);
        self.trapped |= result.is_err();
        result
    }
}

impl Client {
    /// [`AsyncClient::sendmail_stream`], blocking.
    pub fn sendmail_stream(
        &mut self,
        from: &str,
        to: &[String],
        body: impl AsyncRead + Send + 'static,
        mail_options: &[String],
        rcpt_options: &[String],
    ) -> Call<Delivery> {
        self.runtime.block_on(self.inner.sendmail_stream(
            from,
            to,
            body,
            mail_options,
            rcpt_options,
        ))
    }
}
