//! `smtp-component`: Python's `smtplib` rebuilt as a WebAssembly component.
//!
//! Data flows one way: WIT call (`component`, glue only) → `client` (smtplib's policy)
//! → `session` (the sans-IO state machine: plans bytes, parses replies, decides) →
//! `driver` (the only code that waits). `protocol` holds the encoders and parsers. All
//! of it but the wasi:sockets driver and the WIT glue builds and tests natively, where
//! an in-memory scripted peer on a virtual clock drives it (`testing`).
// A panic in the component is a trap that kills the host's instance: none in non-test code.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod auth;
pub mod client;
pub mod debug;
pub mod delivery;
pub mod driver;
pub mod endpoint;
pub mod error;
pub mod mail;
pub mod message;
pub mod protocol;
pub mod session;
pub mod tls;
pub mod tls_config;

#[cfg(all(feature = "p2", feature = "p3"))]
compile_error!(
    "features `p2` and `p3` are two builds: build p3 with --no-default-features --features p3"
);
#[cfg(not(any(feature = "p2", feature = "p3")))]
compile_error!("choose a build: feature `p2` (the default) or `p3`");

#[cfg(all(target_arch = "wasm32", feature = "p2"))]
mod component;
#[cfg(all(target_arch = "wasm32", feature = "p3"))]
mod component_p3;
#[cfg(test)]
mod testing;
#[cfg(target_arch = "wasm32")]
mod wit_convert;
