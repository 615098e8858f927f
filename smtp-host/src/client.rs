//! [`SmtpHost`] (engine, compiled component, linker); [`AsyncClient`], one `client`
//! resource in an instance of its own with an async method per WIT method; and
//! [`Client`], the same as blocking calls.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use wasmtime::component::{Component, Linker, ResourceAny, ResourceTable};
#[cfg(feature = "p3")]
use wasmtime::component::{Instance, InstancePre};
use wasmtime::error::Context;
use wasmtime::{Engine, Result, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::network::{self, NetworkPolicy};
use crate::{
    cache, AuthStep, ClientOptions, Delivery, Extension, Mail, MailOptions, Message,
    RecipientReply, Refusal, Reply, SaslMechanism, Smtp, SmtpError, SmtpPre, TlsConfig, Transport,
    COMPONENT,
};

/// What a store holds: the WASI context, its resource table, and the memory tracker.
pub(crate) struct HostState {
    ctx: WasiCtx,
    table: ResourceTable,
    pub(crate) memory: MemoryTracker,
}

/// Records how far the component's linear memories grow (it never refuses growth).
#[derive(Debug, Default)]
pub(crate) struct MemoryTracker {
    /// The largest size any linear memory reached, in bytes.
    pub(crate) peak: usize,
}

impl wasmtime::ResourceLimiter for MemoryTracker {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        Ok(true)
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// The engine, the compiled component and a linker with WASI: everything needed to make
/// clients. Cheap to share and to clone; make one per process (see
/// [`SmtpHost::shared`]), or one with [`SmtpHost::pooled`] for many sessions at once.
#[derive(Clone)]
pub struct SmtpHost {
    engine: Engine,
    /// The component with its imports resolved against the linker once (instantiating
    /// from it skips that per instance).
    pub(crate) pre: Pre,
    policy: NetworkPolicy,
    /// How many instances this host (and its clones) made.
    instances: Arc<AtomicU64>,
}

/// A component pre-linked for its build: the WASI 0.2 build typed by `bindgen!`, the
/// WASI 0.3 build untyped (its exports are called by name; see [`Api`]) with a linker
/// of its own that has WASI 0.3 as well as 0.2.
// One per host, made once and never moved in a hot path: no box for the p2 case.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub(crate) enum Pre {
    P2(SmtpPre<HostState>),
    #[cfg(feature = "p3")]
    P3(InstancePre<HostState>),
}

/// Which build of the component a host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wasi {
    /// The WASI 0.2 build (`wit/world.wit`, blocking exports): [`COMPONENT`].
    #[default]
    P2,
    /// The WASI 0.3 build (`wit/p3/world.wit`, async exports, many clients per
    /// instance): `COMPONENT_P3`, with smtp-host's `p3` feature.
    P3,
}

impl SmtpHost {
    /// A host for the component `bytes` (called `name` in the compile cache).
    pub fn new(bytes: &[u8], name: &str) -> Result<SmtpHost> {
        SmtpHost::new_wasi(bytes, name, Wasi::P2)
    }

    /// A host for the component `bytes` of the build `wasi`. A WASI 0.3 component gets
    /// both WASI 0.2 (Rust's std imports wasi:cli and wasi:io 0.2) and WASI 0.3.
    pub fn new_wasi(bytes: &[u8], name: &str, wasi: Wasi) -> Result<SmtpHost> {
        #[cfg(not(feature = "p3"))]
        if wasi == Wasi::P3 {
            wasmtime::bail!(NO_P3);
        }
        let engine = crate::engine()?;
        let component = cache::load(&engine, bytes, name)?;
        Ok(SmtpHost {
            pre: prepare(&engine, &component, wasi)?,
            engine,
            policy: NetworkPolicy::Any,
            instances: Arc::default(),
        })
    }

    /// A host for the component `bytes` whose engine uses wasmtime's pooling instance
    /// allocator, with room for `capacity` instances alive at once: an instance then
    /// takes its memories and tables from slots reserved up front (and reset, not
    /// unmapped, when it is dropped) instead of mapping them for each instance. For
    /// hosts that make an instance per session (a [`crate::ClientPool`], or one per
    /// request as Spin does). Making more than `capacity` at once fails.
    pub fn pooled(bytes: &[u8], name: &str, capacity: u32) -> Result<SmtpHost> {
        let engine = crate::pooled_engine(capacity)?;
        let component = cache::load(&engine, bytes, name)?;
        Ok(SmtpHost {
            pre: prepare(&engine, &component, Wasi::P2)?,
            engine,
            policy: NetworkPolicy::Any,
            instances: Arc::default(),
        })
    }

    /// Which build this host runs.
    pub fn wasi(&self) -> Wasi {
        match self.pre {
            Pre::P2(_) => Wasi::P2,
            #[cfg(feature = "p3")]
            Pre::P3(_) => Wasi::P3,
        }
    }

    /// How many instances of the component this host and its clones have made so far
    /// (an [`AsyncClient`] or [`Client`] is one each; a [`crate::P3Instance`] is one
    /// for all its clients).
    pub fn instances(&self) -> u64 {
        self.instances.load(Ordering::Relaxed)
    }

    /// Counts one more instance (see [`SmtpHost::instances`]).
    pub(crate) fn count_instance(&self) {
        self.instances.fetch_add(1, Ordering::Relaxed);
    }

    /// A host for the component file at `wasm` (cached under the file's name).
    pub fn load(wasm: &Path) -> Result<SmtpHost> {
        let bytes = std::fs::read(wasm)
            .with_context(|| format!("reading the component {}", wasm.display()))?;
        let name = wasm
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "component".into());
        SmtpHost::new(&bytes, &name)
    }

    /// Where the clients made from now on may connect (default: anywhere).
    pub fn set_network_policy(&mut self, policy: NetworkPolicy) {
        self.policy = policy;
    }

    /// One host per process, made on first use from the embedded [`COMPONENT`], or from
    /// the file `SMTP_TEST_COMPONENT` names when set (to run the same tests against
    /// another build, such as an earlier release). With `SMTP_TEST_WASI=p3` it is the
    /// WASI 0.3 host instead ([`SmtpHost::shared_wasi`]), so that a test suite written
    /// against this host runs against either build.
    pub fn shared() -> Result<&'static SmtpHost> {
        match std::env::var("SMTP_TEST_WASI").as_deref() {
            Ok("p3") => SmtpHost::shared_wasi(Wasi::P3),
            Ok("p2") | Err(_) => SmtpHost::shared_p2(),
            Ok(other) => Err(wasmtime::format_err!(
                "SMTP_TEST_WASI={other:?}: expected p2 or p3"
            )),
        }
    }

    /// The WASI 0.2 host of [`SmtpHost::shared`].
    fn shared_p2() -> Result<&'static SmtpHost> {
        static HOST: OnceLock<std::result::Result<SmtpHost, String>> = OnceLock::new();
        HOST.get_or_init(|| {
            match std::env::var_os("SMTP_TEST_COMPONENT") {
                Some(path) => SmtpHost::load(Path::new(&path)),
                None => SmtpHost::new(COMPONENT, "smtp_component"),
            }
            .map_err(|e| format!("{e:#}"))
        })
        .as_ref()
        .map_err(|e| wasmtime::format_err!("{e}"))
    }

    /// [`SmtpHost::shared`] for the build `wasi`: the WASI 0.3 host is made from the
    /// embedded `COMPONENT_P3`, or the file `SMTP_TEST_COMPONENT_P3` names when set.
    pub fn shared_wasi(wasi: Wasi) -> Result<&'static SmtpHost> {
        match wasi {
            Wasi::P2 => SmtpHost::shared_p2(),
            Wasi::P3 => {
                static HOST: OnceLock<std::result::Result<SmtpHost, String>> = OnceLock::new();
                HOST.get_or_init(|| {
                    #[cfg(feature = "p3")]
                    let host = match std::env::var_os("SMTP_TEST_COMPONENT_P3") {
                        Some(path) => std::fs::read(&path)
                            .with_context(|| format!("reading {}", Path::new(&path).display()))
                            .and_then(|b| SmtpHost::new_wasi(&b, "smtp_component_p3", Wasi::P3)),
                        None => {
                            SmtpHost::new_wasi(crate::COMPONENT_P3, "smtp_component_p3", Wasi::P3)
                        }
                    };
                    #[cfg(not(feature = "p3"))]
                    let host = SmtpHost::new_wasi(&[], "", Wasi::P3);
                    host.map_err(|e| format!("{e:#}"))
                })
                .as_ref()
                .map_err(|e| wasmtime::format_err!("{e}"))
            }
        }
    }

    /// A new instance of the component with one new SMTP client in it, as a blocking
    /// [`Client`] with a single-threaded tokio runtime of its own.
    pub fn client(&self, options: &ClientOptions, stderr: Stderr) -> Result<Client> {
        Client::new(|| self.async_client(options, stderr))
    }

    /// A new instance of the component with one new LMTP client in it, as a blocking
    /// [`Client`].
    pub fn lmtp_client(&self, options: &ClientOptions, stderr: Stderr) -> Result<Client> {
        Client::new(|| self.async_lmtp_client(options, stderr))
    }

    /// A new instance of the component with one new SMTP client in it, as an
    /// [`AsyncClient`]. Must be awaited inside a tokio runtime (wasmtime's WASI sockets
    /// are tokio's).
    pub async fn async_client(
        &self,
        options: &ClientOptions,
        stderr: Stderr,
    ) -> Result<AsyncClient> {
        self.instantiate(options, stderr, false).await
    }

    /// A new instance of the component with one new LMTP client in it, as an
    /// [`AsyncClient`].
    pub async fn async_lmtp_client(
        &self,
        options: &ClientOptions,
        stderr: Stderr,
    ) -> Result<AsyncClient> {
        self.instantiate(options, stderr, true).await
    }

    /// A store for one instance, with its WASI context and stderr.
    pub(crate) fn store(&self, stderr: Stderr) -> (Store<HostState>, Option<MemoryOutputPipe>) {
        let mut builder = network::wasi_builder(&self.policy);
        let captured = match stderr {
            Stderr::Inherit => {
                builder.inherit_stderr();
                None
            }
            Stderr::Capture => {
                let pipe = MemoryOutputPipe::new(256 * 1024 * 1024);
                builder.stderr(pipe.clone());
                Some(pipe)
            }
        };
        let state = HostState {
            ctx: builder.build(),
            table: ResourceTable::new(),
            memory: MemoryTracker::default(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        (store, captured)
    }

    async fn instantiate(
        &self,
        options: &ClientOptions,
        stderr: Stderr,
        lmtp: bool,
    ) -> Result<AsyncClient> {
        let (mut store, captured) = self.store(stderr);
        self.count_instance();
        let (api, handle) = match &self.pre {
            Pre::P2(pre) => {
                let api = pre.instantiate_async(&mut store).await?;
                let guest = api.smtplib_smtp_client().client();
                let handle = if lmtp {
                    guest.call_lmtp(&mut store, options).await?
                } else {
                    guest.call_constructor(&mut store, options).await?
                };
                (Api::P2(api), handle)
            }
            #[cfg(feature = "p3")]
            Pre::P3(pre) => {
                let instance = pre.instantiate_async(&mut store).await?;
                let name = if lmtp {
                    "[static]client.lmtp"
                } else {
                    "[constructor]client"
                };
                let options = options.clone();
                let (handle,) = p3::call::<(ClientOptions,), (ResourceAny,)>(
                    &mut store,
                    instance,
                    p3::CLIENT,
                    name,
                    (options,),
                )
                .await?;
                (Api::P3(instance), handle)
            }
        };
        Ok(AsyncClient {
            store,
            api,
            handle,
            stderr: captured,
            trapped: false,
        })
    }
}

/// A linker with WASI (async; for the WASI 0.3 build, both WASI 0.2, which Rust's std
/// imports for wasi:cli and wasi:io, and WASI 0.3), and `component`'s imports resolved
/// against it.
fn prepare(engine: &Engine, component: &Component, wasi: Wasi) -> Result<Pre> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    match wasi {
        Wasi::P2 => Ok(Pre::P2(SmtpPre::new(linker.instantiate_pre(component)?)?)),
        #[cfg(feature = "p3")]
        Wasi::P3 => {
            wasmtime_wasi::p3::add_to_linker(&mut linker)?;
            Ok(Pre::P3(linker.instantiate_pre(component)?))
        }
        #[cfg(not(feature = "p3"))]
        Wasi::P3 => wasmtime::bail!(NO_P3),
    }
}

/// Why a host without the `p3` feature refuses the WASI 0.3 build.
#[cfg(not(feature = "p3"))]
const NO_P3: &str = "this host was built without WASI 0.3: build it with smtp-host's `p3` \
                     feature (smtp-send: cargo run -p smtp-send --features p3)";

/// Where the component's stderr (its debug transcript) goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stderr {
    /// To this process's stderr.
    Inherit,
    /// Into memory, for [`Client::transcript`].
    Capture,
}

/// An outcome of a call into the component: the outer `Result` is a trap (which must
/// never happen), the inner one the WIT result.
pub type Call<T> = Result<std::result::Result<T, SmtpError>>;

/// One `client` resource in its own instance, with an `async` method per WIT method:
/// the typed async client over the `bindgen!` exports.
///
/// Each method runs the component until it returns; its network waits are wasmtime's
/// async WASI, so they must be awaited inside a tokio runtime, and many clients can
/// wait at once on one thread (`tokio::join!`, `spawn`: the type is `Send`). One
/// client serves one session at a time (`&mut self`); a client can `connect` again
/// after `quit` or `close`, and keeps its TLS session tickets across connections.
pub struct AsyncClient {
    store: Store<HostState>,
    api: Api,
    handle: ResourceAny,
    stderr: Option<MemoryOutputPipe>,
    /// A call trapped: the instance refuses every later call.
    trapped: bool,
}

/// The instance's exports: typed by `bindgen!` (WASI 0.2), or looked up by name and
/// called concurrently (WASI 0.3, async exports) with the same Rust types, which
/// wasmtime checks against the component's (the two WITs differ only in `async`).
// One per client, made once and never moved in a hot path: no box for the p2 case.
#[allow(clippy::large_enum_variant)]
enum Api {
    P2(Smtp),
    #[cfg(feature = "p3")]
    P3(Instance),
}

impl AsyncClient {
    /// Whether a call into this instance trapped (it then refuses every later call, and
    /// a [`crate::ClientPool`] drops it instead of reusing it).
    pub fn trapped(&self) -> bool {
        self.trapped
    }

    /// The largest size, in bytes, the component's linear memory has reached in this
    /// instance (it only grows: a flat figure across a run means no growth).
    pub fn peak_memory(&self) -> usize {
        self.store.data().memory.peak
    }

    /// The debug transcript written so far (with [`Stderr::Capture`]).
    pub fn transcript(&self) -> String {
        self.stderr
            .as_ref()
            .map(|p| String::from_utf8_lossy(&p.contents()).into_owned())
            .unwrap_or_default()
    }
}

/// [`AsyncClient`] as plain blocking calls, for hosts without an async runtime.
///
/// Each method blocks the calling thread until the component returns. The component's
/// network waits are awaited on `runtime`, a single-threaded tokio runtime driven by
/// that same thread, so a reply wakes the thread straight from its epoll wait; with
/// wasmtime's synchronous WASI the wait is a hop to a thread of a shared runtime and
/// back, twice per round trip.
///
/// Being blocking, the methods are for plain threads: called from inside an async task
/// they would block that runtime's thread (tokio refuses it with a panic). Async hosts
/// use [`AsyncClient`].
pub struct Client {
    inner: AsyncClient,
    /// Declared last so it is dropped last: the store's sockets are registered with it.
    runtime: tokio::runtime::Runtime,
}

impl Client {
    /// Starts the runtime and makes the async client on it.
    fn new<F: std::future::Future<Output = Result<AsyncClient>>>(
        make: impl FnOnce() -> F,
    ) -> Result<Client> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the client's tokio runtime")?;
        let inner = runtime.block_on(make())?;
        Ok(Client { inner, runtime })
    }

    /// The largest size, in bytes, the component's linear memory has reached in this
    /// instance (it only grows: a flat figure across a run means no growth).
    pub fn peak_memory(&self) -> usize {
        self.inner.peak_memory()
    }

    /// The debug transcript written so far (with [`Stderr::Capture`]).
    pub fn transcript(&self) -> String {
        self.inner.transcript()
    }

    /// The async client inside, with the runtime that drives it (for a caller that
    /// wants to run a few calls as futures of its own).
    pub fn as_async(&mut self) -> (&mut AsyncClient, &tokio::runtime::Runtime) {
        (&mut self.inner, &self.runtime)
    }
}

/// Generates, for functions of the exported interface `$iface` (`client` or `mailer`,
/// named `$interface` in the WASI 0.3 build, where exports are called by name as
/// `$wit`), the `AsyncClient` methods that call them in the client's instance, the
/// blocking `Client` methods that run those, and the same methods on a `P3Client`.
/// With `handle` the WIT function's first argument is the client (`borrow<client>`:
/// every `client` method, and the `mailer` functions that use its connection).
macro_rules! forward {
    (@p2 client, $api:ident) => { $api.smtplib_smtp_client().client() };
    (@p2 mailer, $api:ident) => { $api.smtplib_smtp_mailer() };
    ($iface:ident, $interface:expr;
     $( $(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty
        => $call:ident, $wit:expr $(, $handle:ident)?; )*) => {
        impl AsyncClient {
            $(
                $(#[$doc])*
                pub async fn $name(&mut self, $($arg: $ty),*) -> $ret {
                    let result = match &self.api {
                        Api::P2(api) => {
                            let api = forward!(@p2 $iface, api);
                            api.$call(&mut self.store, $(self.$handle,)? $($arg),*).await
                        }
                        #[cfg(feature = "p3")]
                        Api::P3(instance) => {
                            let params = ($(self.$handle,)? $(p3::Owned::owned($arg),)*);
                            p3::call(&mut self.store, *instance, $interface, $wit, params)
                                .await
                                .map(p3::Ret::from_ret)
                        }
                    };
                    self.trapped |= result.is_err();
                    result
                }
            )*
        }
        impl Client {
            $(
                $(#[$doc])*
                pub fn $name(&mut self, $($arg: $ty),*) -> $ret {
                    self.runtime.block_on(self.inner.$name($($arg),*))
                }
            )*
        }
        #[cfg(feature = "p3")]
        impl crate::P3Client<'_> {
            $(
                $(#[$doc])*
                pub async fn $name(&mut self, $($arg: $ty),*) -> $ret {
                    let params = ($(self.$handle(),)? $(p3::Owned::owned($arg),)*);
                    self.call($interface, $wit, params).await.map(p3::Ret::from_ret)
                }
            )*
        }
    };
}

forward! { mailer, p3::MAILER;
    /// `mailer.send(transport, mail)` in this client's instance (it opens a connection
    /// of its own; this client's connection is not used). With [`Stderr::Capture`] the
    /// transcript is kept as for the client's own calls.
    fn mailer_send(transport: &Transport, mail: &Mail) -> Call<Delivery> => call_send, "send";
    /// `mailer.compose(mail)`: the message's bytes.
    fn compose(mail: &Mail) -> Call<Vec<u8>> => call_compose, "compose";
    /// `mailer.send-with(client, mail)` over this client's connection.
    fn send_mail(mail: &Mail) -> Call<Delivery> => call_send_with, "send-with", handle;
    /// `mailer.send-bytes-with(client, from, to, msg, options)` over this client's
    /// connection.
    fn send_bytes_with(from: &str, to: &[String], msg: &[u8], options: &MailOptions) -> Call<Delivery>
        => call_send_bytes_with, "send-bytes-with", handle;
}

/// [`forward!`] for the `client` interface's methods: the resource is the first
/// argument, and the WASI 0.3 export is `[method]client.NAME` (underscores read as
/// dashes).
macro_rules! forward_client {
    ($( $(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty => $call:ident; )*) => {
        forward! { client, p3::CLIENT;
            $(
                $(#[$doc])*
                fn $name($($arg: $ty),*) -> $ret
                    => $call, concat!("[method]client.", stringify!($name)), handle;
            )*
        }
    };
}

forward_client! {
    /// `connect(host, port)`.
    fn connect(host: &str, port: Option<u16>) -> Call<Reply> => call_connect;
    /// `connect-tls(host, port, config)`.
    fn connect_tls(host: &str, port: Option<u16>, config: &TlsConfig) -> Call<Reply> => call_connect_tls;
    /// `starttls(config)`.
    fn starttls(config: &TlsConfig) -> Call<Reply> => call_starttls;
    /// `is-tls()`.
    fn is_tls() -> Result<bool> => call_is_tls;
    /// `login(user, password, initial-response-ok)`.
    fn login(user: &str, password: &str, initial_response_ok: bool) -> Call<Reply> => call_login;
    /// `login-with(mechanism, user, secret, initial-response-ok)`.
    fn login_with(mechanism: SaslMechanism, user: &str, secret: &str, initial_response_ok: bool) -> Call<Reply> => call_login_with;
    /// `auth-start(mechanism, initial-response)`.
    fn auth_start(mechanism: &str, initial_response: Option<&[u8]>) -> Call<AuthStep> => call_auth_start;
    /// `auth-continue(response)`.
    fn auth_continue(response: &[u8]) -> Call<AuthStep> => call_auth_continue;
    /// `auth-cancel()`.
    fn auth_cancel() -> Call<Reply> => call_auth_cancel;
    /// `allow-insecure-auth(allow)`.
    fn allow_insecure_auth(allow: bool) -> Result<()> => call_allow_insecure_auth;
    /// `set-debuglevel(level)`.
    fn set_debuglevel(level: u8) -> Result<()> => call_set_debuglevel;
    /// `helo(name)`.
    fn helo(name: Option<&str>) -> Call<Reply> => call_helo;
    /// `ehlo(name)`.
    fn ehlo(name: Option<&str>) -> Call<Reply> => call_ehlo;
    /// `ehlo-or-helo-if-needed()`.
    fn ehlo_or_helo_if_needed() -> Call<()> => call_ehlo_or_helo_if_needed;
    /// `has-extn(name)`.
    fn has_extn(name: &str) -> Result<bool> => call_has_extn;
    /// `esmtp-features()`.
    fn esmtp_features() -> Result<Vec<Extension>> => call_esmtp_features;
    /// `does-esmtp()`.
    fn does_esmtp() -> Result<bool> => call_does_esmtp;
    /// `ehlo-resp()`.
    fn ehlo_resp() -> Result<Option<String>> => call_ehlo_resp;
    /// `helo-resp()`.
    fn helo_resp() -> Result<Option<String>> => call_helo_resp;
    /// `docmd(cmd, args)`.
    fn docmd(cmd: &str, args: Option<&str>) -> Call<Reply> => call_docmd;
    /// `noop()`.
    fn noop() -> Call<Reply> => call_noop;
    /// `rset()`.
    fn rset() -> Call<Reply> => call_rset;
    /// `help(args)`.
    fn help(args: Option<&str>) -> Call<Reply> => call_help;
    /// `verify(address)`.
    fn verify(address: &str) -> Call<Reply> => call_verify;
    /// `expn(address)`.
    fn expn(address: &str) -> Call<Reply> => call_expn;
    /// `mail(sender, options)`.
    fn mail(sender: &str, options: &[String]) -> Call<Reply> => call_mail;
    /// `rcpt(recipient, options)`.
    fn rcpt(recipient: &str, options: &[String]) -> Call<Reply> => call_rcpt;
    /// `data(msg)`.
    fn data(msg: &Message) -> Call<Reply> => call_data;
    /// `sendmail(from, to, msg, mail-options, rcpt-options)`.
    fn sendmail(from: &str, to: &[String], msg: &Message, mail_options: &[String], rcpt_options: &[String]) -> Call<Vec<Refusal>> => call_sendmail;
    /// `sendmail-report(from, to, msg, mail-options, rcpt-options)`.
    fn sendmail_report(from: &str, to: &[String], msg: &Message, mail_options: &[String], rcpt_options: &[String]) -> Call<Delivery> => call_sendmail_report;
    /// `send-message(msg, from, to, mail-options, rcpt-options)`.
    fn send_message(msg: &[u8], from: Option<&str>, to: Option<&[String]>, mail_options: &[String], rcpt_options: &[String]) -> Call<Vec<Refusal>> => call_send_message;
    /// `lmtp-data(msg)`.
    fn lmtp_data(msg: &Message) -> Call<Vec<RecipientReply>> => call_lmtp_data;
    /// `quit()`.
    fn quit() -> Call<Reply> => call_quit;
    /// `close()`.
    fn close() -> Result<()> => call_close;
    /// `is-connected()`.
    fn is_connected() -> Result<bool> => call_is_connected;
}

#[cfg(feature = "p3")]
#[path = "p3_stream.rs"]
mod p3_stream;

/// Calls into a WASI 0.3 instance: exports by name, arguments as owned values (a
/// concurrent call may outlive the borrow), results unwrapped from their tuple.
#[cfg(feature = "p3")]
pub(crate) mod p3 {
    use wasmtime::component::{ComponentNamedList, Instance, Lift, Lower, TypedFunc};
    use wasmtime::{AsContextMut, Result, Store};

    use super::HostState;
    use crate::{
        AuthStep, Delivery, Extension, Mail, MailOptions, Message, RecipientReply, Refusal, Reply,
        SaslMechanism, SmtpError, TlsConfig, Transport,
    };

    /// The `client` interface's export name.
    pub const CLIENT: &str = "smtplib:smtp/client@0.2.0";

    /// The `mailer` interface's export name.
    pub const MAILER: &str = "smtplib:smtp/mailer@0.2.0";

    /// Calls `name` (`[method]client.connect_tls` style: underscores are read as
    /// dashes) of the exported interface `interface` ([`CLIENT`] or [`MAILER`]) with
    /// `params`, inside `run_concurrent`.
    pub async fn call<P, R>(
        store: &mut Store<HostState>,
        instance: Instance,
        interface: &str,
        name: &str,
        params: P,
    ) -> Result<R>
    where
        P: ComponentNamedList + Lower + Send + Sync + 'static,
        R: ComponentNamedList + Lift + Send + Sync + 'static,
    {
        let func = func::<P, R>(&mut *store, instance, interface, name)?;
        store
            .run_concurrent(async move |accessor| func.call_concurrent(accessor, params).await)
            .await?
    }

    /// The typed function `name` (`[method]client.connect_tls` style: underscores are
    /// read as dashes) of the exported interface `interface` ([`CLIENT`] or
    /// [`MAILER`]): the one export lookup, for [`call`] and [`crate::P3Scope`].
    pub fn func<P, R>(
        mut store: impl AsContextMut<Data = HostState>,
        instance: Instance,
        interface: &str,
        name: &str,
    ) -> Result<TypedFunc<P, R>>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        let wit_name = name.replace('_', "-");
        let index = instance
            .get_export_index(&mut store, None, interface)
            .ok_or_else(|| wasmtime::format_err!("the component exports no {interface}"))?;
        let index = instance
            .get_export_index(&mut store, Some(&index), &wit_name)
            .ok_or_else(|| wasmtime::format_err!("{interface} has no {wit_name}"))?;
        instance.get_typed_func::<P, R>(&mut store, &index)
    }

    /// An argument as the owned value a concurrent call takes.
    pub trait Owned {
        /// The owned type.
        type Out;
        /// The owned value.
        fn owned(self) -> Self::Out;
    }

    macro_rules! owned_copy {
        ($($t:ty),*) => { $(impl Owned for $t { type Out = $t; fn owned(self) -> $t { self } })* };
    }
    owned_copy!(bool, u8, Option<u16>, SaslMechanism);

    impl Owned for &str {
        type Out = String;
        fn owned(self) -> String {
            self.to_string()
        }
    }
    impl<T: Clone> Owned for &[T] {
        type Out = Vec<T>;
        fn owned(self) -> Vec<T> {
            self.to_vec()
        }
    }
    macro_rules! owned_clone {
        ($($t:ty),*) => { $(impl Owned for &$t { type Out = $t; fn owned(self) -> $t { self.clone() } })* };
    }
    owned_clone!(TlsConfig, Message, Transport, Mail, MailOptions);
    impl Owned for Option<&str> {
        type Out = Option<String>;
        fn owned(self) -> Option<String> {
            self.map(str::to_string)
        }
    }
    impl<T: Clone> Owned for Option<&[T]> {
        type Out = Option<Vec<T>>;
        fn owned(self) -> Option<Vec<T>> {
            self.map(<[T]>::to_vec)
        }
    }

    /// A method's result as the typed function returns it (a tuple of its one result,
    /// or `()` for none).
    pub trait Ret {
        /// The typed function's result type.
        type Tuple: ComponentNamedList + Lift + Send + Sync + 'static;
        /// The result from the tuple.
        fn from_ret(tuple: Self::Tuple) -> Self;
    }
    macro_rules! ret_one {
        ($($t:ty),*) => { $(impl Ret for $t { type Tuple = ($t,); fn from_ret(t: ($t,)) -> $t { t.0 } })* };
    }
    ret_one!(
        std::result::Result<Reply, SmtpError>,
        std::result::Result<AuthStep, SmtpError>,
        std::result::Result<(), SmtpError>,
        std::result::Result<Vec<Refusal>, SmtpError>,
        std::result::Result<Vec<RecipientReply>, SmtpError>,
        std::result::Result<Delivery, SmtpError>,
        std::result::Result<Vec<u8>, SmtpError>,
        bool,
        Vec<Extension>,
        Option<String>
    );
    impl Ret for () {
        type Tuple = ();
        fn from_ret(_: ()) {}
    }
}

/// Two clients in one instance of the WASI 0.3 build wait on the network at once: the
/// first server greets only after the second has been connected to, which a component
/// that blocks its instance per call could never reach (its first `connect` would run
/// into the timeout). Real TCP on loopback; the two servers only send a greeting.
#[cfg(all(test, feature = "p3"))]
mod p3_tests {
    use std::future::Future;
    use std::io::Write;
    use std::net::TcpListener;
    use std::sync::mpsc;

    use wasmtime::component::ResourceAny;

    use super::{p3, Pre, SmtpHost, Stderr, Wasi};
    use crate::{ClientOptions, Reply, SmtpError};

    #[test]
    fn two_clients_in_one_instance_wait_at_once() {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let b = TcpListener::bind("127.0.0.1:0").unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        let server_b = std::thread::spawn(move || {
            let (mut conn, _) = b.accept().unwrap();
            tx.send(()).unwrap();
            conn.write_all(b"220 b ready\r\n").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(200));
        });
        let server_a = std::thread::spawn(move || {
            let (mut conn, _) = a.accept().unwrap();
            rx.recv().unwrap(); // B has a connection: only then greet.
            conn.write_all(b"220 a ready\r\n").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(200));
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (ra, rb) = runtime.block_on(async {
            let host = SmtpHost::shared_wasi(Wasi::P3).unwrap();
            let (mut store, _) = host.store(Stderr::Inherit);
            let Pre::P3(pre) = &host.pre else {
                panic!("the WASI 0.3 host is not pre-linked for WASI 0.3");
            };
            let instance = pre.instantiate_async(&mut store).await.unwrap();
            let options = ClientOptions {
                local_hostname: None,
                timeout_ms: Some(5_000),
                source_address: None,
            };
            let mut clients = Vec::new();
            for _ in 0..2 {
                let (c,) = p3::call::<(ClientOptions,), (ResourceAny,)>(
                    &mut store,
                    instance,
                    p3::CLIENT,
                    "[constructor]client",
                    (options.clone(),),
                )
                .await
                .unwrap();
                clients.push(c);
            }
            let interface = instance
                .get_export_index(&mut store, None, "smtplib:smtp/client@0.2.0")
                .unwrap();
            let index = instance
                .get_export_index(&mut store, Some(&interface), "[method]client.connect")
                .unwrap();
            type Connect = (ResourceAny, String, Option<u16>);
            type Connected = (Result<Reply, SmtpError>,);
            let connect = instance
                .get_typed_func::<Connect, Connected>(&mut store, &index)
                .unwrap();
            let (ca, cb) = (clients[0], clients[1]);
            store
                .run_concurrent(async move |acc| {
                    let fa = connect.call_concurrent(acc, (ca, a_addr.to_string(), None));
                    let fb = connect.call_concurrent(acc, (cb, b_addr.to_string(), None));
                    let mut fa = std::pin::pin!(fa);
                    let mut fb = std::pin::pin!(fb);
                    let (mut ra, mut rb) = (None, None);
                    std::future::poll_fn(|cx| {
                        if ra.is_none() {
                            if let std::task::Poll::Ready(r) = fa.as_mut().poll(cx) {
                                ra = Some(r);
                            }
                        }
                        if rb.is_none() {
                            if let std::task::Poll::Ready(r) = fb.as_mut().poll(cx) {
                                rb = Some(r);
                            }
                        }
                        if ra.is_some() && rb.is_some() {
                            std::task::Poll::Ready(())
                        } else {
                            std::task::Poll::Pending
                        }
                    })
                    .await;
                    (ra.unwrap().unwrap().0, rb.unwrap().unwrap().0)
                })
                .await
                .unwrap()
        });
        assert_eq!(ra.unwrap().text, "a ready");
        assert_eq!(rb.unwrap().text, "b ready");
        server_a.join().unwrap();
        server_b.join().unwrap();
    }
}
