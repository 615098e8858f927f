//! `smtp-component`: Python's `smtplib` rebuilt as a WebAssembly component.
//!
//! The protocol core (`protocol`, `session`, `endpoint`, `debug`, and `tls`, which wraps
//! rustls around any transport) does no I/O of its own and builds and tests natively. The transport (wasi:sockets) and the WIT glue (`component`) exist
//! only on `wasm32`.
// A panic in the component is a trap that kills the host's instance: none in non-test code.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod auth;
pub mod debug;
pub mod endpoint;
pub mod error;
pub mod message;
pub mod protocol;
pub mod session;
pub mod tls;
pub mod tls_config;

#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(target_arch = "wasm32")]
mod transport;
