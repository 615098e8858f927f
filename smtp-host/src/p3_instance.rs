//! [`P3Instance`]: one instance of the WASI 0.3 build with many `client` resources in
//! it, whose calls run at once in one store on one thread ([`P3Scope`], [`P3Client`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use wasmtime::component::{Accessor, ComponentNamedList, Instance, Lift, Lower, ResourceAny};
use wasmtime::{Result, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use crate::client::{p3, HostState, Pre};
use crate::{ClientOptions, SmtpHost, Stderr};

/// One instance of the WASI 0.3 build of the component (its exports are `async`), in a
/// store of its own, for many sessions at once: [`P3Instance::run`] gives a
/// [`P3Scope`] in which each session makes its own `client` resource
/// ([`P3Scope::client`]) and calls it; the calls of different clients overlap while
/// they wait on the network (one thread, one store, one linear memory for all of them).
///
/// Like [`crate::AsyncClient`], it must be used inside a tokio runtime (wasmtime's WASI
/// sockets are tokio's). A trap is an error of the call that trapped; the instance
/// then refuses every later call ([`P3Instance::trapped`]).
pub struct P3Instance {
    store: Store<HostState>,
    instance: Instance,
    stderr: Option<MemoryOutputPipe>,
    /// A call trapped: every later call is refused.
    trapped: AtomicBool,
}

impl P3Instance {
    /// Instantiates the component of `host`, which must be a WASI 0.3 host
    /// ([`SmtpHost::shared_wasi`] with [`crate::Wasi::P3`]), once.
    pub async fn new(host: &SmtpHost, stderr: Stderr) -> Result<P3Instance> {
        let Pre::P3(pre) = &host.pre else {
            wasmtime::bail!("a P3Instance needs a host of the WASI 0.3 build (Wasi::P3)");
        };
        let (mut store, stderr) = host.store(stderr);
        host.count_instance();
        let instance = pre.instantiate_async(&mut store).await?;
        Ok(P3Instance {
            store,
            instance,
            stderr,
            trapped: AtomicBool::new(false),
        })
    }

    /// Runs `sessions` with a [`P3Scope`] of this instance: everything it awaits runs
    /// inside one `run_concurrent`, so the futures of several clients (joined, say, with
    /// `futures::future::join_all`) wait on the network at once. The clients made in
    /// the scope are dropped (their destructors run in the component) when `sessions`
    /// is done. The error is a trap outside any one call (or in a destructor).
    pub async fn run<R>(&mut self, sessions: impl AsyncFnOnce(&P3Scope<'_>) -> R) -> Result<R> {
        if self.trapped.load(Ordering::Relaxed) {
            wasmtime::bail!("an earlier call into this instance trapped");
        }
        let instance = self.instance;
        let trapped = &self.trapped;
        let made = Mutex::new(Vec::new());
        let result = self
            .store
            .run_concurrent(async |accessor| {
                let scope = P3Scope {
                    accessor,
                    instance,
                    trapped,
                    made: &made,
                };
                sessions(&scope).await
            })
            .await;
        if result.is_err() {
            self.trapped.store(true, Ordering::Relaxed);
        }
        let result = result?;
        let made = made.into_inner().unwrap_or_else(|e| e.into_inner());
        if !self.trapped.load(Ordering::Relaxed) {
            for handle in made {
                handle.resource_drop_async(&mut self.store).await?;
            }
        }
        Ok(result)
    }

    /// Whether a call into this instance trapped (it then refuses every later call).
    pub fn trapped(&self) -> bool {
        self.trapped.load(Ordering::Relaxed)
    }

    /// The largest size, in bytes, the component's linear memory has reached in this
    /// instance: one memory for all its clients.
    pub fn peak_memory(&self) -> usize {
        self.store.data().memory.peak
    }

    /// The debug transcript written so far (with [`Stderr::Capture`]): every client's.
    pub fn transcript(&self) -> String {
        self.stderr
            .as_ref()
            .map(|p| String::from_utf8_lossy(&p.contents()).into_owned())
            .unwrap_or_default()
    }
}

/// The instance inside [`P3Instance::run`]: makes clients, and carries their calls.
/// Shared (`&P3Scope`) by every session of the run.
pub struct P3Scope<'a> {
    accessor: &'a Accessor<HostState>,
    instance: Instance,
    trapped: &'a AtomicBool,
    /// The clients made in this scope, dropped when the run ends.
    made: &'a Mutex<Vec<ResourceAny>>,
}

impl<'a> P3Scope<'a> {
    /// A new SMTP `client` resource in the instance (`constructor(options)`).
    pub async fn client(&'a self, options: &ClientOptions) -> Result<P3Client<'a>> {
        self.make("[constructor]client", options).await
    }

    /// A new LMTP `client` resource in the instance (`client.lmtp(options)`).
    pub async fn lmtp_client(&'a self, options: &ClientOptions) -> Result<P3Client<'a>> {
        self.make("[static]client.lmtp", options).await
    }

    async fn make(&'a self, name: &str, options: &ClientOptions) -> Result<P3Client<'a>> {
        let (handle,) = self
            .call::<(ClientOptions,), (ResourceAny,)>(p3::CLIENT, name, (options.clone(),))
            .await?;
        if let Ok(mut made) = self.made.lock() {
            made.push(handle);
        }
        Ok(P3Client {
            scope: self,
            handle,
        })
    }

    /// Calls the export `name` of the interface `interface` (`client` or `mailer`)
    /// with `params`, concurrently with the other calls of the run; a trap marks the
    /// instance as trapped.
    async fn call<P, R>(&self, interface: &str, name: &str, params: P) -> Result<R>
    where
        P: ComponentNamedList + Lower + Send + Sync + 'static,
        R: ComponentNamedList + Lift + Send + Sync + 'static,
    {
        if self.trapped.load(Ordering::Relaxed) {
            wasmtime::bail!("an earlier call into this instance trapped");
        }
        let func = self
            .accessor
            .with(|mut access| p3::func::<P, R>(&mut access, self.instance, interface, name))?;
        let result = func.call_concurrent(self.accessor, params).await;
        if result.is_err() {
            self.trapped.store(true, Ordering::Relaxed);
        }
        result
    }
}

/// One `client` resource of a [`P3Instance`], made by [`P3Scope::client`]: the same
/// `async` methods with the same results as [`crate::AsyncClient`]'s, the `mailer`
/// ones included (`mailer_send`, `compose`, `send_mail`, `send_bytes_with`). One
/// session at a time per client (`&mut self`); it can `connect` again after `quit` or
/// `close`. Calls of different clients run at once.
pub struct P3Client<'a> {
    scope: &'a P3Scope<'a>,
    handle: ResourceAny,
}

impl P3Client<'_> {
    /// The resource handle, the first argument of every method.
    pub(crate) fn handle(&self) -> ResourceAny {
        self.handle
    }

    /// Calls the export `name` of the interface `interface` (`client` or `mailer`)
    /// with `params` (the handle first where the function takes the client).
    pub(crate) async fn call<P, R>(&self, interface: &str, name: &str, params: P) -> Result<R>
    where
        P: ComponentNamedList + Lower + Send + Sync + 'static,
        R: ComponentNamedList + Lift + Send + Sync + 'static,
    {
        self.scope.call(interface, name, params).await
    }

    /// Whether a call into the instance trapped (every later call is refused).
    pub fn trapped(&self) -> bool {
        self.scope.trapped.load(Ordering::Relaxed)
    }
}
