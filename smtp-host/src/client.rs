//! [`SmtpHost`] (engine, compiled component, linker); [`AsyncClient`], one `client`
//! resource in an instance of its own with an async method per WIT method; and
//! [`Client`], the same as blocking calls.

use std::path::Path;
use std::sync::OnceLock;

use wasmtime::component::{Component, Linker, ResourceAny, ResourceTable};
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
struct HostState {
    ctx: WasiCtx,
    table: ResourceTable,
    memory: MemoryTracker,
}

/// Records how far the component's linear memories grow (it never refuses growth).
#[derive(Debug, Default)]
struct MemoryTracker {
    /// The largest size any linear memory reached, in bytes.
    peak: usize,
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
    pre: SmtpPre<HostState>,
    policy: NetworkPolicy,
}

impl SmtpHost {
    /// A host for the component `bytes` (called `name` in the compile cache).
    pub fn new(bytes: &[u8], name: &str) -> Result<SmtpHost> {
        let engine = crate::engine()?;
        let component = cache::load(&engine, bytes, name)?;
        Ok(SmtpHost {
            pre: prepare(&engine, &component)?,
            engine,
            policy: NetworkPolicy::Any,
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
            pre: prepare(&engine, &component)?,
            engine,
            policy: NetworkPolicy::Any,
        })
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
    /// another build, such as an earlier release).
    pub fn shared() -> Result<&'static SmtpHost> {
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

    async fn instantiate(
        &self,
        options: &ClientOptions,
        stderr: Stderr,
        lmtp: bool,
    ) -> Result<AsyncClient> {
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
        let api = self.pre.instantiate_async(&mut store).await?;
        let guest = api.smtplib_smtp_client().client();
        let handle = if lmtp {
            guest.call_lmtp(&mut store, options).await?
        } else {
            guest.call_constructor(&mut store, options).await?
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

/// A linker with WASI (async), and `component`'s imports resolved against it.
fn prepare(engine: &Engine, component: &Component) -> Result<SmtpPre<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    SmtpPre::new(linker.instantiate_pre(component)?)
}

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
    api: Smtp,
    handle: ResourceAny,
    stderr: Option<MemoryOutputPipe>,
    /// A call trapped: the instance refuses every later call.
    trapped: bool,
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

impl AsyncClient {
    /// `mailer.send(transport, mail)` in this client's instance (it opens a connection
    /// of its own; this client's connection is not used). With [`Stderr::Capture`] the
    /// transcript is kept as for the client's own calls.
    pub async fn mailer_send(&mut self, transport: &Transport, mail: &Mail) -> Call<Delivery> {
        let api = self.api.smtplib_smtp_mailer();
        api.call_send(&mut self.store, transport, mail).await
    }

    /// `mailer.compose(mail)`: the message's bytes.
    pub async fn compose(&mut self, mail: &Mail) -> Call<Vec<u8>> {
        let api = self.api.smtplib_smtp_mailer();
        api.call_compose(&mut self.store, mail).await
    }

    /// `mailer.send-with(client, mail)` over this client's connection.
    pub async fn send_mail(&mut self, mail: &Mail) -> Call<Delivery> {
        let api = self.api.smtplib_smtp_mailer();
        api.call_send_with(&mut self.store, self.handle, mail).await
    }

    /// `mailer.send-bytes-with(client, from, to, msg, options)` over this client's
    /// connection.
    pub async fn send_bytes_with(
        &mut self,
        from: &str,
        to: &[String],
        msg: &[u8],
        options: &MailOptions,
    ) -> Call<Delivery> {
        let api = self.api.smtplib_smtp_mailer();
        api.call_send_bytes_with(&mut self.store, self.handle, from, to, msg, options)
            .await
    }
}

impl Client {
    /// [`AsyncClient::mailer_send`], blocking.
    pub fn mailer_send(&mut self, transport: &Transport, mail: &Mail) -> Call<Delivery> {
        self.runtime
            .block_on(self.inner.mailer_send(transport, mail))
    }

    /// [`AsyncClient::compose`], blocking.
    pub fn compose(&mut self, mail: &Mail) -> Call<Vec<u8>> {
        self.runtime.block_on(self.inner.compose(mail))
    }

    /// [`AsyncClient::send_mail`], blocking.
    pub fn send_mail(&mut self, mail: &Mail) -> Call<Delivery> {
        self.runtime.block_on(self.inner.send_mail(mail))
    }

    /// [`AsyncClient::send_bytes_with`], blocking.
    pub fn send_bytes_with(
        &mut self,
        from: &str,
        to: &[String],
        msg: &[u8],
        options: &MailOptions,
    ) -> Call<Delivery> {
        self.runtime
            .block_on(self.inner.send_bytes_with(from, to, msg, options))
    }
}

/// Generates the `AsyncClient` methods that forward to the component, and the
/// blocking `Client` methods that run them.
macro_rules! forward {
    ($( $(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty => $call:ident; )*) => {
        impl AsyncClient {
            $(
                $(#[$doc])*
                pub async fn $name(&mut self, $($arg: $ty),*) -> $ret {
                    let api = self.api.smtplib_smtp_client().client();
                    let result = api.$call(&mut self.store, self.handle, $($arg),*).await;
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
    };
}

forward! {
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
