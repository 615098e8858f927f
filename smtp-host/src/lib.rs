//! The wasmtime embedding of the `smtp` component, shared by every Rust host in this
//! repository (`smtp-send`, `wasi-host`, `rust-host`, the tests and benches):
//!
//! - [`COMPONENT`]: the component itself, built by this crate's build script and
//!   embedded, so a binary that links this crate needs no file beside it;
//! - [`engine`]: the one engine configuration;
//! - [`cache`]: the one compile cache (a `.cwasm` per component and engine);
//! - [`network`]: the one WASI context setup, with TCP allowed under a
//!   [`network::NetworkPolicy`] (anything, or only listed addresses as Spin does);
//! - [`SmtpHost`], [`AsyncClient`] and [`Client`]: the `client` resource as typed async
//!   Rust calls, and the same as blocking calls, with the `bindgen!` types re-exported,
//!   and [`SmtpError::kind`]; the `mailer` functions in the same instance
//!   (`mailer_send`, `compose`, `send_mail`, `send_bytes_with`);
//! - [`ClientPool`] and [`SmtpHost::pooled`]: many sessions at once, on instances
//!   reused from one session to the next, made by wasmtime's pooling allocator;
//! - with the `p3` feature, [`P3Instance`]: one instance of the WASI 0.3 build with
//!   many [`P3Client`]s in it, whose calls wait on the network at once.

pub mod cache;
mod client;
mod error;
pub mod network;
#[cfg(feature = "p3")]
mod p3_instance;
mod pool;

pub use client::{AsyncClient, Call, Client, SmtpHost, Stderr, Wasi};
pub use exports::smtplib::smtp::client::{
    AuthStep, ClientOptions, Delivery, EnhancedStatus, Extension, Message, RecipientReply, Refusal,
    Reply, SaslMechanism, SenderRefusal, SmtpError, SourceAddress, TlsConfig,
};
/// The `mailer` interface's types (`Client::mailer_send`, `Client::send_mail`, ...).
pub use exports::smtplib::smtp::mailer::{
    Attachment, Credentials, Dkim, DkimAlgorithm, Dsn, DsnEvents, DsnNotify, DsnReturn, Header,
    Mail, MailOptions, Mailbox, OauthCredentials, OauthMechanism, PasswordCredentials, Security,
    Transport,
};
#[cfg(feature = "p3")]
pub use p3_instance::{P3Client, P3Instance, P3Scope};
pub use pool::ClientPool;

// Async exports: `AsyncClient` awaits them; `Client` runs them on a tokio runtime of its
// own, on the calling thread.
wasmtime::component::bindgen!({
    world: "smtp",
    path: "../wit",
    exports: { default: async },
});

/// The path of the component file in the build tree,
/// `target/component-build/smtp_component.wasm` (for tools that read the file; a host
/// uses [`COMPONENT`]).
pub const COMPONENT_PATH: &str = env!("SMTP_COMPONENT_WASM");

/// The component's bytes, embedded at build time (a `static`: one copy in the binary,
/// at one address, which the compile cache recognizes without reading it).
pub static COMPONENT: &[u8] = include_bytes!(env!("SMTP_COMPONENT_WASM"));

/// The WASI 0.3 build of the component (`wit/p3/world.wit`), embedded at build time
/// with the `p3` feature: `target/component-build-p3/smtp_component.wasm`.
#[cfg(feature = "p3")]
pub static COMPONENT_P3: &[u8] = include_bytes!(env!("SMTP_COMPONENT_P3_WASM"));

/// The path of the WASI 0.3 component file in the build tree,
/// `target/component-build-p3/smtp_component.wasm` (for tools that read the file, such
/// as `wac plug`).
#[cfg(feature = "p3")]
pub const COMPONENT_P3_PATH: &str = env!("SMTP_COMPONENT_P3_WASM");

/// The engine every host here uses (wasmtime's defaults: Cranelift, the settings a
/// cached `.cwasm` is checked against; with the `p3` feature, the component model's
/// async ABI as well).
pub fn engine() -> wasmtime::Result<wasmtime::Engine> {
    wasmtime::Engine::new(&config())
}

/// The configuration [`engine`] and [`pooled_engine`] share: wasmtime's defaults, and
/// the component model's async ABI with the `p3` feature.
fn config() -> wasmtime::Config {
    #[allow(unused_mut)]
    let mut config = wasmtime::Config::new();
    #[cfg(feature = "p3")]
    config.wasm_component_model_async(true);
    config
}

/// The same engine with wasmtime's pooling instance allocator, sized for `capacity`
/// instances of this component alive at once (see [`SmtpHost::pooled`]). Compiled code
/// is the same as [`engine`]'s, so the compile cache serves both.
pub fn pooled_engine(capacity: u32) -> wasmtime::Result<wasmtime::Engine> {
    let capacity = capacity.max(1);
    let mut pooling = wasmtime::PoolingAllocationConfig::new();
    // The component is a few core instances (its module and wit-bindgen's adapter
    // shims), each with at most a memory and a table or two.
    pooling
        .total_component_instances(capacity)
        .total_core_instances(capacity.saturating_mul(8))
        .total_memories(capacity.saturating_mul(2))
        .total_tables(capacity.saturating_mul(8))
        .total_stacks(capacity);
    let mut config = config();
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
    wasmtime::Engine::new(&config)
}
