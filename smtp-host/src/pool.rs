//! [`ClientPool`]: client instances reused from one session to the next, for hosts that
//! run many sessions at once.

use std::sync::Mutex;

use wasmtime::Result;

use crate::{AsyncClient, ClientOptions, SmtpHost, Stderr};

/// A pool of [`AsyncClient`]s, each in an instance of its own, made with the same
/// options. [`ClientPool::take`] hands out an idle one (or makes one);
/// [`ClientPool::put`] takes it back after its session, closed, for the next session
/// to `connect` again: an instance costs its instantiation once, not per session, and
/// keeps its TLS session tickets, so a reconnect to the same server resumes. An
/// instance that trapped is dropped, never reused.
///
/// With a host from [`SmtpHost::pooled`], the instances also come from wasmtime's
/// pooling allocator; give it a capacity of at least the number of sessions at once.
pub struct ClientPool {
    host: SmtpHost,
    options: ClientOptions,
    lmtp: bool,
    stderr: Stderr,
    idle: Mutex<Vec<AsyncClient>>,
}

impl ClientPool {
    /// An empty pool of SMTP clients (LMTP with `lmtp`) made by `host` with `options`.
    pub fn new(host: SmtpHost, options: ClientOptions, lmtp: bool, stderr: Stderr) -> ClientPool {
        ClientPool {
            host,
            options,
            lmtp,
            stderr,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle client, or a new instance when none is idle.
    pub async fn take(&self) -> Result<AsyncClient> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        match idle {
            Some(client) => Ok(client),
            None if self.lmtp => {
                self.host
                    .async_lmtp_client(&self.options, self.stderr)
                    .await
            }
            None => self.host.async_client(&self.options, self.stderr).await,
        }
    }

    /// Takes `client` back: closed (if its session left it connected) and kept for the
    /// next [`ClientPool::take`], unless it trapped.
    pub async fn put(&self, mut client: AsyncClient) {
        if client.trapped() {
            return;
        }
        if client.is_connected().await.unwrap_or(true) && client.close().await.is_err() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(client);
        }
    }

    /// How many idle clients the pool holds.
    pub fn idle(&self) -> usize {
        self.idle.lock().map(|v| v.len()).unwrap_or(0)
    }
}
