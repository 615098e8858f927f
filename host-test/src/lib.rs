//! A wasmtime host for the `smtp` component: loads it (compiling it at most once per
//! machine, then reusing a serialized `.cwasm`), gives it a WASI context with TCP
//! allowed, and wraps the `client` resource in plain Rust calls. The tests, the
//! `smtp-send` CLI and the examples all use it. `servers` starts real mail servers.

pub mod fault_server;
pub mod servers;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use wasmtime::component::{Component, Linker, ResourceAny, ResourceTable};
use wasmtime::error::Context;
use wasmtime::Result;
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

// Async exports: each call runs on a tokio runtime of the client's own, on the calling
// thread (see `Client`).
wasmtime::component::bindgen!({
    world: "smtp",
    path: "../wit",
    exports: { default: async },
});

pub use exports::smtplib::smtp::client::{
    AuthStep, ClientOptions, EnhancedStatus, Extension, Message, RecipientReply, Refusal, Reply,
    SaslMechanism, SenderRefusal, SmtpError, SourceAddress, TlsConfig,
};

/// The component built by this crate's build script.
pub const COMPONENT_WASM: &str = env!("SMTP_COMPONENT_WASM");

/// What a store holds: the WASI context, its resource table, and the memory tracker.
pub struct HostState {
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
/// clients. Cheap to share; make one per process (see [`SmtpHost::shared`]).
pub struct SmtpHost {
    engine: Engine,
    component: Component,
    linker: Linker<HostState>,
}

impl SmtpHost {
    /// Loads the component at `wasm`, from the compile cache when it holds a `.cwasm` for
    /// these exact bytes and this engine, otherwise compiling it and filling the cache.
    pub fn load(wasm: &Path) -> Result<SmtpHost> {
        let engine = Engine::new(&Config::new())?;
        let bytes = std::fs::read(wasm)
            .with_context(|| format!("reading the component {}", wasm.display()))?;
        let cache = cache_path(wasm, &engine, &bytes);
        let component = match load_cached(&engine, &cache) {
            Some(c) => c,
            None => {
                let component = Component::from_binary(&engine, &bytes)?;
                if let Ok(serialized) = component.serialize() {
                    prune_cache(&cache);
                    let tmp = cache.with_extension(format!("tmp{}", std::process::id()));
                    if std::fs::write(&tmp, serialized).is_ok() {
                        let _ = std::fs::rename(&tmp, &cache);
                    }
                }
                component
            }
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        Ok(SmtpHost {
            engine,
            component,
            linker,
        })
    }

    /// One host per process, loaded on first use from [`COMPONENT_WASM`], or from the
    /// file `SMTP_TEST_COMPONENT` names when set (to run the same tests against another
    /// build, such as an earlier release).
    pub fn shared() -> Result<&'static SmtpHost> {
        static HOST: OnceLock<std::result::Result<SmtpHost, String>> = OnceLock::new();
        HOST.get_or_init(|| {
            let path = std::env::var_os("SMTP_TEST_COMPONENT")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(COMPONENT_WASM));
            SmtpHost::load(&path).map_err(|e| format!("{e:#}"))
        })
        .as_ref()
        .map_err(|e| wasmtime::format_err!("{e}"))
    }

    /// A new instance of the component with one new SMTP client in it.
    pub fn client(&self, options: &ClientOptions, stderr: Stderr) -> Result<Client> {
        self.instantiate(options, stderr, false)
    }

    /// A new instance of the component with one new LMTP client in it.
    pub fn lmtp_client(&self, options: &ClientOptions, stderr: Stderr) -> Result<Client> {
        self.instantiate(options, stderr, true)
    }

    fn instantiate(&self, options: &ClientOptions, stderr: Stderr, lmtp: bool) -> Result<Client> {
        let mut builder = WasiCtxBuilder::new();
        builder
            .allow_tcp(true)
            .inherit_network()
            .allow_ip_name_lookup(true);
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
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the client's tokio runtime")?;
        let (api, handle) = runtime.block_on(async {
            let api = Smtp::instantiate_async(&mut store, &self.component, &self.linker).await?;
            let guest = api.smtplib_smtp_client().client();
            let handle = if lmtp {
                guest.call_lmtp(&mut store, options).await?
            } else {
                guest.call_constructor(&mut store, options).await?
            };
            Ok::<_, wasmtime::Error>((api, handle))
        })?;
        Ok(Client {
            store,
            api,
            handle,
            stderr: captured,
            runtime,
        })
    }
}

/// Where the component's stderr (its debug transcript) goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stderr {
    /// To this process's stderr.
    Inherit,
    /// Into memory, for [`Client::transcript`].
    Capture,
}

fn cache_path(wasm: &Path, engine: &Engine, bytes: &[u8]) -> PathBuf {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    engine.precompile_compatibility_hash().hash(&mut h);
    let dir = wasm.parent().unwrap_or(Path::new("."));
    dir.join(format!("smtp_component-{:016x}.cwasm", h.finish()))
}

/// Removes compiled copies of earlier builds of the component next to `cache`.
fn prune_cache(cache: &Path) {
    let Some(dir) = cache.parent() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("smtp_component-") && name.ends_with(".cwasm") && path != cache {
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn load_cached(engine: &Engine, cache: &Path) -> Option<Component> {
    if !cache.exists() {
        return None;
    }
    // SAFETY: the file was written by `Component::serialize` of this same engine
    // configuration (its name carries the engine's compatibility hash and the hash of
    // the wasm bytes), in a build directory only this project writes.
    unsafe { Component::deserialize_file(engine, cache) }.ok()
}

/// An outcome of a call into the component: the outer `Result` is a trap (which must
/// never happen), the inner one the WIT result.
pub type Call<T> = Result<std::result::Result<T, SmtpError>>;

/// One `client` resource in its own instance, with a method per WIT method.
///
/// Each method blocks the calling thread until the component returns. The component's
/// network waits are awaited on `runtime`, a single-threaded tokio runtime driven by
/// that same thread, so a reply wakes the thread straight from its epoll wait; with
/// wasmtime's synchronous WASI the wait is a hop to a thread of a shared runtime and
/// back, twice per round trip.
///
/// Being blocking, the methods are for plain threads: called from inside an async task
/// they would block that runtime's thread (tokio refuses it with a panic). Async hosts
/// call the `bindgen!` exports themselves, as this type does.
pub struct Client {
    store: Store<HostState>,
    api: Smtp,
    handle: ResourceAny,
    stderr: Option<MemoryOutputPipe>,
    /// Declared last so it is dropped last: the store's sockets are registered with it.
    runtime: tokio::runtime::Runtime,
}

impl Client {
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

/// Generates `Client` methods that forward to the component.
macro_rules! forward {
    ($( $(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty => $call:ident; )*) => {
        impl Client {
            $(
                $(#[$doc])*
                pub fn $name(&mut self, $($arg: $ty),*) -> $ret {
                    let api = self.api.smtplib_smtp_client().client();
                    self.runtime.block_on(api.$call(&mut self.store, self.handle, $($arg),*))
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

impl SmtpError {
    /// The WIT case name, as `smtp-send --json` prints it.
    pub fn kind(&self) -> &'static str {
        match self {
            SmtpError::ServerDisconnected(_) => "server-disconnected",
            SmtpError::Response(_) => "response",
            SmtpError::SenderRefused(_) => "sender-refused",
            SmtpError::RecipientsRefused(_) => "recipients-refused",
            SmtpError::DataError(_) => "data-error",
            SmtpError::ConnectError(_) => "connect-error",
            SmtpError::HeloError(_) => "helo-error",
            SmtpError::NotSupported(_) => "not-supported",
            SmtpError::AuthenticationError(_) => "authentication-error",
            SmtpError::Timeout(_) => "timeout",
            SmtpError::Tls(_) => "tls",
            SmtpError::Io(_) => "io",
            SmtpError::InvalidArgument(_) => "invalid-argument",
            SmtpError::MalformedReply(_) => "malformed-reply",
            SmtpError::DeliveryUnknown(_) => "delivery-unknown",
        }
    }
}

// `ClientOptions` is generated by `bindgen!`, so it cannot carry a derive of ours.
#[allow(clippy::derivable_impls)]
impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            local_hostname: None,
            timeout_ms: None,
            source_address: None,
        }
    }
}

// `TlsConfig` is generated by `bindgen!` too.
#[allow(clippy::derivable_impls)]
impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            server_name: None,
            extra_roots_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
            unsafe_accept_invalid_certs: false,
        }
    }
}
